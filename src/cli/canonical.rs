//! Docker command lines compared by meaning, and what a REPL needs to complete them.
//!
//! [`canonical`] resolves a command line through the same alias table as the dispatcher and
//! parses its arguments with the same clap struct, the same `Spec` and so the same errors as
//! the command itself, without running anything. Two command lines are equivalent when their
//! [`Canonical`] values are equal:
//!
//! - every alias of a command is the same command (`ps` = `container ls` = `container list`
//!   = `container ps`; `images` = `image ls`; `rmi` = `image rm` = `image remove`; …);
//! - flags compare by their parsed value, so spelling and order do not matter (`-it` = `-ti`
//!   = `-i -t` = `--interactive --tty`; `--name x` = `--name=x`; `-f` = `--force`), and
//!   spelling a default out is the same as leaving it (`history -H x` = `history x`);
//! - positional arguments compare in order (`rm a b` ≠ `rm b a`: Docker acts on them in
//!   that order, and a lesson that accepts both lists both), as do repeated flags (`-e A -e B`
//!   ≠ `-e B -e A`), and arguments are compared as typed (`python` ≠ `python:latest`: naming
//!   the same image is the engine's business, not the command line's);
//! - `inspect`, `container inspect` and `image inspect` are three commands, as in Docker:
//!   the group forms restrict the kind of object, so they are never equal to each other nor
//!   to plain `inspect` — not even to `inspect --type image`, whose output is the same but
//!   which is a different command line for a lesson to ask for;
//! - `docker`, `docker help`, `docker -h` and `docker --help` all print the usage and are
//!   equal; so are `docker image` and `docker image --help`.

use std::fmt::Debug;

use clap::CommandFactory;

use super::commands::{resolve, Command};
use super::{container, image, CliError};

/// A command line reduced to its meaning: the command it runs and its parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Canonical {
    pub command: Command,
    /// The parsed arguments struct, as `{:?}` shows it (empty for the usages).
    pub args: String,
}

/// `args` (what follows `docker`) as its command would parse them, or the error that command
/// would give (an unknown command or flag, a wrong number of arguments, `--help`'s text).
pub fn canonical(args: &[String]) -> Result<Canonical, CliError> {
    let invocation = resolve(args)?;
    let args = match syntax(invocation.command) {
        Some(s) => s.parse(invocation.path, invocation.args)?,
        None => String::new(),
    };
    Ok(Canonical {
        command: invocation.command,
        args,
    })
}

/// The flags of the command `args_so_far` resolves to, long (`--all`) and short (`-a`), for
/// tab completion; none while the words typed name no command yet.
pub fn flags(args_so_far: &[String]) -> Vec<String> {
    let Some(syntax) = resolve(args_so_far).ok().and_then(|i| syntax(i.command)) else {
        return Vec::new();
    };
    let mut command = syntax.clap();
    command.build();
    let mut out = Vec::new();
    for arg in command.get_arguments() {
        if arg.is_positional() || arg.is_hide_set() {
            continue;
        }
        if let Some(long) = arg.get_long() {
            out.push(format!("--{long}"));
        }
        if let Some(short) = arg.get_short() {
            out.push(format!("-{short}"));
        }
    }
    out
}

/// What a command's command line is to the canonicaliser: its parser and its clap command.
trait Syntax {
    fn parse(&self, path: &str, args: &[String]) -> Result<String, CliError>;
    fn clap(&self) -> clap::Command;
}

/// A command's own parse function (`container::parse_ps`, …).
type ParseFn<T> = fn(&str, &[String]) -> Result<T, CliError>;

struct Parsed<T>(ParseFn<T>);

impl<T: CommandFactory + Debug> Syntax for Parsed<T> {
    fn parse(&self, path: &str, args: &[String]) -> Result<String, CliError> {
        (self.0)(path, args).map(|parsed| format!("{parsed:?}"))
    }

    fn clap(&self) -> clap::Command {
        T::command()
    }
}

fn of<T: CommandFactory + Debug + 'static>(parse: ParseFn<T>) -> Option<Box<dyn Syntax>> {
    Some(Box::new(Parsed(parse)))
}

/// Every command's parse function; the usages take no arguments.
fn syntax(command: Command) -> Option<Box<dyn Syntax>> {
    use Command as C;
    match command {
        C::Usage | C::ImageUsage | C::ContainerUsage => None,
        C::Images => of(image::parse_images),
        C::Pull => of(image::parse_pull),
        C::Load => of(image::parse_load),
        C::Save => of(image::parse_save),
        C::Tag => of(image::parse_tag),
        C::Rmi => of(image::parse_rmi),
        C::History => of(image::parse_history),
        C::Import => of(image::parse_import),
        C::ImagePrune => of(image::parse_prune),
        C::ImageInspect => of(image::parse_image_inspect),
        C::Inspect => of(image::parse_inspect),
        C::ContainerInspect => of(image::parse_container_inspect),
        C::Create => of(container::parse_create),
        C::Run => of(container::parse_run),
        C::Start => of(container::parse_start),
        C::Stop => of(container::parse_stop),
        C::Restart => of(container::parse_restart),
        C::Kill => of(container::parse_kill),
        C::Rm => of(container::parse_rm),
        C::Ps => of(container::parse_ps),
        C::Logs => of(container::parse_logs),
        C::Wait => of(container::parse_wait),
        C::Rename => of(container::parse_rename),
        C::Exec => of(container::parse_exec),
        C::Attach => of(container::parse_attach),
        C::Pause => of(container::parse_pause),
        C::Unpause => of(container::parse_unpause),
        C::Commit => of(container::parse_commit),
        C::Top => of(container::parse_top),
        C::Stats => of(container::parse_stats),
        C::ContainerPrune => of(container::parse_prune),
    }
}
