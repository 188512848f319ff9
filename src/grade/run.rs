//! Grading one submission: in a fresh isolated world ([`super::isolation`]) the judge runs
//! the lesson's setup, then the submission's lines in order, non-interactively (lines
//! wanting a terminal or input run on a pty of their own, typed into from the `> ` lines).
//! After each line the current step is judged as in the REPL (`Session::poll` +
//! `evaluate`), advancing while it passes. Steps not passed are judged once more at the end.
//! A submission that outlives its time limit is stopped and reported; several are graded at
//! once with [`grade_all`].

use std::time::{Duration, Instant};

use anyhow::Result;

use super::isolation::{Inside, Limits};
use super::report::{Check, Status, StepResult, SubmissionReport, Timing};
use super::submission::Submission;
use crate::lesson::check::World;
use crate::lesson::replay::{self, wants_tty};
use crate::lesson::session::{evaluate_step, Evaluation, Session};
use crate::lesson::shell::{Ran, Shell};
use crate::lesson::Lesson;

/// How submissions are graded.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Time limit per submission (setup and all its lines).
    pub timeout: Duration,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            limits: Limits::default(),
        }
    }
}

/// Grade `submissions` with up to `parallel` at once; reports in the submissions' order.
/// `done` hears of each report as it is ready.
pub fn grade_all(
    lesson: &Lesson,
    submissions: &[Submission],
    opts: &Options,
    parallel: usize,
    done: &(dyn Fn(&SubmissionReport) + Sync),
) -> Vec<SubmissionReport> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SubmissionReport>>> = Mutex::new(vec![None; submissions.len()]);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, submissions.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(sub) = submissions.get(i) else {
                    return;
                };
                let report = grade(lesson, sub, opts);
                done(&report);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(report);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .zip(submissions)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                SubmissionReport::error(&s.name, "intern: geen resultaat".into(), timing_now())
            })
        })
        .collect()
}

/// Grade one submission in a world of its own.
pub fn grade(lesson: &Lesson, sub: &Submission, opts: &Options) -> SubmissionReport {
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let timing = Timing {
        started: started.format("%Y-%m-%dT%H:%M:%S").to_string(),
        seconds: 0.0,
    };
    let mut report = match super::world::grade(lesson, sub, opts.limits, opts.timeout) {
        Ok(r) => r,
        Err(e) => SubmissionReport::error(&sub.name, format!("{e:#}"), timing.clone()),
    };
    report.timing = Timing {
        seconds: (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        ..timing
    };
    report
}

/// Inside the world: run the lesson's setup and `sub`'s lines, judging the steps as they
/// go (the judge's side of [`grade`]).
pub fn judge(
    lesson: &Lesson,
    sub: &Submission,
    timeout: Duration,
    world: &Inside,
) -> Result<SubmissionReport> {
    let deadline = Instant::now() + timeout;
    let sandbox = world.sandbox();
    let shell = world.shell()?;
    replay::setup(lesson, &shell, deadline)?;
    let mut session = Session::new(lesson, sandbox.root(), &sandbox.work(), 0)?;
    let mut passed_as: Vec<Option<Evaluation>> = vec![None; lesson.steps.len()];
    let mut problems = Vec::new();
    let mut timed_out = false;
    for line in &sub.lines {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        match run_line(&shell, &line.text, &line.input, left) {
            Ok(ran) if ran.timed_out => {
                timed_out = true;
                problems.push(format!(
                    "regel {}: `{}` was niet op tijd klaar en is gestopt",
                    line.number,
                    first_line(&line.text)
                ));
            }
            Ok(ran) if ran.exit_code != 0 => problems.push(format!(
                "regel {}: `{}` eindigde met exitcode {}",
                line.number,
                first_line(&line.text),
                ran.exit_code
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "regel {}: `{}` kon niet draaien: {e:#}",
                line.number,
                first_line(&line.text)
            )),
        }
        world.stop_leftovers();
        if let Err(e) = session.poll() {
            problems.push(format!("regel {}: het journaal: {e:#}", line.number));
        }
        while let Some(eval) = session.evaluate() {
            if !eval.passed {
                break;
            }
            passed_as[session.index()] = Some(eval);
            session.advance();
        }
        if timed_out {
            break;
        }
    }
    let _ = session.poll();
    let current = session.index();
    let steps = lesson
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let (passed, eval) = match &passed_as[i] {
                Some(eval) => (true, eval.clone()),
                None => {
                    let no_commands = [];
                    let world = World {
                        root: sandbox.root(),
                        cwd: &sandbox.work(),
                        commands: if i == current {
                            session.commands()
                        } else {
                            &no_commands
                        },
                    };
                    (false, evaluate_step(step, &world))
                }
            };
            StepResult {
                id: step.id.clone(),
                title: step.title.clone(),
                weight: step.weight,
                passed,
                reached: i <= current,
                basis: None,
                checks: eval
                    .outcomes
                    .iter()
                    .map(|o| Check {
                        passed: o.passed,
                        message: unplace(&o.message(), world),
                    })
                    .collect(),
                feedback: eval.feedback,
            }
        })
        .collect();
    let (status, message) = if timed_out {
        (
            Status::Timeout,
            Some(format!(
                "tijdslimiet overschreden: de inzending was na {} seconden niet klaar en is gestopt",
                timeout.as_secs()
            )),
        )
    } else {
        (Status::Graded, None)
    };
    Ok(SubmissionReport {
        submission: sub.name.clone(),
        status,
        message,
        passed: false,
        points: 0,
        max_points: 0,
        steps,
        problems,
        timing: timing_now(),
    }
    .totals())
}

fn run_line(shell: &Shell, line: &str, input: &[String], timeout: Duration) -> Result<Ran> {
    if wants_tty(line) || !input.is_empty() {
        shell.run_on_pty(line, input, timeout)
    } else {
        shell.run_quiet(line, timeout)
    }
}

/// A message without the sandbox's own (random) paths, so two gradings read the same.
fn unplace(message: &str, world: &Inside) -> String {
    let sandbox = world.sandbox();
    message
        .replace(&sandbox.work().display().to_string(), "de werkmap")
        .replace(
            &sandbox.root().path().display().to_string(),
            "de toestandsmap",
        )
        .replace(&world.base().display().to_string(), "de inzendingsmap")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn timing_now() -> Timing {
    Timing {
        started: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        seconds: 0.0,
    }
}
