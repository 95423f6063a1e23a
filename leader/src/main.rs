//! `trivy-operator-leader`; everything lives in the library.

fn main() -> std::process::ExitCode {
    leader::main()
}
