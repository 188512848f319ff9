//! The functions a template can call: Go's builtins and Docker's `basicFunctions`
//! (docker/cli `templates/templates.go`), plus Docker's `HeaderFunctions` used for table headers.

use serde_json::Value as Json;

use super::gofmt;
use super::json;
use super::value::{sorted_entries, Basic, NilKind, Value};

/// The Go parameter type of a function argument; it decides how arguments are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}` or `reflect.Value`: anything.
    Any,
    Str,
    Int,
    /// `[]string`
    StrList,
}

impl Param {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Str => "string",
            Param::Int => "int",
            Param::StrList => "[]string",
        }
    }
}

/// Which function table is in effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FunctionSet {
    /// Docker's `basicFunctions` on top of Go's builtins: what `--format` rows use.
    #[default]
    Docker,
    /// Docker's `HeaderFunctions`: string functions return their input unchanged, so a table
    /// header rendered from a map of column titles stays intact.
    Header,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Html,
    Js,
    UrlQuery,
    Json,
    Split,
    Join,
    Title,
    Lower,
    Upper,
    Pad,
    Truncate,
}

/// Looks up a function by the name a template uses.
pub(crate) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "and" => Func::And,
        "or" => Func::Or,
        "not" => Func::Not,
        "len" => Func::Len,
        "index" => Func::Index,
        "slice" => Func::Slice,
        "print" => Func::Print,
        "printf" => Func::Printf,
        "println" => Func::Println,
        "eq" => Func::Eq,
        "ne" => Func::Ne,
        "lt" => Func::Lt,
        "le" => Func::Le,
        "gt" => Func::Gt,
        "ge" => Func::Ge,
        "html" => Func::Html,
        "js" => Func::Js,
        "urlquery" => Func::UrlQuery,
        "json" => Func::Json,
        "split" => Func::Split,
        "join" => Func::Join,
        "title" => Func::Title,
        "lower" => Func::Lower,
        "upper" => Func::Upper,
        "pad" => Func::Pad,
        "truncate" => Func::Truncate,
        _ => return None,
    })
}

/// Fixed parameters and the element type of a variadic tail, as the Go signature declares.
pub(crate) struct Signature {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

const fn sig(fixed: &'static [Param], variadic: Option<Param>) -> Signature {
    Signature { fixed, variadic }
}

use Param::{Any, Int, Str, StrList};

pub(crate) fn signature(func: Func, set: FunctionSet) -> Signature {
    let header = set == FunctionSet::Header;
    match func {
        Func::And | Func::Or | Func::Index | Func::Slice | Func::Eq => sig(&[Any], Some(Any)),
        Func::Not | Func::Len => sig(&[Any], None),
        Func::Print | Func::Println | Func::Html | Func::Js | Func::UrlQuery => sig(&[], Some(Any)),
        Func::Printf => sig(&[Str], Some(Any)),
        Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => sig(&[Any, Any], None),
        Func::Json if header => sig(&[Str], None),
        Func::Json => sig(&[Any], None),
        Func::Split => sig(&[Str, Str], None),
        Func::Join if header => sig(&[Str, Str], None),
        Func::Join => sig(&[StrList, Str], None),
        Func::Title | Func::Lower | Func::Upper => sig(&[Str], None),
        Func::Pad => sig(&[Str, Int, Int], None),
        Func::Truncate => sig(&[Str, Int], None),
    }
}

/// Calls a function on arguments the executor checked against its [`signature`]. `Err` is the
/// text after "error calling NAME: ".
pub(crate) fn call<'a>(
    func: Func,
    set: FunctionSet,
    args: Vec<Value<'a>>,
) -> Result<Value<'a>, String> {
    let header = set == FunctionSet::Header;
    let str_arg = |i: usize| {
        args.get(i)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let int_arg = |i: usize| args.get(i).and_then(Value::as_int).unwrap_or_default();
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Invalid);
    let rest = args.get(1..).unwrap_or_default();
    Ok(match func {
        // The executor short-circuits these; on evaluated arguments the result is the same.
        Func::And => args
            .iter()
            .find(|v| !v.truth())
            .cloned()
            .unwrap_or_else(|| args.last().cloned().unwrap_or(Value::Invalid)),
        Func::Or => args
            .iter()
            .find(|v| v.truth())
            .cloned()
            .unwrap_or_else(|| args.last().cloned().unwrap_or(Value::Invalid)),
        Func::Not => Value::Bool(!arg(0).truth()),
        Func::Len => Value::Int(length(&arg(0))?),
        Func::Index => index(arg(0), rest)?,
        Func::Slice => slice(arg(0), rest)?,
        Func::Print => Value::Str(gofmt::sprint(&args)),
        Func::Println => Value::Str(gofmt::sprintln(&args)),
        Func::Printf => Value::Str(gofmt::sprintf(&str_arg(0), rest)),
        Func::Eq => Value::Bool(eq(&arg(0), rest)?),
        Func::Ne => Value::Bool(!eq(&arg(0), rest)?),
        Func::Lt => Value::Bool(lt(&arg(0), &arg(1))?),
        Func::Le => Value::Bool(lt(&arg(0), &arg(1))? || eq(&arg(0), rest)?),
        Func::Gt => Value::Bool(!(lt(&arg(0), &arg(1))? || eq(&arg(0), rest)?)),
        Func::Ge => Value::Bool(!lt(&arg(0), &arg(1))?),
        Func::Html => Value::Str(gofmt::html_escape(&eval_args(&args))),
        Func::Js => Value::Str(gofmt::js_escape(&eval_args(&args))),
        Func::UrlQuery => Value::Str(gofmt::query_escape(&eval_args(&args))),
        Func::Json
        | Func::Split
        | Func::Join
        | Func::Title
        | Func::Lower
        | Func::Upper
        | Func::Truncate
            if header =>
        {
            Value::Str(str_arg(0))
        }
        Func::Json => Value::Str(json::encode(&arg(0))),
        Func::Split => Value::StrList(split(&str_arg(0), &str_arg(1))),
        Func::Join => {
            let items = arg(0).as_str_list().unwrap_or_default();
            Value::Str(items.join(&str_arg(1)))
        }
        Func::Title => Value::Str(title(&str_arg(0))),
        Func::Lower => Value::Str(map_runes(&str_arg(0), char::to_lowercase)),
        Func::Upper => Value::Str(map_runes(&str_arg(0), char::to_uppercase)),
        Func::Pad => Value::Str(pad(&str_arg(0), int_arg(1), int_arg(2))?),
        Func::Truncate => Value::Str(truncate(&str_arg(0), int_arg(1))?),
    })
}

/// `html`, `js` and `urlquery` take a lone string as is, anything else through `fmt.Sprint`.
fn eval_args(args: &[Value<'_>]) -> String {
    match args {
        [one] if one.as_str().is_some() => one.as_str().unwrap_or_default().to_owned(),
        _ => gofmt::sprint(args),
    }
}

fn length(item: &Value<'_>) -> Result<i64, String> {
    let len = match item {
        Value::Invalid => return Err("len of nil pointer".to_owned()),
        Value::Str(s) => s.len(),
        Value::StrList(l) => l.len(),
        Value::NilOf(_) => 0,
        Value::Json { json, .. } => match json {
            Json::Null => return Err("len of nil pointer".to_owned()),
            Json::String(s) => s.len(),
            Json::Array(a) => a.len(),
            Json::Object(o) => o.len(),
            _ => return Err(format!("len of type {}", item.concrete_type_name())),
        },
        other => return Err(format!("len of type {}", other.concrete_type_name())),
    };
    Ok(len as i64)
}

fn index_arg(index: &Value<'_>, len: usize, what: &str) -> Result<usize, String> {
    let Some(i) = index.as_int() else {
        if index.is_invalid() || index.is_nil() {
            return Err(format!("cannot index {what} with nil"));
        }
        return Err(format!(
            "cannot index {what} with type {}",
            index.concrete_type_name()
        ));
    };
    if i < 0 || i as usize >= len {
        return Err(format!("index out of range: {i}"));
    }
    Ok(i as usize)
}

/// Go's `index`: `index .Map "key"`, `index .List 0`, several indexes walk nested values.
fn index<'a>(item: Value<'a>, indexes: &[Value<'a>]) -> Result<Value<'a>, String> {
    let mut item = item;
    if item.is_invalid() {
        return Err("index of untyped nil".to_owned());
    }
    for index in indexes {
        item = match item {
            Value::Json { json, .. } => match json {
                Json::Array(items) => {
                    Value::boxed(&items[index_arg(index, items.len(), "slice/array")?])
                }
                Json::String(s) => Value::Int(i64::from(
                    s.as_bytes()[index_arg(index, s.len(), "slice/array")?],
                )),
                Json::Object(map) => {
                    let Some(key) = index.as_str() else {
                        return Err(format!(
                            "value has type {}; should be string",
                            index.concrete_type_name()
                        ));
                    };
                    match map.get(key) {
                        Some(found) => Value::boxed(found),
                        // The zero value of the map's element type: "" for a string map.
                        None if !map.is_empty() && map.values().all(Json::is_string) => {
                            Value::Str(String::new())
                        }
                        None => Value::Invalid,
                    }
                }
                // A nil map (e.g. `"Labels": null`) indexes like an empty map[string]string.
                Json::Null if index.as_str().is_some() => Value::Str(String::new()),
                Json::Null => return Err("index of nil pointer".to_owned()),
                other => {
                    return Err(format!(
                        "can't index item of type {}",
                        Value::Json {
                            json: other,
                            boxed: false
                        }
                        .concrete_type_name()
                    ))
                }
            },
            Value::StrList(items) => {
                let i = index_arg(index, items.len(), "slice/array")?;
                Value::Str(items[i].clone())
            }
            Value::Str(s) => {
                let i = index_arg(index, s.len(), "slice/array")?;
                Value::Int(i64::from(s.as_bytes()[i]))
            }
            Value::NilOf(NilKind::Map) if index.as_str().is_some() => Value::Str(String::new()),
            // Docker's typed lookup fails and its raw fallback sees an untyped nil.
            Value::NilOf(NilKind::Slice) => return Err("index of untyped nil".to_owned()),
            Value::Invalid => return Err("index of nil pointer".to_owned()),
            other => {
                return Err(format!(
                    "can't index item of type {}",
                    other.concrete_type_name()
                ))
            }
        };
    }
    Ok(item)
}

/// Go's `slice`: `slice .S 1 3` on strings and string lists.
fn slice<'a>(item: Value<'a>, indexes: &[Value<'a>]) -> Result<Value<'a>, String> {
    if item.is_invalid() || item.is_nil() {
        return Err("slice of untyped nil".to_owned());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let (len, is_string) = match (&item.as_str(), item.as_str_list()) {
        (Some(s), _) => (s.len(), true),
        (None, Some(l)) => (l.len(), false),
        _ => {
            return Err(format!(
                "can't slice item of type {}",
                item.concrete_type_name()
            ))
        }
    };
    if is_string && indexes.len() == 3 {
        return Err("cannot 3-index slice a string".to_owned());
    }
    let mut bounds = [0, len];
    for (i, index) in indexes.iter().take(2).enumerate() {
        let Some(x) = index.as_int() else {
            return Err(format!(
                "cannot index slice/array with type {}",
                index.concrete_type_name()
            ));
        };
        if x < 0 || x as usize > len {
            return Err(format!("index out of range: {x}"));
        }
        bounds[i] = x as usize;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    match (item.as_str(), item.as_str_list()) {
        (Some(s), _) => s
            .get(bounds[0]..bounds[1])
            .map(|sub| Value::Str(sub.to_owned()))
            .ok_or_else(|| "slice splits a UTF-8 character".to_owned()),
        (None, Some(list)) => Ok(Value::StrList(list[bounds[0]..bounds[1]].to_vec())),
        _ => Err(format!(
            "can't slice item of type {}",
            item.concrete_type_name()
        )),
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn is_nilish(v: &Value<'_>) -> bool {
    v.is_invalid() || v.is_nil()
}

/// Go's `eq arg1 arg2...`: true when arg1 equals any of the others.
fn eq(first: &Value<'_>, others: &[Value<'_>]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".to_owned());
    }
    for other in others {
        let equal = match (first.basic(), other.basic()) {
            (Some(a), Some(b)) => match (a, b) {
                (Basic::Bool(x), Basic::Bool(y)) => x == y,
                (Basic::Int(x), Basic::Int(y)) => x == y,
                (Basic::Float(x), Basic::Float(y)) => x == y,
                (Basic::Str(x), Basic::Str(y)) => x == y,
                _ => return Err(BAD_COMPARISON.to_owned()),
            },
            _ if is_nilish(first) || is_nilish(other) => is_nilish(first) && is_nilish(other),
            (None, None) => {
                let (t1, t2) = (first.concrete_type_name(), other.concrete_type_name());
                let (v1, v2) = (
                    gofmt::sprint(std::slice::from_ref(first)),
                    gofmt::sprint(std::slice::from_ref(other)),
                );
                return Err(if t1 == t2 {
                    format!("non-comparable type {v2}: {t2}")
                } else {
                    format!("non-comparable types {v1}: {t1}, {t2}: {v2}")
                });
            }
            _ => return Err(BAD_COMPARISON.to_owned()),
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value<'_>, b: &Value<'_>) -> Result<bool, String> {
    let (Some(x), Some(y)) = (a.basic(), b.basic()) else {
        return Err(BAD_COMPARISON_TYPE.to_owned());
    };
    match (x, y) {
        (Basic::Int(x), Basic::Int(y)) => Ok(x < y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x < y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x < y),
        (Basic::Bool(_), Basic::Bool(_)) => Err(BAD_COMPARISON_TYPE.to_owned()),
        _ => Err(BAD_COMPARISON.to_owned()),
    }
}

/// Go's `strings.Split`: an empty separator splits into UTF-8 characters.
fn split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}

/// Go's (deprecated) `strings.Title`: upper-cases the first letter of every word.
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_separator(prev) {
            out.push(single_rune(c, c.to_uppercase()));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go's `unicode.ToUpper`/`ToLower` map one rune to one rune: a character whose full case
/// mapping has several (`ß` → `SS`) keeps its simple mapping or stays as it is.
fn single_rune(c: char, mapped: impl Iterator<Item = char>) -> char {
    let mut mapped = mapped;
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        (Some(m), Some(_)) if c.is_uppercase() => m,
        _ => c,
    }
}

/// Go's `strings.ToUpper`/`ToLower`: rune-by-rune case mapping.
fn map_runes<I: Iterator<Item = char>>(s: &str, map: fn(char) -> I) -> String {
    s.chars().map(|c| single_rune(c, map(c))).collect()
}

/// Docker's `pad`: surrounds a non-empty string with spaces.
fn pad(s: &str, prefix: i64, suffix: i64) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let (Ok(prefix), Ok(suffix)) = (usize::try_from(prefix), usize::try_from(suffix)) else {
        return Err("strings: negative Repeat count".to_owned());
    };
    Ok(format!("{}{s}{}", " ".repeat(prefix), " ".repeat(suffix)))
}

/// Docker's `truncate`: the first `length` bytes (never splitting a character).
fn truncate(s: &str, length: i64) -> Result<String, String> {
    let Ok(length) = usize::try_from(length) else {
        return Err(format!("slice bounds out of range [:{length}]"));
    };
    if s.len() < length {
        return Ok(s.to_owned());
    }
    let mut end = length;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(s[..end].to_owned())
}

/// Entries of a range over a map, in Go's sorted key order.
pub(crate) fn map_entries<'a>(
    map: &'a serde_json::Map<String, Json>,
) -> Vec<(Value<'a>, Value<'a>)> {
    sorted_entries(map)
        .into_iter()
        .map(|(k, v)| (Value::Str(k.clone()), Value::boxed(v)))
        .collect()
}
