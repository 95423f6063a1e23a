//! The upstream CRD contract of each report kind: names, short names, printer columns, the
//! exact `required` lists, enums and counters (UPSTREAM.md). [`super::crd`] applies it to the
//! schema generated from the Rust types.

/// Severity values upstream allows on vulnerabilities.
pub const VULNERABILITY_SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

/// One report kind's CRD contract.
pub(super) struct Spec {
    /// API group (upstream's kinds: `aquasecurity.github.io`).
    pub(super) group: &'static str,
    /// Namespaced, or cluster-scoped.
    pub(super) namespaced: bool,
    pub(super) kind: &'static str,
    pub(super) plural: &'static str,
    pub(super) singular: &'static str,
    pub(super) short_names: &'static [&'static str],
    pub(super) description: &'static str,
    /// (name, JSON path, type, description, priority)
    pub(super) columns: &'static [(&'static str, &'static str, &'static str, &'static str, i32)],
    /// The exact `required` list of each listed node (path as in `node_mut`, under `report`);
    /// every other node requires nothing.
    pub(super) required: &'static [(&'static [&'static str], &'static [&'static str])],
    /// Nodes that get the given string enum.
    pub(super) enums: &'static [(&'static [&'static str], &'static [&'static str])],
    /// Object nodes whose integer properties get `minimum: 0`.
    pub(super) counters: &'static [&'static [&'static str]],
}

/// The printer columns of config audits and both infra assessment kinds (upstream's, each
/// with its own scanner column description: `assessement` in the cluster infra kind's is
/// upstream's spelling).
macro_rules! audit_columns {
    ($scanner:literal) => {
        &[
            ("Scanner", ".report.scanner.name", "string", $scanner, 0),
            (
                "Age",
                ".metadata.creationTimestamp",
                "date",
                "The age of the report",
                0,
            ),
            (
                "Critical",
                ".report.summary.criticalCount",
                "integer",
                "The number of failed checks with critical severity",
                1,
            ),
            (
                "High",
                ".report.summary.highCount",
                "integer",
                "The number of failed checks with high severity",
                1,
            ),
            (
                "Medium",
                ".report.summary.mediumCount",
                "integer",
                "The number of failed checks with medium severity",
                1,
            ),
            (
                "Low",
                ".report.summary.lowCount",
                "integer",
                "The number of failed checks with low severity",
                1,
            ),
        ]
    };
}

pub(super) const CONFIG_AUDIT: Spec = Spec {
    group: super::GROUP,
    namespaced: true,
    kind: "ConfigAuditReport",
    plural: "configauditreports",
    singular: "configauditreport",
    short_names: &["configaudit", "configaudits"],
    description: "ConfigAuditReport is a specification for the ConfigAuditReport resource.",
    columns: audit_columns!("The name of the config audit scanner"),
    required: &[
        (&[], &["checks"]),
        (&["checks", "[]"], &["checkID", "severity", "success"]),
        (&["checks", "[]", "scope"], &["type", "value"]),
        (&["scanner"], &["name", "vendor", "version"]),
        (
            &["summary"],
            &["criticalCount", "highCount", "lowCount", "mediumCount"],
        ),
    ],
    enums: &[],
    counters: &[&["summary"]],
};

/// A cluster-scoped object's config audit (ClusterRoleBinding, CustomResourceDefinition):
/// a config audit's shape.
pub(super) const CLUSTER_CONFIG_AUDIT: Spec = Spec {
    namespaced: false,
    kind: "ClusterConfigAuditReport",
    plural: "clusterconfigauditreports",
    singular: "clusterconfigauditreport",
    short_names: &["clusterconfigaudit"],
    description: "ClusterConfigAuditReport is a specification for the \
        ClusterConfigAuditReport resource.",
    ..CONFIG_AUDIT
};

/// The required fields of both infra assessment kinds.
const INFRA_REQUIRED: &[(&[&str], &[&str])] = &[
    (&[], &["checks", "scanner", "summary"]),
    (&["checks", "[]"], &["checkID", "severity", "success"]),
    (&["checks", "[]", "scope"], &["type", "value"]),
    (&["scanner"], &["name", "vendor", "version"]),
    (
        &["summary"],
        &["criticalCount", "highCount", "lowCount", "mediumCount"],
    ),
];

/// A node's assessment, cluster-scoped.
pub(super) const CLUSTER_INFRA_ASSESSMENT: Spec = Spec {
    group: super::GROUP,
    namespaced: false,
    kind: "ClusterInfraAssessmentReport",
    plural: "clusterinfraassessmentreports",
    singular: "clusterinfraassessmentreport",
    short_names: &["clusterinfraassessment"],
    description: "ClusterInfraAssessmentReport is a specification for the \
        ClusterInfraAssessmentReport resource.",
    columns: audit_columns!("The name of the infra assessement scanner"),
    required: INFRA_REQUIRED,
    enums: &[],
    counters: &[&["summary"]],
};

/// A ClusterRole's RBAC assessment, cluster-scoped: an infra assessment's shape.
pub(super) const CLUSTER_RBAC_ASSESSMENT: Spec = Spec {
    kind: "ClusterRbacAssessmentReport",
    plural: "clusterrbacassessmentreports",
    singular: "clusterrbacassessmentreport",
    short_names: &["clusterrbacassessmentreport"],
    description: "ClusterRbacAssessmentReport is a specification for the \
        ClusterRbacAssessmentReport resource.",
    columns: audit_columns!("The name of the rbac assessment scanner"),
    ..CLUSTER_INFRA_ASSESSMENT
};

/// A Role's RBAC assessment, namespaced.
pub(super) const RBAC_ASSESSMENT: Spec = Spec {
    namespaced: true,
    kind: "RbacAssessmentReport",
    plural: "rbacassessmentreports",
    singular: "rbacassessmentreport",
    short_names: &["rbacassessment", "rbacassessments"],
    description: "RbacAssessmentReport is a specification for the RbacAssessmentReport \
        resource.",
    ..CLUSTER_RBAC_ASSESSMENT
};

/// The namespaced twin of [`CLUSTER_INFRA_ASSESSMENT`].
pub(super) const INFRA_ASSESSMENT: Spec = Spec {
    namespaced: true,
    kind: "InfraAssessmentReport",
    plural: "infraassessmentreports",
    singular: "infraassessmentreport",
    short_names: &["infraassessment", "infraassessments"],
    description: "InfraAssessmentReport is a specification for the InfraAssessmentReport \
        resource.",
    columns: audit_columns!("The name of the infra assessment scanner"),
    ..CLUSTER_INFRA_ASSESSMENT
};

pub(super) const VULNERABILITY: Spec = Spec {
    group: super::GROUP,
    namespaced: true,
    kind: "VulnerabilityReport",
    plural: "vulnerabilityreports",
    singular: "vulnerabilityreport",
    short_names: &["vuln", "vulns"],
    description: "VulnerabilityReport summarizes vulnerabilities in application dependencies \
        and operating system packages built into container images.",
    columns: &[
        (
            "Repository",
            ".report.artifact.repository",
            "string",
            "The name of image repository",
            0,
        ),
        (
            "Tag",
            ".report.artifact.tag",
            "string",
            "The name of image tag",
            0,
        ),
        (
            "Scanner",
            ".report.scanner.name",
            "string",
            "The name of the vulnerability scanner",
            0,
        ),
        (
            "Age",
            ".metadata.creationTimestamp",
            "date",
            "The age of the report",
            0,
        ),
        (
            "Critical",
            ".report.summary.criticalCount",
            "integer",
            "The number of critical vulnerabilities",
            1,
        ),
        (
            "High",
            ".report.summary.highCount",
            "integer",
            "The number of high vulnerabilities",
            1,
        ),
        (
            "Medium",
            ".report.summary.mediumCount",
            "integer",
            "The number of medium vulnerabilities",
            1,
        ),
        (
            "Low",
            ".report.summary.lowCount",
            "integer",
            "The number of low vulnerabilities",
            1,
        ),
        (
            "Unknown",
            ".report.summary.unknownCount",
            "integer",
            "The number of unknown vulnerabilities",
            1,
        ),
    ],
    required: &[
        (
            &[],
            &[
                "artifact",
                "os",
                "scanner",
                "summary",
                "updateTimestamp",
                "vulnerabilities",
            ],
        ),
        (&["scanner"], &["name", "vendor", "version"]),
        (
            &["summary"],
            &[
                "criticalCount",
                "highCount",
                "lowCount",
                "mediumCount",
                "unknownCount",
            ],
        ),
        (
            &["vulnerabilities", "[]"],
            &[
                "fixedVersion",
                "installedVersion",
                "lastModifiedDate",
                "publishedDate",
                "resource",
                "severity",
                "title",
                "vulnerabilityID",
            ],
        ),
    ],
    enums: &[(
        &["vulnerabilities", "[]", "severity"],
        &VULNERABILITY_SEVERITIES,
    )],
    counters: &[&["summary"]],
};

/// Our own kind for the per-image storage mode: a VulnerabilityReport's data and columns,
/// cluster-scoped, in our group.
pub(super) const IMAGE_VULNERABILITY: Spec = Spec {
    group: super::OWN_GROUP,
    namespaced: false,
    kind: "ImageVulnerabilityReport",
    plural: "imagevulnerabilityreports",
    singular: "imagevulnerabilityreport",
    short_names: &["imagevuln", "imagevulns"],
    description: "ImageVulnerabilityReport holds every vulnerability found in one container \
        image, stored once for all the workloads that run it; their VulnerabilityReports \
        keep the summary and name it in the trivy-operator-rs.dev/image-report annotation.",
    ..VULNERABILITY
};

/// Severity values upstream allows on exposed secrets (no `UNKNOWN`).
pub const SECRET_SEVERITIES: [&str; 4] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

pub(super) const EXPOSED_SECRET: Spec = Spec {
    group: super::GROUP,
    namespaced: true,
    kind: "ExposedSecretReport",
    plural: "exposedsecretreports",
    singular: "exposedsecretreport",
    short_names: &["exposedsecret", "exposedsecrets"],
    description: "ExposedSecretReport summarizes exposed secrets in plaintext files built into \
        container images.",
    columns: &[
        (
            "Repository",
            ".report.artifact.repository",
            "string",
            "The name of image repository",
            0,
        ),
        (
            "Tag",
            ".report.artifact.tag",
            "string",
            "The name of image tag",
            0,
        ),
        (
            "Scanner",
            ".report.scanner.name",
            "string",
            "The name of the exposed secret scanner",
            0,
        ),
        (
            "Age",
            ".metadata.creationTimestamp",
            "date",
            "The age of the report",
            0,
        ),
        (
            "Critical",
            ".report.summary.criticalCount",
            "integer",
            "The number of critical exposed secrets",
            1,
        ),
        (
            "High",
            ".report.summary.highCount",
            "integer",
            "The number of high exposed secrets",
            1,
        ),
        (
            "Medium",
            ".report.summary.mediumCount",
            "integer",
            "The number of medium exposed secrets",
            1,
        ),
        (
            "Low",
            ".report.summary.lowCount",
            "integer",
            "The number of low exposed secrets",
            1,
        ),
    ],
    required: &[
        (
            &[],
            &[
                "artifact",
                "scanner",
                "secrets",
                "summary",
                "updateTimestamp",
            ],
        ),
        (&["scanner"], &["name", "vendor", "version"]),
        (
            &["secrets", "[]"],
            &["category", "match", "ruleID", "severity", "target", "title"],
        ),
        (
            &["summary"],
            &["criticalCount", "highCount", "lowCount", "mediumCount"],
        ),
    ],
    enums: &[(&["secrets", "[]", "severity"], &SECRET_SEVERITIES)],
    counters: &[&["summary"]],
};

pub(super) const SBOM: Spec = Spec {
    group: super::GROUP,
    namespaced: true,
    kind: "SbomReport",
    plural: "sbomreports",
    singular: "sbomreport",
    short_names: &["sbom", "sboms"],
    description: "SbomReport summarizes components and dependencies found in container image",
    columns: &[
        (
            "Repository",
            ".report.artifact.repository",
            "string",
            "The name of image repository",
            0,
        ),
        (
            "Tag",
            ".report.artifact.tag",
            "string",
            "The name of image tag",
            0,
        ),
        (
            "Scanner",
            ".report.scanner.name",
            "string",
            "The name of the sbom generation scanner",
            0,
        ),
        (
            "Age",
            ".metadata.creationTimestamp",
            "date",
            "The age of the report",
            0,
        ),
        (
            "Components",
            ".report.summary.componentsCount",
            "integer",
            "The number of dependencies in bom",
            1,
        ),
        (
            "Dependencies",
            ".report.summary.dependenciesCount",
            "integer",
            "The the number of components in bom",
            1,
        ),
    ],
    required: &[
        (
            &[],
            &[
                "artifact",
                "components",
                "scanner",
                "summary",
                "updateTimestamp",
            ],
        ),
        (&["components"], &["bomFormat", "specVersion"]),
        (&["scanner"], &["name", "vendor", "version"]),
        (&["summary"], &["componentsCount", "dependenciesCount"]),
    ],
    enums: &[],
    counters: &[&["summary"]],
};
