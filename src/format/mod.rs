//! Go `text/template` rendering with Docker's template functions, for `--format` and `inspect -f`.
//! (Interim: only `{{.Field}}` and `{{json .X}}` until the full engine lands from the `format` branch.)

use std::io::Write;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(String);

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(Vec<String>, bool),
}

#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, FormatError> {
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(i) = rest.find("{{") {
            parts.push(Part::Text(rest[..i].to_string()));
            let end = rest[i..]
                .find("}}")
                .ok_or_else(|| FormatError("template: :1: unclosed action".into()))?;
            let action = rest[i + 2..i + end].trim();
            let (json, path) = match action.strip_prefix("json ") {
                Some(p) => (true, p.trim()),
                None => (false, action),
            };
            parts.push(Part::Field(
                path.trim_start_matches('.')
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                json,
            ));
            rest = &rest[i + end + 2..];
        }
        parts.push(Part::Text(rest.to_string()));
        Ok(Template { parts })
    }

    pub fn render(&self, data: &Value) -> Result<String, FormatError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(path, json) => {
                    let mut v = data;
                    for k in path {
                        v = v.get(k).unwrap_or(&Value::Null);
                    }
                    if *json {
                        out.push_str(&v.to_string())
                    } else {
                        match v {
                            Value::String(s) => out.push_str(s),
                            other => out.push_str(&other.to_string()),
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

pub fn strip_table(format: &str) -> Option<&str> {
    format.strip_prefix("table")
}

/// Go's text/tabwriter with Docker's settings (minwidth 10, tabwidth 1, padding 3, spaces).
pub struct TabWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> TabWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::new(),
        }
    }
    pub fn flush(&mut self) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        let cols = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut widths = vec![0; cols];
        for l in &lines {
            for (i, c) in l.iter().enumerate() {
                if i + 1 < l.len() {
                    widths[i] = widths[i].max(c.chars().count() + 3).max(10);
                }
            }
        }
        for l in &lines {
            let mut s = String::new();
            for (i, c) in l.iter().enumerate() {
                if i + 1 < l.len() {
                    s.push_str(&format!("{:<w$}", c, w = widths[i]));
                } else {
                    s.push_str(c);
                }
            }
            writeln!(self.out, "{s}")?;
        }
        self.buf.clear();
        self.out.flush()
    }
}

impl<W: Write> Write for TabWriter<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        TabWriter::flush(self)
    }
}
