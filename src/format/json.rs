//! Docker's `json` template function: Go's `json.Encoder` with `SetEscapeHTML(false)`, compact,
//! trailing newline trimmed. Object keys keep the order of the data (Docker's struct field order).
//!
//! Docker's list rows (`ps`, `images`, `history`, ...) marshal themselves as a Go map through
//! `json.Marshal`, so `{{json .}}` of a row has sorted keys and `<`, `>`, `&` escaped:
//! [`encode_row`] writes that form.

use serde_json::Value as Json;

use super::value::Value;

/// Encodes a template value the way `docker ... --format '{{json .X}}'` prints it.
pub(crate) fn encode(value: &Value<'_>) -> String {
    let style = Style::default();
    let mut out = String::new();
    match value {
        Value::Invalid | Value::NilOf(_) => out.push_str("null"),
        Value::Json { json, .. } => write_json(&mut out, json, style),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => write_float(&mut out, *f),
        Value::Str(s) => write_string(&mut out, s, style),
        Value::StrList(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(&mut out, item, style);
            }
            out.push(']');
        }
    }
    out
}

/// `{{json .}}` of a Docker list row: sorted keys, HTML characters escaped.
pub(crate) fn encode_row(json: &Json) -> String {
    let mut out = String::new();
    let style = Style {
        sort_keys: true,
        escape_html: true,
    };
    write_json(&mut out, json, style);
    out
}

#[derive(Clone, Copy, Default)]
struct Style {
    sort_keys: bool,
    escape_html: bool,
}

fn write_json(out: &mut String, json: &Json, style: Style) {
    match json {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if n.is_f64() {
                write_float(out, n.as_f64().unwrap_or(f64::NAN));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Json::String(s) => write_string(out, s, style),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, style);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            let mut entries: Vec<_> = map.iter().collect();
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key, style);
                out.push(':');
                write_json(out, item, style);
            }
            out.push('}');
        }
    }
}

/// Go's float encoding: shortest digits, `%f` style unless the exponent is < -6 or >= 21,
/// in which case `1e-07` is written `1e-7`.
fn write_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // Go refuses to encode these; `json` would print an empty string. Keep output valid.
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("{mantissa}e{sign}{}", exp.abs()));
    } else {
        // Rust's Display for f64 is the shortest round-trip form without exponent.
        out.push_str(&format!("{f}"));
    }
}

/// A JSON string as Go writes it.
fn write_string(out: &mut String, s: &str, style: Style) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if style.escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
