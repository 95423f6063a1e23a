//! Private registries: the image pull secrets of a workload and of its ServiceAccount give
//! Trivy a user name and password for the scanned image's registry only. They reach the Job
//! through a short-lived Secret in the operator namespace, owned by the Job (so garbage
//! collection deletes it with the Job).

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::{Api, Client};
use serde_json::Value;

use super::job::CredentialsRef;

/// Key of the user name in the credentials Secret.
pub const USERNAME_KEY: &str = "username";
/// Key of the password in the credentials Secret.
pub const PASSWORD_KEY: &str = "password";

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The key a scan Job is named after: the scan key, plus the credential identity for a scan
/// with credentials (so each identity has its own Job and never adopts another's).
pub fn job_key(scan_key: &str, identity: Option<&str>) -> String {
    match identity {
        None => scan_key.to_owned(),
        Some(identity) => format!("{scan_key}#{identity}"),
    }
}

/// The identity of credentials found in pull secret `name` of `namespace`.
pub fn identity(namespace: &str, name: &str) -> String {
    common::names::short_hash(&format!("{namespace}/{name}"))
}

/// The name of the credentials Secret of scan Job `job`.
pub fn secret_name(job: &str) -> String {
    format!("{job}-registry")
}

/// How the Job refers to the credentials Secret of `job`.
pub fn credentials_ref(job: &str) -> CredentialsRef {
    CredentialsRef {
        secret: secret_name(job),
        username_key: USERNAME_KEY.to_owned(),
        password_key: PASSWORD_KEY.to_owned(),
    }
}

/// The registry host a docker config key names: `https://index.docker.io/v1/` →
/// `index.docker.io`; Docker Hub's aliases all become `index.docker.io`.
pub fn normalize_server(key: &str) -> String {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => common::trivy::DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// The credentials for `registry` in a `.dockerconfigjson` (`{"auths": {...}}`) or legacy
/// `.dockercfg` (the `auths` map itself) document: `username`/`password`, or `auth`
/// (base64 of `user:password`).
pub fn from_docker_config(json: &[u8], registry: &str) -> Option<RegistryCredentials> {
    let doc: Value = serde_json::from_slice(json).ok()?;
    let auths = doc.get("auths").unwrap_or(&doc).as_object()?;
    let registry = normalize_server(registry);
    auths.iter().find_map(|(key, entry)| {
        if normalize_server(key) != registry {
            return None;
        }
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let (username, password) = match (field("username"), field("password")) {
            (Some(u), Some(p)) => (u.to_owned(), p.to_owned()),
            _ => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(field("auth")?)
                    .ok()?;
                let text = String::from_utf8(decoded).ok()?;
                let (u, p) = text.split_once(':')?;
                (u.to_owned(), p.to_owned())
            }
        };
        Some(RegistryCredentials {
            server: registry.clone(),
            username,
            password,
        })
    })
}

/// Credentials found in a pull secret, and whose they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub credentials: RegistryCredentials,
    /// Who may see what they unlock: the secret, as `namespace/name`, hashed.
    pub identity: String,
}

/// Looks up credentials for `registry` in the named pull secrets of `namespace` (the
/// leader names them: the workload's, then its ServiceAccount's), in order. A missing or
/// unusable secret is skipped.
pub async fn lookup(
    client: &Client,
    namespace: &str,
    names: &[String],
    registry: &str,
) -> Result<Option<Found>, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for name in names {
        let Some(secret) = secrets.get_opt(name).await? else {
            continue;
        };
        let data = secret.data.unwrap_or_default();
        let found = [".dockerconfigjson", ".dockercfg"]
            .iter()
            .filter_map(|k| data.get(*k))
            .find_map(|doc| from_docker_config(&doc.0, registry));
        if let Some(credentials) = found {
            return Ok(Some(Found {
                credentials,
                identity: identity(namespace, name),
            }));
        }
    }
    Ok(None)
}

/// The credentials Secret of scan Job `job` (uid `job_uid`) in `namespace`, owned by the Job.
pub fn secret(namespace: &str, job: &str, job_uid: &str, c: &RegistryCredentials) -> Secret {
    let data = BTreeMap::from([
        (
            USERNAME_KEY.to_owned(),
            ByteString(c.username.clone().into_bytes()),
        ),
        (
            PASSWORD_KEY.to_owned(),
            ByteString(c.password.clone().into_bytes()),
        ),
    ]);
    job_secret(namespace, &secret_name(job), (job, job_uid), data)
}

/// A Secret named `name` in the operator namespace, owned by the Job `(name, uid)` (deleted
/// with it by garbage collection), holding `data`.
pub fn job_secret(
    namespace: &str,
    name: &str,
    (job, job_uid): (&str, &str),
    data: BTreeMap<String, ByteString>,
) -> Secret {
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "batch/v1".to_owned(),
        kind: "Job".to_owned(),
        name: job.to_owned(),
        uid: job_uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(false),
    };
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                common::labels::MANAGED_BY.to_owned(),
                common::labels::MANAGED_BY_VALUE.to_owned(),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn servers_normalize() {
        for (key, want) in [
            ("https://index.docker.io/v1/", "index.docker.io"),
            ("docker.io", "index.docker.io"),
            ("registry-1.docker.io", "index.docker.io"),
            ("Quay.io", "quay.io"),
            ("http://host:5000/v2/", "host:5000"),
        ] {
            assert_eq!(normalize_server(key), want, "{key}");
        }
    }

    #[test]
    fn credentials_only_for_the_matching_registry() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cr:et");
        let doc = serde_json::json!({"auths": {
            "https://index.docker.io/v1/": {"username": "alice", "password": "pw"},
            "quay.io": {"auth": auth},
            "empty.io": {},
        }})
        .to_string();
        let hub = from_docker_config(doc.as_bytes(), "index.docker.io").unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("alice", "pw")
        );
        let quay = from_docker_config(doc.as_bytes(), "quay.io").unwrap();
        assert_eq!(
            (quay.username.as_str(), quay.password.as_str()),
            ("bob", "s3cr:et")
        );
        assert_eq!(from_docker_config(doc.as_bytes(), "ghcr.io"), None);
        assert_eq!(from_docker_config(doc.as_bytes(), "empty.io"), None);
        assert_eq!(from_docker_config(b"not json", "quay.io"), None);
        // Legacy .dockercfg: the map without "auths".
        let legacy = r#"{"quay.io": {"username": "u", "password": "p"}}"#;
        assert_eq!(
            from_docker_config(legacy.as_bytes(), "quay.io")
                .unwrap()
                .username,
            "u"
        );
        assert!(
            !format!("{hub:?}").contains("pw"),
            "Debug hides the password"
        );
    }

    #[test]
    fn secret_is_owned_by_the_job() {
        let c = RegistryCredentials {
            server: "quay.io".into(),
            username: "u".into(),
            password: "p".into(),
        };
        let s = serde_json::to_value(secret("trivy-system", "scan-x", "uid-1", &c)).unwrap();
        assert_eq!(s["metadata"]["name"], "scan-x-registry");
        assert_eq!(s["metadata"]["ownerReferences"][0]["kind"], "Job");
        assert_eq!(s["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(s["data"]["username"], "dQ==");
        assert_eq!(credentials_ref("scan-x").secret, "scan-x-registry");
    }
}
