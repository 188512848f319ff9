//! Reading a log with memory that does not grow with it: the log's files as they were at one
//! moment (the monitor renames files under a reader, so every file is opened and then
//! checked to still be what its name says), a tail found by reading backwards from the end
//! in blocks, entries streamed forward through a bounded line buffer, and a [`Follower`]
//! that keeps up with the current file and with the files rotated away under it.
//!
//! As Docker's json-file reader: `tail` picks the last entries first, then `since` skips
//! older ones and `until` ends the reading at the first newer one.

use std::fs::{File, Metadata};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::{rotated_path, LogEntry};

/// Bytes read at a time when looking backwards for a tail's start or a line's end.
const BLOCK: usize = 64 * 1024;
/// No line dokles writes comes near this (a 16 KiB piece, escaped); a longer one is skipped.
const MAX_ENCODED_LINE: usize = 1 << 20;
/// Attempts at opening a consistent set of files while the monitor keeps rotating them.
const SNAPSHOT_ATTEMPTS: usize = 100;

/// What to read of a log.
#[derive(Debug, Default, Clone)]
pub struct ReadOptions {
    /// Only the last `n` entries.
    pub tail: Option<usize>,
    /// Skip entries before this time.
    pub since: Option<DateTime<Utc>>,
    /// Stop at the first entry after this time.
    pub until: Option<DateTime<Utc>>,
}

/// Where the reading of a log stands, to go on with the entries written after it.
pub struct Follower {
    path: PathBuf,
    max_files: u32,
    current: Option<File>,
    /// Bytes of `current` read (always the end of a complete line).
    offset: u64,
    filter: Filter,
}

/// Read the log at `path` (with up to `max_files - 1` rotated files beside it) as `opts`
/// says, handing each entry to `visit` in order; returns where the reading stands.
pub fn read(
    path: &Path,
    max_files: u32,
    opts: &ReadOptions,
    visit: &mut dyn FnMut(&LogEntry) -> io::Result<()>,
) -> Result<Follower> {
    let snapshot = Snapshot::take(path, max_files)
        .with_context(|| format!("cannot open log {}", path.display()))?;
    let mut segments: Vec<Segment> = Vec::new();
    for file in &snapshot.rotated {
        let end = file.metadata().context("cannot read a log's size")?.len();
        segments.push(Segment {
            file,
            start: 0,
            end,
        });
    }
    let current_end = match &snapshot.current {
        Some(file) => {
            let end = complete_end(file, 0).context("cannot read log")?;
            segments.push(Segment {
                file,
                start: 0,
                end,
            });
            end
        }
        None => 0,
    };
    let mut filter = Filter {
        since: opts.since,
        until: opts.until,
        done: false,
    };
    if let Some(n) = opts.tail {
        let (first, start) = tail_start(&segments, n).context("cannot read log")?;
        segments.drain(..first);
        if let Some(s) = segments.first_mut() {
            s.start = start;
        }
    }
    for s in &segments {
        if filter.done {
            break;
        }
        stream(s, &mut filter, visit).context("cannot read log")?;
    }
    Ok(Follower {
        path: path.to_path_buf(),
        max_files,
        current: snapshot.current,
        offset: current_end,
        filter,
    })
}

impl Follower {
    /// Whether an entry after `until` ended the reading.
    pub fn done(&self) -> bool {
        self.filter.done
    }

    /// Hand `visit` the entries written since the last look, from the current file and from
    /// any file that was rotated away meanwhile (one rotated past max-file is lost, as in
    /// Docker).
    pub fn poll(&mut self, visit: &mut dyn FnMut(&LogEntry) -> io::Result<()>) -> Result<()> {
        while !self.filter.done {
            let Some(current) = &self.current else {
                // No log yet when we began.
                match open_existing(&self.path).context("cannot open log")? {
                    Some(f) => {
                        self.current = Some(f);
                        self.offset = 0;
                        continue;
                    }
                    None => return Ok(()),
                }
            };
            let held = identity(&current.metadata().context("cannot read log")?);
            self.read_current(visit)?;
            match named_identity(&self.path).context("cannot read log")? {
                Some(named) if named != held => {}
                // Still the current file (or, for a moment, no file: it is being replaced).
                _ => return Ok(()),
            }
            // Rotated: what was written before the rotation is complete now.
            self.read_current(visit)?;
            let snapshot = Snapshot::take(&self.path, self.max_files).context("cannot open log")?;
            let ours = snapshot
                .rotated
                .iter()
                .position(|f| f.metadata().is_ok_and(|m| identity(&m) == held));
            let newer = ours.map_or(0, |i| i + 1);
            for file in &snapshot.rotated[newer..] {
                if self.filter.done {
                    break;
                }
                let end = file.metadata().context("cannot read log")?.len();
                stream(
                    &Segment {
                        file,
                        start: 0,
                        end,
                    },
                    &mut self.filter,
                    visit,
                )
                .context("cannot read log")?;
            }
            self.current = snapshot.current;
            self.offset = 0;
        }
        Ok(())
    }

    /// The complete lines added to the current file since `offset`.
    fn read_current(&mut self, visit: &mut dyn FnMut(&LogEntry) -> io::Result<()>) -> Result<()> {
        let Some(file) = &self.current else {
            return Ok(());
        };
        let end = complete_end(file, self.offset).context("cannot read log")?;
        if end > self.offset {
            stream(
                &Segment {
                    file,
                    start: self.offset,
                    end,
                },
                &mut self.filter,
                visit,
            )
            .context("cannot read log")?;
            self.offset = end;
        }
        Ok(())
    }
}

/// `since` and `until` over the entries as they pass.
struct Filter {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// An entry after `until` was met: nothing more is read.
    done: bool,
}

impl Filter {
    /// Whether to show `e` (setting `done` past `until`).
    fn admit(&mut self, e: &LogEntry) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(t) = e.time() else {
            return false;
        };
        if self.until.is_some_and(|u| t > u) {
            self.done = true;
            return false;
        }
        self.since.is_none_or(|s| t >= s)
    }
}

/// Bytes `start..end` of one file of the log: complete lines.
struct Segment<'a> {
    file: &'a File,
    start: u64,
    end: u64,
}

type Identity = (u64, u64);

fn identity(m: &Metadata) -> Identity {
    (m.dev(), m.ino())
}

fn open_existing(p: &Path) -> io::Result<Option<File>> {
    match File::open(p) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn named_identity(p: &Path) -> io::Result<Option<Identity>> {
    match std::fs::metadata(p) {
        Ok(m) => Ok(Some(identity(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The log's files as they were at one moment: the rotated ones, oldest first, and the
/// current one.
struct Snapshot {
    rotated: Vec<File>,
    current: Option<File>,
}

impl Snapshot {
    /// Open every file, then check that each name still leads to the file opened (and a
    /// missing one is still missing); a rotation in between means trying again.
    fn take(path: &Path, max_files: u32) -> io::Result<Self> {
        let paths: Vec<PathBuf> = (1..max_files.max(1))
            .rev()
            .map(|n| rotated_path(path, n))
            .chain([path.to_path_buf()])
            .collect();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let files = paths
                .iter()
                .map(|p| open_existing(p))
                .collect::<io::Result<Vec<_>>>()?;
            let held = files
                .iter()
                .map(|f| {
                    f.as_ref()
                        .map(|f| f.metadata().map(|m| identity(&m)))
                        .transpose()
                })
                .collect::<io::Result<Vec<_>>>()?;
            let named = paths
                .iter()
                .map(|p| named_identity(p))
                .collect::<io::Result<Vec<_>>>()?;
            if held == named || attempts >= SNAPSHOT_ATTEMPTS {
                let mut files = files;
                let current = files.pop().flatten();
                return Ok(Self {
                    rotated: files.into_iter().flatten().collect(),
                    current,
                });
            }
        }
    }
}

/// The end of the last complete line of `file` at or after `from` (the monitor may be
/// writing the next one).
fn complete_end(file: &File, from: u64) -> io::Result<u64> {
    let size = file.metadata()?.len();
    let mut buf = vec![0u8; BLOCK];
    let mut pos = size;
    while pos > from {
        let len = (pos - from).min(BLOCK as u64) as usize;
        let at = pos - len as u64;
        file.read_exact_at(&mut buf[..len], at)?;
        if let Some(i) = buf[..len].iter().rposition(|b| *b == b'\n') {
            return Ok(at + i as u64 + 1);
        }
        pos = at;
    }
    Ok(from)
}

/// Where the last `n` lines of `segments` begin: the index of the segment and the offset in
/// it (one past the last segment for `n` = 0). Reads backwards, a block at a time.
fn tail_start(segments: &[Segment], n: usize) -> io::Result<(usize, u64)> {
    if n == 0 {
        return Ok((segments.len(), 0));
    }
    let mut remaining = n;
    let mut buf = vec![0u8; BLOCK];
    for (i, s) in segments.iter().enumerate().rev() {
        if s.end <= s.start {
            continue;
        }
        let mut pos = s.end;
        while pos > s.start {
            let len = (pos - s.start).min(BLOCK as u64) as usize;
            let at = pos - len as u64;
            s.file.read_exact_at(&mut buf[..len], at)?;
            for j in (0..len).rev() {
                let offset = at + j as u64;
                // A newline before the segment's last byte ends the line before a counted one.
                if buf[j] == b'\n' && offset + 1 < s.end {
                    remaining -= 1;
                    if remaining == 0 {
                        return Ok((i, offset + 1));
                    }
                }
            }
            pos = at;
        }
        // The segment's first line.
        remaining -= 1;
        if remaining == 0 {
            return Ok((i, s.start));
        }
    }
    Ok((0, segments.first().map_or(0, |s| s.start)))
}

/// Reads `file` from `pos` to `end` without moving its offset.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The entries of a segment, through `filter`, to `visit`.
fn stream(
    s: &Segment,
    filter: &mut Filter,
    visit: &mut dyn FnMut(&LogEntry) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(
        BLOCK,
        At {
            file: s.file,
            pos: s.start,
            end: s.end,
        },
    );
    let mut line = Vec::new();
    while next_line(&mut reader, &mut line)? {
        let Ok(entry) = serde_json::from_slice::<LogEntry>(&line) else {
            continue;
        };
        if filter.admit(&entry) {
            visit(&entry)?;
        } else if filter.done {
            break;
        }
    }
    Ok(())
}

/// The next line into `line` (emptied for one longer than [`MAX_ENCODED_LINE`], which is
/// read past); false at the end.
fn next_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, ends) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            line.extend_from_slice(&buf[..take]);
            if line.len() > MAX_ENCODED_LINE {
                too_long = true;
                line.clear();
            }
        }
        r.consume(take);
        if ends {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log_with(lines: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut f = File::create(&p).unwrap();
        for (i, l) in lines.iter().enumerate() {
            let e = LogEntry {
                log: format!("{l}\n"),
                stream: "stdout".into(),
                time: format!("2026-01-01T00:00:{i:02}Z"),
            };
            writeln!(f, "{}", serde_json::to_string(&e).unwrap()).unwrap();
        }
        (t, p)
    }

    fn lines(p: &Path, opts: &ReadOptions) -> Vec<String> {
        let mut got = Vec::new();
        read(p, 1, opts, &mut |e| {
            got.push(e.log.trim_end().to_string());
            Ok(())
        })
        .unwrap();
        got
    }

    fn tail(n: usize) -> ReadOptions {
        ReadOptions {
            tail: Some(n),
            ..Default::default()
        }
    }

    #[test]
    fn tails_count_from_the_end() {
        let (_t, p) = log_with(&["a", "b", "c"]);
        assert_eq!(lines(&p, &tail(2)), ["b", "c"]);
        assert_eq!(lines(&p, &tail(3)), ["a", "b", "c"]);
        assert_eq!(lines(&p, &tail(9)), ["a", "b", "c"]);
        assert!(lines(&p, &tail(0)).is_empty());
    }

    #[test]
    fn a_tail_is_found_across_blocks() {
        let many: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (_t, p) = log_with(&refs[..60]);
        assert_eq!(lines(&p, &tail(1)), ["line 59"]);
        let t = tempfile::tempdir().unwrap();
        let big = t.path().join("big-json.log");
        let mut f = File::create(&big).unwrap();
        for l in &many {
            let e = LogEntry {
                log: format!("{l}\n"),
                stream: "stdout".into(),
                time: "2026-01-01T00:00:00Z".into(),
            };
            writeln!(f, "{}", serde_json::to_string(&e).unwrap()).unwrap();
        }
        let got = lines(&big, &tail(5000));
        assert_eq!(got.len(), 5000);
        assert_eq!(got[0], "line 15000");
        assert_eq!(got[4999], "line 19999");
    }

    #[test]
    fn tail_comes_before_since_and_until() {
        let (_t, p) = log_with(&["a", "b", "c", "d"]);
        let at = |s: u32| Some(format!("2026-01-01T00:00:{s:02}Z").parse().unwrap());
        let opts = |tail, since, until| ReadOptions { tail, since, until };
        assert_eq!(lines(&p, &opts(Some(2), at(1), None)), ["c", "d"]);
        assert_eq!(lines(&p, &opts(Some(3), at(2), None)), ["c", "d"]);
        // The last entry is after `until`: nothing of the tail of one is shown.
        assert!(lines(&p, &opts(Some(1), None, at(2))).is_empty());
        assert_eq!(lines(&p, &opts(Some(3), None, at(2))), ["b", "c"]);
        assert_eq!(lines(&p, &opts(None, at(1), at(2))), ["b", "c"]);
    }

    #[test]
    fn a_line_being_written_is_left_for_the_follower() {
        let (_t, p) = log_with(&["a"]);
        let mut f = File::options().append(true).open(&p).unwrap();
        f.write_all(br#"{"log":"b\n","stream":"stdout","time":"2026-01-01T00:00:09Z""#)
            .unwrap();
        let mut got = Vec::new();
        let mut follower = read(&p, 1, &ReadOptions::default(), &mut |e| {
            got.push(e.log.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, ["a\n"]);
        f.write_all(b"}\n").unwrap();
        follower
            .poll(&mut |e| {
                got.push(e.log.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(got, ["a\n", "b\n"]);
    }

    #[test]
    fn an_overlong_line_is_skipped() {
        let (_t, p) = log_with(&["a"]);
        let mut f = File::options().append(true).open(&p).unwrap();
        f.write_all(&vec![b'x'; 3 * MAX_ENCODED_LINE]).unwrap();
        f.write_all(b"\n").unwrap();
        f.write_all(br#"{"log":"b\n","stream":"stdout","time":"2026-01-01T00:00:09Z"}"#)
            .unwrap();
        f.write_all(b"\n").unwrap();
        assert_eq!(lines(&p, &ReadOptions::default()), ["a", "b"]);
    }
}
