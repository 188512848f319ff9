//! Saved progress: per lesson, the current step, the steps passed and whether *onder de
//! motorkap* is on — kept in `<root>/les/voortgang.json` so a lesson resumes where it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::state::{atomic_write_json, StateRoot};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LessonProgress {
    /// 0-based index of the current step.
    pub step: usize,
    /// Ids of the steps passed.
    pub passed: BTreeSet<String>,
    pub motorkap: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    #[serde(flatten)]
    lessons: BTreeMap<String, LessonProgress>,
}

fn path(root: &StateRoot) -> PathBuf {
    root.join("les/voortgang.json")
}

impl Progress {
    /// The saved progress (empty if none or unreadable: progress is a convenience).
    pub fn load(root: &StateRoot) -> Self {
        std::fs::read(path(root))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, lesson: &str) -> LessonProgress {
        self.lessons.get(lesson).cloned().unwrap_or_default()
    }

    /// Replace one lesson's progress and save (re-reading first, so two REPLs on one root
    /// only overwrite their own lesson).
    pub fn save(root: &StateRoot, lesson: &str, p: &LessonProgress) -> Result<()> {
        let mut all = Self::load(root);
        all.lessons.insert(lesson.to_string(), p.clone());
        let file = path(root);
        if let Some(dir) = file.parent() {
            crate::state::create_dir(dir, crate::state::mode::PRIVATE_DIR)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        atomic_write_json(&file, &all)
    }
}
