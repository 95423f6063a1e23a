//! Runs a parsed command line: prints the version, pretends to download the DB, or "scans" an
//! image by printing its mapped report, failing the way real Trivy fails.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::cli::{Command, Invocation};
use crate::map::{Entry, ImageMap};

/// The version the double claims to be (`TRIVY_DOUBLE_VERSION` overrides it).
pub const VERSION: &str = "0.58.1";

const ALL_SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Where the double writes: stdout and stderr in the binary, buffers in tests.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Executes `inv` against `map`; returns the process exit code.
pub fn run(inv: &Invocation, map: &ImageMap, version: &str, io: &mut Io<'_>) -> i32 {
    let quiet = inv.is_set("quiet");
    match &inv.command {
        Command::Version => {
            let _ = writeln!(io.out, "Version: {version}");
            0
        }
        Command::Help => {
            let _ = writeln!(
                io.out,
                "Usage:\n  trivy [global flags] command [flags] target"
            );
            0
        }
        Command::DownloadDb => {
            if !quiet {
                info(io, "[vulndb] Need to update DB");
                info(io, "[vulndb] Downloading vulnerability DB...");
            }
            0
        }
        Command::ScanImage(image) => scan(inv, map, image, "vuln,secret", io),
        Command::ScanSbom(file) => match crate::cyclonedx::image_of(Path::new(file)) {
            // The vulnerabilities of the BOM's packages are those of the image it describes
            // (the double has no vulnerability DB to match packages against); `trivy sbom`
            // scans for vulnerabilities only.
            Ok(image) => scan(inv, map, &image, "vuln", io),
            Err(e) => fatal(io, &e),
        },
    }
}

fn scan(
    inv: &Invocation,
    map: &ImageMap,
    image: &str,
    default_scanners: &str,
    io: &mut Io<'_>,
) -> i32 {
    let format = inv.value("format").unwrap_or("table");
    if format != "json" && format != "cyclonedx" {
        return fatal(
            io,
            &format!("the trivy double only produces --format json or cyclonedx, not {format:?}"),
        );
    }
    let timeout = match inv.value("timeout").map(parse_duration) {
        None => Duration::from_secs(300),
        Some(Some(t)) => t,
        Some(None) => return fatal(io, "invalid argument \"timeout\": bad duration"),
    };
    let severities = match inv.value("severity") {
        None => ALL_SEVERITIES.map(String::from).to_vec(),
        Some(s) => s.split(',').map(|s| s.trim().to_uppercase()).collect(),
    };
    if let Some(bad) = severities
        .iter()
        .find(|s| !ALL_SEVERITIES.contains(&s.as_str()))
    {
        return fatal(io, &format!("unknown severity option: {bad}"));
    }
    if !inv.is_set("quiet") {
        info(io, "[vuln] Vulnerability scanning is enabled");
    }
    if let Some(server) = inv.value("server")
        && let Err(e) = crate::server::reach(server)
    {
        return fatal(io, &e);
    }
    let Some(entry) = map.lookup(image) else {
        return fatal(io, &unknown_image(image));
    };
    let credentials = (inv.value("username"), inv.value("password"));
    let output = match produce(&entry, timeout, credentials, io) {
        Ok(bytes) => bytes,
        Err(code) => return code,
    };
    if format == "cyclonedx" {
        let bom = match crate::cyclonedx::recorded(map.data_dir(), image, entry.file()) {
            Some(path) => match read(&path, io) {
                // Trivy names the BOM's subject by the argument it scanned.
                Ok(bytes) => crate::cyclonedx::named(bytes, image, &now()),
                Err(code) => return code,
            },
            None => match serde_json::from_slice::<serde_json::Value>(&output) {
                Ok(report) => {
                    let bom = crate::cyclonedx::from_report(image, &report, &now());
                    let mut bytes = serde_json::to_vec_pretty(&bom).unwrap_or_default();
                    bytes.push(b'\n');
                    bytes
                }
                // Garbage in, garbage out (a truncated or garbage entry).
                Err(_) => output,
            },
        };
        return emit(inv, &bom, io).map_or_else(|code| code, |()| 0);
    }
    // Trivy's default scanners for images.
    let scanners: Vec<String> = inv
        .value("scanners")
        .unwrap_or(default_scanners)
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    if let Some(bad) = scanners
        .iter()
        .find(|s| !["vuln", "secret", "misconfig", "license"].contains(&s.as_str()))
    {
        return fatal(io, &format!("unknown scanner: {bad}"));
    }
    let filter = crate::filter::Filter {
        severities: &severities,
        ignore_unfixed: inv.is_set("ignore-unfixed"),
        vulns: scanners.iter().any(|s| s == "vuln"),
        secrets: scanners.iter().any(|s| s == "secret"),
    };
    let (output, vulnerable) = filter.apply(output);
    let output = pulled_digest(output, image);
    if let Err(code) = emit(inv, &output, io) {
        return code;
    }
    match inv.value("exit-code").and_then(|c| c.parse::<i32>().ok()) {
        Some(code) if vulnerable && code != 0 => code,
        _ => 0,
    }
}

/// The output with `Metadata.RepoDigests` naming the digest of the image kube-sim runs for
/// `image` (the one the double "pulled": the image ID its kubelet reports for that
/// reference), when the recorded output names any; unchanged otherwise. Real Trivy reports
/// the digest of what it pulled, which a recorded output cannot know.
fn pulled_digest(output: Vec<u8>, image: &str) -> Vec<u8> {
    let Ok(mut report) = serde_json::from_slice::<serde_json::Value>(&output) else {
        return output;
    };
    match report.pointer_mut("/Metadata/RepoDigests") {
        Some(serde_json::Value::Array(digests)) if !digests.is_empty() => {
            *digests = vec![crate::image::image_id(image).into()];
        }
        _ => return output,
    }
    let mut bytes = serde_json::to_vec_pretty(&report).unwrap_or(output);
    bytes.push(b'\n');
    bytes
}

/// Writes the output to `--output`, or to standard output.
fn emit(inv: &Invocation, output: &[u8], io: &mut Io<'_>) -> Result<(), i32> {
    if let Some(path) = inv.value("output") {
        std::fs::write(path, output)
            .map_err(|e| fatal(io, &format!("failed to create an output file: {e}")))
    } else {
        io.out
            .write_all(output)
            .and_then(|()| io.out.flush())
            .map_err(|_| 1)
    }
}

/// Registry credentials given to the double: (user name, password).
type Credentials<'a> = (Option<&'a str>, Option<&'a str>);

/// The report bytes for an entry, or the exit code of a failure (already reported).
fn produce(
    entry: &Entry,
    timeout: Duration,
    credentials: Credentials<'_>,
    io: &mut Io<'_>,
) -> Result<Vec<u8>, i32> {
    match entry {
        Entry::File(path) => read(path, io),
        Entry::Garbage => Ok(b"this is not JSON {{{ \x01 garbage from the trivy double\n".to_vec()),
        Entry::Truncate(path) => {
            let mut bytes = read(path, io)?;
            bytes.truncate(bytes.len() / 2);
            Ok(bytes)
        }
        Entry::Fail { code, message } => {
            fatal(io, message);
            Err(*code)
        }
        Entry::Private {
            username,
            password,
            then,
        } => {
            if credentials == (Some(username.as_str()), Some(password.as_str())) {
                produce(then, timeout, credentials, io)
            } else {
                Err(fatal(
                    io,
                    "image scan error: unable to inspect the image: GET manifest: UNAUTHORIZED: authentication required",
                ))
            }
        }
        Entry::Sleep { seconds, then } => {
            let wanted = Duration::from_secs_f64(*seconds);
            std::thread::sleep(wanted.min(timeout));
            if wanted > timeout {
                return Err(fatal(
                    io,
                    "image scan error: scan error: context deadline exceeded",
                ));
            }
            match then {
                Some(inner) => produce(inner, timeout - wanted, credentials, io),
                None => Err(fatal(
                    io,
                    "image scan error: the trivy double hung on purpose",
                )),
            }
        }
    }
}

fn read(path: &Path, io: &mut Io<'_>) -> Result<Vec<u8>, i32> {
    std::fs::read(path).map_err(|e| {
        fatal(
            io,
            &format!("the trivy double cannot read {}: {e}", path.display()),
        )
    })
}

/// Parses Go-style durations: `5m`, `300s`, `1m30s`, `500ms`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

fn unknown_image(image: &str) -> String {
    let repo = crate::image::ImageRef::parse(image);
    format!(
        "image scan error: scan error: unable to initialize a scan service: unable to \
         initialize an image scan service: unable to find the specified image \"{image}\" in \
         [\"docker\" \"containerd\" \"podman\" \"remote\"]: 4 errors occurred:\n\
         \t* docker error: unable to inspect the image ({image}): Cannot connect to the Docker \
         daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n\
         \t* containerd error: containerd socket not found: /run/containerd/containerd.sock\n\
         \t* podman error: unable to initialize Podman client: no podman socket found: stat \
         podman/podman.sock: no such file or directory\n\
         \t* remote error: GET https://{}/v2/{}/manifests/{}: MANIFEST_UNKNOWN: manifest \
         unknown; unknown tag={}",
        if repo.registry == "docker.io" {
            "index.docker.io"
        } else {
            &repo.registry
        },
        repo.repository,
        repo.tag
            .as_deref()
            .or(repo.digest.as_deref())
            .unwrap_or("latest"),
        repo.tag.as_deref().unwrap_or("latest"),
    )
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn info(io: &mut Io<'_>, message: &str) {
    let _ = writeln!(io.err, "{}\tINFO\t{message}", now());
}

/// Writes a Trivy-style FATAL line and returns exit code 1.
fn fatal(io: &mut Io<'_>, message: &str) -> i32 {
    let _ = writeln!(io.err, "{}\tFATAL\tFatal error\t{message}", now());
    1
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cli::parse;

    const DATA: &str = crate::map::DEFAULT_DATA_DIR;

    fn run_line(line: &str) -> (i32, Vec<u8>, String) {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let inv = parse(&args, |_| None).unwrap();
        let map = ImageMap::load(Path::new(DATA), None).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            &inv,
            &map,
            VERSION,
            &mut Io {
                out: &mut out,
                err: &mut err,
            },
        );
        (code, out, String::from_utf8(err).unwrap())
    }

    #[test]
    fn known_image_prints_the_golden_bytes() {
        let (code, out, err) = run_line("image --quiet --format json alpine:3.10");
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out,
            std::fs::read(format!("{DATA}/alpine-310.json.golden")).unwrap()
        );
        assert!(err.is_empty(), "{err}");
    }

    #[test]
    fn unknown_image_fails_like_trivy() {
        let (code, out, err) = run_line("image -q --format json nope:1");
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert!(
            err.contains("FATAL") && err.contains("unable to find the specified image \"nope:1\"")
        );
    }

    #[test]
    fn severity_filter_and_exit_code() {
        let (code, out, _) =
            run_line("image -q -f json --severity CRITICAL --exit-code 5 alpine:3.10");
        let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let vulns = report["Results"][0]["Vulnerabilities"].as_array().unwrap();
        assert!(vulns.iter().all(|v| v["Severity"] == "CRITICAL"));
        assert_eq!(code, if vulns.is_empty() { 0 } else { 5 });
    }

    #[test]
    fn special_entries_and_timeouts() {
        let (code, out, _) = run_line("image -q -f json garbage:1");
        assert_eq!(code, 0);
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_err());
        let (code, out, _) = run_line("image -q -f json truncated:1");
        assert_eq!(code, 0);
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_err());
        let (code, _, err) = run_line("image -q -f json --timeout 100ms slow:1");
        assert_eq!(code, 1);
        assert!(err.contains("context deadline exceeded"), "{err}");
        let (code, _, err) = run_line("image -q -f json fail:1");
        assert_eq!(code, 1);
        assert!(err.contains("scan failed on purpose"));
        let (code, _, _) = run_line("image -q -f table alpine:3.10");
        assert_eq!(code, 1);
    }

    #[test]
    fn scanners_decide_which_findings_are_printed() {
        let image = "trivy-double.test/exposedsecret_report/app:1";
        let secrets = |out: &[u8]| {
            let report: serde_json::Value = serde_json::from_slice(out).unwrap();
            report["Results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Secrets"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        };
        // Trivy's default for images is vuln,secret: the real output, but for the digest
        // pulled, which is the one kube-sim runs for that reference.
        let (code, out, err) = run_line(&format!("image -q -f json {image}"));
        assert_eq!(code, 0, "{err}");
        let mut recorded: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{DATA}/exposedsecret_report.json")).unwrap(),
        )
        .unwrap();
        recorded["Metadata"]["RepoDigests"] = serde_json::json!([crate::image::image_id(image)]);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            recorded
        );
        assert!(
            recorded["Metadata"]["RepoDigests"][0]
                .as_str()
                .unwrap()
                .starts_with("trivy-double.test/exposedsecret_report/app@sha256:")
        );
        assert_eq!(secrets(&out), 4);
        let (_, out, _) = run_line(&format!("image -q -f json --scanners vuln,secret {image}"));
        assert_eq!(secrets(&out), 4);
        let (_, out, _) = run_line(&format!("image -q -f json --scanners vuln {image}"));
        assert_eq!(secrets(&out), 0);
        let (_, out, _) = run_line(&format!(
            "image -q -f json --severity HIGH --scanners secret {image}"
        ));
        assert_eq!(secrets(&out), 1, "--severity filters secrets too");
        let (_, out, _) = run_line("image -q -f json --scanners secret alpine:3.10");
        let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(report["Results"][0].get("Vulnerabilities").is_none());
        let (code, _, err) = run_line("image -q -f json --scanners vuln,bogus alpine:3.10");
        assert_eq!(code, 1);
        assert!(err.contains("unknown scanner"), "{err}");
    }

    #[test]
    fn client_server_mode_needs_a_reachable_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (code, out, err) = run_line(&format!(
            "image -q -f json --server {url} --token-header Trivy-Token alpine:3.10"
        ));
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out,
            std::fs::read(format!("{DATA}/alpine-310.json.golden")).unwrap()
        );
        drop(listener);
        let (code, out, err) = run_line(&format!("image -q -f json --server {url} alpine:3.10"));
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert!(
            err.contains("twirp error internal") && err.contains(&format!("{url}/twirp/")),
            "{err}"
        );
    }

    #[test]
    fn cyclonedx_is_the_recorded_bom_or_one_made_from_the_report() {
        let (code, out, err) =
            run_line("image -q -f cyclonedx trivy-double.test/alpine-310/sbom-alpine_sbom/app:1");
        assert_eq!(code, 0, "{err}");
        let mut recorded: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{DATA}/../trivy-cyclonedx/alpine_sbom.json")).unwrap(),
        )
        .unwrap();
        // Named by the argument scanned and made now, as Trivy makes it.
        recorded["metadata"]["component"]["name"] =
            "trivy-double.test/alpine-310/sbom-alpine_sbom/app:1".into();
        let bom: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let made: jiff::Timestamp = bom["metadata"]["timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((jiff::Timestamp::now() - made).get_seconds() < 60);
        recorded["metadata"]["timestamp"] = bom["metadata"]["timestamp"].clone();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
            recorded
        );
        let (code, out, err) = run_line("image -q --format cyclonedx alpine:3.10");
        assert_eq!(code, 0, "{err}");
        let bom: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(bom["components"][0]["type"], "operating-system");
        assert_eq!(bom["components"][0]["name"], "alpine");
        let (code, _, err) = run_line("image -q -f cyclonedx fail:1");
        assert_eq!(code, 1, "{err}");
        let (code, _, _) = run_line("image -q -f spdx alpine:3.10");
        assert_eq!(code, 1);
    }

    #[test]
    fn an_sbom_scan_reports_the_vulnerabilities_of_the_image_it_describes() {
        let (code, bom, err) = run_line("image -q -f cyclonedx alpine:3.10");
        assert_eq!(code, 0, "{err}");
        let dir = std::env::temp_dir().join(format!("trivy-double-sbom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bom.json");
        std::fs::write(&file, &bom).unwrap();
        let (code, out, err) = run_line(&format!("sbom -q -f json {}", file.display()));
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out,
            std::fs::read(format!("{DATA}/alpine-310.json.golden")).unwrap()
        );
        std::fs::write(&file, b"{}").unwrap();
        let (code, _, err) = run_line(&format!("sbom -q -f json {}", file.display()));
        assert_eq!(code, 1);
        assert!(err.contains("names no image"), "{err}");
        let (code, _, err) = run_line("sbom -q -f json /nonexistent/bom.json");
        assert_eq!(code, 1);
        assert!(err.contains("unable to open"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
    }
}
