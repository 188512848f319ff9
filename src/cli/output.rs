//! Rendering lists and objects the way Docker's CLI does: `table` formats through a
//! tabwriter with a header row, plain formats one line per object, `\t`/`\n` typed literally
//! in a format string taken as tab/newline.

use std::io::Write;

use serde_json::Value;

use super::CliError;
use crate::format::{strip_table, TabWriter, Template};

fn parse(format: &str) -> Result<Template, CliError> {
    Template::parse(format).map_err(|e| CliError::Message {
        text: e.to_string(),
        code: 1,
    })
}

fn render(t: &Template, v: &Value) -> Result<String, CliError> {
    t.render(v).map_err(|e| CliError::plain(e.to_string()))
}

/// Docker's `preFormat`: strip `table`, trim spaces, turn literal `\t` and `\n` into tab and
/// newline.
fn pre_format(format: &str) -> (bool, String) {
    let (table, body) = match strip_table(format) {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    (table, body)
}

/// Render `rows` with `format`; for `table` formats the header row comes from rendering the
/// same template over `headers` (field name → column title), as Docker does.
pub fn render_list(format: &str, headers: &Value, rows: &[Value]) -> Result<(), CliError> {
    let (table, body) = pre_format(format);
    let t = parse(&body)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| CliError::plain(format!("cannot write output: {e}"));
    if table {
        let mut tw = TabWriter::new(&mut out);
        writeln!(tw, "{}", render(&t, headers)?).map_err(io)?;
        for r in rows {
            writeln!(tw, "{}", render(&t, r)?).map_err(io)?;
        }
        tw.flush().map_err(io)?;
    } else {
        for r in rows {
            writeln!(out, "{}", render(&t, r)?).map_err(io)?;
        }
    }
    Ok(())
}

/// `inspect` output: a JSON array indented like Go's `json.MarshalIndent(v, "", "    ")`,
/// or one rendered line per object with `-f`.
pub fn render_inspect(format: Option<&str>, objects: &[Value]) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| CliError::plain(format!("cannot write output: {e}"));
    match format {
        None => {
            let text = go_indent_json(&Value::Array(objects.to_vec()));
            writeln!(out, "{text}").map_err(io)?;
        }
        Some(f) => {
            let (_, body) = pre_format(f);
            let t = parse(&body)?;
            for o in objects {
                writeln!(out, "{}", render(&t, o)?).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Go's `json.MarshalIndent` with four spaces (and no HTML escaping, as Docker's CLI).
pub fn go_indent_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    match serde::Serialize::serialize(v, &mut ser) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        Err(_) => v.to_string(),
    }
}
