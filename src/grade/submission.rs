//! Submissions: a student's transcript (command lines as typed in the REPL) or shell script,
//! parsed into the command lines to run, each with what is typed into it.
//!
//! * `#` comment lines and blank lines are ignored (a script's `#!` line too);
//! * a line ending in `\` continues on the next (the shell joins them);
//! * `> text` lines after a command are typed into it once it waits for input (`-it`
//!   steps): text followed by Enter, `> ^P^Q`, `> ^D`, `> ^C` as control keys
//!   (see [`crate::lesson::keys`]);
//! * in a script (`#!` first line), lines that open a compound command (`if …`, `for …`,
//!   `f() {`) are joined until `/bin/sh -n` accepts the whole.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::lesson::keys;

/// A submission to grade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Submission {
    /// How the instructor named it (the path as given).
    pub name: String,
    pub lines: Vec<Line>,
}

/// One command line of a submission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    /// 1-based line number in the file where the command starts.
    pub number: usize,
    pub text: String,
    /// What is typed into it, item by item (`Shell::run_on_pty`).
    pub input: Vec<String>,
}

impl Submission {
    /// Read and parse the file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("kan {} niet lezen", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(Self {
            name: path.display().to_string(),
            lines: parse(&text),
        })
    }
}

/// The command lines of a transcript or script.
pub fn parse(text: &str) -> Vec<Line> {
    let script = text.starts_with("#!");
    let mut lines: Vec<Line> = Vec::new();
    // A command being assembled: (its first line number, its text so far).
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if pending.is_none() {
            if let Some(input) = raw.trim_start().strip_prefix('>') {
                let item = input.strip_prefix(' ').unwrap_or(input);
                if let Some(last) = lines.last_mut() {
                    last.input.push(keys::item_from_line(item));
                }
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
        }
        let (number, mut t) = pending.take().unwrap_or((i + 1, String::new()));
        if t.is_empty() {
            t.push_str(trimmed);
        } else {
            t.push('\n');
            t.push_str(raw);
        }
        if ends_continued(&t) || (script && incomplete(&t)) {
            pending = Some((number, t));
        } else {
            lines.push(Line {
                number,
                text: t,
                input: Vec::new(),
            });
        }
    }
    if let Some((number, text)) = pending {
        lines.push(Line {
            number,
            text,
            input: Vec::new(),
        });
    }
    lines
}

/// Whether a line ends in an unescaped `\`.
fn ends_continued(t: &str) -> bool {
    let backslashes = t.chars().rev().take_while(|&c| c == '\\').count();
    backslashes % 2 == 1
}

/// Whether `/bin/sh` finds `text` cut off (an open `if`, loop, function or quote).
fn incomplete(text: &str) -> bool {
    let Ok(out) = Command::new("/bin/sh")
        .arg("-n")
        .arg("-c")
        .arg(text)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    else {
        return false;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    !out.status.success() && (err.contains("end of file") || err.contains("Unterminated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let l = parse("# dokles les 1\n\ndocker pull busybox\n   # nog een\ndocker ps -a\n");
        assert_eq!(texts(&l), ["docker pull busybox", "docker ps -a"]);
        assert_eq!(l[0].number, 3);
        assert_eq!(l[1].number, 5);
    }

    #[test]
    fn input_lines_belong_to_the_command_before_them() {
        let l = parse("docker run -it busybox sh\n> echo hoi\n> ^P^Q\ndocker ps\n> \n");
        assert_eq!(texts(&l), ["docker run -it busybox sh", "docker ps"]);
        assert_eq!(l[0].input, ["echo hoi", "\u{10}\u{11}"]);
        assert_eq!(l[1].input, ["\r"]);
    }

    #[test]
    fn backslash_continues_a_line() {
        let l = parse("docker run -d \\\n  --name web \\\n  busybox sleep 9\ndocker ps\n");
        assert_eq!(
            texts(&l),
            [
                "docker run -d \\\n  --name web \\\n  busybox sleep 9",
                "docker ps"
            ]
        );
        assert_eq!(l[0].number, 1);
    }

    #[test]
    fn a_script_keeps_compound_commands_together() {
        let l = parse("#!/bin/sh\nfor i in 1 2; do\n  docker ps\ndone\ndocker images\n");
        assert_eq!(
            texts(&l),
            ["for i in 1 2; do\n  docker ps\ndone", "docker images"]
        );
    }

    #[test]
    fn a_transcript_runs_every_line_on_its_own() {
        let l = parse("if true; then\ndocker ps\n");
        assert_eq!(texts(&l), ["if true; then", "docker ps"]);
    }
}
