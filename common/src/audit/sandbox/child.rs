//! The policy evaluator process: confines itself (address-space limit, first to go when
//! memory runs out, dies with its parent), then answers requests from stdin on stdout until
//! stdin closes. Anything a policy does — allocate without bound, abort, loop — ends this
//! process at worst, never the operator.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use super::protocol::{Reply, Request, line};
use crate::audit::{CompileError, Evaluation, PolicyEngine};
use crate::policy_config::PolicyConfig;

/// Runs the evaluator with an address-space limit of `memory_limit` bytes.
pub(super) fn serve(memory_limit: u64) -> ExitCode {
    if let Err(error) = confine(memory_limit) {
        eprintln!("policy evaluator: could not confine itself: {error}");
        return ExitCode::from(3);
    }
    let mut out = std::io::stdout().lock();
    let mut engine: Option<PolicyEngine> = None;
    for request in std::io::stdin().lock().lines() {
        let Ok(request) = request else { break };
        let request: Request = match serde_json::from_str(&request) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("policy evaluator: unreadable request: {error}");
                return ExitCode::from(2);
            }
        };
        let sent = match request {
            Request::Compile { data } => {
                let (compiled, reply) = compile(&data, &mut out);
                engine = compiled;
                send(&mut out, &reply)
            }
            Request::Evaluate {
                kind,
                workload,
                skip,
            } => {
                if let Some(engine) = &engine {
                    engine.evaluate_each(&kind, &workload, &skip, &mut |step| {
                        let reply = match step {
                            Evaluation::Started { key } => Reply::Running { key },
                            Evaluation::Finished { key, checks } => Reply::Checks { key, checks },
                        };
                        // A parent that stopped listening is noticed at `Done`.
                        let _ = send(&mut out, &reply);
                    });
                }
                send(&mut out, &Reply::Done)
            }
        };
        if sent.is_err() {
            break; // the operator is gone
        }
    }
    ExitCode::SUCCESS
}

fn compile(
    data: &std::collections::BTreeMap<String, String>,
    out: &mut impl Write,
) -> (Option<PolicyEngine>, Reply) {
    let config = match PolicyConfig::from_data(data) {
        Ok(config) => config,
        Err(error) => {
            let error = CompileError::Evaluator {
                key: None,
                message: error.to_string(),
            };
            return (None, Reply::Rejected { error });
        }
    };
    let compiled = PolicyEngine::compile_observed(&config, false, &mut |key| {
        let _ = send(
            out,
            &Reply::Running {
                key: key.to_owned(),
            },
        );
    });
    match compiled {
        Ok(engine) => {
            let policies = engine.policies();
            (Some(engine), Reply::Compiled { policies })
        }
        Err(error) => (None, Reply::Rejected { error }),
    }
}

fn send(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    out.write_all(&line(reply))?;
    out.flush()
}

/// Limits this process's address space, asks the kernel to kill it first when memory runs
/// out and when its parent dies.
fn confine(memory_limit: u64) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, Signal, set_parent_process_death_signal, setrlimit};
    set_parent_process_death_signal(Some(Signal::KILL))?;
    let limit = Rlimit {
        current: Some(memory_limit),
        maximum: Some(memory_limit),
    };
    setrlimit(Resource::As, limit)?;
    // Best effort: raising one's own OOM score needs no privilege.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    Ok(())
}
