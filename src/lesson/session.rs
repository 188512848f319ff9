//! A lesson in progress: which step is current, what the engine did since (read from the
//! journal, whoever caused it — this terminal or another), and whether the current step's
//! checks hold. The REPL, the scripted student and grading all drive a [`Session`].

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::check::{Outcome, RanCommand, World};
use super::format::{Lesson, Step};
use crate::events::{Entry, Event, Journal};
use crate::state::StateRoot;

/// The verdict on one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub passed: bool,
    /// One outcome per check, in the lesson's order.
    pub outcomes: Vec<Outcome>,
    /// Situational feedback whose condition holds (only when the step failed).
    pub feedback: Vec<String>,
}

impl Evaluation {
    /// The first failing check's outcome.
    pub fn first_failure(&self) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| !o.passed)
    }
}

pub struct Session<'l> {
    lesson: &'l Lesson,
    root: StateRoot,
    cwd: PathBuf,
    journal: Journal,
    offset: u64,
    step: usize,
    /// Docker commands run since the current step began.
    commands: Vec<RanCommand>,
}

impl<'l> Session<'l> {
    /// Start at `step` (0-based); only what happens from now on counts.
    pub fn new(lesson: &'l Lesson, root: &StateRoot, cwd: &Path, step: usize) -> Result<Self> {
        let journal = Journal::open(root);
        let offset = journal.end_offset()?;
        Ok(Self {
            lesson,
            root: root.clone(),
            cwd: cwd.to_path_buf(),
            journal,
            offset,
            step: step.min(lesson.steps.len()),
            commands: Vec::new(),
        })
    }

    pub fn lesson(&self) -> &'l Lesson {
        self.lesson
    }

    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// 0-based index of the current step (`steps.len()` when the lesson is finished).
    pub fn index(&self) -> usize {
        self.step
    }

    pub fn current(&self) -> Option<&'l Step> {
        self.lesson.steps.get(self.step)
    }

    pub fn finished(&self) -> bool {
        self.step >= self.lesson.steps.len()
    }

    /// Journal entries written since the last poll (by any process on this root). Docker
    /// commands among them count for the current step.
    pub fn poll(&mut self) -> Result<Vec<Entry>> {
        let (entries, offset) = self.journal.read_since(self.offset)?;
        self.offset = offset;
        for e in &entries {
            if let Event::Command {
                argv, exit_code, ..
            } = &e.event
            {
                self.commands.push(RanCommand {
                    args: argv.clone(),
                    exit_code: *exit_code,
                });
            }
        }
        Ok(entries)
    }

    /// How far the journal has been read.
    pub fn journal_offset(&self) -> u64 {
        self.offset
    }

    /// The docker commands run during the current step.
    pub fn commands(&self) -> &[RanCommand] {
        &self.commands
    }

    /// Evaluate the current step's checks against the real state now.
    pub fn evaluate(&self) -> Option<Evaluation> {
        let step = self.current()?;
        let world = World {
            root: &self.root,
            cwd: &self.cwd,
            commands: &self.commands,
        };
        Some(evaluate_step(step, &world))
    }

    /// Go to step `index` (clamped); commands run so far no longer count.
    pub fn go_to(&mut self, index: usize) {
        self.step = index.min(self.lesson.steps.len());
        self.commands.clear();
    }

    pub fn advance(&mut self) {
        self.go_to(self.step + 1);
    }
}

/// Evaluate `step`'s checks (and, when it fails, its situational feedback) in `world`.
pub fn evaluate_step(step: &Step, world: &World) -> Evaluation {
    let outcomes: Vec<Outcome> = step.checks.iter().map(|c| c.evaluate(world)).collect();
    let passed = outcomes.iter().all(|o| o.passed);
    let feedback = if passed {
        Vec::new()
    } else {
        step.feedback
            .iter()
            .filter(|f| f.when.evaluate(world).passed)
            .map(|f| f.text.clone())
            .collect()
    };
    Evaluation {
        passed,
        outcomes,
        feedback,
    }
}
