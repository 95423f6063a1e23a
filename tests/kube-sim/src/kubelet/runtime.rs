//! The runtime map (image → program) and the rule that turns a container spec into the
//! command line the simulated kubelet executes on the host.
//!
//! `--runtime-map FILE` is JSON or YAML: `{"<image ref or prefix>": "<program path>"}`. An
//! image matches a key when both normalize to the same reference (`alpine:3.10` =
//! `docker.io/library/alpine:3.10`) or when the image, as written or normalized, starts with
//! the key (`ghcr.io/aquasecurity/trivy` matches every tag); the longest matching key wins.
//! Relative program paths are relative to the map file.
//!
//! The launch rule, following Docker (command overrides the image's ENTRYPOINT, args override
//! its CMD), with the mapped program standing in for the image's entrypoint binary:
//! - **image not in the map**: `command + args` run on the host as given (`sh -c 'echo hi'`);
//!   with neither, the container cannot start (kube-sim does not know the image's CMD);
//! - **mapped, no command**: `program + args`;
//! - **mapped, command is a shell** (`sh`, `bash`, `ash`, `dash`, any directory): the host
//!   shell runs `command + args` with a directory first on `PATH` in which the image's name
//!   (last repository component, e.g. `trivy`) and the program's file name are links to the
//!   program, so `sh -c 'trivy image ... | bzip2 | base64'` works;
//! - **mapped, other command**: the program replaces `command[0]`:
//!   `program + command[1..] + args`.
//!
//! `PATH` also has the link directory first in the last two cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::image::ImageRef;

/// Why the runtime map could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("read runtime map {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a string → string map in JSON or YAML.
    #[error("parse runtime map {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
}

/// Image reference (or prefix) → program.
#[derive(Debug, Clone, Default)]
pub struct RuntimeMap {
    entries: Vec<(String, PathBuf)>,
}

impl RuntimeMap {
    /// Reads a map file.
    pub fn load(path: &Path) -> Result<RuntimeMap, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: BTreeMap<String, String> =
            serde_yaml_ng::from_str(&text).map_err(|source| Error::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(RuntimeMap::from_entries(
            raw.into_iter().map(|(k, v)| (k, base.join(v))),
        ))
    }

    /// A map from `(image ref or prefix, program)` pairs.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, PathBuf)>) -> RuntimeMap {
        RuntimeMap {
            entries: entries.into_iter().collect(),
        }
    }

    /// The program an image maps to, if any (see the module doc for the matching rule).
    pub fn program_for(&self, image: &str) -> Option<&Path> {
        let normalized = ImageRef::parse(image).normalized();
        self.entries
            .iter()
            .filter(|(key, _)| {
                ImageRef::parse(key).normalized() == normalized
                    || image.starts_with(key.as_str())
                    || normalized.starts_with(key.as_str())
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(_, program)| program.as_path())
    }
}

/// What to execute for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// argv; `argv[0]` is the program (a path or a name looked up on `PATH`).
    pub argv: Vec<String>,
    /// Links to create in a directory put first on `PATH`: `(name, target program)`.
    pub links: Vec<(String, PathBuf)>,
}

/// Why a container cannot be started at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// Neither command nor args, and the image is not mapped.
    #[error("no command specified")]
    NoCommand,
}

const SHELLS: [&str; 4] = ["sh", "bash", "ash", "dash"];

/// Applies the launch rule to a container's image, command and args (already expanded).
pub fn plan(
    map: &RuntimeMap,
    image: &str,
    command: &[String],
    args: &[String],
) -> Result<Launch, LaunchError> {
    let Some(program) = map.program_for(image) else {
        let argv: Vec<String> = command.iter().chain(args).cloned().collect();
        if argv.is_empty() {
            return Err(LaunchError::NoCommand);
        }
        return Ok(Launch {
            argv,
            links: Vec::new(),
        });
    };
    let program_str = program.to_string_lossy().into_owned();
    let mut links = vec![(
        ImageRef::parse(image).basename().to_string(),
        program.to_path_buf(),
    )];
    if let Some(name) = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        && !links.iter().any(|(n, _)| *n == name)
    {
        links.push((name, program.to_path_buf()));
    }
    let argv = match command.split_first() {
        None => std::iter::once(program_str)
            .chain(args.iter().cloned())
            .collect(),
        Some((first, _)) if is_shell(first) => command.iter().chain(args).cloned().collect(),
        Some((_, rest)) => std::iter::once(program_str)
            .chain(rest.iter().chain(args).cloned())
            .collect(),
    };
    Ok(Launch { argv, links })
}

fn is_shell(cmd: &str) -> bool {
    let base = cmd.rsplit('/').next().unwrap_or(cmd);
    SHELLS.contains(&base)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn map() -> RuntimeMap {
        RuntimeMap::from_entries([
            (
                "ghcr.io/aquasecurity/trivy".to_string(),
                PathBuf::from("/bin/trivy-double"),
            ),
            (
                "ghcr.io/aquasecurity/trivy:0.1".to_string(),
                PathBuf::from("/bin/old"),
            ),
            ("alpine:3.10".to_string(), PathBuf::from("/bin/alp")),
        ])
    }

    #[test]
    fn matches_normalized_and_longest_prefix() {
        let m = map();
        assert_eq!(
            m.program_for("ghcr.io/aquasecurity/trivy:0.58.1"),
            Some(Path::new("/bin/trivy-double"))
        );
        assert_eq!(
            m.program_for("ghcr.io/aquasecurity/trivy:0.1"),
            Some(Path::new("/bin/old"))
        );
        assert_eq!(
            m.program_for("docker.io/library/alpine:3.10"),
            Some(Path::new("/bin/alp"))
        );
        assert_eq!(m.program_for("busybox"), None);
    }

    #[test]
    fn launch_rule() {
        let m = map();
        let img = "ghcr.io/aquasecurity/trivy:0.58.1";
        let plan_of = |cmd: &[&str], args: &[&str]| plan(&m, img, &s(cmd), &s(args)).unwrap().argv;
        assert_eq!(
            plan_of(&[], &["image", "x"]),
            s(&["/bin/trivy-double", "image", "x"])
        );
        assert_eq!(
            plan_of(&["trivy", "--quiet"], &["image", "x"]),
            s(&["/bin/trivy-double", "--quiet", "image", "x"])
        );
        assert_eq!(
            plan_of(&["/bin/sh", "-c"], &["trivy image x"]),
            s(&["/bin/sh", "-c", "trivy image x"])
        );
        let links = plan(&m, img, &[], &[]).unwrap().links;
        assert_eq!(
            links,
            vec![
                ("trivy".to_string(), PathBuf::from("/bin/trivy-double")),
                (
                    "trivy-double".to_string(),
                    PathBuf::from("/bin/trivy-double")
                )
            ]
        );
        let unmapped = plan(&m, "busybox", &s(&["sh", "-c"]), &s(&["echo hi"])).unwrap();
        assert_eq!(unmapped.argv, s(&["sh", "-c", "echo hi"]));
        assert!(unmapped.links.is_empty());
        assert_eq!(plan(&m, "busybox", &[], &[]), Err(LaunchError::NoCommand));
    }
}
