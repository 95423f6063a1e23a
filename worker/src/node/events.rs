//! A Warning Event on the Node whose assessment failed. Best effort: a failed publish is
//! logged, never fails the task.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType};

use super::{Error, NodeSettings};
use crate::task::NodeTask;

/// `action` of node Events.
const ACTION: &str = "NodeAssessment";
/// Longest Event note (the API allows 1 kB).
const MAX_NOTE: usize = 1000;

pub(super) async fn publish_failure(
    client: &Client,
    settings: &NodeSettings,
    task: &NodeTask,
    error: &Error,
) {
    let reference = ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: Some(task.node.clone()),
        uid: Some(task.uid.clone()),
        ..ObjectReference::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: error.reason().to_owned(),
        note: Some(crate::scan::events::note(error, MAX_NOTE)),
        action: ACTION.to_owned(),
        secondary: None,
    };
    let recorder = match &settings.recorder {
        Some(shared) => shared.clone(),
        None => crate::scan::events::recorder(client, None),
    };
    if let Err(e) = recorder.publish(&event, &reference).await {
        tracing::warn!(node = %task.node, error = %e, "could not publish the node Event");
    }
}
