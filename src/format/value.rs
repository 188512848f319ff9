//! Runtime values of the template evaluator and their Go semantics: type names, truth, `%v`.
//!
//! Docker renders templates against Go values; dokles renders them against JSON. A JSON
//! value read out of a map or slice behaves like Go's `interface{}` holding the decoded value
//! (it is "boxed" until a pipeline finishes), integers behave like Go `int`, other numbers like
//! `float64`, objects like `map[string]interface{}` and arrays like `[]interface{}`.

use serde_json::Value as Json;

use super::gofmt;

/// One value flowing through a pipeline.
#[derive(Clone, Debug)]
pub(crate) enum Value<'a> {
    /// Go's invalid `reflect.Value`: a missing map key. Prints as `<no value>`.
    Invalid,
    /// Borrowed data. `boxed` is true while the value still sits in an `interface{}`.
    Json {
        json: &'a Json,
        boxed: bool,
    },
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A Go `[]string`, as returned by `split`.
    StrList(Vec<String>),
    /// A nil slice or map field of a Docker object, which is `null` in JSON
    /// (`{{.Config.Entrypoint}}` prints `[]`, `{{.Config.Volumes}}` prints `map[]`).
    NilOf(NilKind),
}

/// The Go kind of a nil collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NilKind {
    Slice,
    Map,
}

impl<'a> Value<'a> {
    pub(crate) fn boxed(json: &'a Json) -> Self {
        Value::Json { json, boxed: true }
    }

    /// Go's "dig down one level" out of an `interface{}` at the end of a pipeline stage.
    pub(crate) fn unboxed(self) -> Self {
        match self {
            Value::Json { json, .. } => Value::Json { json, boxed: false },
            other => other,
        }
    }

    pub(crate) fn is_invalid(&self) -> bool {
        matches!(self, Value::Invalid)
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(
            self,
            Value::Json {
                json: Json::Null,
                ..
            } | Value::NilOf(_)
        )
    }

    /// The string inside, when the value is a Go string (possibly boxed).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Json {
                json: Json::String(s),
                ..
            } => Some(s),
            _ => None,
        }
    }

    /// The integer inside, when the value is a Go int (possibly boxed).
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Json {
                json: Json::Number(n),
                ..
            } => n.as_i64(),
            _ => None,
        }
    }

    /// The value as a Go `[]string`: a string list, or a JSON array holding only strings.
    pub(crate) fn as_str_list(&self) -> Option<Vec<String>> {
        match self {
            Value::StrList(items) => Some(items.clone()),
            Value::Json {
                json: Json::Array(items),
                ..
            } => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::Json {
                json: Json::Null, ..
            }
            | Value::NilOf(NilKind::Slice) => Some(Vec::new()),
            _ => None,
        }
    }

    /// Go's type name, as shown by `%T` and in error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Invalid => "<nil>",
            Value::Json { boxed: true, .. } => "interface {}",
            Value::Json { json, .. } => json_type_name(json),
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::StrList(_) | Value::NilOf(NilKind::Slice) => "[]string",
            Value::NilOf(NilKind::Map) => "map[string]string",
        }
    }

    /// The concrete type name, looking through `interface{}` (what `%T` prints).
    pub(crate) fn concrete_type_name(&self) -> &'static str {
        match self {
            Value::Json { json, .. } => json_type_name(json),
            other => other.type_name(),
        }
    }

    /// Go's `template.IsTrue`: false for zero values, empty collections and nil.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Invalid => false,
            Value::Json { json, .. } => match json {
                Json::Null => false,
                Json::Bool(b) => *b,
                Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                Json::String(s) => !s.is_empty(),
                Json::Array(a) => !a.is_empty(),
                Json::Object(o) => !o.is_empty(),
            },
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::StrList(l) => !l.is_empty(),
            Value::NilOf(_) => false,
        }
    }

    /// The basic kind used by comparison functions, or None for composite values.
    pub(crate) fn basic(&self) -> Option<Basic<'_>> {
        match self {
            Value::Invalid => None,
            Value::Json { json, .. } => match json {
                Json::Bool(b) => Some(Basic::Bool(*b)),
                Json::Number(n) => Some(number_basic(n)),
                Json::String(s) => Some(Basic::Str(s)),
                Json::Null | Json::Array(_) | Json::Object(_) => None,
            },
            Value::Bool(b) => Some(Basic::Bool(*b)),
            Value::Int(i) => Some(Basic::Int(*i)),
            Value::Float(f) => Some(Basic::Float(*f)),
            Value::Str(s) => Some(Basic::Str(s)),
            Value::StrList(_) | Value::NilOf(_) => None,
        }
    }
}

/// A comparable scalar, as Go's `basicKind` sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Basic<'v> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'v str),
}

fn number_basic(n: &serde_json::Number) -> Basic<'static> {
    match n.as_i64() {
        Some(i) => Basic::Int(i),
        None => Basic::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn json_type_name(json: &Json) -> &'static str {
    match json {
        Json::Null => "interface {}",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.as_i64().is_some() => "int",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

/// Go's `fmt.Sprint(v)` (`%v`) of a value that sits at the top of an action.
pub(crate) fn print_value(value: &Value<'_>) -> String {
    match value {
        Value::Invalid => "<no value>".to_owned(),
        other => {
            let mut out = String::new();
            write_v(&mut out, other);
            out
        }
    }
}

/// Appends Go's `%v` rendering of `value`.
pub(crate) fn write_v(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Invalid => out.push_str("<nil>"),
        Value::Json { json, .. } => write_json_v(out, json),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&gofmt::format_float_v(*f)),
        Value::Str(s) => out.push_str(s),
        Value::StrList(items) => {
            out.push('[');
            out.push_str(&items.join(" "));
            out.push(']');
        }
        Value::NilOf(NilKind::Slice) => out.push_str("[]"),
        Value::NilOf(NilKind::Map) => out.push_str("map[]"),
    }
}

/// Go's `%v` of decoded JSON: `[a b]` for arrays, `map[k:v]` with sorted keys for objects.
pub(crate) fn write_json_v(out: &mut String, json: &Json) {
    match json {
        Json::Null => out.push_str("<nil>"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => match n.as_u64() {
                Some(u) => out.push_str(&u.to_string()),
                None => out.push_str(&gofmt::format_float_v(n.as_f64().unwrap_or(f64::NAN))),
            },
        },
        Json::String(s) => out.push_str(s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_nested_v(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push_str("map[");
            for (i, (key, item)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_nested_v(out, item);
            }
            out.push(']');
        }
    }
}

/// An element inside a map or slice. Docker's nested empty objects are nearly always Go
/// `struct{}` values (`ExposedPorts`, `Volumes`), which Go prints as `{}`.
fn write_nested_v(out: &mut String, json: &Json) {
    match json {
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        other => write_json_v(out, other),
    }
}

/// Map entries in Go's printing and ranging order: keys sorted bytewise.
pub(crate) fn sorted_entries(map: &serde_json::Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}
