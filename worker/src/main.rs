//! `trivy-operator-worker`; everything lives in the library.

fn main() -> std::process::ExitCode {
    worker::main()
}
