//! The scripted student: replays a lesson's example commands on the real runtime in a
//! throw-away state root and reports every step's checks (`dokles les --test`). The same
//! sandbox and report types serve grading.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::check::Outcome;
use super::format::{split_command, Lesson};
use super::session::{Evaluation, Session};
use super::shell::{PtySession, Shell};
use crate::engine::container::{lifecycle, ContainerError, ContainerStore};
use crate::state::StateRoot;

/// How long one example command may take before it is stopped.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A throw-away state root with a working directory; everything in it (containers with
/// their processes, mounts and cgroups, images, files) is removed on drop.
pub struct Sandbox {
    root: StateRoot,
    base: PathBuf,
    /// The directory, when the sandbox made (and so removes) it itself.
    _owned: Option<tempfile::TempDir>,
}

impl Sandbox {
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("dokles-les-")
            .tempdir()
            .context("creating a throw-away state root")?;
        let mut s = Self::in_dir(dir.path())?;
        s._owned = Some(dir);
        Ok(s)
    }

    /// A sandbox in `base` (an empty directory the caller owns and removes, e.g. a
    /// size-limited filesystem for grading): the state root and working directory go in it.
    pub fn in_dir(base: &Path) -> Result<Self> {
        let root = StateRoot::open(base.join("root"))?;
        std::fs::create_dir_all(base.join("werk")).context("creating a work directory")?;
        Ok(Self {
            root,
            base: base.to_path_buf(),
            _owned: None,
        })
    }

    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    /// The student's working directory (host files the lesson creates land here).
    pub fn work(&self) -> PathBuf {
        self.base.join("werk")
    }

    /// Remove every container, damaged ones too (killing what runs); the directory goes
    /// with `drop`.
    pub fn clean(&self) -> Result<()> {
        let store = ContainerStore::open(&self.root);
        let scan = store.scan()?;
        let ids = scan
            .containers
            .iter()
            .map(|c| &c.config.id)
            .chain(scan.damaged.iter().map(|d| &d.id));
        for id in ids {
            match lifecycle::remove(&store, id, true) {
                Ok(()) | Err(ContainerError::NoSuchContainer(_)) => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing container {}", id.short()))
                }
            }
        }
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.clean() {
            eprintln!(
                "dokles: opruimen van {} mislukt: {e:#}",
                self.base.display()
            );
        }
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepReport {
    pub id: String,
    pub title: String,
    pub weight: u32,
    pub passed: bool,
    /// Dutch: each check's message (`ok: …` or `verwacht: …; gevonden: …`).
    pub checks: Vec<CheckReport>,
    /// Situational feedback that applied.
    pub feedback: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckReport {
    pub passed: bool,
    pub message: String,
}

impl From<&Outcome> for CheckReport {
    fn from(o: &Outcome) -> Self {
        Self {
            passed: o.passed,
            message: o.message(),
        }
    }
}

/// A lesson's result, step by step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LessonReport {
    pub lesson: String,
    pub title: String,
    pub steps: Vec<StepReport>,
}

impl LessonReport {
    /// (weight of passed steps, total weight).
    pub fn score(&self) -> (u32, u32) {
        let total = self.steps.iter().map(|s| s.weight).sum();
        let got = self
            .steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.weight)
            .sum();
        (got, total)
    }

    pub fn all_passed(&self) -> bool {
        self.steps.iter().all(|s| s.passed)
    }
}

/// Whether a command line asks docker for a terminal (`-t`, `-it`, `--tty`): such lines run
/// on a pty of their own.
pub fn wants_tty(line: &str) -> bool {
    let Ok(words) = split_command(line) else {
        return false;
    };
    words.iter().any(|w| {
        w == "--tty"
            || w == "--tty=true"
            || (w.starts_with('-') && !w.starts_with("--") && w.len() > 1 && {
                // A cluster of boolean shorthands such as -it or -dit.
                let flags = &w[1..];
                flags.contains('t') && flags.chars().all(|c| "dit".contains(c))
            })
    })
}

/// Run the lesson's setup commands before `deadline` (their output is only shown when
/// they fail).
pub fn setup(lesson: &Lesson, shell: &Shell, deadline: Instant) -> Result<()> {
    for line in &lesson.setup {
        let left = deadline.saturating_duration_since(Instant::now());
        let ran = shell
            .run_captured(line, left)
            .with_context(|| format!("voorbereiding `{line}`"))?;
        if ran.timed_out {
            anyhow::bail!("tijdslimiet overschreden tijdens de voorbereiding `{line}`");
        }
        if ran.exit_code != 0 {
            anyhow::bail!(
                "voorbereiding `{line}` mislukte (exitcode {}):\n{}",
                ran.exit_code,
                ran.output.trim_end()
            );
        }
    }
    Ok(())
}

/// One line as a scripted student types it: on a pty if it wants a terminal (typing
/// `input`), else captured. Background lines stay running in `background`.
pub fn run_line(
    shell: &Shell,
    line: &str,
    input: &[String],
    in_background: bool,
    background: &mut Vec<PtySession>,
) -> Result<String> {
    if in_background {
        background.push(shell.start_on_pty(line)?);
        return Ok(String::new());
    }
    let ran = if wants_tty(line) || !input.is_empty() {
        shell.run_on_pty(line, input, COMMAND_TIMEOUT)?
    } else {
        shell.run_captured(line, COMMAND_TIMEOUT)?
    };
    if ran.timed_out {
        anyhow::bail!(
            "`{line}` was na {} seconden nog niet klaar en is gestopt",
            COMMAND_TIMEOUT.as_secs()
        );
    }
    Ok(ran.output)
}

/// How long a failing step is re-checked before it counts as failed: a command started in
/// the background (a second terminal) ends on its own after the step's last line, and
/// writes its journal entry a moment later — as a student would press Enter again.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Poll the journal and evaluate the current step; while it fails, try again until it
/// passes or [`SETTLE`] has passed.
fn settled_evaluation(session: &mut Session) -> Result<Evaluation> {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        session.poll()?;
        let eval = session
            .evaluate()
            .context("evaluating a step that does not exist")?;
        if eval.passed || std::time::Instant::now() >= deadline {
            return Ok(eval);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Replay `lesson`'s example commands in `root` through `shell` (whose working directory is
/// the student's). `progress` is told about each step as it finishes.
pub fn replay(
    lesson: &Lesson,
    root: &StateRoot,
    shell: &Shell,
    mut progress: impl FnMut(&StepReport),
) -> Result<LessonReport> {
    setup(lesson, shell, Instant::now() + COMMAND_TIMEOUT)?;
    let mut session = Session::new(lesson, root, shell.cwd(), 0)?;
    let mut background = Vec::new();
    let mut steps = Vec::new();
    while let Some(step) = session.current() {
        let mut problems = Vec::new();
        for line in &step.example {
            if let Err(e) = run_line(shell, line, &step.input, step.background, &mut background) {
                problems.push(format!("{e:#}"));
            }
        }
        let eval = settled_evaluation(&mut session)?;
        let mut checks: Vec<CheckReport> = eval.outcomes.iter().map(CheckReport::from).collect();
        checks.extend(problems.into_iter().map(|message| CheckReport {
            passed: false,
            message,
        }));
        let report = StepReport {
            id: step.id.clone(),
            title: step.title.clone(),
            weight: step.weight,
            passed: eval.passed && checks.iter().all(|c| c.passed),
            checks,
            feedback: eval.feedback,
        };
        progress(&report);
        steps.push(report);
        session.advance();
    }
    drop(background);
    Ok(LessonReport {
        lesson: lesson.id.clone(),
        title: lesson.title.clone(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::wants_tty;

    #[test]
    fn terminal_flags_are_recognised_in_clusters_and_long_form() {
        assert!(wants_tty("docker run -it --name x python"));
        assert!(wants_tty("docker run -dit busybox"));
        assert!(wants_tty("docker exec --tty c sh"));
        assert!(!wants_tty("docker run -d busybox sleep 1"));
        assert!(!wants_tty("docker run -i busybox cat"));
        assert!(!wants_tty("docker ps -a"));
    }
}
