//! The journal file `<root>/events.jsonl`: appended by every dokles process sharing the state
//! root, one JSON object per line, and read incrementally by byte offset.
//!
//! Writing: each entry is one `write(2)` of a whole line on a descriptor opened with
//! `O_APPEND`. The kernel serialises appends to a regular file (the inode lock is held for the
//! whole write), so lines of concurrent writers never interleave. Nothing is retried: a short
//! write (a full disk) leaves a torn line that readers skip.
//!
//! Failure policy: a journal that cannot be written must never fail or disturb a docker
//! command, so [`Journal::emit`] ignores every error silently (printing would change the
//! command's output, which the docker-compatibility tests compare byte for byte).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::event::Event;
use crate::state::StateRoot;

/// The journal's file name in the state root.
pub const FILE_NAME: &str = "events.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When it was written (RFC 3339, nanoseconds, UTC).
    #[serde(serialize_with = "rfc3339_nanos")]
    pub time: DateTime<Utc>,
    /// The process that wrote it (a CLI process or a container's monitor).
    pub pid: u32,
    pub event: Event,
}

fn rfc3339_nanos<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// The journal of one state root. Opening is free (no file is touched); the file is opened
/// on the first [`Journal::emit`] and that descriptor is kept for the process's life.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

/// This process's append descriptor, with the path it is for (a process normally uses one
/// state root; another root gets a fresh open).
static APPENDER: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

impl Journal {
    /// The journal of `root`.
    pub fn open(root: &StateRoot) -> Self {
        Self {
            path: root.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `event`, stamped with the time and this process's pid. Never fails: see the
    /// module documentation.
    pub fn emit(&self, event: Event) {
        let entry = Entry {
            time: Utc::now(),
            pid: std::process::id(),
            event,
        };
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        let Ok(mut guard) = APPENDER.lock() else {
            return;
        };
        if guard.as_ref().is_none_or(|(p, _)| *p != self.path) {
            let opened = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&self.path);
            match opened {
                Ok(f) => *guard = Some((self.path.clone(), f)),
                Err(_) => return,
            }
        }
        if let Some((_, f)) = guard.as_mut() {
            // One write(2), deliberately not write_all: see the module documentation.
            let _ = f.write(&line);
        }
    }

    /// The entries written after byte `offset` and the offset to pass next time. A last line
    /// still being written (no newline yet) is neither returned nor consumed; lines that do
    /// not parse (torn, or written by a newer dokles) are skipped. A journal that is missing
    /// or shorter than `offset` (replaced) is read from its start.
    pub fn read_since(&self, offset: u64) -> Result<(Vec<Entry>, u64)> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open {}", self.path.display()))
            }
        };
        let len = file
            .metadata()
            .with_context(|| format!("cannot read {}", self.path.display()))?
            .len();
        let start = if offset > len { 0 } else { offset };
        file.seek(SeekFrom::Start(start))
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let mut data = Vec::new();
        file.take(len - start)
            .read_to_end(&mut data)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let (entries, consumed) = parse_lines(&data);
        Ok((entries, start + consumed as u64))
    }

    /// The journal's current end: where a reader that wants only what comes next starts.
    pub fn end_offset(&self) -> Result<u64> {
        match std::fs::metadata(&self.path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }
}

/// The complete lines of `data` as entries, and how many bytes they span.
fn parse_lines(data: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut consumed = 0;
    while let Some(n) = data[consumed..].iter().position(|&b| b == b'\n') {
        let line = &data[consumed..consumed + n];
        if let Ok(entry) = serde_json::from_slice::<Entry>(line) {
            entries.push(entry);
        }
        consumed += n + 1;
    }
    (entries, consumed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_line(argv: &str) -> String {
        let e = Entry {
            time: Utc::now(),
            pid: 1,
            event: Event::Command {
                argv: vec![argv.into()],
                exit_code: 0,
                cwd: "/".into(),
            },
        };
        format!("{}\n", serde_json::to_string(&e).unwrap())
    }

    #[test]
    fn lines_that_do_not_parse_are_skipped_and_a_torn_tail_is_left() {
        let data = format!(
            "{}{{\"time\":\"x\",\"pid\":1,\"event\":{{\"type\":\"from_the_future\"}}}}\n{}{{\"time\":",
            entry_line("ps"),
            entry_line("images")
        );
        let (entries, consumed) = parse_lines(data.as_bytes());
        let argv: Vec<&str> = entries
            .iter()
            .map(|e| match &e.event {
                Event::Command { argv, .. } => argv[0].as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(argv, ["ps", "images"]);
        assert_eq!(&data[consumed..], "{\"time\":");
    }

    #[test]
    fn times_are_written_with_nanoseconds() {
        let line = entry_line("ps");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let time = v["time"].as_str().unwrap();
        let fraction = time.split('.').nth(1).unwrap();
        assert_eq!(fraction.len(), "123456789Z".len(), "{time}");
        assert_eq!(v["event"]["type"], "command");
    }
}
