//! The Trivy command line, as far as the double understands it.
//!
//! Global flags may come before or after the subcommand (`trivy --cache-dir D image ...` and
//! `trivy image --cache-dir D ...`), `--flag value` and `--flag=value` are both accepted, and
//! every flag also reads its `TRIVY_<FLAG>` environment variable (`--skip-db-update` ←
//! `TRIVY_SKIP_DB_UPDATE`), like real Trivy. An unknown flag is an error, so a command line
//! real Trivy would reject fails here too.

use std::collections::BTreeMap;

/// A flag real Trivy has: its long name, short letter, and whether it takes a value.
struct FlagSpec {
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
}

const fn flag(long: &'static str, short: Option<char>, takes_value: bool) -> FlagSpec {
    FlagSpec {
        long,
        short,
        takes_value,
    }
}

/// Flags of `trivy` and `trivy image` (0.5x) that a scan Job may reasonably pass.
const FLAGS: &[FlagSpec] = &[
    flag("format", Some('f'), true),
    flag("output", Some('o'), true),
    flag("severity", Some('s'), true),
    flag("timeout", None, true),
    flag("cache-dir", None, true),
    flag("cache-backend", None, true),
    flag("exit-code", None, true),
    flag("template", Some('t'), true),
    flag("scanners", None, true),
    flag("security-checks", None, true),
    flag("vuln-type", None, true),
    flag("pkg-types", None, true),
    flag("image-config-scanners", None, true),
    flag("skip-dirs", None, true),
    flag("skip-files", None, true),
    flag("ignorefile", None, true),
    flag("ignore-policy", None, true),
    flag("db-repository", None, true),
    flag("java-db-repository", None, true),
    flag("server", None, true),
    flag("token", None, true),
    flag("token-header", None, true),
    flag("custom-headers", None, true),
    flag("image-src", None, true),
    flag("platform", None, true),
    flag("docker-host", None, true),
    flag("podman-host", None, true),
    flag("username", None, true),
    flag("password", None, true),
    flag("registry-token", None, true),
    flag("config", Some('c'), true),
    flag("parallel", None, true),
    flag("detection-priority", None, true),
    flag("quiet", Some('q'), false),
    flag("debug", Some('d'), false),
    flag("no-progress", None, false),
    flag("insecure", None, false),
    flag("skip-db-update", None, false),
    flag("skip-update", None, false),
    flag("skip-java-db-update", None, false),
    flag("skip-check-update", None, false),
    flag("skip-policy-update", None, false),
    flag("download-db-only", None, false),
    flag("download-java-db-only", None, false),
    flag("offline-scan", None, false),
    flag("ignore-unfixed", None, false),
    flag("list-all-pkgs", None, false),
    flag("slow", None, false),
    flag("dependency-tree", None, false),
    flag("include-dev-deps", None, false),
    flag("reset", None, false),
    flag("version", Some('v'), false),
    flag("help", Some('h'), false),
];

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `trivy --version`, `trivy -v`, `trivy version`.
    Version,
    /// `trivy --help` or no subcommand.
    Help,
    /// `trivy image --download-db-only` (or the Java DB variant): nothing to scan.
    DownloadDb,
    /// `trivy image IMAGE`.
    ScanImage(String),
    /// `trivy sbom FILE`: the vulnerabilities of the packages a CycloneDX BOM lists.
    ScanSbom(String),
}

/// A parsed command line: the command and every flag that was set (flags given on the command
/// line win over `TRIVY_*` environment variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// What to do.
    pub command: Command,
    /// Flags by long name; boolean flags have the value `"true"` or `"false"`.
    pub flags: BTreeMap<String, String>,
}

impl Invocation {
    /// The value of a flag, if set.
    pub fn value(&self, long: &str) -> Option<&str> {
        self.flags.get(long).map(String::as_str)
    }

    /// Whether a boolean flag is set to true.
    pub fn is_set(&self, long: &str) -> bool {
        matches!(self.value(long), Some(v) if v != "false" && v != "0")
    }
}

/// A command line real Trivy would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A flag Trivy does not have.
    #[error("unknown flag: {0}")]
    UnknownFlag(String),
    /// A flag that needs a value came last.
    #[error("flag needs an argument: {0}")]
    MissingValue(String),
    /// A subcommand the double does not implement.
    #[error("unknown command {0:?} for \"trivy\" (the double implements: image, sbom, version)")]
    UnknownCommand(String),
    /// `trivy image` with no image and no `--download-db-only`.
    #[error("\"trivy image\" requires at least 1 argument")]
    MissingImage,
    /// More than one image.
    #[error("\"trivy image\" accepts at most 1 arg(s), received {0}")]
    TooManyArgs(usize),
}

/// Parses `args` (without the program name); `env` looks up `TRIVY_*` variables.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Invocation, Error> {
    let mut flags = BTreeMap::new();
    let mut positional = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            positional.extend(iter.by_ref().cloned());
            break;
        }
        let (spec, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let spec = FLAGS.iter().find(|f| f.long == name);
            (spec.ok_or_else(|| Error::UnknownFlag(arg.clone()))?, inline)
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('-');
            let rest: String = chars.collect();
            let spec = FLAGS.iter().find(|f| f.short == Some(c));
            let spec = spec.ok_or_else(|| Error::UnknownFlag(arg.clone()))?;
            let inline = match rest.strip_prefix('=') {
                Some(v) => Some(v.to_string()),
                None if rest.is_empty() => None,
                None if spec.takes_value => Some(rest),
                None => return Err(Error::UnknownFlag(arg.clone())),
            };
            (spec, inline)
        } else {
            positional.push(arg.clone());
            continue;
        };
        let value = match (spec.takes_value, inline) {
            (_, Some(v)) => v,
            (true, None) => iter
                .next()
                .cloned()
                .ok_or_else(|| Error::MissingValue(spec.long.to_string()))?,
            (false, None) => "true".to_string(),
        };
        flags.insert(spec.long.to_string(), value);
    }
    for spec in FLAGS {
        let var = format!("TRIVY_{}", spec.long.to_uppercase().replace('-', "_"));
        if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
            flags.entry(spec.long.to_string()).or_insert(v);
        }
    }
    let invocation = |command| Invocation {
        command,
        flags: flags.clone(),
    };
    let mut positional = positional.into_iter();
    let command = match positional.next().as_deref() {
        None if flags.get("version").is_some_and(|v| v != "false") => Command::Version,
        None => Command::Help,
        Some("version") => Command::Version,
        Some("image" | "i") => {
            let images: Vec<String> = positional.collect();
            let download_only = ["download-db-only", "download-java-db-only"]
                .iter()
                .any(|f| flags.get(*f).is_some_and(|v| v != "false" && v != "0"));
            match images.len() {
                0 if download_only => Command::DownloadDb,
                0 => return Err(Error::MissingImage),
                1 => Command::ScanImage(images.into_iter().next().unwrap_or_default()),
                n => return Err(Error::TooManyArgs(n)),
            }
        }
        Some("sbom") => {
            let files: Vec<String> = positional.collect();
            match files.len() {
                0 => return Err(Error::MissingImage),
                1 => Command::ScanSbom(files.into_iter().next().unwrap_or_default()),
                n => return Err(Error::TooManyArgs(n)),
            }
        }
        Some(other) => return Err(Error::UnknownCommand(other.to_string())),
    };
    Ok(invocation(command))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Invocation, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args, |_| None)
    }

    #[test]
    fn parses_scan_job_command_lines() {
        let inv = p(
            "--cache-dir /tmp/c --quiet image --skip-db-update --format json \
                     --timeout 5m --severity HIGH,CRITICAL -o /tmp/out.json alpine:3.10",
        )
        .unwrap();
        assert_eq!(inv.command, Command::ScanImage("alpine:3.10".into()));
        assert_eq!(inv.value("cache-dir"), Some("/tmp/c"));
        assert_eq!(inv.value("format"), Some("json"));
        assert_eq!(inv.value("output"), Some("/tmp/out.json"));
        assert_eq!(inv.value("severity"), Some("HIGH,CRITICAL"));
        assert!(inv.is_set("quiet") && inv.is_set("skip-db-update"));
        let inv = p("image --format=json -q --skip-update=false alpine").unwrap();
        assert!(inv.is_set("quiet") && !inv.is_set("skip-update"));
    }

    #[test]
    fn download_version_and_errors() {
        assert_eq!(
            p("image --download-db-only").unwrap().command,
            Command::DownloadDb
        );
        assert_eq!(
            p("--cache-dir /c image --download-db-only")
                .unwrap()
                .command,
            Command::DownloadDb
        );
        assert_eq!(p("--version").unwrap().command, Command::Version);
        assert_eq!(p("-v").unwrap().command, Command::Version);
        assert_eq!(p("version").unwrap().command, Command::Version);
        assert_eq!(
            p("image --bogus x").unwrap_err(),
            Error::UnknownFlag("--bogus".into())
        );
        assert_eq!(
            p("image --format").unwrap_err(),
            Error::MissingValue("format".into())
        );
        assert_eq!(p("image").unwrap_err(), Error::MissingImage);
        assert_eq!(p("image a b").unwrap_err(), Error::TooManyArgs(2));
        assert!(matches!(p("fs .").unwrap_err(), Error::UnknownCommand(_)));
    }

    #[test]
    fn environment_fills_unset_flags() {
        let args: Vec<String> = ["image", "--severity", "LOW", "alpine"]
            .map(String::from)
            .into();
        let env = |k: &str| match k {
            "TRIVY_SEVERITY" => Some("CRITICAL".to_string()),
            "TRIVY_QUIET" => Some("true".to_string()),
            _ => None,
        };
        let inv = parse(&args, env).unwrap();
        assert_eq!(inv.value("severity"), Some("LOW"));
        assert!(inv.is_set("quiet"));
    }
}
