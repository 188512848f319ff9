//! Parsing a docker subcommand's flags with clap while speaking Docker's (pflag's) error
//! language: `unknown flag: --x`, `'docker rmi' requires at least 1 argument`, exit 125 for
//! flag errors, as the real CLI.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use super::CliError;

/// How many positional arguments a command takes (cobra's `cli.*Args` validators).
#[derive(Debug, Clone, Copy)]
pub enum Arity {
    Exact(usize),
    AtLeast(usize),
    AtMost(usize),
    /// Between the two bounds, worded as the bound that was missed.
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
            Arity::Range(lo, _) if n < lo => (
                false,
                format!("requires at least {lo} {}", plural(lo)),
                "See",
            ),
            Arity::Range(_, hi) => (
                n <= hi,
                format!("requires at most {hi} {}", plural(hi)),
                "See",
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
        let parser = T::command().args_override_self(true);
        parser
            .clone()
            .try_get_matches_from(argv)
            .and_then(|mut m| T::from_arg_matches_mut(&mut m))
            .map_err(|e| match e.kind() {
                ErrorKind::DisplayHelp => CliError::Help(
                    super::usage::help(self.path, self.usage, &parser)
                        .unwrap_or_else(|| e.render().to_string().trim_end().to_string()),
                ),
                _ => self.map_error(e, args),
            })
    }

    fn map_error(&self, e: clap::Error, args: &[String]) -> CliError {
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
                format!("invalid argument {value:?} for {:?} flag", first_word(&arg))
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

fn first_word(s: &str) -> String {
    s.split([' ', '=']).next().unwrap_or(s).to_string()
}

/// pflag's texts: `unknown flag: --x`, `unknown shorthand flag: 'x' in -x`,
/// `flag needs an argument: --x`, `flag needs an argument: 'x' in -x`.
fn flag_text(kind: &str, typed: &str) -> String {
    let typed = first_word(typed);
    let long = typed.starts_with("--");
    match (kind, long) {
        ("unknown", true) => format!("unknown flag: {typed}"),
        ("unknown", false) => {
            let c = typed.trim_start_matches('-').chars().next().unwrap_or('?');
            format!("unknown shorthand flag: '{c}' in {typed}")
        }
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
