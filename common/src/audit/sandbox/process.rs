//! One policy evaluator process, as the operator sees it: started with its limits, spoken
//! to one line at a time, given a deadline for every reply, and described in plain words
//! when it dies (its exit signal and the last lines it wrote to stderr, which are also
//! forwarded to the operator's log).

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::Settings;
use super::protocol::{Reply, Request, line};

/// Lines of the evaluator's stderr kept to explain its death.
const TAIL_LINES: usize = 4;
/// Lines of one evaluator's stderr forwarded to the log (a policy calling `print` in a loop
/// must not flood it).
const FORWARDED_LINES: usize = 200;
/// Characters of one stderr line kept.
const LINE_CHARS: usize = 500;
/// The longest reply line read (checks of one policy for one workload).
const MAX_REPLY_BYTES: usize = 16 << 20;

/// A running evaluator process.
pub(super) struct Evaluator {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    tail: Arc<Mutex<VecDeque<String>>>,
    memory_limit: u64,
}

impl Evaluator {
    /// Starts an evaluator process.
    pub(super) fn start(settings: &Settings) -> Result<Self, String> {
        let mut child = tokio::process::Command::new(&settings.program.path)
            .args(&settings.program.args)
            .arg(super::EVALUATOR_ARG)
            .arg(settings.memory_limit.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start the policy evaluator {}: {e}",
                    settings.program.path.display()
                )
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the policy evaluator has no pipes".to_owned());
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(forward_stderr(stderr, child.id(), tail.clone()));
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            tail,
            memory_limit: settings.memory_limit,
        })
    }

    /// Sends a request.
    pub(super) async fn send(&mut self, request: &Request) -> Result<(), String> {
        let bytes = line(request);
        match self.stdin.write_all(&bytes).await {
            Ok(()) => self.stdin.flush().await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot write to the policy evaluator: {e}")),
        }
    }

    /// The next reply, within `patience`; otherwise the process is stopped and the error
    /// says why it gave no reply.
    pub(super) async fn next(&mut self, patience: Duration) -> Result<Reply, String> {
        let mut text = Vec::new();
        let limit = (MAX_REPLY_BYTES + 1) as u64;
        let mut bounded = (&mut self.stdout).take(limit);
        let read = tokio::time::timeout(patience, bounded.read_until(b'\n', &mut text)).await;
        let problem = match read {
            Err(_) => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                return Err(format!(
                    "no answer within {patience:?}; the policy evaluator was stopped"
                ));
            }
            Ok(Ok(0)) => String::new(),
            Ok(Ok(_)) if !text.ends_with(b"\n") && text.len() > MAX_REPLY_BYTES => {
                let _ = self.child.start_kill();
                format!("a reply longer than {} MiB", MAX_REPLY_BYTES >> 20)
            }
            Ok(Ok(_)) => match serde_json::from_slice(&text) {
                Ok(reply) => return Ok(reply),
                Err(e) => format!("unreadable reply: {e}"),
            },
            Ok(Err(e)) => e.to_string(),
        };
        Err(self.stopped(&problem).await)
    }

    /// Stops the process (if it still runs) and describes how it ended.
    async fn stopped(&mut self, problem: &str) -> String {
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = self.child.start_kill();
                self.child.wait().await.ok()
            }
        };
        // Give the stderr reader a moment to see the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let how = match status {
            Some(s) if s.signal() == Some(6) => format!(
                "the policy evaluator aborted (SIGABRT): usually an allocation beyond its {} MiB memory limit",
                self.memory_limit >> 20
            ),
            Some(s) if s.signal() == Some(9) => {
                "the policy evaluator was killed (SIGKILL): usually out of memory".to_owned()
            }
            Some(s) => match (s.signal(), s.code()) {
                (Some(signal), _) => format!("the policy evaluator was killed by signal {signal}"),
                (None, Some(code)) => format!("the policy evaluator exited with code {code}"),
                _ => "the policy evaluator stopped".to_owned(),
            },
            None => "the policy evaluator stopped".to_owned(),
        };
        let tail: Vec<String> = self
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        let mut reason = how;
        for extra in [problem.to_owned(), tail.join(" | ")] {
            if !extra.is_empty() {
                reason.push_str("; ");
                reason.push_str(&extra);
            }
        }
        reason
    }
}

/// Forwards the evaluator's stderr (regorus warnings, `print` output, crash messages) to the
/// log, bounded, keeping the last lines in `tail`.
async fn forward_stderr(
    stderr: tokio::process::ChildStderr,
    pid: Option<u32>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    let mut forwarded = 0usize;
    while let Ok(Some(text)) = lines.next_line().await {
        let text: String = text.chars().take(LINE_CHARS).collect();
        if forwarded < FORWARDED_LINES {
            tracing::warn!(evaluator_pid = pid, "policy evaluator: {text}");
        } else if forwarded == FORWARDED_LINES {
            tracing::warn!(
                evaluator_pid = pid,
                "policy evaluator: further output not logged"
            );
        }
        forwarded += 1;
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text);
        }
    }
}
