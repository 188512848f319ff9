//! Rendering lists and objects the way Docker's CLI does: list commands through
//! [`crate::format::render_list`] (a `table` format gets a header row and aligned columns),
//! `inspect` as indented JSON or one `-f` line per object, each with Docker's error prefixes
//! and exit codes for bad templates.

use std::io::Write;

use serde_json::Value;

use super::inspect_view::{typed_json, typed_view};
use super::CliError;
use crate::format::{FormatError, ObjectStyle, RenderOptions, Template};

/// How a list command words template errors (Docker differs per command).
#[derive(Debug, Clone, Copy)]
pub struct ListKind {
    pub row_type: &'static str,
    pub parse_prefix: &'static str,
    pub exec_prefix: &'static str,
}

pub const IMAGES: ListKind = ListKind {
    row_type: crate::format::row_type::IMAGE,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

pub const HISTORY: ListKind = ListKind {
    row_type: crate::format::row_type::HISTORY,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

pub const CONTAINERS: ListKind = ListKind {
    row_type: crate::format::row_type::CONTAINER,
    parse_prefix: "failed to parse template: ",
    exec_prefix: "failed to execute template: ",
};

pub const STATS: ListKind = ListKind {
    row_type: crate::format::row_type::CONTAINER,
    parse_prefix: "template parsing error: ",
    exec_prefix: "template parsing error: ",
};

fn io_error(e: std::io::Error) -> CliError {
    CliError::plain(format!("cannot write output: {e}"))
}

/// Render `rows` with the user's `format`; `headers` maps field names to column titles.
pub fn render_list(
    kind: ListKind,
    format: &str,
    headers: &Value,
    rows: &[Value],
) -> Result<(), CliError> {
    let text = crate::format::render_list(format, kind.row_type, headers, rows).map_err(|e| {
        let prefix = match e {
            FormatError::Parse { .. } => kind.parse_prefix,
            _ => kind.exec_prefix,
        };
        CliError::plain(format!("{prefix}{e}"))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes()).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// `inspect` output: a JSON array indented like Go's `json.MarshalIndent(v, "", "    ")`
/// (also for an empty `-f`), the array on one line for `-f json`, or one rendered line per
/// object with any other `-f` (parsed as typed, as Docker does).
///
/// Like docker/cli, a `-f` template runs first on the *typed* view of an object (the Go
/// struct the client decodes: field `ID` rather than `Id`, the image config without empty
/// fields, times as Go prints `time.Time`), and only if that fails on the raw JSON, whose maps
/// `json` prints with sorted keys.
pub fn render_inspect(format: Option<&str>, objects: &[Value]) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        None | Some("") => {
            let text = go_indent_json(&Value::Array(objects.to_vec()));
            writeln!(out, "{text}").map_err(io_error)?;
        }
        // The daemon's JSON as it came, on one line (the 28 client's `-f json`).
        Some("json") => {
            let text = Value::Array(objects.to_vec()).to_string();
            writeln!(out, "{text}").map_err(io_error)?;
        }
        Some(f) => {
            let t = Template::parse(f).map_err(|e| CliError::Message {
                text: format!("template parsing error: {e}"),
                code: 64,
            })?;
            let options = RenderOptions::inspect();
            let raw_options = RenderOptions {
                objects: ObjectStyle::RawJson,
                ..options
            };
            for o in objects {
                let rendered = t
                    .render_typed(&typed_view(o), &typed_json(o), &options)
                    // The raw JSON is Go's `map[string]interface{}`: objects print as maps
                    // and a null as `<no value>`.
                    .or_else(|_| t.render_with(&sorted(o), &raw_options));
                match rendered {
                    Ok(line) => writeln!(out, "{line}").map_err(io_error)?,
                    Err(e) => {
                        writeln!(out).map_err(io_error)?;
                        return Err(CliError::plain(format!("template parsing error: {e}")));
                    }
                }
            }
        }
    }
    out.flush().map_err(io_error)
}

/// Raw JSON decoded into Go maps: keys sorted at every level.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
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
