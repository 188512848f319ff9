//! The session transcript: every line a student runs in the REPL, in order, as a file they
//! can hand in for grading (`<root>/les/transcripten/<les>-<tijd>.txt`).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::lesson::Lesson;
use crate::state::StateRoot;

pub struct Transcript {
    path: PathBuf,
    file: File,
}

impl Transcript {
    pub fn start(root: &StateRoot, lesson: &Lesson) -> Result<Self> {
        let dir = root.join("les/transcripten");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let now = chrono::Utc::now();
        let path = dir.join(format!("{}-{}.txt", lesson.id, now.format("%Y%m%d-%H%M%S")));
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(&path)
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
}
