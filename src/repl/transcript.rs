//! The session transcript: every line a student runs in the REPL, in order, as a file they
//! can hand in for grading (`<root>/les/transcripten/<les>-<tijd>.txt`) — with what they
//! typed inside interactive containers as `> ` lines after the command (the docker CLI's
//! stdin relays append it to the file `$DOKLES_TYPED_INPUT` names; see
//! [`crate::lesson::keys`] for the notation).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::lesson::{keys, Lesson};
use crate::state::{create_dir, mode, open_append, StateRoot};

pub struct Transcript {
    path: PathBuf,
    file: File,
}

impl Transcript {
    pub fn start(root: &StateRoot, lesson: &Lesson) -> Result<Self> {
        let dir = root.join("les/transcripten");
        create_dir(&dir, mode::PRIVATE_DIR)
            .with_context(|| format!("creating {}", dir.display()))?;
        let now = chrono::Utc::now();
        let path = dir.join(format!("{}-{}.txt", lesson.id, now.format("%Y%m%d-%H%M%S")));
        let mut file = open_append(&path, mode::PRIVATE_FILE)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(
            file,
            "# dokles les {} ({}), {}",
            lesson.id,
            lesson.title,
            now.to_rfc3339()
        )?;
        Ok(Self { path, file })
    }

    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Append one line; a failing write must not interrupt the lesson.
    pub fn record(&mut self, line: &str) {
        let _ = writeln!(self.file, "{line}");
    }

    /// Append what was typed into the last line's interactive program (recorded in
    /// `typed`) as `> ` lines, and empty `typed` for the next line.
    pub fn record_typed(&mut self, typed: &Path) {
        let Ok(bytes) = std::fs::read(typed) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        // Emptied for the next line (it exists: it was just read).
        let _ = File::options().write(true).truncate(true).open(typed);
        for line in keys::lines_from_keys(&bytes) {
            let _ = writeln!(self.file, "> {line}");
        }
    }
}

/// Where the docker CLI records the keys typed during the REPL's lines (one file per REPL).
pub fn typed_input_file(root: &StateRoot, pid: u32) -> PathBuf {
    root.join(format!("les/invoer-{pid}"))
}
