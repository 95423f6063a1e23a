//! `trivy-operator-worker`; everything lives in the library.

#[global_allocator]
static ALLOCATOR: common::cli::Allocator = common::cli::Allocator;

fn main() -> std::process::ExitCode {
    worker::main()
}
