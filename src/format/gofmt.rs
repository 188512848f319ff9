//! Go's `fmt` and `strconv` output for template values: `print`, `println`, `printf`, `%q`, floats.

use super::value::{write_v, NilKind, Value};
use serde_json::Value as Json;

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): `1.5`, `1e+06`, `1e-05`.
pub(crate) fn format_float_v(f: f64) -> String {
    if let Some(special) = non_finite(f) {
        return special.to_owned();
    }
    let (negative, digits, exp) = shortest_digits(f);
    let body = if !(-4..6).contains(&exp) {
        exponent_form(&digits, exp, digits.len().saturating_sub(1))
    } else {
        fixed_form(&digits, exp, digits.len() as i32 - exp - 1)
    };
    sign(negative, body)
}

fn non_finite(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn sign(negative: bool, body: String) -> String {
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Shortest round-tripping decimal digits of `f` and the decimal exponent of the first digit.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp = exp.parse().unwrap_or(0);
    (f.is_sign_negative(), digits, exp)
}

/// `d.ddde±XX` with `frac` digits after the point (digits padded with zeros as needed).
fn exponent_form(digits: &str, exp: i32, frac: usize) -> String {
    let mut padded = digits.to_owned();
    while padded.len() < frac + 1 {
        padded.push('0');
    }
    let mut out = padded[..1].to_owned();
    if frac > 0 {
        out.push('.');
        out.push_str(&padded[1..=frac]);
    }
    let sign = if exp < 0 { '-' } else { '+' };
    out.push_str(&format!("e{sign}{:02}", exp.abs()));
    out
}

/// Plain decimal notation of `digits` × 10^(exp - len + 1) with `frac` fraction digits.
fn fixed_form(digits: &str, exp: i32, frac: i32) -> String {
    let frac = frac.max(0) as usize;
    let int_len = exp + 1;
    let mut int_part = String::new();
    let mut frac_part = String::new();
    if int_len <= 0 {
        int_part.push('0');
        frac_part.push_str(&"0".repeat((-int_len) as usize));
        frac_part.push_str(digits);
    } else {
        let int_len = int_len as usize;
        if digits.len() >= int_len {
            int_part.push_str(&digits[..int_len]);
            frac_part.push_str(&digits[int_len..]);
        } else {
            int_part.push_str(digits);
            int_part.push_str(&"0".repeat(int_len - digits.len()));
        }
    }
    while frac_part.len() < frac {
        frac_part.push('0');
    }
    frac_part.truncate(frac);
    if frac_part.is_empty() {
        int_part
    } else {
        format!("{int_part}.{frac_part}")
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() => {
            if (c as u32) < 0x10000 {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

/// Go's `%.Nq` of a string truncated to `n` runes, used for lexer items in parse errors.
pub(crate) fn quote_truncated(s: &str, n: usize) -> String {
    quote(&s.chars().take(n).collect::<String>())
}

/// Go's `%#U`: `U+007D '}'`.
pub(crate) fn unicode_sharp(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

fn is_string(value: &Value<'_>) -> bool {
    value.as_str().is_some()
}

/// Go's `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
pub(crate) fn sprint(args: &[Value<'_>]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !is_string(arg) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        write_v(&mut out, arg);
    }
    out
}

/// Go's `fmt.Sprintln`: operands joined by spaces, then a newline.
pub(crate) fn sprintln(args: &[Value<'_>]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, arg);
    }
    out.push('\n');
    out
}

/// Flags, width and precision of one `printf` directive.
#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %x %X %o %b %c %t %f %e %g %T %%`.
pub(crate) fn sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = take_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(take_number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let text = format_arg(verb, spec, arg);
        out.push_str(&pad(text, spec));
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|arg| {
                if arg.is_invalid() || arg.is_nil() {
                    "<nil>".to_owned()
                } else {
                    let mut s = format!("{}=", arg.concrete_type_name());
                    write_v(&mut s, arg);
                    s
                }
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn take_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

fn pad(text: String, spec: Spec) -> String {
    let Some(width) = spec.width else {
        return text;
    };
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = width - len;
    if spec.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.zero {
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(rest) => (&text[..1], rest),
            None => ("", text.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, arg: &Value<'_>) -> String {
    if arg.is_invalid() || arg.is_nil() {
        return format!("%!{verb}(<nil>)");
    }
    let mut s = format!("%!{verb}({}=", arg.concrete_type_name());
    write_v(&mut s, arg);
    s.push(')');
    s
}

/// Scalar view of an argument for verb dispatch.
enum Scalar<'v> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'v str),
    List(Vec<Value<'v>>),
    Map(&'v serde_json::Map<String, Json>),
    EmptyMap,
}

fn scalar<'v>(arg: &'v Value<'_>) -> Scalar<'v> {
    match arg {
        Value::Invalid => Scalar::Nil,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Int(i) => Scalar::Int(*i),
        Value::Float(f) => Scalar::Float(*f),
        Value::Str(s) => Scalar::Str(s),
        Value::StrList(items) => Scalar::List(items.iter().cloned().map(Value::Str).collect()),
        Value::NilOf(NilKind::Slice) => Scalar::List(Vec::new()),
        Value::NilOf(NilKind::Map) => Scalar::EmptyMap,
        Value::Json { json, .. } => match json {
            Json::Null => Scalar::Nil,
            Json::Bool(b) => Scalar::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Scalar::Int(i),
                None => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Scalar::Str(s),
            Json::Array(items) => Scalar::List(items.iter().map(Value::boxed).collect()),
            Json::Object(map) => Scalar::Map(map),
        },
    }
}

fn format_arg(verb: char, spec: Spec, arg: &Value<'_>) -> String {
    if verb == 'T' {
        return if arg.is_invalid() {
            "<nil>".to_owned()
        } else {
            arg.concrete_type_name().to_owned()
        };
    }
    if verb == 'v' {
        let mut s = String::new();
        write_v(&mut s, arg);
        return s;
    }
    match scalar(arg) {
        Scalar::Nil => bad_verb(verb, arg),
        Scalar::List(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| format_arg(verb, spec, item))
                .collect();
            format!("[{}]", parts.join(" "))
        }
        Scalar::EmptyMap => "map[]".to_owned(),
        Scalar::Map(map) => {
            let parts: Vec<String> = super::value::sorted_entries(map)
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        format_arg(verb, spec, &Value::Str(k.clone())),
                        format_arg(verb, spec, &Value::boxed(v))
                    )
                })
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        Scalar::Bool(b) => match verb {
            't' => b.to_string(),
            _ => bad_verb(verb, arg),
        },
        Scalar::Str(s) => match verb {
            's' => match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_owned(),
            },
            'q' => {
                if spec.sharp && !s.contains('`') {
                    format!("`{s}`")
                } else {
                    quote(s)
                }
            }
            'x' => hex_bytes(s, false),
            'X' => hex_bytes(s, true),
            _ => bad_verb(verb, arg),
        },
        Scalar::Int(i) => format_int(verb, spec, i).unwrap_or_else(|| bad_verb(verb, arg)),
        Scalar::Float(f) => format_float(verb, spec, f).unwrap_or_else(|| bad_verb(verb, arg)),
    }
}

fn hex_bytes(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn signed(i: i64, spec: Spec, magnitude: String) -> String {
    if i < 0 {
        format!("-{magnitude}")
    } else if spec.plus {
        format!("+{magnitude}")
    } else if spec.space {
        format!(" {magnitude}")
    } else {
        magnitude
    }
}

fn format_int(verb: char, spec: Spec, i: i64) -> Option<String> {
    let abs = i.unsigned_abs();
    let text = match verb {
        'd' => signed(i, spec, abs.to_string()),
        'x' => signed(
            i,
            spec,
            format!("{}{abs:x}", if spec.sharp { "0x" } else { "" }),
        ),
        'X' => signed(
            i,
            spec,
            format!("{}{abs:X}", if spec.sharp { "0X" } else { "" }),
        ),
        'o' => signed(
            i,
            spec,
            format!("{}{abs:o}", if spec.sharp { "0" } else { "" }),
        ),
        'b' => signed(i, spec, format!("{abs:b}")),
        'c' => char::from_u32(u32::try_from(i).ok()?)?.to_string(),
        'q' => quote_rune(char::from_u32(u32::try_from(i).ok()?)?),
        'U' => format!("U+{abs:04X}"),
        _ => return None,
    };
    Some(text)
}

fn format_float(verb: char, spec: Spec, f: f64) -> Option<String> {
    if let Some(special) = non_finite(f) {
        return Some(special.to_owned());
    }
    let prec = spec.precision;
    let body = match verb {
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), f.abs()),
        'e' | 'E' => {
            let p = prec.unwrap_or(6);
            let text = format!("{:.*e}", p, f.abs());
            let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            let s = format!("{mantissa}e{sign}{:02}", exp.abs());
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'g' | 'G' => {
            let s = match prec {
                None => format_float_v(f.abs()),
                Some(p) => format_g_precision(f.abs(), p.max(1)),
            };
            if verb == 'G' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => return None,
    };
    let negative = f.is_sign_negative() && f != 0.0;
    Some(if negative {
        format!("-{body}")
    } else if spec.plus {
        format!("+{body}")
    } else {
        body
    })
}

/// `%.Ng`: N significant digits, exponent form when the exponent is < -4 or >= N.
fn format_g_precision(f: f64, p: usize) -> String {
    let text = format!("{:.*e}", p - 1, f);
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if exp < -4 || exp >= p as i32 {
        exponent_form(digits, exp, digits.len() - 1)
    } else {
        fixed_form(digits, exp, digits.len() as i32 - exp - 1)
    }
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_v() {
        assert_eq!(format_float_v(1.5), "1.5");
        assert_eq!(format_float_v(100000.0), "100000");
        assert_eq!(format_float_v(1e6), "1e+06");
        assert_eq!(format_float_v(123456789.0), "1.23456789e+08");
        assert_eq!(format_float_v(0.0001), "0.0001");
        assert_eq!(format_float_v(0.00001), "1e-05");
        assert_eq!(format_float_v(-2.25), "-2.25");
        assert_eq!(format_float_v(0.0), "0");
        assert_eq!(format_float_v(1000.0), "1000");
    }

    #[test]
    fn quote_escapes_like_strconv() {
        assert_eq!(quote("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
