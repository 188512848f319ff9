//! Narrating, while the prompt waits, what the engine does on the lesson's state root
//! without this REPL: commands typed in another terminal, a detached container that exits.
//! A thread reads the journal from where the REPL last looked and prints through
//! rustyline's external printer (above the prompt, the line being typed kept intact). The
//! REPL skips what was narrated here when it polls after the next line.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use colored::Colorize;
use rustyline::ExternalPrinter;

use crate::events::{narrate, Entry, Event, Journal};
use crate::state::StateRoot;

/// How often the journal is looked at while the prompt waits.
const INTERVAL: Duration = Duration::from_millis(250);

#[derive(Default)]
struct State {
    /// While the prompt waits: the journal offset to read from.
    waiting_from: Option<u64>,
    motorkap: bool,
    /// The time of the last entry narrated here.
    narrated_until: Option<DateTime<Utc>>,
    stop: bool,
}

pub struct Watch {
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    pub fn start<P: ExternalPrinter + Send + 'static>(root: &StateRoot, mut printer: P) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let journal = Journal::open(root);
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("journal-watch".into())
            .spawn(move || loop {
                std::thread::sleep(INTERVAL);
                let text = {
                    let Ok(mut s) = shared.lock() else { return };
                    if s.stop {
                        return;
                    }
                    let Some(from) = s.waiting_from else {
                        continue;
                    };
                    let Ok((entries, next)) = journal.read_since(from) else {
                        continue;
                    };
                    s.waiting_from = Some(next);
                    let Some(last) = entries.last() else {
                        continue;
                    };
                    s.narrated_until = Some(last.time);
                    describe(&entries, s.motorkap)
                };
                if !text.is_empty() && printer.print(text).is_err() {
                    return;
                }
            })
            .ok();
        Self { state, thread }
    }

    /// The prompt is about to wait; the REPL has seen the journal up to `offset`.
    pub fn waiting(&self, offset: u64, motorkap: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.waiting_from = Some(offset);
            s.motorkap = motorkap;
        }
    }

    /// The prompt returned a line: the REPL narrates from here on.
    pub fn busy(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.waiting_from = None;
        }
    }

    /// Whether `entry` was narrated while the prompt waited.
    pub fn narrated(&self, entry: &Entry) -> bool {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.narrated_until)
            .is_some_and(|t| entry.time <= t)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Ok(mut s) = self.state.lock() {
            s.stop = true;
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The narration of `entries`, and a nudge to check the step when a command was among them.
fn describe(entries: &[Entry], motorkap: bool) -> String {
    let mut lines: Vec<String> = entries
        .iter()
        .flat_map(|e| narrate(e, motorkap))
        .map(|s| format!("  {} {s}", "▸".cyan()))
        .collect();
    if entries
        .iter()
        .any(|e| matches!(e.event, Event::Command { .. }))
    {
        lines.push(format!(
            "  {}",
            "(uit een andere terminal; druk Enter om de stap na te kijken)".dimmed()
        ));
    }
    lines.join("\n")
}
