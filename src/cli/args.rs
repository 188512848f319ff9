//! Parsing a docker subcommand's flags with clap while speaking Docker's (pflag's) error
//! language: `unknown flag: --x`, `'docker rmi' requires at least 1 argument`, exit 125 for
//! flag errors, as the real CLI.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Parser};

use super::CliError;

/// How many positional arguments a command takes (cobra's `cli.*Args` validators).
#[derive(Debug, Clone, Copy)]
pub enum Arity {
    Exact(usize),
    AtLeast(usize),
    AtMost(usize),
    /// Between the two bounds (both named when either is missed).
    Range(usize, usize),
}

/// A parsed command line's positional arguments (the `args` field of every args struct).
pub trait Positionals {
    fn positionals(&self) -> &[String];
}

/// Implement [`Positionals`] for args structs whose positionals are the field `args`.
macro_rules! positionals {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::cli::args::Positionals for $t {
            fn positionals(&self) -> &[String] {
                &self.args
            }
        })*
    };
}
pub(crate) use positionals;

/// The arguments of a command that takes no flags, only positionals (`tag`, `wait`, …).
#[derive(Parser, Debug)]
pub struct Positional {
    pub args: Vec<String>,
}

positionals!(Positional);

/// A command's name as typed (`docker image ls`) and its usage line.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub path: &'static str,
    pub usage: &'static str,
    pub arity: Arity,
}

/// The spec of command `name` as typed (`rmi`, `image rm`); `usage` is written for the
/// top-level form (`docker rmi [OPTIONS] …`) and shown with the typed command path, as cobra
/// does.
pub fn spec(name: &str, usage: &'static str, arity: Arity) -> Spec {
    let args = usage
        .strip_prefix("docker ")
        .filter(|u| !u.starts_with(&format!("{name} ")))
        .and_then(|u| u.split_once(' ').map(|(_, rest)| rest));
    let usage = match args {
        Some(rest) => format!("docker {name} {rest}"),
        None => usage.to_string(),
    };
    // Command paths are a small fixed set; leaking them once per invocation is fine.
    Spec {
        path: Box::leak(format!("docker {name}").into_boxed_str()),
        usage: Box::leak(usage.into_boxed_str()),
        arity,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "argument"
    } else {
        "arguments"
    }
}

impl Spec {
    /// A flag error: `head`, the usage line, a pointer to `--help`; exit 125.
    pub fn usage_error(&self, head: String, verb: &str) -> CliError {
        CliError::Message {
            text: format!(
                "{head}\n\nUsage:  {}\n\n{verb} '{} --help' for more information",
                self.usage, self.path
            ),
            code: 125,
        }
    }

    /// Check the positional argument count.
    pub fn check(&self, n: usize) -> Result<(), CliError> {
        let (ok, text, verb) = match self.arity {
            Arity::Exact(0) => (n == 0, "accepts no arguments".to_string(), "Run"),
            Arity::Exact(k) => (n == k, format!("requires {k} {}", plural(k)), "Run"),
            Arity::AtLeast(k) => (
                n >= k,
                format!("requires at least {k} {}", plural(k)),
                "See",
            ),
            Arity::AtMost(k) => (n <= k, format!("requires at most {k} {}", plural(k)), "See"),
            Arity::Range(lo, hi) => (
                (lo..=hi).contains(&n),
                format!("requires at least {lo} and at most {hi} {}", plural(hi)),
                "Run",
            ),
        };
        if ok {
            return Ok(());
        }
        // docker/cli's RequiresMaxArgs really prints "SRun" (a typo in its format string).
        let verb = if matches!(self.arity, Arity::AtMost(_)) {
            "SRun"
        } else {
            verb
        };
        let mut e = self.usage_error(format!("docker: '{}' {text}", self.path), verb);
        if let CliError::Message { code, .. } = &mut e {
            *code = 1;
        }
        Err(e)
    }

    /// Parse `args` into `T` and check the positional argument count: all a command knows
    /// of its command line before it acts.
    pub fn parse_checked<T: Parser + Positionals>(&self, args: &[String]) -> Result<T, CliError> {
        let parsed: T = self.parse(args)?;
        self.check(parsed.positionals().len())?;
        Ok(parsed)
    }

    /// Parse `args` into `T`, mapping clap's errors to Docker's texts. As in pflag, a flag
    /// given twice is no error: the last value wins (a list flag collects them all).
    pub fn parse<T: Parser>(&self, args: &[String]) -> Result<T, CliError> {
        let argv = std::iter::once(self.path.to_string()).chain(args.iter().cloned());
        let parser = pflag_semantics(T::command().args_override_self(true));
        parser
            .clone()
            .try_get_matches_from(argv)
            .and_then(|mut m| T::from_arg_matches_mut(&mut m))
            .map_err(|e| match e.kind() {
                ErrorKind::DisplayHelp => CliError::Help(
                    super::usage::help(self.path, self.usage, &parser)
                        .unwrap_or_else(|| e.render().to_string().trim_end().to_string()),
                ),
                _ => self.map_error(e, args, &parser),
            })
    }

    fn map_error(&self, e: clap::Error, args: &[String], parser: &clap::Command) -> CliError {
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let head = match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                return CliError::Message {
                    text: e.render().to_string().trim_end().to_string(),
                    code: 0,
                }
            }
            ErrorKind::UnknownArgument if !arg.starts_with("--") => {
                // pflag names the rest of the shorthand group from the unknown letter on.
                let c = arg.trim_start_matches('-').chars().next().unwrap_or('?');
                let group = args
                    .iter()
                    .filter(|a| !a.starts_with("--") && a.starts_with('-'))
                    .find_map(|a| a.find(c).map(|i| &a[i..]))
                    .unwrap_or(arg.get(1..).unwrap_or_default());
                format!("unknown shorthand flag: '{c}' in -{group}")
            }
            ErrorKind::UnknownArgument => flag_text("unknown", &arg),
            ErrorKind::InvalidValue | ErrorKind::NoEquals if value_missing(&e) => {
                let typed = args.last().cloned().unwrap_or(arg);
                flag_text("needs", &typed)
            }
            ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
                let value = match e.get(ContextKind::InvalidValue) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::new(),
                };
                let reason = std::error::Error::source(&e)
                    .map(|why| format!(": {why}"))
                    .unwrap_or_default();
                format!(
                    "invalid argument {value:?} for {:?} flag{reason}",
                    pflag_name(parser, &first_word(&arg))
                )
            }
            _ => e.render().to_string().trim_end().to_string(),
        };
        self.usage_error(head, "Run")
    }
}

fn value_missing(e: &clap::Error) -> bool {
    matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(s)) if s.is_empty())
        || e.get(ContextKind::InvalidValue).is_none()
}

/// The flag of clap's rendering of an argument (`--human[=<HUMAN>]`, `--last <LAST>`).
fn first_word(s: &str) -> String {
    s.split([' ', '=', '[']).next().unwrap_or(s).to_string()
}

/// pflag's name of a flag in messages: `-n, --last` when it has a shorthand, else `--last`.
fn pflag_name(parser: &clap::Command, flag: &str) -> String {
    let short = flag.strip_prefix("--").and_then(|long| {
        parser
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_short())
    });
    match short {
        Some(c) => format!("-{c}, {flag}"),
        None => flag.to_string(),
    }
}

/// pflag's flag syntax on clap's parser: bool flags take an optional `=value` (`--all=false`,
/// `-q=1`) read by Go's `strconv.ParseBool` (clap's `SetTrue` flags take none; the field
/// stays a `bool`), and a flag that needs a value takes the next word whatever it starts with
/// (`-m -5`, `--tail -1`).
fn pflag_semantics(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| match a.get_action() {
        ArgAction::SetTrue => a
            .action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_parser(parse_bool),
        ArgAction::Set | ArgAction::Append if !a.is_positional() && !a.is_require_equals_set() => {
            a.allow_hyphen_values(true)
        }
        _ => a,
    })
}

/// Go's `strconv.ParseBool`, with its error text.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, with its error texts (decimal, `0x`, `0o`, `0b` and
/// `_` separators as Go's base 0).
pub fn parse_int(s: &str) -> Result<i64, String> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let syntax = || format!("strconv.ParseInt: parsing {s:?}: invalid syntax");
    // Underscores only between digits (a base prefix counts as one).
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(syntax());
    }
    let lower = digits.to_ascii_lowercase().replace('_', "");
    let (radix, body) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ if lower.len() > 1 && lower.starts_with('0') => (8, &lower[1..]),
        _ => (10, lower.as_str()),
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return Err(syntax());
    }
    let signed = if negative {
        format!("-{body}")
    } else {
        body.to_string()
    };
    i64::from_str_radix(&signed, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            format!("strconv.ParseInt: parsing {s:?}: value out of range")
        }
        _ => syntax(),
    })
}

/// pflag's texts: `unknown flag: --x`, `flag needs an argument: --x`, `flag needs an argument: 'x' in -x`.
fn flag_text(kind: &str, typed: &str) -> String {
    let typed = first_word(typed);
    let long = typed.starts_with("--");
    match (kind, long) {
        ("unknown", _) => format!("unknown flag: {typed}"),
        (_, true) => format!("flag needs an argument: {typed}"),
        (_, false) => {
            let c = typed.trim_start_matches('-').chars().last().unwrap_or('?');
            format!("flag needs an argument: '{c}' in {typed}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct T {
        #[arg(short = 'i', long = "input")]
        input: Option<String>,
        #[arg(short = 'q', long)]
        quiet: bool,
        args: Vec<String>,
    }

    const SPEC: Spec = Spec {
        path: "docker load",
        usage: "docker load [OPTIONS]",
        arity: Arity::Exact(0),
    };

    fn err(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match SPEC.parse::<T>(&args) {
            Err(CliError::Message { text, code }) => {
                format!("{code} {}", text.lines().next().unwrap())
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn flag_errors_use_pflag_wording_and_exit_125() {
        assert_eq!(err(&["--bogus"]), "125 unknown flag: --bogus");
        assert_eq!(err(&["-x"]), "125 unknown shorthand flag: 'x' in -x");
        assert_eq!(err(&["-i"]), "125 flag needs an argument: 'i' in -i");
        assert_eq!(err(&["--input"]), "125 flag needs an argument: --input");
    }

    #[test]
    fn unknown_shorthands_name_the_rest_of_their_group() {
        assert_eq!(err(&["-xyz"]), "125 unknown shorthand flag: 'x' in -xyz");
        assert_eq!(err(&["-qxy"]), "125 unknown shorthand flag: 'x' in -xy");
    }

    fn quiet(args: &[&str]) -> bool {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match SPEC.parse::<T>(&args) {
            Ok(t) => t.quiet,
            Err(e) => panic!("{args:?}: {e:?}"),
        }
    }

    #[test]
    fn bool_flags_take_an_optional_value_as_go_reads_bools() {
        assert!(quiet(&["-q"]));
        assert!(quiet(&["--quiet=true"]));
        assert!(quiet(&["-q=1"]));
        assert!(quiet(&["-q=T", "x"]));
        assert!(!quiet(&["-q", "--quiet=False"]));
        assert!(!quiet(&["-q=0"]));
        assert!(!quiet(&[]));
        assert_eq!(
            err(&["--quiet=maybe"]),
            "125 invalid argument \"maybe\" for \"-q, --quiet\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

    #[test]
    fn ints_are_read_as_go_reads_them_with_base_prefixes() {
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("0b1_0"), Ok(2));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0"), Ok(0));
        for bad in ["", "-", "abc", "_1", "1_", "1__0", "0x", "--1", "1.5", "09"] {
            assert_eq!(
                parse_int(bad),
                Err(format!("strconv.ParseInt: parsing {bad:?}: invalid syntax"))
            );
        }
        assert_eq!(
            parse_int("99999999999999999999"),
            Err("strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into())
        );
    }

    #[test]
    fn a_flag_given_twice_is_no_error_and_the_last_value_wins() {
        let args: Vec<String> = ["-q", "-q", "-i", "a", "--input=b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        match SPEC.parse::<T>(&args) {
            Ok(t) => assert_eq!((t.quiet, t.input.as_deref()), (true, Some("b"))),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn arity_errors_name_the_command() {
        let s = Spec {
            path: "docker rmi",
            usage: "docker rmi [OPTIONS] IMAGE [IMAGE...]",
            arity: Arity::AtLeast(1),
        };
        match s.check(0) {
            Err(CliError::Message { text, code: 1 }) => assert_eq!(
                text,
                "docker: 'docker rmi' requires at least 1 argument\n\nUsage:  docker rmi [OPTIONS] IMAGE [IMAGE...]\n\nSee 'docker rmi --help' for more information"
            ),
            other => panic!("{other:?}"),
        }
        assert!(s.check(2).is_ok());
    }
}
