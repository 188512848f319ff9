//! Grading results and how people and machines read them: the report types (serialised
//! as `--json`, field names stable and documented in docs/GRADING.md) and the Dutch summary
//! on the terminal.
//!
//! Much of a report is the submission's own text — file names, command lines, what its
//! containers printed or wrote — so it may hold escape sequences meant for the instructor's
//! terminal (clear the screen, set the clipboard with OSC 52, retitle the window). Whatever
//! is printed goes through [`shown`]: control characters become visible escapes (`\u{1b}`),
//! losing nothing. JSON escapes them by itself.

use std::borrow::Cow;
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

/// Whether `c` must not reach a terminal as it is: a control character (C0, DEL, C1 — ESC
/// starts every terminal command) or a bidirectional control, which reorders what is shown.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `c` written as an escape: `\n`, `\r`, `\t`, or `\u{1b}`.
pub fn escaped(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

/// `s` safe to print as one line: every [`is_unsafe`] character (line breaks included)
/// written as an escape.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&escaped(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `value` as pretty JSON that is safe to print: serde_json escapes C0 control characters
/// itself; this also escapes DEL, C1 (`\u009b` is an 8-bit CSI) and the bidirectional
/// controls, as `\uXXXX` — the same string once parsed.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, TerminalSafe::default());
    value.serialize(&mut ser)?;
    // Only whole UTF-8 strings and ASCII are written.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// serde_json's pretty formatter, escaping every [`is_unsafe`] character in strings.
#[derive(Default)]
struct TerminalSafe(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// The Dutch summary for the terminal.
pub fn summary(report: &GradeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Les {}: {}",
        shown(&report.lesson),
        shown(&report.title)
    );
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
            shown(&s.submission),
            s.points,
            s.max_points
        );
        if let Some(m) = &s.message {
            let _ = writeln!(out, "  ! {}", shown(m));
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
                shown(&st.id),
                shown(&st.title)
            );
            if !st.passed {
                if !st.reached {
                    let _ = writeln!(out, "      niet bereikt: een eerdere stap is niet behaald");
                }
                for c in st.checks.iter().filter(|c| !c.passed) {
                    let _ = writeln!(out, "      {}", shown(&c.message));
                }
                for f in &st.feedback {
                    // The lesson's own text, on several lines.
                    let lines: Vec<Cow<str>> = f.trim_end().lines().map(shown).collect();
                    let _ = writeln!(out, "      → {}", lines.join("\n"));
                }
            }
        }
        for p in &s.problems {
            let _ = writeln!(out, "  · {}", shown(p));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_as_escapes_and_nothing_is_lost() {
        assert_eq!(shown("gewoon: één ✔"), "gewoon: één ✔");
        assert_eq!(
            shown("\u{1b}[2J\u{1b}]52;c;aGk=\u{7}\u{9b}1m\r\n\u{202e}"),
            "\\u{1b}[2J\\u{1b}]52;c;aGk=\\u{7}\\u{9b}1m\\r\\n\\u{202e}"
        );
    }

    #[test]
    fn json_escapes_what_a_terminal_would_obey_and_parses_back_the_same() {
        let value = serde_json::json!({ "m": "a\u{1b}[2J\u{9b}\u{7f}\u{2066}b" });
        let text = to_json(&value).expect("json");
        assert!(text.contains(r"a\u001b[2J\u009b\u007f\u2066b"), "{text}");
        assert!(!text.chars().any(is_unsafe_outside_newlines));
        let back: serde_json::Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, value);
        assert_eq!(
            text,
            serde_json::to_string_pretty(&serde_json::json!({ "m": "ab" }))
                .expect("json")
                .replace("ab", r"a\u001b[2J\u009b\u007f\u2066b")
        );
    }

    fn is_unsafe_outside_newlines(c: char) -> bool {
        c != '\n' && is_unsafe(c)
    }
}
