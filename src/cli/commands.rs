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
    /// `docker container`, `docker container --help`: the container group's usage.
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
    /// Docker's one-line description, as its usage lists the command.
    summary: &'static str,
    command: Command,
}

/// The table. Docker's aliases: `images` = `image ls`/`image list`, `rmi` = `image rm`/
/// `image remove`, `ps` = `container ls`/`container list`/`container ps`, `rm` =
/// `container rm`/`container remove`; every other top-level container or image command is
/// also its group's subcommand of the same name.
#[rustfmt::skip]
const TABLE: &[Entry] = &[
    Entry { path: "images", names: &["images"], summary: "List images", command: Command::Images },
    Entry { path: "pull", names: &["pull"], summary: "Download an image from a registry", command: Command::Pull },
    Entry { path: "load", names: &["load"], summary: "Load an image from a tar archive or STDIN", command: Command::Load },
    Entry { path: "save", names: &["save"], summary: "Save one or more images to a tar archive (streamed to STDOUT by default)", command: Command::Save },
    Entry { path: "tag", names: &["tag"], summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", command: Command::Tag },
    Entry { path: "rmi", names: &["rmi"], summary: "Remove one or more images", command: Command::Rmi },
    Entry { path: "history", names: &["history"], summary: "Show the history of an image", command: Command::History },
    Entry { path: "import", names: &["import"], summary: "Import the contents from a tarball to create a filesystem image", command: Command::Import },
    Entry { path: "inspect", names: &["inspect"], summary: "Return low-level information on Docker objects", command: Command::Inspect },
    Entry { path: "create", names: &["create"], summary: "Create a new container", command: Command::Create },
    Entry { path: "run", names: &["run"], summary: "Create and run a new container from an image", command: Command::Run },
    Entry { path: "start", names: &["start"], summary: "Start one or more stopped containers", command: Command::Start },
    Entry { path: "stop", names: &["stop"], summary: "Stop one or more running containers", command: Command::Stop },
    Entry { path: "restart", names: &["restart"], summary: "Restart one or more containers", command: Command::Restart },
    Entry { path: "kill", names: &["kill"], summary: "Kill one or more running containers", command: Command::Kill },
    Entry { path: "rm", names: &["rm"], summary: "Remove one or more containers", command: Command::Rm },
    Entry { path: "ps", names: &["ps"], summary: "List containers", command: Command::Ps },
    Entry { path: "logs", names: &["logs"], summary: "Fetch the logs of a container", command: Command::Logs },
    Entry { path: "wait", names: &["wait"], summary: "Block until one or more containers stop, then print their exit codes", command: Command::Wait },
    Entry { path: "rename", names: &["rename"], summary: "Rename a container", command: Command::Rename },
    Entry { path: "exec", names: &["exec"], summary: "Execute a command in a running container", command: Command::Exec },
    Entry { path: "attach", names: &["attach"], summary: "Attach local standard input, output, and error streams to a running container", command: Command::Attach },
    Entry { path: "pause", names: &["pause"], summary: "Pause all processes within one or more containers", command: Command::Pause },
    Entry { path: "unpause", names: &["unpause"], summary: "Unpause all processes within one or more containers", command: Command::Unpause },
    Entry { path: "commit", names: &["commit"], summary: "Create a new image from a container's changes", command: Command::Commit },
    Entry { path: "top", names: &["top"], summary: "Display the running processes of a container", command: Command::Top },
    Entry { path: "stats", names: &["stats"], summary: "Display a live stream of container(s) resource usage statistics", command: Command::Stats },
    Entry { path: "image ls", names: &["image ls", "image list"], summary: "List images", command: Command::Images },
    Entry { path: "image pull", names: &["image pull"], summary: "Download an image from a registry", command: Command::Pull },
    Entry { path: "image load", names: &["image load"], summary: "Load an image from a tar archive or STDIN", command: Command::Load },
    Entry { path: "image save", names: &["image save"], summary: "Save one or more images to a tar archive (streamed to STDOUT by default)", command: Command::Save },
    Entry { path: "image tag", names: &["image tag"], summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", command: Command::Tag },
    Entry { path: "image rm", names: &["image rm", "image remove"], summary: "Remove one or more images", command: Command::Rmi },
    Entry { path: "image history", names: &["image history"], summary: "Show the history of an image", command: Command::History },
    Entry { path: "image import", names: &["image import"], summary: "Import the contents from a tarball to create a filesystem image", command: Command::Import },
    Entry { path: "image inspect", names: &["image inspect"], summary: "Display detailed information on one or more images", command: Command::ImageInspect },
    Entry { path: "image prune", names: &["image prune"], summary: "Remove unused images", command: Command::ImagePrune },
    Entry { path: "container create", names: &["container create"], summary: "Create a new container", command: Command::Create },
    Entry { path: "container run", names: &["container run"], summary: "Create and run a new container from an image", command: Command::Run },
    Entry { path: "container start", names: &["container start"], summary: "Start one or more stopped containers", command: Command::Start },
    Entry { path: "container stop", names: &["container stop"], summary: "Stop one or more running containers", command: Command::Stop },
    Entry { path: "container restart", names: &["container restart"], summary: "Restart one or more containers", command: Command::Restart },
    Entry { path: "container kill", names: &["container kill"], summary: "Kill one or more running containers", command: Command::Kill },
    Entry { path: "container rm", names: &["container rm", "container remove"], summary: "Remove one or more containers", command: Command::Rm },
    Entry { path: "container ls", names: &["container ls", "container list", "container ps"], summary: "List containers", command: Command::Ps },
    Entry { path: "container logs", names: &["container logs"], summary: "Fetch the logs of a container", command: Command::Logs },
    Entry { path: "container wait", names: &["container wait"], summary: "Block until one or more containers stop, then print their exit codes", command: Command::Wait },
    Entry { path: "container rename", names: &["container rename"], summary: "Rename a container", command: Command::Rename },
    Entry { path: "container exec", names: &["container exec"], summary: "Execute a command in a running container", command: Command::Exec },
    Entry { path: "container attach", names: &["container attach"], summary: "Attach local standard input, output, and error streams to a running container", command: Command::Attach },
    Entry { path: "container pause", names: &["container pause"], summary: "Pause all processes within one or more containers", command: Command::Pause },
    Entry { path: "container unpause", names: &["container unpause"], summary: "Unpause all processes within one or more containers", command: Command::Unpause },
    Entry { path: "container commit", names: &["container commit"], summary: "Create a new image from a container's changes", command: Command::Commit },
    Entry { path: "container top", names: &["container top"], summary: "Display the running processes of a container", command: Command::Top },
    Entry { path: "container stats", names: &["container stats"], summary: "Display a live stream of container(s) resource usage statistics", command: Command::Stats },
    Entry { path: "container inspect", names: &["container inspect"], summary: "Display detailed information on one or more containers", command: Command::ContainerInspect },
    Entry { path: "container prune", names: &["container prune"], summary: "Remove all stopped containers", command: Command::ContainerPrune },
];

impl Command {
    /// The command's canonical name: its top-level form where it has one (`ps`, `rmi`),
    /// else its group form (`image prune`); the usages are named by their help flag.
    pub fn name(self) -> &'static str {
        match self {
            Command::Usage => "--help",
            Command::ImageUsage => "image --help",
            Command::ContainerUsage => "container --help",
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
    let group_usage = || match group {
        "image" => usage(Command::ImageUsage, "image"),
        _ => usage(Command::ContainerUsage, "container"),
    };
    match rest.split_first() {
        None => Ok(group_usage()),
        Some((h, _)) if h == "-h" || h == "--help" => Ok(group_usage()),
        Some((sub, rest)) => lookup(Some(group), sub).map(|e| Invocation {
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

/// The commands Docker's usage lists first, under "Common Commands", in its order.
const COMMON: &[&str] = &["run", "exec", "ps", "pull", "images"];

/// One usage line: the name padded as cobra pads it, then the summary.
fn usage_line(name: &str, summary: &str) -> String {
    format!("  {name:<11} {summary}\n")
}

/// `docker --help`: Docker's layout, listing the commands dokles implements.
pub fn docker_usage() -> String {
    let mut out = String::from(
        "Usage:  docker [OPTIONS] COMMAND\n\n\
         A self-sufficient runtime for containers (dokles' own engine)\n\n\
         Common Commands:\n",
    );
    let top = |name: &str| TABLE.iter().find(|e| e.path == name);
    for e in COMMON.iter().filter_map(|n| top(n)) {
        out += &usage_line(e.path, e.summary);
    }
    out += "\nManagement Commands:\n";
    out += &usage_line("container", "Manage containers");
    out += &usage_line("image", "Manage images");
    out += "\nCommands:\n";
    let mut rest: Vec<&Entry> = TABLE
        .iter()
        .filter(|e| !e.path.contains(' ') && !COMMON.contains(&e.path))
        .collect();
    rest.sort_by_key(|e| e.path);
    for e in rest {
        out += &usage_line(e.path, e.summary);
    }
    out + "\nRun 'docker COMMAND --help' for more information on a command."
}

/// `docker image --help`, `docker container`: the group's commands, sorted.
pub fn group_usage(group: &str) -> String {
    let about = match group {
        "image" => "Manage images",
        _ => "Manage containers",
    };
    let mut out = format!("Usage:  docker {group} COMMAND\n\n{about}\n\nCommands:\n");
    let mut subs: Vec<(&str, &str)> = TABLE
        .iter()
        .filter_map(|e| {
            let (g, sub) = e.path.split_once(' ')?;
            (g == group).then_some((sub, e.summary))
        })
        .collect();
    subs.sort_unstable();
    for (sub, summary) in subs {
        out += &usage_line(sub, summary);
    }
    out + &format!("\nRun 'docker {group} COMMAND --help' for more information on a command.")
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
