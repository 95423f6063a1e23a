//! The leader program, built inside the e2e package so its tests can start it as a process.

fn main() -> std::process::ExitCode {
    leader::main()
}
