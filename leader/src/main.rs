//! `trivy-operator-leader`; everything lives in the library.

#[global_allocator]
static ALLOCATOR: leader::Allocator = leader::ALLOCATOR;

fn main() -> std::process::ExitCode {
    leader::main()
}
