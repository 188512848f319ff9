//! The docker-compatible command line: argument parsing, dispatch, output and exit codes.
//! `dokles docker <args>` and a `docker` symlink to dokles both land in [`docker`].

mod args;
mod canonical;
mod commands;
mod container;
mod glob;
mod grade;
mod image;
mod inspect_view;
mod interactive;
mod journal_command;
mod lessons;
mod output;
mod terminal;
pub mod units;
mod usage;

pub use interactive::TYPED_INPUT_ENV;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub use canonical::{canonical, flags, Canonical};
pub use commands::{subcommands, Command};

use crate::state::StateRoot;

/// A failed command: what to print on stderr and the exit code, in Docker's manner.
#[derive(Debug)]
pub enum CliError {
    /// Printed as is (usage errors, client-side errors).
    Message { text: String, code: u8 },
    /// An engine error: `Error response from daemon: …`, exit 1.
    Daemon(String),
    /// `--help` met while parsing: no error, but the command ends there, printing its help
    /// on stdout and exiting 0, as Docker's.
    Help(String),
}

impl CliError {
    pub fn daemon(e: impl std::fmt::Display) -> Self {
        Self::Daemon(e.to_string())
    }

    pub fn plain(text: impl Into<String>) -> Self {
        Self::Message {
            text: text.into(),
            code: 1,
        }
    }

    /// An error whose messages were already printed: only the exit code remains.
    pub fn silent(self) -> Self {
        let code = match self {
            CliError::Message { code, .. } => code,
            CliError::Daemon(_) => 1,
            CliError::Help(_) => 0,
        };
        Self::Message {
            text: String::new(),
            code,
        }
    }

    /// The message without Docker's daemon prefix.
    pub fn text(&self) -> &str {
        match self {
            CliError::Message { text, .. } | CliError::Daemon(text) | CliError::Help(text) => text,
        }
    }

    /// The exit code the process ends with.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Message { code, .. } => *code,
            CliError::Daemon(_) => 1,
            CliError::Help(_) => 0,
        }
    }

    fn print_and_code(&self) -> u8 {
        let mut err = std::io::stderr().lock();
        match self {
            CliError::Message { text, code } => {
                if !text.is_empty() {
                    let _ = writeln!(err, "{text}");
                }
                *code
            }
            CliError::Daemon(text) => {
                let _ = writeln!(err, "Error response from daemon: {text}");
                1
            }
            CliError::Help(text) => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
                0
            }
        }
    }
}

impl From<crate::engine::image::ImageError> for CliError {
    fn from(e: crate::engine::image::ImageError) -> Self {
        use crate::engine::image::ImageError;
        match e {
            ImageError::Other(e) => CliError::Daemon(format!("{e:#}")),
            other => CliError::Daemon(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Daemon(format!("{e:#}"))
    }
}

pub type CliResult = Result<(), CliError>;

/// Everything a command needs from its surroundings.
pub struct Context {
    pub root: StateRoot,
}

/// Entry point for the binary; `args` is the full argv including argv[0].
pub fn run(args: Vec<OsString>) -> ExitCode {
    let argv0 = args
        .first()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let rest: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if rest.first().map(String::as_str) == Some("__monitor") {
        return ExitCode::from(monitor(&rest[1..]));
    }
    if rest.first().map(String::as_str) == Some("__hold-pty") {
        return ExitCode::from(interactive::hold_pty());
    }
    if rest.first().map(String::as_str) == Some(crate::grade::isolation::HELPER) {
        return ExitCode::from(crate::grade::world::main());
    }
    let result = if argv0 == "docker" {
        docker(None, &rest)
    } else {
        dokles(&rest)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(e.print_and_code()),
    }
}

/// `dokles __monitor --root ROOT ID [--attach | --attach-socket]`: the per-container monitor
/// (internal).
fn monitor(args: &[String]) -> u8 {
    use crate::engine::container::monitor::{self, AttachMode};
    let (root, id, attach) = match args {
        [flag, root, id] if flag == "--root" => (root, id, AttachMode::Detached),
        [flag, root, id, a] if flag == "--root" && a == "--attach" => {
            (root, id, AttachMode::Inherit)
        }
        [flag, root, id, a] if flag == "--root" && a == "--attach-socket" => {
            (root, id, AttachMode::Socket)
        }
        _ => return 2,
    };
    crate::state::pin_engine_umask();
    let Ok(root) = StateRoot::open(root) else {
        return 125;
    };
    let store = crate::engine::container::ContainerStore::open(&root);
    monitor::main(&store, id, attach) as u8
}

const DOKLES_USAGE: &str = "\
Gebruik: dokles [--root MAP] <opdracht>

Opdrachten:
  les [NAAM|NR]    een les volgen (zonder naam: waar je gebleven was)
  lessen           alle lessen en je voortgang
  nakijken         werk van studenten nakijken (voor docenten; zie dokles nakijken --help)
  docker ARGS...   een docker-opdracht uitvoeren op dokles' eigen engine
                   (een symlink 'docker' naar dokles doet hetzelfde)

Opties:
  --root MAP       de toestandsmap (standaard /var/lib/dokles, of $DOKLES_ROOT)";

/// `dokles [--root DIR] <command> …`
fn dokles(args: &[String]) -> CliResult {
    let mut root: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--root" => {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| CliError::plain("--root heeft een map nodig"))?;
                root = Some(PathBuf::from(v));
                i += 2;
            }
            s if s.starts_with("--root=") => {
                root = Some(PathBuf::from(&s["--root=".len()..]));
                i += 1;
            }
            "-h" | "--help" | "help" => {
                println!("{DOKLES_USAGE}");
                return Ok(());
            }
            "docker" => return docker(root, &args[i + 1..]),
            "les" => return lessons::les(root.as_deref(), &args[i + 1..]),
            "lessen" => return lessons::lessen(root.as_deref(), &args[i + 1..]),
            "nakijken" => return grade::nakijken(root.as_deref(), &args[i + 1..]),
            other => {
                return Err(CliError::Message {
                    text: format!("onbekende opdracht: {other}\n\n{DOKLES_USAGE}"),
                    code: 2,
                })
            }
        }
    }
    println!("{DOKLES_USAGE}");
    Ok(())
}

/// The docker CLI. The state root comes from `--root`, else `$DOKLES_ROOT`, else the default.
/// Every invocation on a usable state root ends with one `command` entry in its journal
/// (see [`journal_command`]).
pub fn docker(root: Option<PathBuf>, args: &[String]) -> CliResult {
    // The engine's half of this process creates files as a daemon would.
    crate::state::pin_engine_umask();
    let root = StateRoot::open(StateRoot::resolve(root.as_deref()))
        .map_err(|e| CliError::plain(format!("{e:#}")))?;
    journal_command::begin(&root, args);
    let ctx = Context { root };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&ctx, args)));
    match result {
        Ok(result) => {
            journal_command::finish(result.as_ref().err().map_or(0, |e| e.code().into()));
            result
        }
        Err(panic) => {
            // Rust's exit code for a panic in main.
            journal_command::finish(101);
            std::panic::resume_unwind(panic)
        }
    }
}

fn dispatch(ctx: &Context, args: &[String]) -> CliResult {
    let commands::Invocation {
        command,
        path,
        args: rest,
    } = commands::resolve(args)?;
    use commands::Command as C;
    match command {
        C::Usage => {
            println!("{}", commands::docker_usage());
            Ok(())
        }
        C::ImageUsage => {
            println!("{}", commands::group_usage("image"));
            Ok(())
        }
        C::ContainerUsage => {
            println!("{}", commands::group_usage("container"));
            Ok(())
        }
        C::Images => image::images(ctx, path, rest),
        C::Pull => image::pull(ctx, path, rest),
        C::Load => image::load(ctx, path, rest),
        C::Save => image::save(ctx, path, rest),
        C::Tag => image::tag(ctx, path, rest),
        C::Rmi => image::rmi(ctx, path, rest),
        C::History => image::history(ctx, path, rest),
        C::Import => image::import(ctx, path, rest),
        C::ImagePrune => image::prune(ctx, rest),
        C::ImageInspect => image::image_inspect(ctx, rest),
        C::Inspect => image::inspect_any(ctx, rest),
        C::Create => container::create(ctx, path, rest),
        C::Run => container::run(ctx, path, rest),
        C::Start => container::start(ctx, path, rest),
        C::Stop => container::stop(ctx, path, rest),
        C::Restart => container::restart(ctx, path, rest),
        C::Kill => container::kill(ctx, path, rest),
        C::Rm => container::rm(ctx, path, rest),
        C::Ps => container::ps(ctx, path, rest),
        C::Logs => container::logs(ctx, path, rest),
        C::Wait => container::wait(ctx, path, rest),
        C::Rename => container::rename(ctx, path, rest),
        C::Exec => container::exec(ctx, path, rest),
        C::Attach => container::attach(ctx, path, rest),
        C::Pause => container::pause(ctx, path, rest),
        C::Unpause => container::unpause(ctx, path, rest),
        C::Commit => container::commit(ctx, path, rest),
        C::Top => container::top(ctx, path, rest),
        C::Stats => container::stats(ctx, path, rest),
        C::ContainerInspect => image::container_inspect(ctx, rest),
        C::ContainerPrune => container::prune(ctx, path, rest),
    }
}
