//! A test double for the Trivy CLI: accepts the `trivy image --format json|cyclonedx ...
//! IMAGE` command lines scan Jobs use (and `--download-db-only`, `--version`, `--server`),
//! prints real Trivy outputs for known images and fails like real Trivy for unknown ones.
//!
//! Environment: `TRIVY_DOUBLE_MAP` (extra image → entry map, JSON or YAML, see `map.rs`),
//! `TRIVY_DOUBLE_DATA` (directory of the built-in reports), `TRIVY_DOUBLE_VERSION`, and the
//! usual `TRIVY_<FLAG>` variables.

#[path = "trivy_double/cli.rs"]
mod cli;
#[path = "trivy_double/cyclonedx.rs"]
mod cyclonedx;
#[path = "trivy_double/filter.rs"]
mod filter;
#[path = "trivy_double/server.rs"]
mod server;
// The kubelet's image-reference rules, shared so digests agree; not all of it is used here.
#[allow(dead_code)]
#[path = "../kubelet/image.rs"]
mod image;
#[path = "trivy_double/map.rs"]
mod map;
#[path = "trivy_double/scan.rs"]
mod scan;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let code = run(
        &args,
        &mut scan::Io {
            out: &mut out,
            err: &mut err,
        },
    );
    // process::exit runs no destructors: flush what is buffered first.
    let _ = std::io::Write::flush(&mut out);
    std::process::exit(code);
}

fn run(args: &[String], io: &mut scan::Io<'_>) -> i32 {
    let inv = match cli::parse(args, |k| std::env::var(k).ok()) {
        Ok(inv) => inv,
        Err(e) => {
            let _ = writeln!(io.err, "Error: {e}\nRun 'trivy --help' for usage.");
            return 1;
        }
    };
    let data = std::env::var_os("TRIVY_DOUBLE_DATA")
        .map_or_else(|| PathBuf::from(map::DEFAULT_DATA_DIR), PathBuf::from);
    let map_file = std::env::var_os("TRIVY_DOUBLE_MAP").map(PathBuf::from);
    let map = match map::ImageMap::load(&data, map_file.as_deref()) {
        Ok(map) => map,
        Err(e) => {
            let source = std::error::Error::source(&e).map(|s| format!(": {s}"));
            let _ = writeln!(io.err, "trivy-double: {e}{}", source.unwrap_or_default());
            return 2;
        }
    };
    let version = std::env::var("TRIVY_DOUBLE_VERSION").unwrap_or_else(|_| scan::VERSION.into());
    scan::run(&inv, &map, &version, io)
}
