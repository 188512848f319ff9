//! The engine's event journal and its Dutch narration.
//!
//! Every dokles process sharing a state root — CLI commands, typed in any terminal, and the
//! per-container monitors — appends what the engine just did to `<root>/events.jsonl`
//! ([`Journal::emit`]). Lessons read what is new after each command
//! ([`Journal::read_since`]) and tell the student about it in Dutch ([`narrate`]); the
//! `command` entries tell them what the student typed and how it ended.

mod event;
mod journal;
mod narrate;

pub use event::{Event, FreezerWrite, Namespace, Overlay, PulledLayer};
pub use journal::{Entry, Journal, FILE_NAME};
pub use narrate::narrate;
