//! dokles: a Docker-compatible engine and runtime of its own, and Dutch lessons on top.
//!
//! Data flows one way: `cli` → `engine` → `runtime`. See `docs/ARCHITECTURE.md`.

pub mod cli;
pub mod engine;
pub mod events;
pub mod format;
pub mod runtime;
pub mod state;
