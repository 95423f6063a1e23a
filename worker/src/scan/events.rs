//! Kubernetes Events about failed scans, on each subscriber's workload. Best effort: a
//! failed publish is logged, never fails the scan.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use super::{Error, ScanSettings};
use crate::task::Subscriber;

/// `reportingController` of the Events.
pub const CONTROLLER: &str = "trivy-operator";
/// `action` of scan Events.
pub const ACTION: &str = "VulnerabilityScan";
/// Longest Event note (the API allows 1 kB).
const MAX_NOTE: usize = 1000;

/// The error and its sources as one line, cut to `max` bytes on a character boundary.
pub fn note(error: &(dyn std::error::Error + 'static), max: usize) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    if text.len() > max {
        let mut cut = max.saturating_sub(3);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

fn reference(s: &Subscriber) -> ObjectReference {
    let w = &s.workload;
    ObjectReference {
        api_version: Some(w.kind.api_version().to_owned()),
        kind: Some(w.kind.as_str().to_owned()),
        name: Some(w.name.clone()),
        namespace: Some(w.namespace.clone()),
        uid: Some(w.uid.clone()),
        ..ObjectReference::default()
    }
}

/// A recorder of scan Events for `instance`.
pub fn recorder(client: &Client, instance: Option<String>) -> Recorder {
    Recorder::new(
        client.clone(),
        Reporter {
            controller: CONTROLLER.to_owned(),
            instance,
        },
    )
}

/// Publishes a Warning Event with the error's reason on every subscriber's workload.
pub async fn publish_failure(
    client: &Client,
    settings: &ScanSettings,
    subscribers: &[&Subscriber],
    error: &Error,
) {
    let recorder = match &settings.recorder {
        Some(shared) => shared.clone(),
        None => recorder(client, settings.reporting_instance.clone()),
    };
    let event = Event {
        type_: EventType::Warning,
        reason: error.reason().to_owned(),
        note: Some(note(error, MAX_NOTE)),
        action: ACTION.to_owned(),
        secondary: None,
    };
    for s in subscribers {
        if let Err(publish) = recorder.publish(&event, &reference(s)).await {
            tracing::warn!(
                error = %publish,
                workload = %s.workload.name,
                namespace = %s.workload.namespace,
                "could not publish the scan failure event"
            );
        }
    }
}
