//! TEMPORARY stub of the events module (replaced by the `events` branch).
use crate::state::StateRoot;
use anyhow::Result;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Command {
        argv: Vec<String>,
        exit_code: i32,
        cwd: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub pid: u32,
    pub event: Event,
}

#[derive(Debug, Clone)]
pub struct Journal;

impl Journal {
    pub fn open(_root: &StateRoot) -> Self {
        Journal
    }
    pub fn read_since(&self, offset: u64) -> Result<(Vec<Entry>, u64)> {
        Ok((Vec::new(), offset))
    }
    pub fn end_offset(&self) -> Result<u64> {
        Ok(0)
    }
}

pub fn narrate(_e: &Entry, _m: bool) -> Vec<String> {
    Vec::new()
}
