//! The `dokles` binary: dispatches on argv[0] so that a symlink named `docker`
//! behaves as `dokles docker`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    dokles::cli::run(args)
}
