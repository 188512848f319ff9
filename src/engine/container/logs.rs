//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-23T14:00:00.123456789Z"}`, lines split
//! at newlines and at 16 KiB as Docker does.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::image::config::go_rfc3339_nano;

const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

impl LogEntry {
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Appends a container's output to its log, a line at a time per stream.
pub struct LogWriter {
    file: File,
    pending: [Vec<u8>; 2],
}

fn slot(stream: &str) -> usize {
    usize::from(stream == "stderr")
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<Self> {
        let file = crate::state::open_append(path, crate::state::mode::LOG_FILE)
            .with_context(|| format!("cannot open log {}", path.display()))?;
        Ok(Self {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    pub fn write(&mut self, stream: &str, data: &[u8]) -> Result<()> {
        let i = slot(stream);
        self.pending[i].extend_from_slice(data);
        while let Some(pos) = self.pending[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending[i].drain(..=pos).collect();
            self.emit(stream, &line)?;
        }
        while self.pending[i].len() >= MAX_LINE {
            let chunk: Vec<u8> = self.pending[i].drain(..MAX_LINE).collect();
            self.emit(stream, &chunk)?;
        }
        Ok(())
    }

    /// The stream closed: write what is left of its last line.
    pub fn finish(&mut self, stream: &str) -> Result<()> {
        let rest = std::mem::take(&mut self.pending[slot(stream)]);
        if !rest.is_empty() {
            self.emit(stream, &rest)?;
        }
        Ok(())
    }

    fn emit(&mut self, stream: &str, data: &[u8]) -> Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(data).into_owned(),
            stream: stream.to_string(),
            time: go_rfc3339_nano(&Utc::now()),
        };
        let mut line = serde_json::to_vec(&entry).context("cannot encode log entry")?;
        line.push(b'\n');
        self.file.write_all(&line).context("cannot write log")
    }
}

/// Read log entries from `offset` (bytes); returns them and the offset after the last
/// complete line, so a follower can continue from there.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<LogEntry>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    file.seek(SeekFrom::Start(offset))
        .context("cannot seek in log")?;
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).context("cannot read log")?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        if let Ok(e) = serde_json::from_str::<LogEntry>(&line) {
            out.push(e);
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_into_lines_per_stream() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write("stdout", b"hel").unwrap();
        w.write("stderr", b"oops\n").unwrap();
        w.write("stdout", b"lo\nwor").unwrap();
        w.finish("stdout").unwrap();
        let (entries, _) = read_from(&p, 0).unwrap();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("stderr", "oops\n"),
                ("stdout", "hello\n"),
                ("stdout", "wor")
            ]
        );
    }
}
