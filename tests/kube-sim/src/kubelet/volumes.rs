//! Secret and ConfigMap volumes, projected the way the kubelet projects them: each key (or
//! each of `items`, at its `path`) a file in a directory, with `defaultMode`/`mode`. Other
//! volume types (`emptyDir`, …) need no files here: the process writes to the host's
//! temporary directory. A `hostPath` volume is taken as present (a node-collector Job mounts
//! eight): nothing is projected, its paths are not translated, the host is not touched.
//!
//! A container runs as a process on this host, not in its own mount namespace, so the paths
//! it is told about are translated: a path under a mount in its command or args (a whole
//! argument, `--flag=<path>`, or a word of a shell script) becomes the same path under the
//! host directory the volume was projected into. A Secret or ConfigMap that does not exist
//! (and is not `optional`) keeps the container waiting, as `MountVolume.SetUp failed` does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::env::{ConfigError, data_bytes};
use crate::store::{GroupResource, Store};

/// Where each projected mount of one container lives on the host.
#[derive(Debug, Default, Clone)]
pub struct Mounts {
    /// (mount path in the container, host directory), longest mount path first.
    pairs: Vec<(String, PathBuf)>,
}

impl Mounts {
    /// `arg` with every path under a projected mount translated to the host.
    pub fn translate(&self, arg: &str) -> String {
        let mut out = arg.to_owned();
        for (mount, host) in &self.pairs {
            out = translate_one(&out, mount, &host.to_string_lossy());
        }
        out
    }
}

/// Replaces `mount` (as a whole path, or followed by `/`) where a path may start: at the
/// beginning, or after a space, a quote or `=`.
fn translate_one(text: &str, mount: &str, host: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(mount) {
        let before = rest[..at].chars().last().or_else(|| out.chars().last());
        let after = rest[at + mount.len()..].chars().next();
        let starts = before.is_none_or(|c| matches!(c, ' ' | '\'' | '"' | '='));
        let ends = after.is_none_or(|c| matches!(c, '/' | ' ' | '\'' | '"'));
        out.push_str(&rest[..at]);
        if starts && ends {
            out.push_str(host);
        } else {
            out.push_str(mount);
        }
        rest = &rest[at + mount.len()..];
    }
    out.push_str(rest);
    out
}

/// Projects the Secret and ConfigMap volumes `container` mounts into `root/<volume>` and
/// returns where they are.
pub fn project(
    store: &Store,
    pod: &Value,
    container: &Value,
    root: &Path,
) -> Result<Mounts, ConfigError> {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut pairs = Vec::new();
    for mount in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = mount.get("name").and_then(Value::as_str).unwrap_or("");
        let Some(path) = mount.get("mountPath").and_then(Value::as_str) else {
            continue;
        };
        let Some(volume) = volumes
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        let (gr, source, object_name) = match (volume.get("secret"), volume.get("configMap")) {
            (Some(s), _) => (GroupResource::new("", "secrets"), s, s.get("secretName")),
            (None, Some(c)) => (GroupResource::new("", "configmaps"), c, c.get("name")),
            _ => continue,
        };
        let object_name = object_name.and_then(Value::as_str).unwrap_or("");
        let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
        let dir = root.join(name);
        let files = match store.get(&gr, namespace, object_name) {
            Ok(object) => files(&object, source)?,
            Err(_) if optional => Vec::new(),
            Err(_) => {
                let what = if gr.resource == "secrets" {
                    "secret"
                } else {
                    "configmap"
                };
                return Err(ConfigError(format!(
                    "MountVolume.SetUp failed for volume \"{name}\" : {what} \"{object_name}\" not found"
                )));
            }
        };
        let mode = source
            .get("defaultMode")
            .and_then(Value::as_u64)
            .unwrap_or(0o644);
        write(&dir, files, mode).map_err(|e| {
            ConfigError(format!(
                "MountVolume.SetUp failed for volume \"{name}\" : {e}"
            ))
        })?;
        pairs.push((path.trim_end_matches('/').to_owned(), dir));
    }
    pairs.sort_by_key(|(mount, _)| std::cmp::Reverse(mount.len()));
    Ok(Mounts { pairs })
}

/// A file of a volume: its path in the volume, its bytes and its own mode.
type File = (String, Vec<u8>, Option<u64>);

/// The files of a Secret or ConfigMap volume.
fn files(object: &Value, source: &Value) -> Result<Vec<File>, ConfigError> {
    let entries = data_bytes(object);
    let Some(items) = source.get("items").and_then(Value::as_array) else {
        return Ok(entries.into_iter().map(|(k, b)| (k, b, None)).collect());
    };
    let mut out = Vec::new();
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or("");
        let path = item.get("path").and_then(Value::as_str).unwrap_or(key);
        let Some((_, bytes)) = entries.iter().find(|(k, _)| k == key) else {
            return Err(ConfigError(format!(
                "MountVolume.SetUp failed: configmap or secret references non-existent key {key}"
            )));
        };
        out.push((
            path.to_owned(),
            bytes.clone(),
            item.get("mode").and_then(Value::as_u64),
        ));
    }
    Ok(out)
}

fn write(dir: &Path, files: Vec<File>, mode: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (path, bytes, file_mode) in files {
        // Like the kubelet: paths stay inside the volume.
        if path.split('/').any(|part| part == "..") || path.starts_with('/') {
            continue;
        }
        let file = dir.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, bytes)?;
        // Readable by the process owner whatever the mode says (no fsGroup here).
        let mode = u32::try_from(file_mode.unwrap_or(mode) | 0o400).unwrap_or(0o644);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_a_mount_are_translated_where_a_path_starts() {
        let mounts = Mounts {
            pairs: vec![("/bom".into(), PathBuf::from("/host/v/bom"))],
        };
        assert_eq!(mounts.translate("/bom/bom.json"), "/host/v/bom/bom.json");
        assert_eq!(mounts.translate("/bom"), "/host/v/bom");
        assert_eq!(mounts.translate("--input=/bom/x"), "--input=/host/v/bom/x");
        assert_eq!(
            mounts.translate("trivy 'sbom' '/bom/bom.json' > \"$out\""),
            "trivy 'sbom' '/host/v/bom/bom.json' > \"$out\""
        );
        // Not a path under the mount.
        assert_eq!(mounts.translate("/bomb/x"), "/bomb/x");
        assert_eq!(mounts.translate("/tmp/bom/x"), "/tmp/bom/x");
        assert_eq!(mounts.translate("sbom"), "sbom");
    }
}
