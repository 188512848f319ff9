//! The docker-compatible command line: argument parsing, dispatch, exit codes.

use std::ffi::OsString;
use std::process::ExitCode;

/// Entry point for the binary; `args` is the full argv including argv[0].
pub fn run(_args: Vec<OsString>) -> ExitCode {
    ExitCode::SUCCESS
}
