//! The resource registry: which kinds the simulated API server serves, under which group,
//! versions, plural, short names and scope, with which subresources and printer columns.
//!
//! Built-in kinds are registered at start-up ([`Registry::with_builtins`]); custom resources
//! are registered when their CustomResourceDefinition is created and removed when it is deleted.

use std::collections::BTreeMap;

/// A version-independent resource: API group (`""` for core) and plural resource name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    /// API group, `""` for the core group.
    pub group: String,
    /// Plural lower-case resource name, e.g. `deployments`.
    pub resource: String,
}

impl GroupResource {
    /// `GroupResource::new("apps", "deployments")`; use `""` for core kinds.
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            resource: resource.to_owned(),
        }
    }

    /// `deployments.apps`, or `pods` for the core group (the form used in error messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.qualified())
    }
}

/// One `additionalPrinterColumns` entry (CRDs) or a built-in column for `kubectl get`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Column header, e.g. `Critical`.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: String,
    /// Optional format, e.g. `name`.
    pub format: String,
    /// Column description.
    pub description: String,
    /// 0 = shown by default; > 0 only with `-o wide`.
    pub priority: i64,
    /// A simple JSONPath such as `.report.summary.criticalCount`.
    pub json_path: String,
}

/// Everything the server needs to know about one resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    /// API group, `""` for core.
    pub group: String,
    /// Served versions, the preferred (storage) one first.
    pub versions: Vec<String>,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Singular name, e.g. `deployment`.
    pub singular: String,
    /// Short names, e.g. `deploy`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Has a `status` subresource: main-resource writes ignore `.status`, status writes
    /// change only `.status`.
    pub status_subresource: bool,
    /// Other subresources served, e.g. `log` for pods.
    pub other_subresources: Vec<String>,
    /// A virtual resource that only answers `create` and stores nothing (TokenReview).
    pub create_only: bool,
    /// Served over another resource's storage (events.k8s.io Events are core Events; see
    /// `http::versions`); `None`: its own.
    pub stored_as: Option<GroupResource>,
    /// Printer columns for server-side `kubectl get` tables (besides NAME).
    pub printer_columns: Vec<PrinterColumn>,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
}

impl ResourceInfo {
    /// The version-independent key of this resource.
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    /// `apps/v1` or `v1` for the preferred version.
    pub fn api_version(&self) -> String {
        self.api_version_for(self.versions.first().map(String::as_str).unwrap_or("v1"))
    }

    /// `group/version` or `version` for the core group.
    pub fn api_version_for(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// Whether this resource serves `version`.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }
}

/// All resource types currently served, keyed by group and plural.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    resources: BTreeMap<GroupResource, ResourceInfo>,
}

impl Registry {
    /// A registry with the built-in kinds kube-sim serves.
    pub fn with_builtins() -> Self {
        let mut r = Self::default();
        for info in super::builtins::builtin_resources() {
            r.register(info);
        }
        r
    }

    /// Adds or replaces a resource type.
    pub fn register(&mut self, info: ResourceInfo) {
        self.resources.insert(info.group_resource(), info);
    }

    /// Removes a resource type; returns it if it was registered.
    pub fn unregister(&mut self, gr: &GroupResource) -> Option<ResourceInfo> {
        self.resources.remove(gr)
    }

    /// Looks a resource up by group and plural.
    pub fn get(&self, gr: &GroupResource) -> Option<&ResourceInfo> {
        self.resources.get(gr)
    }

    /// Looks a resource up by group, version and kind.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources
            .values()
            .find(|r| r.group == group && r.kind == kind && r.serves(version))
    }

    /// Looks a resource up by group, version and plural (as in a URL).
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .get(&GroupResource::new(group, plural))
            .filter(|r| r.serves(version))
    }

    /// All registered resource types, ordered by group then plural.
    pub fn all(&self) -> impl Iterator<Item = &ResourceInfo> {
        self.resources.values()
    }

    /// Distinct groups with their served versions (preferred first), core group excluded.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.resources.values().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    for v in &r.versions {
                        if !versions.contains(v) {
                            versions.push(v.clone());
                        }
                    }
                }
                None => out.push((r.group.clone(), r.versions.clone())),
            }
        }
        out
    }
}
