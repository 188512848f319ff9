//! Grading results and how people and machines read them: the report types (serialised
//! as `--json`, field names stable and documented in docs/GRADING.md) and the Dutch summary
//! on the terminal.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Everything one `dokles nakijken` run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeReport {
    /// The lesson's id (`eerste-container`).
    pub lesson: String,
    pub title: String,
    pub submissions: Vec<SubmissionReport>,
}

impl GradeReport {
    /// Whether every submission passed every step (the exit code).
    pub fn all_passed(&self) -> bool {
        self.submissions.iter().all(|s| s.passed)
    }
}

/// How grading a submission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every line ran (or failed on its own); the steps were judged.
    Graded,
    /// The per-submission time limit ran out; steps judged as far as they got.
    Timeout,
    /// The submission could not be graded (unreadable, the lesson's setup failed, …).
    Error,
}

/// Why a step counts in `--live` grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The REPL recorded the step as passed in the saved progress.
    Progress,
    /// The step's checks hold now.
    State,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionReport {
    /// The submission as named on the command line (`--live`: the state root).
    pub submission: String,
    pub status: Status,
    /// Dutch: why the status is not `graded` (`tijdslimiet overschreden …`).
    #[serde(default)]
    pub message: Option<String>,
    /// Whether every step passed (and the status is `graded`).
    pub passed: bool,
    /// Sum of the weights (`gewicht`) of the passed steps.
    pub points: u32,
    /// Sum of all steps' weights.
    pub max_points: u32,
    pub steps: Vec<StepResult>,
    /// Dutch: lines that could not run (`regel 4: …`), in order.
    #[serde(default)]
    pub problems: Vec<String>,
    /// When and how long: the only fields that differ between two gradings.
    pub timing: Timing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// UTC, `2026-11-23T17:01:02` (JUnit's timestamp form).
    pub started: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    pub id: String,
    pub title: String,
    pub weight: u32,
    pub passed: bool,
    /// Whether the student got to this step (every step before it passed).
    pub reached: bool,
    /// `--live` only: why a passed step counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    /// Each check with its Dutch message (`ok: …` or `verwacht: …; gevonden: …`); for a
    /// passed step as it held when it passed, otherwise from the final evaluation.
    pub checks: Vec<Check>,
    /// Situational feedback that applied (failed steps).
    #[serde(default)]
    pub feedback: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub passed: bool,
    pub message: String,
}

impl SubmissionReport {
    /// A submission that could not be graded at all.
    pub fn error(submission: &str, message: String, timing: Timing) -> Self {
        Self {
            submission: submission.to_string(),
            status: Status::Error,
            message: Some(message),
            passed: false,
            points: 0,
            max_points: 0,
            steps: Vec::new(),
            problems: Vec::new(),
            timing,
        }
    }

    /// Fill in `passed`, `points` and `max_points` from the steps.
    pub fn totals(mut self) -> Self {
        self.max_points = self.steps.iter().map(|s| s.weight).sum();
        self.points = self
            .steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.weight)
            .sum();
        self.passed = self.status == Status::Graded && self.steps.iter().all(|s| s.passed);
        self
    }
}

/// The Dutch summary for the terminal.
pub fn summary(report: &GradeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Les {}: {}", report.lesson, report.title);
    for s in &report.submissions {
        let _ = writeln!(out);
        let verdict = match s.status {
            Status::Error => "niet nagekeken".to_string(),
            _ if s.passed => "alles behaald".to_string(),
            _ => format!(
                "{} van {} stappen behaald",
                s.steps.iter().filter(|st| st.passed).count(),
                s.steps.len()
            ),
        };
        let _ = writeln!(
            out,
            "{}: {}/{} punten — {verdict}",
            s.submission, s.points, s.max_points
        );
        if let Some(m) = &s.message {
            let _ = writeln!(out, "  ! {m}");
        }
        for (i, st) in s.steps.iter().enumerate() {
            let mark = if st.passed { "✔" } else { "✘" };
            let state = if st.passed { "behaald" } else { "niet behaald" };
            let basis = match st.basis {
                Some(Basis::Progress) => " (volgens de bewaarde voortgang)",
                Some(Basis::State) => " (de controles kloppen nu)",
                None => "",
            };
            let weight = if st.weight == 1 {
                String::new()
            } else {
                format!(" [gewicht {}]", st.weight)
            };
            let _ = writeln!(
                out,
                "  {mark} stap {} {} ({}){weight}: {state}{basis}",
                i + 1,
                st.id,
                st.title
            );
            if !st.passed {
                if !st.reached {
                    let _ = writeln!(out, "      niet bereikt: een eerdere stap is niet behaald");
                }
                for c in st.checks.iter().filter(|c| !c.passed) {
                    let _ = writeln!(out, "      {}", c.message);
                }
                for f in &st.feedback {
                    let _ = writeln!(out, "      → {}", f.trim_end());
                }
            }
        }
        for p in &s.problems {
            let _ = writeln!(out, "  · {p}");
        }
    }
    let passed = report.submissions.iter().filter(|s| s.passed).count();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{passed} van {} inzendingen helemaal goed.",
        report.submissions.len()
    );
    out
}
