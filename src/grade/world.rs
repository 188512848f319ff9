//! The jobs a grading world runs, and how their results travel back: grading one
//! submission (`dokles nakijken`) or replaying a lesson as the scripted student (`dokles les
//! --test`). The grader sends a [`Job`] into [`isolation`](super::isolation); the judge in
//! there runs it and answers with [`Message`]s.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::isolation::{self, Inside, Limits, Outbox};
use super::report::SubmissionReport;
use super::run::judge;
use super::submission::Submission;
use crate::lesson::format::LessonSource;
use crate::lesson::replay::{self, LessonReport, StepReport};
use crate::lesson::Lesson;

/// How long the grader gives a judge past the submission's time limit (the final
/// evaluation) before it counts the world as hung.
const GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Job {
    Grade {
        lesson: LessonSource,
        submission: Submission,
        timeout_ms: u64,
    },
    Replay {
        lesson: LessonSource,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    Graded(Box<SubmissionReport>),
    Step(StepReport),
    Replayed(LessonReport),
}

/// Grade `sub` in a world of its own: its report, or why there is none (Dutch).
pub fn grade(
    lesson: &Lesson,
    sub: &Submission,
    limits: Limits,
    timeout: Duration,
) -> Result<SubmissionReport> {
    let job = Job::Grade {
        lesson: lesson.source.clone(),
        submission: sub.clone(),
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let mut report = None;
    isolation::run(
        limits,
        &job,
        Some(Instant::now() + timeout + GRACE),
        |m: Message| {
            if let Message::Graded(r) = m {
                report = Some(*r);
            }
        },
    )?;
    report.context("de beoordelaar gaf geen rapport")
}

/// Replay `lesson`'s examples in a world of its own (`dokles les --test`); `progress` hears
/// of each step as it finishes.
pub fn replay(lesson: &Lesson, mut progress: impl FnMut(&StepReport)) -> Result<LessonReport> {
    let job = Job::Replay {
        lesson: lesson.source.clone(),
    };
    let mut report = None;
    isolation::run(Limits::default(), &job, None, |m: Message| match m {
        Message::Step(s) => progress(&s),
        Message::Replayed(r) => report = Some(r),
        Message::Graded(_) => {}
    })?;
    report.context("de geautomatiseerde student gaf geen rapport")
}

/// `dokles __nakijken-wereld`: make the world and run the job sent on stdin.
pub fn main() -> u8 {
    isolation::helper_main(run_job)
}

fn run_job(job: serde_json::Value, inside: &Inside, out: &mut Outbox) -> Result<()> {
    let job: Job = serde_json::from_value(job).context("an unreadable job")?;
    match job {
        Job::Grade {
            lesson,
            submission,
            timeout_ms,
        } => {
            let lesson = lesson.parse()?;
            let timeout = Duration::from_millis(timeout_ms);
            let report = judge(&lesson, &submission, timeout, inside)?;
            out.send(&Message::Graded(Box::new(report)));
        }
        Job::Replay { lesson } => {
            let lesson = lesson.parse()?;
            let shell = inside.shell()?;
            let report = replay::replay(&lesson, inside.sandbox().root(), &shell, |s| {
                out.send(&Message::Step(s.clone()))
            })?;
            out.send(&Message::Replayed(report));
        }
    }
    Ok(())
}
