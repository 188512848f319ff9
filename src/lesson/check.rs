//! Checks: statements about real state — images, containers, processes and files inside
//! them, files on the host, docker commands the student ran — evaluated against the engine,
//! never against what was typed. A failing check says in Dutch what it expected and found.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::engine::container::{Container, ContainerError, ContainerStore, Status};
use crate::engine::image::ImageStore;
use crate::runtime::in_root::{RootDir, Symlinks};
use crate::state::StateRoot;

/// One statement a lesson step makes about the world.
#[derive(Debug, Clone)]
pub enum Check {
    /// An image is (or is not) present locally.
    Image { name: String, present: bool },
    /// Statements about one container; all must hold.
    Container {
        target: ContainerTarget,
        expect: Vec<ContainerExpect>,
    },
    /// A file on the host, relative to the student's working directory.
    HostFile {
        path: String,
        expect: Vec<HostFileExpect>,
    },
    /// The student ran a docker command equivalent (after parsing) to one of the
    /// alternatives during this step, and it exited with `exit_code`.
    Command {
        alternatives: Vec<CommandLine>,
        exit_code: i32,
    },
}

/// A docker command line as the lesson wrote it, and its words after `docker`.
#[derive(Debug, Clone)]
pub struct CommandLine {
    pub line: String,
    pub args: Vec<String>,
}

/// Which container a check is about.
#[derive(Debug, Clone)]
pub enum ContainerTarget {
    /// By name or (partial) ID, as the docker commands resolve it.
    Name(String),
    /// Any container created from this image; the check holds if one of them satisfies it.
    FromImage(String),
}

#[derive(Debug, Clone)]
pub enum ContainerExpect {
    Exists(bool),
    Status(Status),
    ExitCode(i32),
    Image(String),
    /// `KEY=value`, or `KEY` for any value.
    Env(String),
    /// The user the container runs as (`-u`), as given: `1000`, `nobody`, `1000:1000`.
    User(String),
    /// `key=value`, or `key` for any value.
    Label(String),
    /// Something is mounted at this path inside the (running) container.
    Mount(String),
    /// A process whose command line contains this text runs inside the container.
    Process(String),
    /// A file inside the (running) container, optionally containing `content`.
    File {
        path: String,
        content: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub enum HostFileExpect {
    Exists(bool),
    Content(String),
    /// The file is a tar archive (optionally gzipped) with this member.
    TarContains(String),
}

/// A docker command a student ran, as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RanCommand {
    /// The arguments after `docker`.
    pub args: Vec<String>,
    pub exit_code: i32,
}

/// What a check sees: the engine's state root, the student's working directory and the
/// docker commands run since the step began.
pub struct World<'a> {
    pub root: &'a StateRoot,
    pub cwd: &'a Path,
    pub commands: &'a [RanCommand],
}

/// The result of evaluating one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// Dutch: what the check expected.
    pub expected: String,
    /// Dutch: what was found instead (empty when it passed).
    pub found: String,
}

impl Outcome {
    fn pass(expected: String) -> Self {
        Self {
            passed: true,
            expected,
            found: String::new(),
        }
    }

    fn fail(expected: String, found: impl Into<String>) -> Self {
        Self {
            passed: false,
            expected,
            found: found.into(),
        }
    }

    /// One Dutch line: `verwacht: …; gevonden: …`.
    pub fn message(&self) -> String {
        if self.passed {
            format!("ok: {}", self.expected)
        } else {
            format!("verwacht: {}; gevonden: {}", self.expected, self.found)
        }
    }
}

impl Check {
    /// Evaluate against the real state.
    pub fn evaluate(&self, world: &World) -> Outcome {
        match self {
            Check::Image { name, present } => image(world, name, *present),
            Check::Container { target, expect } => container(world, target, expect),
            Check::HostFile { path, expect } => host_file(world, path, expect),
            Check::Command {
                alternatives,
                exit_code,
            } => command(world, alternatives, *exit_code),
        }
    }
}

fn image(world: &World, name: &str, present: bool) -> Outcome {
    let store = ImageStore::open(world.root);
    let found = store.get(name).ok();
    let expected = if present {
        format!("image {name} staat lokaal")
    } else {
        format!("image {name} staat niet (meer) lokaal")
    };
    match (found, present) {
        (Some(_), true) | (None, false) => Outcome::pass(expected),
        (None, true) => Outcome::fail(expected, "geen image met die naam"),
        (Some(img), false) => Outcome::fail(
            expected,
            format!("de image is er nog (ID {})", short_id(&img.id.to_string())),
        ),
    }
}

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn container(world: &World, target: &ContainerTarget, expect: &[ContainerExpect]) -> Outcome {
    let store = ContainerStore::open(world.root);
    let must_exist = !expect
        .iter()
        .any(|e| matches!(e, ContainerExpect::Exists(false)));
    let what = match target {
        ContainerTarget::Name(n) => format!("container {n}"),
        ContainerTarget::FromImage(i) => format!("een container van image {i}"),
    };
    let candidates: Vec<Container> = match target {
        ContainerTarget::Name(n) => match store.get(n) {
            Ok(c) => vec![c],
            Err(ContainerError::NoSuchContainer(_)) => Vec::new(),
            Err(ContainerError::Damaged(d)) => {
                let short = d.id.short();
                return Outcome::fail(
                    format!("{what} bestaat"),
                    format!(
                        "de container is beschadigd ({}); verwijder hem met docker rm -f {short}",
                        d.problem
                    ),
                );
            }
            Err(e) => return Outcome::fail(format!("{what} bestaat"), e.to_string()),
        },
        ContainerTarget::FromImage(i) => from_image(world, &store, i),
    };
    if !must_exist {
        let expected = format!("{what} bestaat niet (meer)");
        return match candidates.first() {
            None => Outcome::pass(expected),
            Some(c) => Outcome::fail(
                expected,
                format!(
                    "container {} bestaat nog (status {})",
                    c.config.name,
                    c.state.status.as_str()
                ),
            ),
        };
    }
    let expected = std::iter::once(format!("{what} bestaat"))
        .chain(expect.iter().filter_map(describe))
        .collect::<Vec<_>>()
        .join(", ");
    if candidates.is_empty() {
        let found = match target {
            ContainerTarget::Name(_) => "geen container met die naam".to_string(),
            ContainerTarget::FromImage(_) => "geen container van die image".to_string(),
        };
        return Outcome::fail(expected, found);
    }
    // The newest candidate's failure is the one reported.
    let mut first_failure = None;
    for c in &candidates {
        match expect.iter().find_map(|e| unmet(world, c, e)) {
            None => return Outcome::pass(expected),
            Some(found) => {
                first_failure.get_or_insert(found);
            }
        }
    }
    Outcome::fail(expected, first_failure.unwrap_or_default())
}

/// Containers created from `image` (by ID, so retags do not matter), newest first.
fn from_image(world: &World, store: &ContainerStore, image: &str) -> Vec<Container> {
    let id = ImageStore::open(world.root).get(image).ok().map(|i| i.id);
    let mut all: Vec<Container> = store
        .list()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| match &id {
            Some(id) => &c.config.image_id == id,
            None => c.config.image_name == image,
        })
        .collect();
    all.sort_by_key(|c| std::cmp::Reverse(c.config.created));
    all
}

/// The Dutch wording of a container expectation.
fn describe(e: &ContainerExpect) -> Option<String> {
    Some(match e {
        ContainerExpect::Exists(_) => return None,
        ContainerExpect::Status(s) => format!("met status {}", s.as_str()),
        ContainerExpect::ExitCode(c) => format!("met exitcode {c}"),
        ContainerExpect::Image(i) => format!("gemaakt van image {i}"),
        ContainerExpect::Env(e) => format!("met omgevingsvariabele {e}"),
        ContainerExpect::User(u) => format!("die draait als gebruiker {u}"),
        ContainerExpect::Label(l) => format!("met label {l}"),
        ContainerExpect::Mount(m) => format!("met iets gekoppeld (mount) op {m}"),
        ContainerExpect::Process(p) => format!("waarin een proces `{p}` draait"),
        ContainerExpect::File {
            path,
            content: None,
        } => format!("met een bestand {path}"),
        ContainerExpect::File {
            path,
            content: Some(c),
        } => format!("met een bestand {path} dat `{c}` bevat"),
    })
}

/// `None` when `c` meets `e`, else what was found instead.
fn unmet(world: &World, c: &Container, e: &ContainerExpect) -> Option<String> {
    let name = &c.config.name;
    match e {
        ContainerExpect::Exists(_) => None,
        ContainerExpect::Status(s) => (c.state.status != *s).then(|| {
            let mut found = format!("{name} heeft status {}", c.state.status.as_str());
            if c.state.status == Status::Exited {
                found.push_str(&format!(" (exitcode {})", c.state.exit_code));
            }
            found
        }),
        ContainerExpect::ExitCode(code) => {
            if c.state.status != Status::Exited {
                Some(format!(
                    "{name} is nog niet gestopt (status {})",
                    c.state.status.as_str()
                ))
            } else {
                (c.state.exit_code != *code)
                    .then(|| format!("{name} stopte met exitcode {}", c.state.exit_code))
            }
        }
        ContainerExpect::Image(image) => {
            let wanted = ImageStore::open(world.root).get(image).ok().map(|i| i.id);
            let same = match wanted {
                Some(id) => c.config.image_id == id,
                None => c.config.image_name == *image,
            };
            (!same).then(|| format!("{name} is gemaakt van image {}", c.config.image_name))
        }
        ContainerExpect::Env(want) => {
            let hit = c.config.env.iter().any(|e| {
                if want.contains('=') {
                    e == want
                } else {
                    e.split('=').next() == Some(want.as_str())
                }
            });
            (!hit).then(|| {
                let key = want.split('=').next().unwrap_or(want);
                match c
                    .config
                    .env
                    .iter()
                    .find(|e| e.split('=').next() == Some(key))
                {
                    Some(e) => format!("{name} heeft {e}"),
                    None => format!("{name} heeft geen omgevingsvariabele {key}"),
                }
            })
        }
        ContainerExpect::User(want) => (c.config.user != *want).then(|| {
            if c.config.user.is_empty() {
                format!("{name} draait als de standaardgebruiker van zijn image (geen -u)")
            } else {
                format!("{name} draait als gebruiker {}", c.config.user)
            }
        }),
        ContainerExpect::Label(want) => {
            let (k, v) = match want.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (want.as_str(), None),
            };
            match (c.config.labels.get(k), v) {
                (Some(_), None) => None,
                (Some(have), Some(v)) if have == v => None,
                (Some(have), Some(_)) => Some(format!("{name} heeft label {k}={have}")),
                (None, _) => Some(format!("{name} heeft geen label {k}")),
            }
        }
        ContainerExpect::Mount(dest) => {
            let Some(pid) = running_pid(c) else {
                return Some(format!(
                    "{name} draait niet (status {}); dokles kijkt alleen in draaiende containers",
                    c.state.status.as_str()
                ));
            };
            let mounts = mount_points(pid);
            let want = dest.trim_end_matches('/');
            let want = if want.is_empty() { "/" } else { want };
            (!mounts.iter().any(|m| m == want))
                .then(|| format!("in {name} is niets gekoppeld op {dest}"))
        }
        ContainerExpect::Process(text) => {
            let Some(pid) = running_pid(c) else {
                return Some(format!(
                    "{name} draait niet (status {})",
                    c.state.status.as_str()
                ));
            };
            let procs = processes_in(pid);
            if procs.iter().any(|p| p.contains(text.as_str())) {
                None
            } else {
                Some(format!("in {name} draaien: {}", procs.join("; ")))
            }
        }
        ContainerExpect::File { path, content } => {
            let Some(pid) = running_pid(c) else {
                return Some(format!(
                    "{name} draait niet (status {}); dokles kijkt alleen in draaiende containers",
                    c.state.status.as_str()
                ));
            };
            match read_in_container(pid, path) {
                Err(e) => Some(format!("geen bestand {path} in {name} ({e})")),
                Ok(data) => match content {
                    Some(want) if !data.contains(want.as_str()) => {
                        Some(format!("{path} in {name} bevat: {}", abbreviate(&data)))
                    }
                    _ => None,
                },
            }
        }
    }
}

fn abbreviate(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

fn running_pid(c: &Container) -> Option<i32> {
    if c.state.status != Status::Running {
        return None;
    }
    c.state.process.filter(|p| p.alive()).map(|p| p.pid)
}

/// Command lines of every process in the PID namespace of `init` (the container's init):
/// exec'd processes join that namespace, so they are found too.
fn processes_in(init: i32) -> Vec<String> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/ns/pid"))
            .ok()
            .as_ref()
            != Some(&ns)
        {
            continue;
        }
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let line = raw
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            if !line.is_empty() {
                found.push(line);
            }
        }
    }
    found
}

/// The mount points of the container, as its init sees them (`/proc/<init>/mountinfo`,
/// field 5: the path relative to the process's root, octal escapes undone).
fn mount_points(init: i32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{init}/mountinfo"))
        .map(|info| {
            info.lines()
                .filter_map(|l| l.split(' ').nth(4))
                .map(unescape_octal)
                .collect()
        })
        .unwrap_or_default()
}

/// `\040` → space, as the kernel escapes blanks and backslashes in mountinfo.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read a file as the container sees it: through the container init's root, every
/// component (symlinks included) resolved inside that root, so a hostile container cannot
/// point the check at a host file. At most 1 MiB is read.
fn read_in_container(init: i32, path: &str) -> std::io::Result<String> {
    let root = RootDir::open(&PathBuf::from(format!("/proc/{init}/root")))?;
    let fd = root.open_path(Path::new(path), Symlinks::FollowInRoot)?;
    let proc_path = crate::runtime::in_root::fd_path(&fd);
    let file = std::fs::File::open(proc_path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("geen gewoon bestand"));
    }
    let mut data = Vec::new();
    file.take(1 << 20).read_to_end(&mut data)?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

fn host_file(world: &World, path: &str, expect: &[HostFileExpect]) -> Outcome {
    let full = world.cwd.join(path);
    let expected = expect
        .iter()
        .map(|e| match e {
            HostFileExpect::Exists(true) => format!("bestand {path} bestaat"),
            HostFileExpect::Exists(false) => format!("bestand {path} bestaat niet"),
            HostFileExpect::Content(c) => format!("met inhoud `{c}`"),
            HostFileExpect::TarContains(m) => format!("een tar-archief met {m}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let exists = full.symlink_metadata().is_ok();
    for e in expect {
        let problem = match e {
            HostFileExpect::Exists(want) if *want != exists => Some(if exists {
                format!("{path} bestaat")
            } else {
                format!("geen bestand {path} in {}", world.cwd.display())
            }),
            HostFileExpect::Exists(_) => None,
            HostFileExpect::Content(want) => match std::fs::read_to_string(&full) {
                Ok(s) if s.contains(want.as_str()) => None,
                Ok(s) => Some(format!("{path} bevat: {}", abbreviate(&s))),
                Err(e) => Some(format!("{path} is niet leesbaar: {e}")),
            },
            HostFileExpect::TarContains(member) => match tar_members(&full) {
                Ok(members) => {
                    let want = normalize_member(member);
                    (!members.iter().any(|m| normalize_member(m) == want)).then(|| {
                        format!(
                            "{path} bevat {} bestanden, maar niet {member}",
                            members.len()
                        )
                    })
                }
                Err(e) => Some(format!("{path} is geen leesbaar tar-archief: {e}")),
            },
        };
        if let Some(found) = problem {
            return Outcome::fail(expected, found);
        }
    }
    Outcome::pass(expected)
}

fn normalize_member(m: &str) -> &str {
    m.trim_start_matches("./").trim_end_matches('/')
}

fn tar_members(path: &Path) -> std::io::Result<Vec<String>> {
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = std::fs::File::open(path)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    let mut members = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        members.push(entry.path()?.to_string_lossy().into_owned());
    }
    Ok(members)
}

fn command(world: &World, alternatives: &[CommandLine], exit_code: i32) -> Outcome {
    let lines = alternatives
        .iter()
        .map(|a| format!("`{}`", a.line))
        .collect::<Vec<_>>()
        .join(" of ");
    let expected = if exit_code == 0 {
        format!("je voerde {lines} (of iets gelijkwaardigs) uit")
    } else {
        format!("je voerde {lines} uit en die eindigde met exitcode {exit_code}")
    };
    let wanted: Vec<_> = alternatives
        .iter()
        .filter_map(|a| crate::cli::canonical(&a.args).ok())
        .collect();
    let hit = world.commands.iter().any(|c| {
        c.exit_code == exit_code
            && crate::cli::canonical(&c.args)
                .ok()
                .is_some_and(|ran| wanted.contains(&ran))
    });
    if hit {
        return Outcome::pass(expected);
    }
    let found = match world.commands.last() {
        None => "je voerde in deze stap nog geen docker-opdracht uit".to_string(),
        Some(c) => format!(
            "je laatste docker-opdracht was `docker {}` (exitcode {})",
            c.args.join(" "),
            c.exit_code
        ),
    };
    Outcome::fail(expected, found)
}
