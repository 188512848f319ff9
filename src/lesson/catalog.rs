//! Where lessons come from: the ones shipped in the binary (`lessons/`, embedded with
//! `include_dir`) or an instructor's own directory (`--lessen DIR`), found by number or name.

use std::path::Path;

use include_dir::{include_dir, Dir};

use super::format::{self, Lesson, LessonError};

static SHIPPED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/lessons");

/// A set of lessons, sorted by number then id.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub lessons: Vec<Lesson>,
}

impl Catalog {
    /// The lessons shipped with dokles.
    pub fn shipped() -> Result<Self, LessonError> {
        let mut lessons = Vec::new();
        for file in SHIPPED.files() {
            if file.path().extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let name = format!("lessons/{}", file.path().display());
            let text = file.contents_utf8().ok_or_else(|| LessonError {
                file: name.clone(),
                line: 0,
                message: "het bestand is geen UTF-8-tekst".into(),
            })?;
            lessons.push(format::parse(&name, text)?);
        }
        Ok(Self::sorted(lessons))
    }

    /// Every `*.toml` lesson in `dir` (an instructor's own set).
    pub fn from_dir(dir: &Path) -> Result<Self, LessonError> {
        let unreadable = |e: std::io::Error| LessonError {
            file: dir.display().to_string(),
            line: 0,
            message: format!("kan de lessenmap niet lezen: {e}"),
        };
        let mut lessons = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().and_then(|e| e.to_str()) == Some("toml") {
                lessons.push(load_file(&path)?);
            }
        }
        if lessons.is_empty() {
            return Err(LessonError {
                file: dir.display().to_string(),
                line: 0,
                message: "deze map bevat geen lessen (*.toml)".into(),
            });
        }
        Ok(Self::sorted(lessons))
    }

    fn sorted(mut lessons: Vec<Lesson>) -> Self {
        lessons.sort_by(|a, b| {
            (a.number.unwrap_or(u32::MAX), &a.id).cmp(&(b.number.unwrap_or(u32::MAX), &b.id))
        });
        Self { lessons }
    }

    /// A lesson by number (`1`) or id (`eerste-container`).
    pub fn find(&self, key: &str) -> Option<&Lesson> {
        match key.parse::<u32>() {
            Ok(n) => self.lessons.iter().find(|l| l.number == Some(n)),
            Err(_) => self.lessons.iter().find(|l| l.id == key),
        }
    }
}

/// Read and parse one lesson file.
pub fn load_file(path: &Path) -> Result<Lesson, LessonError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| LessonError {
        file: name.clone(),
        line: 0,
        message: format!("kan het bestand niet lezen: {e}"),
    })?;
    format::parse(&name, &text)
}
