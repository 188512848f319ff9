//! The alias table: every name a student can type after `docker` (`ps`, `container ls`,
//! `image remove`, …) and the one canonical [`Command`] it stands for. The dispatcher
//! (`cli::docker`) and the canonicaliser (`cli::canonical`) both resolve through [`resolve`],
//! so a name that runs a command is exactly a name that canonicalises to it.

use super::CliError;

/// A docker command as dokles implements it, whatever name it was typed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// `docker`, `docker --help`: the top-level usage.
    Usage,
    /// `docker image`, `docker image --help`: the image group's usage.
    ImageUsage,
    /// `docker container`: the container group's usage.
    ContainerUsage,
    Images,
    Pull,
    Load,
    Save,
    Tag,
    Rmi,
    History,
    Import,
    ImagePrune,
    /// `docker image inspect`: images only.
    ImageInspect,
    /// `docker inspect`: containers first, then images (or one `--type`).
    Inspect,
    Create,
    Run,
    Start,
    Stop,
    Restart,
    Kill,
    Rm,
    Ps,
    Logs,
    Wait,
    Rename,
    Exec,
    Attach,
    Pause,
    Unpause,
    Commit,
    Top,
    Stats,
    /// `docker container inspect`: containers only.
    ContainerInspect,
    ContainerPrune,
}

/// One command: the name cobra knows it by, every way it can be typed, and what it runs.
struct Entry {
    /// The command's path without `docker ` (`image ls`), as usage and errors show it.
    path: &'static str,
    /// The words it can be typed by after `docker` (`image ls`, `image list`).
    names: &'static [&'static str],
    command: Command,
}

/// The table. Docker's aliases: `images` = `image ls`/`image list`, `rmi` = `image rm`/
/// `image remove`, `ps` = `container ls`/`container list`/`container ps`, `rm` =
/// `container rm`/`container remove`; every other top-level container or image command is
/// also its group's subcommand of the same name.
#[rustfmt::skip]
const TABLE: &[Entry] = &[
    Entry { path: "images", names: &["images"], command: Command::Images },
    Entry { path: "pull", names: &["pull"], command: Command::Pull },
    Entry { path: "load", names: &["load"], command: Command::Load },
    Entry { path: "save", names: &["save"], command: Command::Save },
    Entry { path: "tag", names: &["tag"], command: Command::Tag },
    Entry { path: "rmi", names: &["rmi"], command: Command::Rmi },
    Entry { path: "history", names: &["history"], command: Command::History },
    Entry { path: "import", names: &["import"], command: Command::Import },
    Entry { path: "inspect", names: &["inspect"], command: Command::Inspect },
    Entry { path: "create", names: &["create"], command: Command::Create },
    Entry { path: "run", names: &["run"], command: Command::Run },
    Entry { path: "start", names: &["start"], command: Command::Start },
    Entry { path: "stop", names: &["stop"], command: Command::Stop },
    Entry { path: "restart", names: &["restart"], command: Command::Restart },
    Entry { path: "kill", names: &["kill"], command: Command::Kill },
    Entry { path: "rm", names: &["rm"], command: Command::Rm },
    Entry { path: "ps", names: &["ps"], command: Command::Ps },
    Entry { path: "logs", names: &["logs"], command: Command::Logs },
    Entry { path: "wait", names: &["wait"], command: Command::Wait },
    Entry { path: "rename", names: &["rename"], command: Command::Rename },
    Entry { path: "exec", names: &["exec"], command: Command::Exec },
    Entry { path: "attach", names: &["attach"], command: Command::Attach },
    Entry { path: "pause", names: &["pause"], command: Command::Pause },
    Entry { path: "unpause", names: &["unpause"], command: Command::Unpause },
    Entry { path: "commit", names: &["commit"], command: Command::Commit },
    Entry { path: "top", names: &["top"], command: Command::Top },
    Entry { path: "stats", names: &["stats"], command: Command::Stats },
    Entry { path: "image ls", names: &["image ls", "image list"], command: Command::Images },
    Entry { path: "image pull", names: &["image pull"], command: Command::Pull },
    Entry { path: "image load", names: &["image load"], command: Command::Load },
    Entry { path: "image save", names: &["image save"], command: Command::Save },
    Entry { path: "image tag", names: &["image tag"], command: Command::Tag },
    Entry { path: "image rm", names: &["image rm", "image remove"], command: Command::Rmi },
    Entry { path: "image history", names: &["image history"], command: Command::History },
    Entry { path: "image import", names: &["image import"], command: Command::Import },
    Entry { path: "image inspect", names: &["image inspect"], command: Command::ImageInspect },
    Entry { path: "image prune", names: &["image prune"], command: Command::ImagePrune },
    Entry { path: "container create", names: &["container create"], command: Command::Create },
    Entry { path: "container run", names: &["container run"], command: Command::Run },
    Entry { path: "container start", names: &["container start"], command: Command::Start },
    Entry { path: "container stop", names: &["container stop"], command: Command::Stop },
    Entry { path: "container restart", names: &["container restart"], command: Command::Restart },
    Entry { path: "container kill", names: &["container kill"], command: Command::Kill },
    Entry { path: "container rm", names: &["container rm", "container remove"], command: Command::Rm },
    Entry { path: "container ls", names: &["container ls", "container list", "container ps"], command: Command::Ps },
    Entry { path: "container logs", names: &["container logs"], command: Command::Logs },
    Entry { path: "container wait", names: &["container wait"], command: Command::Wait },
    Entry { path: "container rename", names: &["container rename"], command: Command::Rename },
    Entry { path: "container exec", names: &["container exec"], command: Command::Exec },
    Entry { path: "container attach", names: &["container attach"], command: Command::Attach },
    Entry { path: "container pause", names: &["container pause"], command: Command::Pause },
    Entry { path: "container unpause", names: &["container unpause"], command: Command::Unpause },
    Entry { path: "container commit", names: &["container commit"], command: Command::Commit },
    Entry { path: "container top", names: &["container top"], command: Command::Top },
    Entry { path: "container stats", names: &["container stats"], command: Command::Stats },
    Entry { path: "container inspect", names: &["container inspect"], command: Command::ContainerInspect },
    Entry { path: "container prune", names: &["container prune"], command: Command::ContainerPrune },
];

impl Command {
    /// The command's canonical name: its top-level form where it has one (`ps`, `rmi`),
    /// else its group form (`image prune`); the usages are named by their help flag.
    pub fn name(self) -> &'static str {
        match self {
            Command::Usage => "--help",
            Command::ImageUsage => "image --help",
            Command::ContainerUsage => "container",
            other => TABLE
                .iter()
                .find(|e| e.command == other && !e.path.contains(' '))
                .or_else(|| TABLE.iter().find(|e| e.command == other))
                .map_or("", |e| e.path),
        }
    }
}

/// A resolved command line: the command, the path it was typed by (`image ls` for
/// `docker image list`, as cobra names it in usage and errors), and its arguments.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub command: Command,
    pub path: &'static str,
    pub args: &'a [String],
}

/// `docker <args>` → the command it runs, or the error Docker gives for an unknown one.
/// The usages ignore any further arguments, as the dispatcher always has.
pub fn resolve(args: &[String]) -> Result<Invocation<'_>, CliError> {
    let usage = |command, path| Invocation {
        command,
        path,
        args: &[],
    };
    let Some((first, rest)) = args.split_first() else {
        return Ok(usage(Command::Usage, ""));
    };
    let group = match first.as_str() {
        "-h" | "--help" | "help" => return Ok(usage(Command::Usage, "")),
        g @ ("image" | "container") => g,
        other => {
            return lookup(None, other).map(|e| Invocation {
                command: e.command,
                path: e.path,
                args: rest,
            })
        }
    };
    match (group, rest.split_first()) {
        ("image", None) => Ok(usage(Command::ImageUsage, "image")),
        ("image", Some((h, _))) if h == "-h" || h == "--help" => {
            Ok(usage(Command::ImageUsage, "image"))
        }
        (_, None) => Ok(usage(Command::ContainerUsage, "container")),
        (_, Some((sub, rest))) => lookup(Some(group), sub).map(|e| Invocation {
            command: e.command,
            path: e.path,
            args: rest,
        }),
    }
}

/// The entry typed as `name` at the top level or in `group`; else Docker's error.
fn lookup(group: Option<&str>, name: &str) -> Result<&'static Entry, CliError> {
    let typed = |n: &&str| match (group, n.split_once(' ')) {
        (None, None) => *n == name,
        (Some(g), Some((ng, nn))) => ng == g && nn == name,
        _ => false,
    };
    TABLE
        .iter()
        .find(|e| e.names.iter().any(typed))
        .ok_or_else(|| {
            CliError::plain(match group {
                None => format!(
                    "docker: unknown command: docker {name}\n\nRun 'docker --help' for more information"
                ),
                Some(g) => format!(
                    "docker: unknown command: docker {g} {name}\n\nUsage:  docker {g}\n\nRun 'docker {g} --help' for more information"
                ),
            })
        })
}

/// Every command a student can type after `docker`, as the words typed: the top-level
/// commands (`ps`, `images`), the groups (`image`, `container`), and each group's
/// subcommands with their aliases (`image ls`, `image list`, `container ps`). Sorted; a REPL
/// completes the words typed so far against these.
pub fn subcommands() -> Vec<&'static str> {
    let mut out = vec!["image", "container"];
    out.extend(TABLE.iter().flat_map(|e| e.names.iter().copied()));
    out.sort_unstable();
    out.dedup();
    out
}
