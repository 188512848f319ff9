//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-23T14:00:00.123456789Z"}`, lines split
//! at newlines and at 16 KiB as Docker does; `<id>-json.log`, and with `--log-opt max-size`
//! the rotated `<id>-json.log.1` (newest) … `.<max-file - 1>` (oldest) beside it.
//!
//! - `config` — `--log-driver`/`--log-opt` and Docker's checks of them;
//! - `writer` — the monitor's writer, with rotation;
//! - `reader` — reading across the rotated files with bounded memory: tails from the end,
//!   everything as a stream, following the current file through rotations.

mod config;
mod reader;
mod writer;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use config::{from_human_size, LogConfig, Logging, Rotation, JSON_FILE, NONE};
pub use reader::{read, Follower, ReadOptions};
pub use writer::LogWriter;

/// A line (or a 16 KiB piece of a longer one) longer than this is split, as Docker does.
const MAX_LINE: usize = 16 * 1024;

/// One entry of a log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// An entry as written, borrowing its parts.
#[derive(Serialize)]
struct EntryRef<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

impl LogEntry {
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The `n`-th rotated file of the log at `path` (`<id>-json.log.<n>`; 1 is the newest).
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(path: &Path, max_files: u32) -> Vec<(String, String)> {
        let mut got = Vec::new();
        reader::read(path, max_files, &ReadOptions::default(), &mut |e| {
            got.push((e.stream.clone(), e.log.clone()));
            Ok(())
        })
        .unwrap();
        got
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn output_is_split_into_lines_per_stream() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut w = LogWriter::open(&p, None).unwrap();
        w.write("stdout", b"hel").unwrap();
        w.write("stderr", b"oops\n").unwrap();
        w.write("stdout", b"lo\nwor").unwrap();
        w.finish("stdout").unwrap();
        assert_eq!(
            read_all(&p, 1),
            pairs(&[
                ("stderr", "oops\n"),
                ("stdout", "hello\n"),
                ("stdout", "wor")
            ])
        );
    }

    #[test]
    fn long_lines_are_split_at_16_kib() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut w = LogWriter::open(&p, None).unwrap();
        let mut line = vec![b'x'; 40 * 1024];
        line.push(b'\n');
        w.write("stdout", &line[..1000]).unwrap();
        w.write("stdout", &line[1000..]).unwrap();
        let sizes: Vec<usize> = read_all(&p, 1).iter().map(|(_, l)| l.len()).collect();
        assert_eq!(sizes, vec![16384, 16384, 40 * 1024 - 2 * 16384 + 1]);
    }

    #[test]
    fn rotation_keeps_max_file_files_and_reading_spans_them_in_order() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let rotation = Rotation {
            max_size: 200,
            max_files: 3,
        };
        let mut w = LogWriter::open(&p, Some(rotation)).unwrap();
        for i in 0..40 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(rotated_path(&p, 2).exists());
        assert!(
            !rotated_path(&p, 3).exists(),
            "max-file 3: .2 is the oldest"
        );
        // A file is rotated once it has max-size bytes: before the entry that would pass.
        for f in [rotated_path(&p, 1), rotated_path(&p, 2)] {
            let len = std::fs::metadata(&f).unwrap().len();
            assert!((200..300).contains(&len), "{} has {len} bytes", f.display());
        }
        assert!(std::fs::metadata(&p).unwrap().len() < 300);
        let got: Vec<String> = read_all(&p, 3).into_iter().map(|(_, l)| l).collect();
        let first: usize = got[0]["line ".len()..].trim().parse().unwrap();
        let want: Vec<String> = (first..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(got, want);
        assert!(first > 0, "the oldest lines are gone");
    }

    #[test]
    fn one_file_is_emptied_when_full() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let rotation = Rotation {
            max_size: 100,
            max_files: 1,
        };
        let mut w = LogWriter::open(&p, Some(rotation)).unwrap();
        for i in 0..10 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(!rotated_path(&p, 1).exists());
        let got = read_all(&p, 1);
        assert!(
            got.len() < 10 && got.last().unwrap().1 == "line 9\n",
            "{got:?}"
        );
    }
}
