//! Types of the store API: watch events, write and delete options, errors.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use serde_json::Value;

use super::registry::GroupResource;

/// The type of a watch event, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`
    Added,
    /// `MODIFIED`
    Modified,
    /// `DELETED`
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object. Shared (`Arc`) between all subscribers; the JSON line for the
/// wire is serialized at most once ([`WatchEvent::json_line`]).
#[derive(Debug)]
pub struct WatchEvent {
    /// Which resource the object belongs to.
    pub gr: GroupResource,
    /// ADDED / MODIFIED / DELETED.
    pub type_: EventType,
    /// The object after the change (for DELETED: its last state, with the deletion's
    /// resourceVersion).
    pub object: Arc<Value>,
    /// The global resourceVersion of this change.
    pub resource_version: u64,
    /// For MODIFIED (and a DELETED that ends finalization): the object before the change, so
    /// filtered watches can turn it into ADDED/DELETED when it enters or leaves the selection.
    pub previous: Option<Arc<Value>>,
    encoded: OnceLock<Bytes>,
}

impl WatchEvent {
    /// A new event.
    pub fn new(gr: GroupResource, type_: EventType, object: Arc<Value>, rv: u64) -> Self {
        Self {
            gr,
            type_,
            object,
            resource_version: rv,
            previous: None,
            encoded: OnceLock::new(),
        }
    }

    /// The same event with the object's state before the change.
    pub fn with_previous(mut self, previous: Arc<Value>) -> Self {
        self.previous = Some(previous);
        self
    }

    /// `{"type":"ADDED","object":{...}}\n`, serialized once and shared by all watchers.
    pub fn json_line(&self) -> Bytes {
        self.encoded
            .get_or_init(|| {
                let mut v = serde_json::to_vec(&serde_json::json!({
                    "type": self.type_.as_str(),
                    "object": &*self.object,
                }))
                .unwrap_or_default();
                v.push(b'\n');
                Bytes::from(v)
            })
            .clone()
    }

    /// `metadata.namespace` of the object (`""` if cluster-scoped).
    pub fn namespace(&self) -> &str {
        super::meta::namespace(&self.object)
    }
}

/// Options of create, update and patch.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Validate and compute the result but store nothing (`?dryRun=All`).
    pub dry_run: bool,
    /// Recorded in `metadata.managedFields` when set.
    pub field_manager: Option<String>,
    /// Create only: keep `.status` as given. Over HTTP the API server resets status on create;
    /// in-process controllers may set this to create an object with its status in one write.
    pub keep_status: bool,
}

/// How dependents are handled when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Delete the owner now; the garbage collector deletes dependents afterwards.
    Background,
    /// Owner gets the `foregroundDeletion` finalizer; the GC deletes dependents that have
    /// `blockOwnerDeletion`, then removes the finalizer.
    Foreground,
    /// Owner gets the `orphan` finalizer; the GC removes the owner reference from dependents,
    /// then removes the finalizer.
    Orphan,
}

impl PropagationPolicy {
    /// Parses `Background`, `Foreground` or `Orphan`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// Options of delete (the DeleteOptions body or query parameters).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Propagation policy; `None` = Background.
    pub propagation_policy: Option<PropagationPolicy>,
    /// `preconditions.uid`: Conflict unless the object has this uid.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`: Conflict unless the object has this version.
    pub precondition_resource_version: Option<String>,
    /// Accepted; objects without finalizers are removed immediately whatever the grace.
    pub grace_period_seconds: Option<i64>,
    /// Compute but change nothing.
    pub dry_run: bool,
}

/// The result of a delete.
#[derive(Debug, Clone)]
pub enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Deleted(Arc<Value>),
    /// The object has finalizers: it got a deletionTimestamp and stays until they are removed.
    Pending(Arc<Value>),
}

impl DeleteOutcome {
    /// The object, whichever the outcome.
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Self::Deleted(o) | Self::Pending(o) => o,
        }
    }
}

/// The payload of [`StoreError::Invalid`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} \"{name}\" is invalid: {field}: {detail}")]
pub struct Invalid {
    /// Resource.
    pub gr: GroupResource,
    /// `Kind` or `Kind.group`, as in the message.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// The invalid field, e.g. `metadata.name`.
    pub field: String,
    /// What is wrong with it, e.g. `Invalid value: "X": ...` or `Required value`.
    pub detail: String,
}

impl StoreError {
    /// A 422 Invalid error.
    pub fn invalid(
        gr: GroupResource,
        kind: String,
        name: &str,
        field: &str,
        detail: String,
    ) -> Self {
        Self::Invalid(Box::new(Invalid {
            gr,
            kind,
            name: name.to_owned(),
            field: field.to_owned(),
            detail,
        }))
    }
}

/// Errors of the store; each maps to a Kubernetes `Status` (see [`StoreError::code`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// 404 NotFound.
    #[error("{gr} \"{name}\" not found")]
    NotFound {
        /// Resource.
        gr: GroupResource,
        /// Object name.
        name: String,
    },
    /// 409 AlreadyExists.
    #[error("{gr} \"{name}\" already exists")]
    AlreadyExists {
        /// Resource.
        gr: GroupResource,
        /// Object name.
        name: String,
    },
    /// 409 Conflict (stale resourceVersion, failed precondition).
    #[error("Operation cannot be fulfilled on {gr} \"{name}\": {reason}")]
    Conflict {
        /// Resource.
        gr: GroupResource,
        /// Object name.
        name: String,
        /// Why.
        reason: String,
    },
    /// 422 Invalid.
    #[error("{0}")]
    Invalid(Box<Invalid>),
    /// 403 Forbidden (e.g. creating in a terminating namespace).
    #[error("{message}")]
    Forbidden {
        /// Resource.
        gr: GroupResource,
        /// Object name.
        name: String,
        /// Message.
        message: String,
    },
    /// 410 Gone / Expired: the requested resourceVersion is older than the history kept.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// The version asked for.
        requested: u64,
        /// The oldest version a watch can start from.
        oldest: u64,
    },
    /// 400 BadRequest.
    #[error("{0}")]
    BadRequest(String),
    /// 404 for a resource type that is not served.
    #[error("the server could not find the requested resource")]
    UnknownResource(GroupResource),
}

impl StoreError {
    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound { .. } | Self::UnknownResource(_) => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => 409,
            Self::Invalid { .. } => 422,
            Self::Forbidden { .. } => 403,
            Self::Gone { .. } => 410,
            Self::BadRequest(_) => 400,
        }
    }

    /// Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::UnknownResource(_) => "NotFound",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::Conflict { .. } => "Conflict",
            Self::Invalid { .. } => "Invalid",
            Self::Forbidden { .. } => "Forbidden",
            Self::Gone { .. } => "Expired",
            Self::BadRequest(_) => "BadRequest",
        }
    }

    /// Status `details` (name, group, kind, causes), if any.
    pub fn details(&self) -> Option<Value> {
        use serde_json::json;
        match self {
            Self::NotFound { gr, name }
            | Self::AlreadyExists { gr, name }
            | Self::Conflict { gr, name, .. }
            | Self::Forbidden { gr, name, .. } => {
                Some(json!({"name": name, "group": gr.group, "kind": gr.resource}))
            }
            Self::Invalid(i) => Some(json!({
                "name": i.name, "group": i.gr.group,
                "kind": i.kind.split('.').next().unwrap_or(&i.kind),
                "causes": [{"reason": "FieldValueInvalid",
                            "message": i.detail,
                            "field": i.field}],
            })),
            Self::UnknownResource(_) | Self::Gone { .. } | Self::BadRequest(_) => None,
        }
    }
}
