//! CustomResourceDefinitions of the report kinds, generated from the Rust types and shaped
//! like upstream's: same names, printer columns, required fields and enums; unknown fields
//! preserved at the root. `deploy/crds/` holds the committed output of [`crd_files`].

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde_json::{Value, json};

use super::VERSION;
use super::config_audit::ConfigAuditReportData;
pub use super::crd_contract::VULNERABILITY_SEVERITIES;
use super::crd_contract::{
    CLUSTER_CONFIG_AUDIT, CLUSTER_INFRA_ASSESSMENT, CLUSTER_RBAC_ASSESSMENT, CONFIG_AUDIT,
    EXPOSED_SECRET, IMAGE_VULNERABILITY, INFRA_ASSESSMENT, RBAC_ASSESSMENT, SBOM, Spec,
    VULNERABILITY,
};
use super::exposed_secret::ExposedSecretReportData;
use super::infra_assessment::InfraAssessmentReportData;
use super::sbom::SbomReportData;
use super::schema::{check_structural, clear_required, node_mut, structural_schema};
use super::vulnerability::VulnerabilityReportData;

/// Errors while generating CRDs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A generated schema is not a Kubernetes structural schema.
    #[error("schema at {path} is not structural: {reason}")]
    NotStructural {
        /// Where in the schema.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The contract names a schema path that the Rust type does not have.
    #[error("schema has no node at {path}")]
    NoSuchPath {
        /// The missing path.
        path: String,
    },
    /// The contract requires a field that the Rust type does not have.
    #[error("required field {field} is not a property at {path}")]
    RequiredNotAProperty {
        /// The node.
        path: String,
        /// The field.
        field: String,
    },
    /// The schema JSON does not fit `JSONSchemaProps`.
    #[error("failed to convert schema")]
    ConvertSchema(#[source] serde_json::Error),
    /// A CRD could not be written as YAML.
    #[error("failed to write CRD as YAML")]
    Yaml(#[source] serde_yaml_ng::Error),
}

impl Error {
    /// A short, bounded label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotStructural { .. } => "not_structural",
            Error::NoSuchPath { .. } => "no_such_path",
            Error::RequiredNotAProperty { .. } => "required_not_a_property",
            Error::ConvertSchema(_) => "convert_schema",
            Error::Yaml(_) => "yaml",
        }
    }
}

/// The CRD of `VulnerabilityReport`.
pub fn vulnerability_crd() -> Result<CustomResourceDefinition, Error> {
    build::<VulnerabilityReportData>(&VULNERABILITY)
}

/// The CRD of `ConfigAuditReport`.
pub fn config_audit_crd() -> Result<CustomResourceDefinition, Error> {
    build::<ConfigAuditReportData>(&CONFIG_AUDIT)
}

/// The CRD of `ClusterConfigAuditReport`.
pub fn cluster_config_audit_crd() -> Result<CustomResourceDefinition, Error> {
    build::<ConfigAuditReportData>(&CLUSTER_CONFIG_AUDIT)
}

/// The CRD of our `ImageVulnerabilityReport` (per-image storage mode).
pub fn image_vulnerability_crd() -> Result<CustomResourceDefinition, Error> {
    build::<VulnerabilityReportData>(&IMAGE_VULNERABILITY)
}

/// The CRD of `ExposedSecretReport`.
pub fn exposed_secret_crd() -> Result<CustomResourceDefinition, Error> {
    build::<ExposedSecretReportData>(&EXPOSED_SECRET)
}

/// The CRD of `SbomReport`.
pub fn sbom_crd() -> Result<CustomResourceDefinition, Error> {
    build::<SbomReportData>(&SBOM)
}

/// The CRD of `ClusterInfraAssessmentReport`.
pub fn cluster_infra_assessment_crd() -> Result<CustomResourceDefinition, Error> {
    build::<InfraAssessmentReportData>(&CLUSTER_INFRA_ASSESSMENT)
}

/// The CRD of `InfraAssessmentReport`.
pub fn infra_assessment_crd() -> Result<CustomResourceDefinition, Error> {
    build::<InfraAssessmentReportData>(&INFRA_ASSESSMENT)
}

/// The CRD of `RbacAssessmentReport`.
pub fn rbac_assessment_crd() -> Result<CustomResourceDefinition, Error> {
    build::<InfraAssessmentReportData>(&RBAC_ASSESSMENT)
}

/// The CRD of `ClusterRbacAssessmentReport`.
pub fn cluster_rbac_assessment_crd() -> Result<CustomResourceDefinition, Error> {
    build::<InfraAssessmentReportData>(&CLUSTER_RBAC_ASSESSMENT)
}

/// Every report CRD, in a fixed order.
pub fn all_crds() -> Result<Vec<CustomResourceDefinition>, Error> {
    Ok(vec![
        vulnerability_crd()?,
        config_audit_crd()?,
        image_vulnerability_crd()?,
        exposed_secret_crd()?,
        sbom_crd()?,
        cluster_infra_assessment_crd()?,
        infra_assessment_crd()?,
        rbac_assessment_crd()?,
        cluster_rbac_assessment_crd()?,
        cluster_config_audit_crd()?,
    ])
}

/// Every report CRD as one multi-document YAML stream (each document starts with `---`).
pub fn all_crds_yaml() -> Result<String, Error> {
    Ok(crd_files()?.into_iter().map(|(_, yaml)| yaml).collect())
}

/// One `(file name, YAML)` per CRD, the file named after the CRD (`<plural>.<group>.yaml`).
pub fn crd_files() -> Result<Vec<(String, String)>, Error> {
    all_crds()?
        .into_iter()
        .map(|crd| {
            let name = format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default());
            let value = serde_json::to_value(&crd).map_err(Error::ConvertSchema)?;
            let yaml = serde_yaml_ng::to_string(&to_yaml(&value)).map_err(Error::Yaml)?;
            Ok((name, format!("---\n{yaml}")))
        })
        .collect()
}

/// JSON to YAML with keys sorted at every depth (whatever serde_json's map order) and whole
/// floats written as integers (`minimum: 0`, not `0.0`), so the output is stable and tidy.
fn to_yaml(value: &Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Y::from(i),
            (None, Some(u), _) => Y::from(u),
            // Whole floats in the safe integer range are written as integers.
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Y::from(f as i64),
            (None, None, Some(f)) => Y::from(f),
            (None, None, None) => Y::Null,
        },
        Value::String(s) => Y::String(s.clone()),
        Value::Array(items) => Y::Sequence(items.iter().map(to_yaml).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut mapping = serde_yaml_ng::Mapping::new();
            for (k, v) in entries {
                mapping.insert(Y::String(k.clone()), to_yaml(v));
            }
            Y::Mapping(mapping)
        }
    }
}

fn build<T: JsonSchema>(spec: &Spec) -> Result<CustomResourceDefinition, Error> {
    let mut report = structural_schema::<T>()?;
    clear_required(&mut report);
    for (path, fields) in spec.required {
        let node = node_mut(&mut report, path)?;
        for field in *fields {
            if node.get("properties").and_then(|p| p.get(field)).is_none() {
                return Err(Error::RequiredNotAProperty {
                    path: path.join("."),
                    field: (*field).to_owned(),
                });
            }
        }
        node["required"] = json!(fields);
    }
    for (path, values) in spec.enums {
        let node = node_mut(&mut report, path)?;
        node["type"] = json!("string");
        node["enum"] = json!(values);
    }
    for path in spec.counters {
        if let Some(Value::Object(props)) = node_mut(&mut report, path)?.get_mut("properties") {
            for prop in props.values_mut().filter(|p| p["type"] == "integer") {
                prop["minimum"] = json!(0);
            }
        }
    }
    let root = json!({
        "description": spec.description,
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation \
                    of an object.",
                "type": "string",
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this \
                    object represents.",
                "type": "string",
            },
            "metadata": {"type": "object"},
            "report": report,
        },
        "required": ["report"],
        "x-kubernetes-preserve-unknown-fields": true,
    });
    check_structural(&root, "")?;
    let schema: JSONSchemaProps = serde_json::from_value(root).map_err(Error::ConvertSchema)?;
    Ok(CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", spec.plural, spec.group)),
            ..ObjectMeta::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: spec.group.to_owned(),
            names: CustomResourceDefinitionNames {
                kind: spec.kind.to_owned(),
                list_kind: Some(format!("{}List", spec.kind)),
                plural: spec.plural.to_owned(),
                singular: Some(spec.singular.to_owned()),
                short_names: Some(spec.short_names.iter().map(|s| (*s).to_owned()).collect()),
                categories: None,
            },
            scope: if spec.namespaced {
                "Namespaced"
            } else {
                "Cluster"
            }
            .to_owned(),
            versions: vec![CustomResourceDefinitionVersion {
                name: VERSION.to_owned(),
                served: true,
                storage: true,
                additional_printer_columns: Some(columns(spec)),
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema),
                }),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    })
}

fn columns(spec: &Spec) -> Vec<CustomResourceColumnDefinition> {
    spec.columns
        .iter()
        .map(
            |(name, path, ty, description, priority)| CustomResourceColumnDefinition {
                name: (*name).to_owned(),
                json_path: (*path).to_owned(),
                type_: (*ty).to_owned(),
                description: Some((*description).to_owned()),
                priority: (*priority > 0).then_some(*priority),
                format: None,
            },
        )
        .collect()
}
