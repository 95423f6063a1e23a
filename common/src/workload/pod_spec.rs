//! Where each kind keeps its pod spec, and the container images in it.

use serde_json::Value;

use super::WorkloadKind;
use crate::proto;

/// One container of a pod spec and its image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerImage {
    /// The container's name.
    pub container_name: String,
    /// The image reference as written in the pod spec.
    pub image: String,
    /// The image the container runs, from the Pod's status (see [`normalize_image_id`]).
    pub image_id: Option<String>,
}

impl From<ContainerImage> for proto::ContainerImage {
    fn from(c: ContainerImage) -> Self {
        Self {
            container_name: c.container_name,
            image: c.image,
            image_id: c.image_id.unwrap_or_default(),
        }
    }
}

impl From<proto::ContainerImage> for ContainerImage {
    fn from(c: proto::ContainerImage) -> Self {
        Self {
            container_name: c.container_name,
            image: c.image,
            image_id: Some(c.image_id).filter(|s| !s.is_empty()),
        }
    }
}

/// The pod spec of a workload object (JSON as the API returns it): `.spec` of a Pod,
/// `.spec.template.spec` of a ReplicaSet, ReplicationController, StatefulSet, DaemonSet or
/// Job, `.spec.jobTemplate.spec.template.spec` of a CronJob.
pub fn pod_spec_of(kind: WorkloadKind, object: &Value) -> Option<&Value> {
    let spec = object.get("spec")?;
    let pod_spec = match kind {
        WorkloadKind::Pod => spec,
        WorkloadKind::ReplicaSet
        | WorkloadKind::ReplicationController
        | WorkloadKind::StatefulSet
        | WorkloadKind::DaemonSet
        | WorkloadKind::Job => spec.get("template")?.get("spec")?,
        WorkloadKind::CronJob => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec")?,
    };
    pod_spec.is_object().then_some(pod_spec)
}

/// The images of a pod spec's `initContainers`, `containers` then `ephemeralContainers`
/// (debug containers added to a running Pod: upstream scans them too), in spec order. With a
/// Pod's `.status` as `pod_status`, each gets the `imageID` of the same-named entry of
/// `initContainerStatuses` / `containerStatuses` / `ephemeralContainerStatuses`. Entries without a name or image are left
/// out (the API server never returns them).
pub fn container_images(pod_spec: &Value, pod_status: Option<&Value>) -> Vec<ContainerImage> {
    let mut out = Vec::new();
    for (list, statuses) in [
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
        ("ephemeralContainers", "ephemeralContainerStatuses"),
    ] {
        let statuses = pod_status
            .and_then(|s| s.get(statuses))
            .and_then(Value::as_array);
        for c in pod_spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(image)) = (
                c.get("name")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty()),
                c.get("image")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty()),
            ) else {
                continue;
            };
            let image_id = statuses
                .into_iter()
                .flatten()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|s| s.get("imageID")?.as_str())
                .and_then(normalize_image_id);
            out.push(ContainerImage {
                container_name: name.to_owned(),
                image: image.to_owned(),
                image_id,
            });
        }
    }
    out
}

/// Normalizes a container status `imageID`. Runtimes write it as `docker-pullable://repo@sha256:…`
/// (dockershim), `docker://sha256:…` (docker, the image ID), `repo@sha256:…` (containerd,
/// CRI-O) or `sha256:…`. Any `<scheme>://` prefix is dropped, leaving `repo@sha256:…` or
/// `sha256:…`; a value without a well-formed `<algorithm>:<hex>` digest at its end gives
/// `None`.
pub fn normalize_image_id(image_id: &str) -> Option<String> {
    let id = image_id.trim();
    let id = id.split_once("://").map_or(id, |(_, rest)| rest);
    crate::trivy::trailing_digest(id).map(|_| id.to_owned())
}
