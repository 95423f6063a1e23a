//! A test double for Aqua's node-collector (`ghcr.io/aquasecurity/node-collector`): invoked
//! as `node-collector k8s --node <name> [flags]`, it prints one compact NodeInfo document on
//! stdout (no newline, nothing else) and exits 0, like the real collector in a node-collector
//! Job. `type` is `master` for a node whose name contains `control-plane`, else `worker`.
//!
//! Environment: `NODE_COLLECTOR_DOUBLE_DIR`, a directory of per-node answers:
//! `<node>.json` (an object of info items that replace or add to the built-in ones; `null`
//! removes one) and `<node>.error` (the collector fails: `Error: <content>` on stderr, exit 1).

#[path = "node_collector_double/cli.rs"]
mod cli;
#[path = "node_collector_double/info.rs"]
mod info;

use std::io::Write;
use std::path::Path;

use info::NodeType;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::env::var_os("NODE_COLLECTOR_DOUBLE_DIR");
    let code = match collect(&args, dir.as_deref().map(Path::new), &now()) {
        Ok(document) => {
            let mut out = std::io::stdout().lock();
            let ok = out
                .write_all(document.as_bytes())
                .and_then(|()| out.flush());
            i32::from(ok.is_err())
        }
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            1
        }
    };
    std::process::exit(code);
}

/// The document for this command line, or the error message.
fn collect(args: &[String], dir: Option<&Path>, now: &str) -> Result<String, String> {
    let invocation = cli::parse(args).map_err(|e| e.to_string())?;
    let node = invocation.node;
    let node_type = NodeType::of(&node);
    let mut info = info::builtin(node_type);
    if let Some(dir) = dir {
        let error = dir.join(format!("{node}.error"));
        if let Ok(message) = std::fs::read_to_string(&error) {
            return Err(message.trim_end().to_owned());
        }
        let path = dir.join(format!("{node}.json"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let overrides = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .ok_or_else(|| {
                        format!("{}: not a JSON object of NodeInfo items", path.display())
                    })?;
                info::apply_overrides(&mut info, overrides);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        }
    }
    Ok(info::document(node_type, &info, now))
}

/// RFC 3339, whole seconds, UTC (Go's `time.RFC3339` of a UTC time).
fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(node: &str) -> Vec<String> {
        [
            "k8s",
            "--node",
            node,
            "--node-config",
            "x",
            "--node-commands",
            "y",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    #[test]
    fn per_node_files_override_items_or_fail_the_collector() {
        let dir = std::env::temp_dir().join(format!("ncd-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kind-worker.json"),
            r#"{"kubeletAnonymousAuthArgumentSet":{"values":["true"]}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("kind-worker2.error"),
            "failed to read node config\n",
        )
        .unwrap();
        std::fs::write(dir.join("bad.json"), "[1]").unwrap();
        let now = "2025-01-02T03:04:05Z";

        let doc = collect(&args("kind-worker"), Some(&dir), now).unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["type"], "worker");
        assert_eq!(v["metadata"]["creationTimestamp"], now);
        assert_eq!(
            v["info"]["kubeletAnonymousAuthArgumentSet"]["values"][0],
            "true"
        );
        assert_eq!(v["info"].as_object().unwrap().len(), 45);

        let master = collect(&args("kind-control-plane"), Some(&dir), now).unwrap();
        assert!(master.contains("\"type\":\"master\""));
        assert!(!master.ends_with('\n'));
        assert_eq!(
            collect(&args("kind-worker2"), Some(&dir), now),
            Err("failed to read node config".to_owned())
        );
        assert!(
            collect(&args("bad"), Some(&dir), now)
                .unwrap_err()
                .ends_with("bad.json: not a JSON object of NodeInfo items")
        );
        // No directory: the built-in answer.
        let plain = collect(&args("kind-worker"), None, now).unwrap();
        assert!(plain.contains("\"kubeletAnonymousAuthArgumentSet\":{\"values\":[\"false\"]}"));
        assert_eq!(
            collect(&["k8s".to_owned()], None, now),
            Err("node name is required: pass --node <name>".to_owned())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn now_is_rfc3339_in_whole_seconds() {
        let t = now();
        assert_eq!(t.len(), "2025-01-02T03:04:05Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
