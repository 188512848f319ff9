//! `--junit FILE`: the report as JUnit XML in the Apache Ant form (the schema Jenkins,
//! GitLab and GitHub Classroom reporters read; fixtures/junit/JUnit.xsd): one `testsuite`
//! per submission, one `testcase` per step, a `failure` with the Dutch message for a step
//! not passed (an `error` when the submission timed out or could not be graded).

use std::fmt::Write as _;

use super::report::{escaped, is_unsafe, GradeReport, Status, SubmissionReport};

pub fn render(report: &GradeReport) -> String {
    let host = hostname();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, s) in report.submissions.iter().enumerate() {
        suite(&mut out, report, s, id, &host);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(out: &mut String, report: &GradeReport, s: &SubmissionReport, id: usize, host: &str) {
    let failures = if s.status == Status::Graded {
        s.steps.iter().filter(|st| !st.passed).count()
    } else {
        0
    };
    let errors = if s.status == Status::Graded {
        0
    } else {
        s.steps.iter().filter(|st| !st.passed).count().max(1)
    };
    let tests = s.steps.len().max(errors);
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" package=\"{}\" id=\"{id}\" timestamp=\"{}\" hostname=\"{}\" \
         tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        attr(&s.submission),
        attr(&report.lesson),
        attr(&s.timing.started),
        attr(host),
        s.timing.seconds
    );
    out.push_str("    <properties>\n");
    for (name, value) in [
        ("les", report.lesson.clone()),
        ("punten", s.points.to_string()),
        ("maximum", s.max_points.to_string()),
        ("status", status_word(s.status).to_string()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attr(&value)
        );
    }
    out.push_str("    </properties>\n");
    let error_type = match s.status {
        Status::Graded => None,
        Status::Timeout => Some("tijdslimiet overschreden"),
        Status::Error => Some("niet nagekeken"),
    };
    if s.steps.is_empty() && s.status == Status::Error {
        let message = s.message.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            "    <testcase name=\"nakijken\" classname=\"{}\" time=\"0\">\n      <error message=\"{}\" type=\"niet nagekeken\">{}</error>\n    </testcase>",
            attr(&report.lesson),
            attr(&message),
            text(&message)
        );
    }
    for (i, st) in s.steps.iter().enumerate() {
        let name = format!("stap {} {}: {}", i + 1, st.id, st.title);
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
            attr(&name),
            attr(&report.lesson)
        );
        if st.passed {
            out.push_str("/>\n");
            continue;
        }
        let mut details: Vec<String> = Vec::new();
        if !st.reached {
            details.push("niet bereikt: een eerdere stap is niet behaald".into());
        }
        details.extend(
            st.checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.message.clone()),
        );
        details.extend(st.feedback.iter().map(|f| format!("→ {}", f.trim_end())));
        let message = details
            .first()
            .cloned()
            .unwrap_or_else(|| "niet behaald".into());
        let (element, kind) = match error_type {
            Some(kind) => ("error", kind),
            None => ("failure", "niet behaald"),
        };
        let _ = write!(
            out,
            ">\n      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>\n    </testcase>\n",
            attr(&message),
            text(&details.join("\n"))
        );
    }
    let mut system_out = format!("{}: {}/{} punten", s.submission, s.points, s.max_points);
    if let Some(m) = &s.message {
        system_out.push('\n');
        system_out.push_str(m);
    }
    let _ = writeln!(out, "    <system-out>{}</system-out>", text(&system_out));
    let _ = writeln!(
        out,
        "    <system-err>{}</system-err>",
        text(&s.problems.join("\n"))
    );
    out.push_str("  </testsuite>\n");
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Graded => "nagekeken",
        Status::Timeout => "tijdslimiet overschreden",
        Status::Error => "niet nagekeken",
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Text content: XML's special characters escaped; characters XML 1.0 cannot hold (most
/// control characters, even as references) and those a terminal would obey written as
/// visible escapes (`\u{1b}`), so the file stays valid and keeps everything.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(c),
            // A parser reads a literal carriage return as a line feed.
            '\r' => out.push_str("&#13;"),
            c if is_unsafe(c) || c == '\u{fffe}' || c == '\u{ffff}' => out.push_str(&escaped(c)),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value (double-quoted); line breaks and tabs kept as character references.
fn attr(s: &str) -> String {
    text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_special_and_forbidden_characters_are_escaped_not_dropped() {
        assert_eq!(text("a < b & c > d\u{1}"), "a &lt; b &amp; c &gt; d\\u{1}");
        assert_eq!(
            text("\u{1b}[2J\u{1b}]52;c;aGk=\u{7}"),
            "\\u{1b}[2J\\u{1b}]52;c;aGk=\\u{7}"
        );
        assert_eq!(text("één\r\n"), "één&#13;\n");
        assert_eq!(attr("zei \"hoi\"\nnu"), "zei &quot;hoi&quot;&#10;nu");
    }
}
