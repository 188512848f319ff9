//! `--live`: grading what a student did on a machine (in the REPL or by hand) from its
//! state root as it is now. A step counts if the REPL recorded it as passed in the saved
//! progress, or if its checks hold now (`commando` checks: against every docker command in
//! the journal); the report says which of the two applied.

use std::path::Path;

use anyhow::Result;

use super::report::{Basis, Check, Status, StepResult, SubmissionReport, Timing};
use crate::events::{Event, Journal};
use crate::lesson::check::{RanCommand, World};
use crate::lesson::progress::Progress;
use crate::lesson::session::evaluate_step;
use crate::lesson::Lesson;
use crate::state::StateRoot;

/// Grade `root` (with `cwd` as the student's working directory) for `lesson`.
pub fn grade_live(lesson: &Lesson, root: &StateRoot, cwd: &Path) -> Result<SubmissionReport> {
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let progress = Progress::load(root).get(&lesson.id);
    let (entries, _) = Journal::open(root).read_since(0)?;
    let commands: Vec<RanCommand> = entries
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Command {
                argv, exit_code, ..
            } => Some(RanCommand {
                args: argv,
                exit_code,
            }),
            #[allow(unreachable_patterns)]
            _ => None,
        })
        .collect();
    let world = World {
        root,
        cwd,
        commands: &commands,
    };
    let mut reached = true;
    let steps = lesson
        .steps
        .iter()
        .map(|step| {
            let eval = evaluate_step(step, &world);
            let basis = if progress.passed.contains(&step.id) {
                Some(Basis::Progress)
            } else if eval.passed {
                Some(Basis::State)
            } else {
                None
            };
            let result = StepResult {
                id: step.id.clone(),
                title: step.title.clone(),
                weight: step.weight,
                passed: basis.is_some(),
                reached,
                basis,
                checks: eval
                    .outcomes
                    .iter()
                    .map(|o| Check {
                        passed: o.passed,
                        message: o.message(),
                    })
                    .collect(),
                feedback: eval.feedback,
            };
            reached = reached && result.passed;
            result
        })
        .collect();
    Ok(SubmissionReport {
        submission: root.path().display().to_string(),
        status: Status::Graded,
        message: None,
        passed: false,
        points: 0,
        max_points: 0,
        steps,
        problems: Vec::new(),
        timing: Timing {
            started: started.format("%Y-%m-%dT%H:%M:%S").to_string(),
            seconds: (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        },
    }
    .totals())
}
