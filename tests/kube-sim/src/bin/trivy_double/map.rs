//! The image → output map: which report the double prints for which image.
//!
//! Built-in entries map sensible image names to the real Trivy outputs in the shared data
//! directory (`TRIVY_DOUBLE_DATA`, default `<repo>/tests/data/trivy-json`, found from the
//! crate's manifest directory at build time). `TRIVY_DOUBLE_MAP=/path/map.{json,yaml}` adds
//! entries (and overrides built-in ones): `{"<image ref>": "<entry>"}`. Keys are normalized
//! like image references (`alpine:3.10` = `docker.io/library/alpine:3.10`), and a digest
//! reference `repo@sha256:<hex>` finds the key whose kube-sim digest is `<hex>`.
//!
//! Images of the reserved registry [`CONVENTION_REGISTRY`] need no map: their name says
//! what to do, so a scenario can run against a real cluster, where no per-test map reaches
//! the scan Jobs' pods. `trivy-double.test/[sleep-<seconds>/]<output>[/<anything>]:<tag>`,
//! where `<output>` is a file stem of the data directory (`alpine-310` →
//! `alpine-310.json.golden`, else `<stem>.json`), `garbage` or `fail`; the rest of the path and the tag only make
//! images distinct. E.g. `trivy-double.test/sleep-6/alpine-310/app1:1.0`.
//!
//! An entry is a file path (relative paths are relative to the map file) or a special entry:
//! - `!garbage` — prints text that is not JSON and exits 0;
//! - `!truncate PATH` — prints the first half of the file and exits 0;
//! - `!fail [CODE] [MESSAGE]` — prints a FATAL line with MESSAGE and exits CODE (default 1);
//! - `!sleep SECONDS [ENTRY]` — waits, then behaves like ENTRY; without ENTRY it fails
//!   (a hung scan).
//! - `!private USER:PASSWORD ENTRY` — a private image: behaves like ENTRY only with these
//!   registry credentials (`--username`/`--password` or `TRIVY_USERNAME`/`TRIVY_PASSWORD`),
//!   else fails as Trivy does (`UNAUTHORIZED: authentication required`). `--timeout` (default 5m, like Trivy) cuts the wait short with
//!   `context deadline exceeded`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::image::ImageRef;

/// What the double does for an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Print this file.
    File(PathBuf),
    /// Print non-JSON text.
    Garbage,
    /// Print the first half of this file.
    Truncate(PathBuf),
    /// Exit with this code and message.
    Fail {
        /// Exit code.
        code: i32,
        /// Error message.
        message: String,
    },
    /// Behave like the inner entry only with these credentials.
    Private {
        /// Registry user name.
        username: String,
        /// Registry password.
        password: String,
        /// What then.
        then: Box<Entry>,
    },
    /// Wait, then behave like the inner entry (or fail when there is none).
    Sleep {
        /// How long.
        seconds: f64,
        /// What then.
        then: Option<Box<Entry>>,
    },
}

/// Why the map could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The map file could not be read.
    #[error("read image map {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The map file is neither a JSON nor a YAML string map.
    #[error("parse image map {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
    /// A special entry is malformed.
    #[error("bad entry {entry:?} for image {image:?}")]
    BadEntry {
        /// The image key.
        image: String,
        /// The entry text.
        entry: String,
    },
}

/// The data directory used when `TRIVY_DOUBLE_DATA` is not set.
pub const DEFAULT_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/trivy-json");

/// Built-in image → file (relative to the data directory) or special entry.
pub const BUILTIN: &[(&str, &str)] = &[
    ("alpine:3.10", "alpine-310.json.golden"),
    (
        "ghcr.io/aquasecurity/trivy-test-images:alpine-310",
        "alpine-310.json.golden",
    ),
    ("alpine:3.10.2", "vulnerability_report.json"),
    ("debian:buster", "debian-buster.json.golden"),
    ("debian:10", "debian-buster.json.golden"),
    (
        "ghcr.io/aquasecurity/trivy-test-images:debian-buster",
        "debian-buster.json.golden",
    ),
    (
        "ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre8",
        "spring4shell-jre8.json.golden",
    ),
    ("spring4shell:jre8", "spring4shell-jre8.json.golden"),
    (
        "ghcr.io/aquasecurity/trivy-test-images:busybox-with-lockfile",
        "busybox-with-lockfile.json.golden",
    ),
    (
        "busybox-with-lockfile:latest",
        "busybox-with-lockfile.json.golden",
    ),
    ("garbage:1", "!garbage"),
    ("truncated:1", "!truncate alpine-310.json.golden"),
    ("slow:1", "!sleep 3600"),
    ("fail:1", "!fail 1 scan failed on purpose"),
];

/// The registry whose image names say what the double does (see the module docs).
pub const CONVENTION_REGISTRY: &str = "trivy-double.test";

/// The image map: normalized reference → entry.
#[derive(Debug, Default)]
pub struct ImageMap {
    entries: BTreeMap<String, Entry>,
    /// Where the outputs named by [`CONVENTION_REGISTRY`] images are.
    data_dir: PathBuf,
}

impl ImageMap {
    /// The directory of the built-in outputs.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The built-in entries (files under `data_dir`) plus those of `map_file`, if any.
    pub fn load(data_dir: &Path, map_file: Option<&Path>) -> Result<ImageMap, Error> {
        let mut map = ImageMap {
            data_dir: data_dir.to_path_buf(),
            ..ImageMap::default()
        };
        for (image, entry) in BUILTIN {
            map.insert(image, entry, data_dir)?;
        }
        if let Some(path) = map_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let entries: BTreeMap<String, String> =
                serde_yaml_ng::from_str(&text).map_err(|source| Error::Parse {
                    path: path.to_path_buf(),
                    source,
                })?;
            let base = path.parent().unwrap_or(Path::new("."));
            for (image, entry) in &entries {
                map.insert(image, entry, base)?;
            }
        }
        Ok(map)
    }

    fn insert(&mut self, image: &str, entry: &str, base: &Path) -> Result<(), Error> {
        let parsed = parse_entry(entry, base).ok_or_else(|| Error::BadEntry {
            image: image.to_string(),
            entry: entry.to_string(),
        })?;
        self.entries
            .insert(ImageRef::parse(image).normalized(), parsed);
        Ok(())
    }

    /// The entry for an image reference: by normalized reference, then by digest, then by
    /// the naming convention of [`CONVENTION_REGISTRY`].
    pub fn lookup(&self, reference: &str) -> Option<Entry> {
        let wanted = ImageRef::parse(reference);
        if let Some(entry) = self.entries.get(&wanted.normalized()) {
            return Some(entry.clone());
        }
        if let Some(digest) = wanted.digest.as_ref()
            && let Some(entry) = self.entries.iter().find_map(|(key, entry)| {
                let known = ImageRef::parse(key);
                (known.name() == wanted.name() && &known.digest() == digest).then_some(entry)
            })
        {
            return Some(entry.clone());
        }
        self.by_convention(reference)
    }

    /// The entry a [`CONVENTION_REGISTRY`] image's name says.
    fn by_convention(&self, reference: &str) -> Option<Entry> {
        let path = reference
            .strip_prefix(CONVENTION_REGISTRY)?
            .strip_prefix('/')?;
        // Up to the tag or digest.
        let path = path.split(['@', ':']).next()?;
        let mut segments = path.split('/');
        let mut first = segments.next()?;
        let mut sleep = None;
        if let Some(seconds) = first.strip_prefix("sleep-") {
            sleep = Some(
                seconds
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)?,
            );
            first = segments.next()?;
        }
        let entry = match first {
            "garbage" => Entry::Garbage,
            "fail" => Entry::Fail {
                code: 1,
                message: format!("scan of {reference} failed on purpose"),
            },
            stem if !stem.is_empty() && !stem.contains("..") => {
                let file = [".json.golden", ".json"]
                    .iter()
                    .map(|ext| self.data_dir.join(format!("{stem}{ext}")))
                    .find(|f| f.is_file())?;
                Entry::File(file)
            }
            _ => return None,
        };
        Some(match sleep {
            Some(seconds) => Entry::Sleep {
                seconds,
                then: Some(Box::new(entry)),
            },
            None => entry,
        })
    }
}

impl Entry {
    /// The output file this entry prints (through a sleep or a credentials check), if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Entry::File(path) | Entry::Truncate(path) => Some(path),
            Entry::Private { then, .. } => then.file(),
            Entry::Sleep { then, .. } => then.as_deref().and_then(Entry::file),
            Entry::Garbage | Entry::Fail { .. } => None,
        }
    }
}

fn parse_entry(entry: &str, base: &Path) -> Option<Entry> {
    let entry = entry.trim();
    let Some(special) = entry.strip_prefix('!') else {
        return Some(Entry::File(base.join(entry)));
    };
    let (word, rest) = special
        .split_once(char::is_whitespace)
        .unwrap_or((special, ""));
    let rest = rest.trim();
    match word {
        "garbage" => Some(Entry::Garbage),
        "truncate" if !rest.is_empty() => Some(Entry::Truncate(base.join(rest))),
        "fail" => {
            let (code, message) = match rest.split_once(char::is_whitespace) {
                Some((c, m)) if c.parse::<i32>().is_ok() => (c.parse().ok()?, m.trim()),
                _ => match rest.parse::<i32>() {
                    Ok(c) => (c, ""),
                    Err(_) => (1, rest),
                },
            };
            let message = if message.is_empty() {
                "scan failed"
            } else {
                message
            };
            Some(Entry::Fail {
                code,
                message: message.to_string(),
            })
        }
        "private" => {
            let (credentials, then) = rest.split_once(char::is_whitespace)?;
            let (username, password) = credentials.split_once(':')?;
            Some(Entry::Private {
                username: username.to_string(),
                password: password.to_string(),
                then: Box::new(parse_entry(then.trim(), base)?),
            })
        }
        "sleep" => {
            let (secs, then) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let seconds: f64 = secs
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
            let then = match then.trim() {
                "" => None,
                t => Some(Box::new(parse_entry(t, base)?)),
            };
            Some(Entry::Sleep { seconds, then })
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_special_entries() {
        let b = Path::new("/d");
        assert_eq!(
            parse_entry("a.json", b),
            Some(Entry::File("/d/a.json".into()))
        );
        assert_eq!(
            parse_entry("/x/a.json", b),
            Some(Entry::File("/x/a.json".into()))
        );
        assert_eq!(parse_entry("!garbage", b), Some(Entry::Garbage));
        assert_eq!(
            parse_entry("!fail 3 boom now", b),
            Some(Entry::Fail {
                code: 3,
                message: "boom now".into()
            })
        );
        assert_eq!(
            parse_entry("!fail boom", b),
            Some(Entry::Fail {
                code: 1,
                message: "boom".into()
            })
        );
        assert_eq!(
            parse_entry("!sleep 2 a.json", b),
            Some(Entry::Sleep {
                seconds: 2.0,
                then: Some(Box::new(Entry::File("/d/a.json".into())))
            })
        );
        assert_eq!(parse_entry("!sleep x", b), None);
        assert_eq!(
            parse_entry("!private u:p:w a.json", b),
            Some(Entry::Private {
                username: "u".into(),
                password: "p:w".into(),
                then: Box::new(Entry::File("/d/a.json".into()))
            })
        );
        assert_eq!(parse_entry("!private u:p", b), None);
        assert_eq!(parse_entry("!nope", b), None);
    }

    #[test]
    fn looks_up_normalized_and_digest_references() {
        let map = ImageMap::load(Path::new("/data"), None).unwrap();
        let alpine = Some(Entry::File("/data/alpine-310.json.golden".into()));
        assert_eq!(map.lookup("alpine:3.10"), alpine);
        assert_eq!(map.lookup("docker.io/library/alpine:3.10"), alpine);
        let by_digest = format!("alpine@{}", ImageRef::parse("alpine:3.10").digest());
        assert_eq!(map.lookup(&by_digest), alpine);
        assert_eq!(map.lookup("alpine:3.11"), None);
        assert_eq!(map.lookup("alpine"), None);
    }

    #[test]
    fn map_file_adds_and_overrides() {
        let dir = std::env::temp_dir().join(format!("trivy-double-map-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("map.yaml");
        std::fs::write(&file, "alpine:3.10: '!garbage'\nmy/app:1: out.json\n").unwrap();
        let map = ImageMap::load(Path::new("/data"), Some(&file)).unwrap();
        assert_eq!(map.lookup("alpine:3.10"), Some(Entry::Garbage));
        assert_eq!(
            map.lookup("my/app:1"),
            Some(Entry::File(dir.join("out.json")))
        );
        std::fs::write(&file, "{\"x:1\": \"!bogus\"}").unwrap();
        assert!(matches!(
            ImageMap::load(Path::new("/d"), Some(&file)),
            Err(Error::BadEntry { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn convention_images_say_what_to_do() {
        let data = std::path::PathBuf::from(DEFAULT_DATA_DIR);
        let map = ImageMap::load(&data, None).unwrap();
        let alpine = Entry::File(data.join("alpine-310.json.golden"));
        assert_eq!(
            map.lookup("trivy-double.test/alpine-310:1"),
            Some(alpine.clone())
        );
        assert_eq!(
            map.lookup("trivy-double.test/alpine-310/app7:2.0"),
            Some(alpine.clone())
        );
        assert_eq!(
            map.lookup("trivy-double.test/sleep-6/alpine-310/app1:1.0"),
            Some(Entry::Sleep {
                seconds: 6.0,
                then: Some(Box::new(alpine))
            })
        );
        assert_eq!(
            map.lookup("trivy-double.test/garbage/x:1"),
            Some(Entry::Garbage)
        );
        assert!(matches!(
            map.lookup("trivy-double.test/fail:1"),
            Some(Entry::Fail { code: 1, .. })
        ));
        for unknown in [
            "trivy-double.test/nothing-like-it:1",
            "trivy-double.test/sleep-x/alpine-310:1",
            "trivy-double.test/sleep-5:1",
            "trivy-double.test/../etc/passwd:1",
            "other.test/alpine-310:1",
        ] {
            assert_eq!(map.lookup(unknown), None, "{unknown}");
        }
    }
}
