//! The monitor's side: a container's output into its json-file log, one entry per line (and
//! per 16 KiB of a longer one) per stream, rotated as Docker's json-file driver rotates.
//!
//! Entries are encoded into a buffer and written with one `write(2)` per chunk of output the
//! monitor read, not one per line (a `yes` in a container writes 16,000 lines per 32 KiB);
//! [`LogWriter::write`] always ends with the buffer written, so a reader polling the file
//! never waits for output the container already produced.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::config::Rotation;
use super::{rotated_path, EntryRef, MAX_LINE};
use crate::state::{mode, open_append};

/// Appends a container's output to its log, a line at a time per stream.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    /// Bytes in the current file, including what waits in `out`.
    size: u64,
    rotation: Option<Rotation>,
    /// A line not yet ended, per stream (stdout, stderr).
    pending: [Vec<u8>; 2],
    /// Encoded entries not yet written.
    out: Vec<u8>,
    stamp: Stamp,
}

fn slot(stream: &str) -> usize {
    usize::from(stream == "stderr")
}

impl LogWriter {
    /// Open (or create, 0640) the log at `path`; with `rotation`, rotate as it says.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> Result<Self> {
        let file = open_append(path, mode::LOG_FILE)
            .with_context(|| format!("cannot open log {}", path.display()))?;
        let size = file.metadata().context("cannot read the log's size")?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            pending: [Vec::new(), Vec::new()],
            out: Vec::with_capacity(64 * 1024),
            stamp: Stamp::default(),
        })
    }

    /// Log `data`, which `stream` just produced: its complete lines (and 16 KiB pieces of a
    /// longer one) become entries, the rest waits for more.
    pub fn write(&mut self, stream: &str, data: &[u8]) -> Result<()> {
        let i = slot(stream);
        let mut data = data;
        while !data.is_empty() {
            let room = MAX_LINE - self.pending[i].len();
            let take = data[..data.len().min(room)]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len().min(room), |p| p + 1);
            let (piece, rest) = data.split_at(take);
            data = rest;
            let complete =
                piece.ends_with(b"\n") || self.pending[i].len() + piece.len() == MAX_LINE;
            if !complete {
                self.pending[i].extend_from_slice(piece);
            } else if self.pending[i].is_empty() {
                self.entry(stream, piece)?;
            } else {
                let mut line = std::mem::take(&mut self.pending[i]);
                line.extend_from_slice(piece);
                self.entry(stream, &line)?;
                line.clear();
                self.pending[i] = line;
            }
        }
        self.flush()
    }

    /// The stream closed: log what is left of its last line.
    pub fn finish(&mut self, stream: &str) -> Result<()> {
        let rest = std::mem::take(&mut self.pending[slot(stream)]);
        if !rest.is_empty() {
            self.entry(stream, &rest)?;
        }
        self.flush()
    }

    /// Encode one entry, rotating first when the current file is full (as Docker does:
    /// before an entry, once the file has reached max-size).
    fn entry(&mut self, stream: &str, data: &[u8]) -> Result<()> {
        if let Some(r) = self.rotation {
            if self.size >= r.max_size {
                self.flush()?;
                self.rotate(r)
                    .with_context(|| format!("cannot rotate log {}", self.path.display()))?;
            }
        }
        let before = self.out.len();
        let entry = EntryRef {
            log: &String::from_utf8_lossy(data),
            stream,
            time: self.stamp.format(Utc::now()),
        };
        serde_json::to_writer(&mut self.out, &entry).context("cannot encode log entry")?;
        self.out.push(b'\n');
        self.size += (self.out.len() - before) as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.out);
        self.out.clear();
        result.context("cannot write log")
    }

    /// Docker's rotation: with several files the oldest goes, `.1` … move up one and the
    /// current file becomes `.1`; with one, the current file is emptied. A reader holding a
    /// file open keeps reading it whole.
    fn rotate(&mut self, r: Rotation) -> io::Result<()> {
        if r.max_files >= 2 {
            ignore_missing(fs::remove_file(rotated_path(&self.path, r.max_files - 1)))?;
            for n in (1..r.max_files - 1).rev() {
                ignore_missing(fs::rename(
                    rotated_path(&self.path, n),
                    rotated_path(&self.path, n + 1),
                ))?;
            }
            ignore_missing(fs::rename(&self.path, rotated_path(&self.path, 1)))?;
        } else {
            ignore_missing(fs::remove_file(&self.path))?;
        }
        self.file = open_append(&self.path, mode::LOG_FILE)?;
        self.size = 0;
        Ok(())
    }
}

/// Entry times as Go's `RFC3339Nano` (trailing zeros of the fraction dropped), with the date
/// and time of day formatted once a second: formatting them for every line cost more than
/// all the rest of writing a log.
#[derive(Default)]
struct Stamp {
    second: Option<i64>,
    /// `2026-11-23T14:00:00` of `second`.
    prefix: String,
    text: String,
}

impl Stamp {
    fn format(&mut self, t: DateTime<Utc>) -> &str {
        if self.second != Some(t.timestamp()) {
            self.second = Some(t.timestamp());
            self.prefix = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        self.text.clear();
        self.text.push_str(&self.prefix);
        let mut nanos = t.timestamp_subsec_nanos().min(999_999_999);
        if nanos != 0 {
            let mut digits = [b'0'; 9];
            for d in digits.iter_mut().rev() {
                *d = b'0' + (nanos % 10) as u8;
                nanos /= 10;
            }
            let len = 9 - digits.iter().rev().take_while(|d| **d == b'0').count();
            self.text.push('.');
            // ASCII digits.
            self.text
                .extend(digits[..len].iter().map(|d| char::from(*d)));
        }
        self.text.push('Z');
        &self.text
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::image::config::go_rfc3339_nano;

    #[test]
    fn stamps_are_gos_rfc3339_nano() {
        let mut stamp = Stamp::default();
        for text in [
            "2026-11-23T13:55:49.6091791Z",
            "2026-11-23T13:55:49.000000001Z",
            "2026-11-23T13:55:49.1Z",
            "2026-11-23T13:55:50Z",
            "2026-12-31T23:59:59.999999999Z",
        ] {
            let t = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(stamp.format(t), go_rfc3339_nano(&t));
            assert_eq!(stamp.format(t), text);
        }
    }
}
