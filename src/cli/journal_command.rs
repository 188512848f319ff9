//! The `command` journal entry of a docker invocation: exactly one per invocation, written
//! when it ends, whichever way it ends — a returned result ([`super::docker`]) or an early
//! `exit` (a signal ending an attached session, [`exit`]).

use std::sync::Mutex;

use crate::events::{Event, Journal};
use crate::state::StateRoot;

/// The invocation under way: where to write and what was typed. Taken by the first
/// [`finish`], so a second one writes nothing.
static PENDING: Mutex<Option<(Journal, Vec<String>)>> = Mutex::new(None);

/// Remember this invocation (its arguments after `docker`).
pub fn begin(root: &StateRoot, args: &[String]) {
    if let Ok(mut p) = PENDING.lock() {
        *p = Some((Journal::open(root), args.to_vec()));
    }
}

/// Write the invocation's `command` entry with the exit code the process returns.
pub fn finish(exit_code: i32) {
    let pending = PENDING.lock().ok().and_then(|mut p| p.take());
    if let Some((journal, argv)) = pending {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        journal.emit(Event::Command {
            argv,
            exit_code,
            cwd,
        });
    }
}

/// End the process now with `code`, after writing the `command` entry.
pub fn exit(code: i32) -> ! {
    finish(code);
    std::process::exit(code)
}
