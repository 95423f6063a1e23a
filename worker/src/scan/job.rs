//! The scan Job of one image: its deterministic name, labels, and manifest. Pure.
//!
//! Like upstream, an init container downloads the vulnerability DB into an `emptyDir` cache
//! and the scan container runs `trivy image --skip-db-update --format json` against it, so a
//! scan never updates the DB half-way; in ClientServer mode there is no init container and
//! the scan container runs `trivy image --server <url>`. A rescan of a stored SBOM runs
//! `trivy sbom` on the BOM mounted from its Secret instead of reading the image. Every
//! container runs under a PSS-restricted security context with `/tmp` (cache and scratch
//! space) as the only writable path.

use std::collections::BTreeMap;

use common::labels::{MANAGED_BY, MANAGED_BY_VALUE};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PodSecurityContext, PodSpec, PodTemplateSpec,
    SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;

use super::ScanSettings;
use super::container_parts::{resources, runtime_default, secret_env, security_context};

/// Prefix of every scan Job's name.
pub const JOB_NAME_PREFIX: &str = "scan-vulnerabilityreport-";
/// Label on scan Jobs and their pods: [`scan_key_hash`] of the scan key.
pub const SCAN_KEY_HASH_LABEL: &str = "trivy-operator-rs.dev/scan-key-hash";
/// Label on scan Jobs and their pods naming what they do; value [`JOB_TYPE_VALUE`].
pub const JOB_TYPE_LABEL: &str = "trivy-operator-rs.dev/job-type";
/// Value of [`JOB_TYPE_LABEL`] on vulnerability scan Jobs.
pub const JOB_TYPE_VALUE: &str = "vulnerability-scan";
pub use common::labels::SCAN_KEY as SCAN_KEY_ANNOTATION;
/// Annotation on scan Jobs: the image reference the Job scans.
pub const IMAGE_ANNOTATION: &str = "trivy-operator-rs.dev/image";
/// Annotation on scan Jobs: the Trivy scanners the Job runs (`--scanners`), so that a Job
/// made for other scanners is not adopted.
pub const SCANNERS_ANNOTATION: &str = "trivy-operator-rs.dev/scanners";

pub use super::scanners::Scanners;

/// Name of the scan container, whose log holds the result.
pub const SCAN_CONTAINER: &str = "trivy";
/// Name of the init container that downloads the vulnerability DB.
pub const DB_CONTAINER: &str = "trivy-db";
/// Name of the init container that writes the image's CycloneDX SBOM to its log.
pub const SBOM_CONTAINER: &str = "trivy-sbom";
/// The volume of a stored SBOM's Secret.
const BOM_VOLUME: &str = "bom";
/// Where the writable scratch volume is mounted.
const TMP_DIR: &str = "/tmp";
/// Trivy's cache (DB) directory, inside the scratch volume.
const CACHE_DIR: &str = "/tmp/trivy/.cache";
/// The user (nobody) scan containers run as.
pub(super) const RUN_AS: i64 = 65534;
/// How long a finished Job the worker did not delete (it died) stays for adoption.
const TTL_MARGIN_SECS: i32 = 600;

/// Registry credentials for the scanned image, from a Secret in the operator namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsRef {
    /// Name of the Secret.
    pub secret: String,
    /// Key holding the user name.
    pub username_key: String,
    /// Key holding the password.
    pub password_key: String,
}

/// Characters of the scan-key hash in Job names and labels: 100 bits, so that nobody can
/// find another image whose Job would carry a victim's name.
pub const JOB_HASH_LEN: usize = 20;

/// The hash of a scan key in Job names and labels.
pub fn scan_key_hash(scan_key: &str) -> String {
    common::hash::hash_str(scan_key, JOB_HASH_LEN)
}

/// The name of the scan Job of `scan_key`: the same for every worker and every retry, so
/// a re-sent task adopts the running Job. A DNS-1123 label of 45 characters (its pods' names
/// stay under 63).
pub fn job_name(scan_key: &str) -> String {
    format!("{JOB_NAME_PREFIX}{}", scan_key_hash(scan_key))
}

/// The labels of the scan Job of `scan_key` (also put on its pods).
pub fn job_labels(scan_key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (SCAN_KEY_HASH_LABEL.to_owned(), scan_key_hash(scan_key)),
        (JOB_TYPE_LABEL.to_owned(), JOB_TYPE_VALUE.to_owned()),
    ])
}

/// The Trivy arguments of the scan container (after `trivy`): `trivy image` of `image`, or
/// `trivy sbom` of the mounted BOM.
pub fn scan_args(settings: &ScanSettings, image: &str, scanners: Scanners) -> Vec<String> {
    let timeout = common::cli::format_go_duration(settings.timeout);
    let (command, target) = if scanners.from_bom {
        ("sbom", super::bom::BOM_PATH)
    } else {
        ("image", image)
    };
    let mut args: Vec<String> = [command, "--cache-dir", CACHE_DIR, "--quiet"]
        .map(str::to_owned)
        .to_vec();
    match &settings.server {
        // The server has the DB: the client downloads none.
        Some(server) => args.extend([
            "--server".to_owned(),
            server.url.clone(),
            "--token-header".to_owned(),
            server.token_header.clone(),
        ]),
        None => args.push("--skip-db-update".to_owned()),
    }
    args.extend(
        [
            "--scanners",
            scanners.as_arg(),
            "--format",
            "json",
            "--timeout",
            &timeout,
        ]
        .map(str::to_owned),
    );
    args.extend(settings.detail.trivy_args());
    args.push(target.to_owned());
    args
}

/// The Trivy arguments of the SBOM container (after `trivy`): the image's CycloneDX BOM,
/// no vulnerability scan (so no DB), locally even in ClientServer mode.
pub fn sbom_args(settings: &ScanSettings, image: &str) -> Vec<String> {
    let timeout = common::cli::format_go_duration(settings.timeout);
    [
        "image",
        "--cache-dir",
        CACHE_DIR,
        "--quiet",
        "--format",
        "cyclonedx",
        "--timeout",
        &timeout,
        image,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `command` and `args` of a container running `trivy <args>`, or with compressed logs a
/// shell that keeps Trivy's exit status and prints its output bzip2-compressed and
/// base64-encoded.
fn trivy_command(settings: &ScanSettings, args: Vec<String>) -> (Vec<String>, Vec<String>) {
    if !settings.compress_logs {
        return (vec!["trivy".to_owned()], args);
    }
    let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    // $HOSTNAME (the pod name) keeps concurrent scans apart where /tmp is shared.
    let script = format!(
        "out=\"${{TMPDIR:-/tmp}}/trivy-result-$HOSTNAME.json\"; trivy {} > \"$out\" && bzip2 -c \"$out\" | base64",
        quoted.join(" ")
    );
    (vec!["/bin/sh".to_owned(), "-c".to_owned()], vec![script])
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The Job's volumes: the scratch space, and for a scan of a stored SBOM its Secret
/// (readable by the scan user through `fsGroup`).
fn volumes(settings: &ScanSettings, scan_key: &str, scanners: Scanners) -> Vec<Volume> {
    let tmp = Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(settings.resources.ephemeral_storage_limit.clone())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    };
    let bom = scanners.from_bom.then(|| Volume {
        name: BOM_VOLUME.to_owned(),
        secret: Some(SecretVolumeSource {
            // Named when the Job is created ([`set_bom_secret`]).
            secret_name: Some(super::bom::secret_name(&job_name(scan_key), "0")),
            default_mode: Some(0o440),
            optional: Some(false),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    });
    std::iter::once(tmp).chain(bom).collect()
}

/// Names the Secret the BOM volume of a stored SBOM's scan Job mounts.
pub fn set_bom_secret(job: &mut Job, secret: &str) {
    let volumes = job
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|p| p.volumes.as_mut());
    for volume in volumes.into_iter().flatten() {
        if volume.name == BOM_VOLUME
            && let Some(source) = volume.secret.as_mut()
        {
            source.secret_name = Some(secret.to_owned());
        }
    }
}

/// The Secret the BOM volume of `job` mounts (`None`: it scans an image).
pub fn bom_secret(job: &Job) -> Option<String> {
    job.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .volumes
        .as_ref()?
        .iter()
        .find(|v| v.name == BOM_VOLUME)?
        .secret
        .as_ref()?
        .secret_name
        .clone()
}

/// The scan Job for `image` under `scan_key`, in the operator namespace.
pub fn scan_job(
    settings: &ScanSettings,
    scan_key: &str,
    image: &str,
    credentials: Option<&CredentialsRef>,
    scanners: Scanners,
) -> Job {
    let labels = job_labels(scan_key);
    let timeout_secs = i64::try_from(settings.timeout.as_secs().max(1)).unwrap_or(i64::MAX);
    let ttl = i32::try_from(timeout_secs)
        .unwrap_or(i32::MAX)
        .saturating_add(TTL_MARGIN_SECS);
    let mounts = vec![VolumeMount {
        name: "tmp".to_owned(),
        mount_path: TMP_DIR.to_owned(),
        ..VolumeMount::default()
    }];
    // A scan of a stored SBOM reads it from its Secret.
    let bom_mount = VolumeMount {
        name: BOM_VOLUME.to_owned(),
        mount_path: super::bom::BOM_DIR.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let scan_mounts: Vec<VolumeMount> = mounts
        .iter()
        .cloned()
        .chain(scanners.from_bom.then_some(bom_mount))
        .collect();
    let db = Container {
        name: DB_CONTAINER.to_owned(),
        image: Some(settings.trivy_image.clone()),
        command: Some(vec!["trivy".to_owned()]),
        args: Some(
            [
                "image",
                "--cache-dir",
                CACHE_DIR,
                "--quiet",
                "--download-db-only",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        resources: Some(resources(settings)),
        security_context: Some(security_context()),
        volume_mounts: Some(mounts.clone()),
        ..Container::default()
    };
    let (command, args) = trivy_command(settings, scan_args(settings, image, scanners));
    let mut env: Vec<EnvVar> = credentials
        .map(|c| {
            vec![
                secret_env("TRIVY_USERNAME", &c.secret, &c.username_key),
                secret_env("TRIVY_PASSWORD", &c.secret, &c.password_key),
            ]
        })
        .unwrap_or_default();
    // Registry credentials for both containers that read the image; the server's token for
    // the scan container only (the SBOM is made locally).
    let sbom_env = (!env.is_empty()).then(|| env.clone());
    if let Some(secret) = settings
        .server
        .as_ref()
        .and_then(|s| s.token_secret.as_ref())
    {
        env.push(secret_env("TRIVY_TOKEN", secret, super::server::TOKEN_KEY));
    }
    let env = (!env.is_empty()).then_some(env);
    let sbom = scanners.sbom.then(|| {
        let (command, args) = trivy_command(settings, sbom_args(settings, image));
        Container {
            name: SBOM_CONTAINER.to_owned(),
            image: Some(settings.trivy_image.clone()),
            command: Some(command),
            args: Some(args),
            env: sbom_env,
            resources: Some(resources(settings)),
            security_context: Some(security_context()),
            volume_mounts: Some(mounts.clone()),
            ..Container::default()
        }
    });
    let scan = Container {
        name: SCAN_CONTAINER.to_owned(),
        image: Some(settings.trivy_image.clone()),
        command: Some(command),
        args: Some(args),
        env,
        resources: Some(resources(settings)),
        security_context: Some(security_context()),
        volume_mounts: Some(scan_mounts),
        ..Container::default()
    };
    // With a Trivy server, no DB is downloaded; the SBOM needs none.
    let init: Vec<Container> = settings
        .server
        .is_none()
        .then_some(db)
        .into_iter()
        .chain(sbom)
        .collect();
    let pod = PodSpec {
        restart_policy: Some("Never".to_owned()),
        automount_service_account_token: Some(false),
        service_account_name: settings.service_account.clone(),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        init_containers: (!init.is_empty()).then_some(init),
        containers: vec![scan],
        volumes: Some(volumes(settings, scan_key, scanners)),
        ..PodSpec::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(scan_key)),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([
                (SCAN_KEY_ANNOTATION.to_owned(), scan_key.to_owned()),
                (IMAGE_ANNOTATION.to_owned(), image.to_owned()),
                (SCANNERS_ANNOTATION.to_owned(), scanners.annotation()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(timeout_secs),
            ttl_seconds_after_finished: Some(ttl),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;
