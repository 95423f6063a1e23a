//! Runs one container as a local process: its own process group (so a kill reaches the
//! shell's children too), stdout and stderr on one pipe (interleaved exactly as written, like
//! `kubectl logs` shows them), a clean environment, and a kill switch.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::runtime::Launch;

/// Everything needed to start a container process.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// What to run and which links to put on `PATH`.
    pub launch: Launch,
    /// The environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// The container's `workingDir`, used when it exists on the host; otherwise the host's
    /// temporary directory (the container's directories do not exist here).
    pub working_dir: Option<PathBuf>,
}

/// How a container process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code; `128 + signal` when killed by a signal (137 for SIGKILL).
    pub code: i32,
    /// True when the kill switch ended it.
    pub killed: bool,
}

/// Receives a container's output as it is written.
pub type LogSink = Box<dyn FnMut(&[u8]) + Send>;

/// A started container process.
pub struct Running {
    child: tokio::process::Child,
    reader: std::thread::JoinHandle<()>,
}

/// Starts the process; `log` receives its output. On failure returns a message in the words
/// of containerd/runc (`exec: "x": stat x: no such file or directory`).
pub fn start(spec: &ProcessSpec, log: LogSink) -> Result<Running, String> {
    let mut env = spec.env.clone();
    if !spec.launch.links.is_empty() {
        let dir = link_dir(&spec.launch.links).map_err(|e| format!("prepare PATH links: {e}"))?;
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        env.retain(|(k, _)| k != "PATH");
        env.push(("PATH".into(), format!("{}:{path}", dir.display())));
    }
    let Some((program, args)) = spec.launch.argv.split_first() else {
        return Err("no command specified".into());
    };
    let cwd = spec
        .working_dir
        .clone()
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let (reader, writer) = std::io::pipe().map_err(|e| format!("create log pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("create log pipe: {e}"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| start_error(program, &e))?;
    // The command holds our copies of the pipe's write end: drop them so EOF comes at exit.
    drop(cmd);
    let reader = std::thread::spawn(move || pump(reader, log));
    Ok(Running { child, reader })
}

impl Running {
    /// Waits for the process to exit, or kills its whole process group when `kill` becomes
    /// true. Output still buffered in the pipe is delivered before this returns.
    pub async fn wait(mut self, kill: &mut watch::Receiver<bool>) -> Exit {
        let pgid = self.child.id();
        let mut killed = false;
        let status = loop {
            if *kill.borrow() && !killed {
                killed = true;
                kill_group(pgid);
                let _ = self.child.start_kill();
            }
            tokio::select! {
                status = self.child.wait() => break status,
                changed = kill.changed(), if !killed => {
                    if changed.is_err() {
                        // The pod's runner is gone: treat as a kill.
                        killed = true;
                        kill_group(pgid);
                        let _ = self.child.start_kill();
                    }
                }
            }
        };
        // Like a container runtime, end whatever the main process left behind, so the pipe
        // closes; then let the reader drain it (bounded, in case something escaped the group).
        kill_group(pgid);
        let reader = self.reader;
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::task::spawn_blocking(move || reader.join()),
        )
        .await;
        Exit {
            code: status.map(exit_code).unwrap_or(128),
            killed,
        }
    }
}

fn pump(mut reader: std::io::PipeReader, mut log: LogSink) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => log(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(128)
}

fn kill_group(pgid: Option<u32>) {
    // No libc here (unsafe is forbidden): the kill(1) utility signals a process group.
    if let Some(pgid) = pgid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn start_error(program: &str, e: &std::io::Error) -> String {
    let detail = match e.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            "executable file not found in $PATH".to_string()
        }
        std::io::ErrorKind::NotFound => format!("stat {program}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => format!("permission denied: {program}"),
        _ => e.to_string(),
    };
    format!(
        "failed to create containerd task: failed to create shim task: OCI runtime create \
         failed: runc create failed: unable to start container process: exec: \"{program}\": \
         {detail}: unknown"
    )
}

/// A directory with `name → program` links, shared by every container with the same links.
fn link_dir(links: &[(String, PathBuf)]) -> std::io::Result<PathBuf> {
    let mut hash = Sha256::new();
    for (name, target) in links {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(target.as_os_str().as_encoded_bytes());
        hash.update([0]);
    }
    let hex: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = std::env::temp_dir().join("kube-sim-links").join(hex);
    std::fs::create_dir_all(&dir)?;
    for (name, target) in links {
        let link = dir.join(name);
        if link.exists() {
            continue;
        }
        match std::os::unix::fs::symlink(absolute(target), &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(dir)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn spec(argv: &[&str]) -> ProcessSpec {
        ProcessSpec {
            launch: Launch {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                links: vec![],
            },
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            working_dir: None,
        }
    }

    fn collector() -> (Arc<Mutex<Vec<u8>>>, LogSink) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        (
            buf,
            Box::new(move |bytes: &[u8]| b.lock().unwrap().extend_from_slice(bytes)),
        )
    }

    #[tokio::test]
    async fn captures_interleaved_output_and_exit_code() {
        let (buf, log) = collector();
        let running = start(
            &spec(&["sh", "-c", "echo out; echo err >&2; echo out2; exit 3"]),
            log,
        )
        .unwrap();
        let (_tx, mut rx) = watch::channel(false);
        let exit = running.wait(&mut rx).await;
        assert_eq!(
            exit,
            Exit {
                code: 3,
                killed: false
            }
        );
        assert_eq!(
            String::from_utf8(buf.lock().unwrap().clone()).unwrap(),
            "out\nerr\nout2\n"
        );
    }

    #[tokio::test]
    async fn kill_ends_the_process_group() {
        let (_buf, log) = collector();
        let running = start(&spec(&["sh", "-c", "sleep 30; echo late"]), log).unwrap();
        let (tx, mut rx) = watch::channel(false);
        tx.send(true).unwrap();
        let exit = tokio::time::timeout(Duration::from_secs(20), running.wait(&mut rx))
            .await
            .unwrap();
        assert!(exit.killed);
        assert_eq!(exit.code, 137);
    }

    #[tokio::test]
    async fn missing_program_is_a_start_error() {
        let err = start(&spec(&["/nonexistent"]), Box::new(|_: &[u8]| {}))
            .err()
            .unwrap();
        assert!(
            err.contains("exec: \"/nonexistent\": stat /nonexistent: no such file"),
            "{err}"
        );
    }
}
