//! The leader program, built inside the e2e package so its tests can start it as a process
//! (with the operator's allocator, as the shipped binary).

#[global_allocator]
static ALLOCATOR: common::cli::Allocator = common::cli::Allocator;

fn main() -> std::process::ExitCode {
    leader::main()
}
