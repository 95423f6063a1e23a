//! The parts every container of a scan Job shares: the PSS-restricted security context
//! (non-root, no privilege escalation, every capability dropped, read-only root filesystem,
//! the runtime's default seccomp profile), the resources the flags set, and environment
//! variables read from a Secret. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, EnvVar, EnvVarSource, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::ScanSettings;
use super::job::RUN_AS;

/// No privilege, no escalation, every capability dropped, a read-only root filesystem: what
/// every container the worker starts has (the node collector too, which runs as root).
pub(crate) fn unprivileged() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        ..SecurityContext::default()
    }
}

pub(super) fn security_context() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        seccomp_profile: Some(runtime_default()),
        ..unprivileged()
    }
}

pub(crate) fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    }
}

pub(super) fn resources(settings: &ScanSettings) -> ResourceRequirements {
    let r = &settings.resources;
    let set = |cpu: &str, memory: &str, storage: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
            ("ephemeral-storage".to_owned(), Quantity(storage.to_owned())),
        ])
    };
    ResourceRequirements {
        requests: Some(set(
            &r.cpu_request,
            &r.memory_request,
            &r.ephemeral_storage_request,
        )),
        limits: Some(set(
            &r.cpu_limit,
            &r.memory_limit,
            &r.ephemeral_storage_limit,
        )),
        ..ResourceRequirements::default()
    }
}

pub(super) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        value: None,
    }
}
