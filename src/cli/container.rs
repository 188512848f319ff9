//! The container commands: `create`, `run`, `start`, `stop`, `restart`, `kill`, `rm`, `ps`,
//! `logs`, `wait`, `rename`, `attach`, `exec` and container `inspect` — and the `container`
//! group.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use nix::sys::signal::Signal;
use serde_json::{json, Value};

use super::args::{parse_bool, parse_int, positionals, spec, Arity, Positional, Spec};
use super::interactive::{self, AttachOptions, Outcome};
use super::output::render_list;
use super::terminal;
use super::units::{ago, bytes_size, human_duration, human_size};
use super::{CliError, CliResult, Context};
use crate::engine::container::attach::Hello;
use crate::engine::container::lifecycle::{self, parse_signal, CreateOptions};
use crate::engine::container::logs::{self, LogConfig, LogEntry, Logging, ReadOptions};
use crate::engine::container::record::Ulimit;
use crate::engine::container::seccomp;
use crate::engine::container::{Container, ContainerError, ContainerStore, Status};
use crate::engine::image::cache::{self, Cache};
use crate::engine::image::{Image, ImageError, ImageStore, Reference};

impl From<ContainerError> for CliError {
    fn from(e: ContainerError) -> Self {
        match e {
            ContainerError::Image(i) => i.into(),
            ContainerError::Other(e) => CliError::Daemon(format!("{e:#}")),
            other => CliError::Daemon(other.to_string()),
        }
    }
}

positionals!(
    CreateArgs, StartArgs, AttachArgs, StopArgs, KillArgs, RmArgs, PsArgs, LogsArgs, ExecArgs,
    CommitArgs, PruneArgs, TopArgs, StatsArgs,
);

fn containers(ctx: &Context) -> ContainerStore {
    ContainerStore::open(&ctx.root)
}

/// What `docker container` alone prints.

// ---------------------------------------------------------------------------------------
// create / run

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub(super) struct CreateArgs {
    #[arg(short = 'd', long = "detach")]
    detach: bool,
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    #[arg(short = 't', long = "tty")]
    tty: bool,
    #[arg(long = "name")]
    name: Option<String>,
    #[arg(long = "rm")]
    rm: bool,
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    #[arg(long = "entrypoint")]
    entrypoint: Option<String>,
    #[arg(short = 'h', long = "hostname")]
    hostname: Option<String>,
    #[arg(short = 'l', long = "label")]
    label: Vec<String>,
    /// An optional pflag bool, kept apart from "not given" (Docker's `Init` pointer).
    #[arg(long = "init", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    init: Option<bool>,
    #[arg(long = "privileged")]
    privileged: bool,
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    #[arg(long = "security-opt")]
    security_opt: Vec<String>,
    #[arg(short = 'm', long = "memory")]
    memory: Option<String>,
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    #[arg(short = 'c', long = "cpu-shares", value_parser = parse_int)]
    cpu_shares: Option<i64>,
    #[arg(long = "cpus")]
    cpus: Option<String>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cgroup-parent")]
    cgroup_parent: Option<String>,
    #[arg(long = "pids-limit", value_parser = parse_int)]
    pids_limit: Option<i64>,
    #[arg(long = "ulimit")]
    ulimit: Vec<String>,
    #[arg(long = "log-driver")]
    log_driver: Option<String>,
    #[arg(long = "log-opt")]
    log_opt: Vec<String>,
    #[arg(long = "pull", default_value = "missing")]
    pull: String,
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(long = "sig-proxy", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    sig_proxy: String,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// IMAGE [COMMAND] [ARG...]: everything from the image on belongs to the container
    /// (a flag before the image is still ours, and an unknown one is an error).
    #[arg(trailing_var_arg = true)]
    args: Vec<String>,
}

/// A client-side error of `docker run`/`create`: `docker: …`, then the help hint; exit 125.
fn client_error(cmd: &str, text: impl std::fmt::Display) -> CliError {
    CliError::Message {
        text: format!("docker: {text}\n\nRun 'docker {cmd} --help' for more information"),
        code: 125,
    }
}

/// A flag value `run`/`create` refuse: pflag's `invalid argument` text, the usage, the help
/// hint; exit 125.
fn flag_value_error(cmd: &str, text: impl std::fmt::Display) -> CliError {
    let usage = if cmd == "create" {
        CREATE_USAGE
    } else {
        RUN_USAGE
    };
    CliError::Message {
        text: format!(
            "{text}\n\nUsage:  {usage}\n\nRun 'docker {cmd} --help' for more information"
        ),
        code: 125,
    }
}

/// `-e`: `KEY=value` stays; a bare `KEY` takes the value from our environment (or is
/// dropped); an empty key is a flag error, as Docker's `ValidateEnv`.
fn env_flag(cmd: &str, e: &str) -> Result<Option<String>, CliError> {
    let key = e.split_once('=').map_or(e, |(k, _)| k);
    if key.is_empty() {
        return Err(flag_value_error(
            cmd,
            format!(
                "invalid argument {e:?} for \"-e, --env\" flag: invalid environment variable: {e}"
            ),
        ));
    }
    Ok(env_entry(e))
}

fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

/// An `--env-file`, parsed as Docker's `parseKeyValueFile`: leading blanks go, `#` lines and
/// empty lines are skipped, values pass through untrimmed, a key with blanks or no key at all
/// is refused.
fn read_env_file(cmd: &str, path: &str) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let reason = e
            .raw_os_error()
            .map(|n| nix::errno::Errno::from_raw(n).desc().to_ascii_lowercase())
            .unwrap_or_else(|| e.to_string());
        client_error(cmd, format!("open {path}: {reason}"))
    })?;
    let bad = |msg: String| client_error(cmd, format!("invalid env file ({path}): {msg}"));
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let key = key.trim_start_matches([' ', '\t']);
        if key.contains([' ', '\t']) {
            return Err(bad(format!("variable '{key}' contains whitespaces")));
        }
        if key.is_empty() {
            return Err(bad(format!("no variable name on line '{line}'")));
        }
        match value {
            Some(v) => out.push(format!("{key}={v}")),
            None => out.extend(env_entry(line.trim())),
        }
    }
    Ok(out)
}

/// `--log-driver` and `--log-opt key=value` (a bare `key` has the value ""; a later key
/// wins), with the client's one check: the `none` driver takes no options.
fn log_config(cmd: &str, driver: Option<&str>, opts: &[String]) -> Result<LogConfig, CliError> {
    let driver = driver.unwrap_or("");
    if driver == logs::NONE && !opts.is_empty() {
        return Err(client_error(cmd, "invalid logging opts for driver none"));
    }
    let options = opts
        .iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.to_string(), String::new()),
        })
        .collect();
    Ok(LogConfig::new(driver, options))
}

/// `--security-opt`: the client's check that each option is `no-new-privileges` or has a
/// value (`key=value`, or the old `key:value`).
fn check_security_opts(cmd: &str, opts: &[String]) -> Result<(), CliError> {
    for opt in opts {
        let split = opt.split_once('=').or_else(|| {
            (opt != "no-new-privileges")
                .then(|| opt.split_once(':'))
                .flatten()
        });
        let has_value = split.is_some_and(|(_, v)| !v.is_empty());
        let key = split.map_or(opt.as_str(), |(k, _)| k);
        if !has_value && key != "no-new-privileges" {
            return Err(client_error(
                cmd,
                format!("Invalid --security-opt: {opt:?}"),
            ));
        }
    }
    Ok(())
}

fn create_options(a: &CreateArgs, cmd: &str) -> Result<CreateOptions, CliError> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(read_env_file(cmd, f)?);
    }
    for e in &a.env {
        env.extend(env_flag(cmd, e)?);
    }
    let log_config = log_config(cmd, a.log_driver.as_deref(), &a.log_opt)?;
    check_security_opts(cmd, &a.security_opt)?;
    let labels: BTreeMap<String, String> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect();
    Ok(CreateOptions {
        image_name: a.args[0].clone(),
        name: a.name.clone(),
        cmd: (a.args.len() > 1).then(|| a.args[1..].to_vec()),
        entrypoint: a.entrypoint.clone(),
        env,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        labels,
        tty: a.tty,
        open_stdin: a.interactive,
        detach: a.detach,
        auto_remove: a.rm,
        privileged: a.privileged,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        security_opt: a.security_opt.clone(),
        init: a.init,
        memory: match &a.memory {
            Some(m) => ram_in_bytes(m).map_err(|why| {
                flag_value_error(cmd, format!(
                    "invalid argument \"{m}\" for \"-m, --memory\" flag: {why}"
                ))
            })?,
            None => 0,
        },
        // go-units' RAMInBytes, and -1 for no swap limit (Docker's MemSwapBytes).
        memory_swap: match a.memory_swap.as_deref() {
            Some("-1") => -1,
            Some(m) => ram_in_bytes(m).map_err(|why| {
                flag_value_error(cmd, format!(
                    "invalid argument \"{m}\" for \"--memory-swap\" flag: {why}"
                ))
            })?,
            None => 0,
        },
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        nano_cpus: match &a.cpus {
            Some(c) => match c.parse::<f64>() {
                Ok(v) if v.is_finite() => (v * 1e9) as i64,
                _ => {
                    return Err(flag_value_error(cmd, format!(
                        "invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number"
                    )))
                }
            },
            None => 0,
        },
        pids_limit: a.pids_limit.unwrap_or(0),
        ulimits: a
            .ulimit
            .iter()
            .map(|u| {
                Ulimit::parse(u).map_err(|e| {
                    flag_value_error(cmd, format!("invalid argument \"{u}\" for \"--ulimit\" flag: {e}"))
                })
            })
            .collect::<Result<_, _>>()?,
        cgroup_parent: a.cgroup_parent.clone().unwrap_or_default(),
        log_config,
    })
    .and_then(|o| {
        // The daemon's checks of the resources asked for, in its order.
        if o.memory > 0 && o.memory < 6 * 1024 * 1024 {
            return Err(daemon_run_error(cmd, "Minimum memory limit allowed is 6MB"));
        }
        if o.memory > 0 && o.memory_swap > 0 && o.memory_swap < o.memory {
            return Err(daemon_run_error(
                cmd,
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if o.memory == 0 && o.memory_swap > 0 {
            return Err(daemon_run_error(
                cmd,
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if o.nano_cpus < 0 || o.nano_cpus > cpus * 1_000_000_000 {
            return Err(daemon_run_error(
                cmd,
                &format!("Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"),
            ));
        }
        check_cpuset(&o.cpuset_cpus).map_err(|e| daemon_run_error(cmd, &e))?;
        Ok(o)
    })
}

/// `--cpuset-cpus` checked as Docker's daemon checks it: a list of CPUs and ranges
/// (`0-2,4`), every one of them available.
fn check_cpuset(requested: &str) -> Result<(), String> {
    let available = crate::runtime::cgroups::available_cpus();
    let wanted = parse_cpu_list(requested, 8192)
        .map_err(|e| format!("Invalid value {requested} for cpuset cpus: {e}"))?;
    let have = parse_cpu_list(&available, 0).unwrap_or_default();
    if wanted.iter().all(|c| have.contains(c)) {
        Ok(())
    } else {
        Err(format!(
            "Requested CPUs are not available - requested {requested}, available: {available}"
        ))
    }
}

/// moby's `parseUintList`: `7`, `1-6`, `0,3-4,7`, duplicates allowed; numbers above
/// `maximum` (when not 0) refused, so a huge range cannot exhaust memory.
fn parse_cpu_list(list: &str, maximum: u64) -> Result<std::collections::BTreeSet<u64>, String> {
    let mut cpus = std::collections::BTreeSet::new();
    if list.is_empty() {
        return Ok(cpus);
    }
    let invalid = || format!("invalid format: {list}");
    // Go's strconv.Atoi: an optional sign, then decimal digits.
    let number = |s: &str| -> Result<u64, String> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        digits.parse().map_err(|_| invalid())
    };
    let in_range = |n: u64| {
        if maximum != 0 && n > maximum {
            Err(format!("value of out range, maximum is {maximum}"))
        } else {
            Ok(n)
        }
    };
    for part in list.split(',') {
        match part.split_once('-') {
            None => {
                cpus.insert(in_range(number(part)?)?);
            }
            Some((first, last)) => {
                let (first, last) = (number(first)?, number(last)?);
                if last < first {
                    return Err(invalid());
                }
                cpus.extend(first..=in_range(last)?);
            }
        }
    }
    Ok(cpus)
}

/// go-units' `RAMInBytes`: `512m`, `1g`, `100k`, `1024b` (binary multiples).
/// go-units' `RAMInBytes` (`-m 512m`, `1.5g`, `100KiB`), with its error texts.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    let (num, suffix) = match s.as_bytes()[sep] {
        b' ' => (&s[..sep], &s[sep + 1..]),
        _ => (&s[..=sep], &s[sep + 1..]),
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    if suffix.len() > 3 {
        return Err(format!("invalid suffix: '{suffix}'"));
    }
    let suffix = suffix.to_ascii_lowercase();
    let bad = || format!("invalid suffix: '{suffix}'");
    let mut chars = suffix.chars();
    let multiplier: f64 = match chars.next() {
        None => 1.0,
        Some('b') if suffix.len() == 1 => 1.0,
        Some(c) if suffix.len() <= 3 => {
            let power = "kmgtp".find(c).ok_or_else(bad)? as i32 + 1;
            if !matches!(chars.as_str(), "" | "b" | "ib") {
                return Err(bad());
            }
            1024f64.powi(power)
        }
        Some(_) => return Err(bad()),
    };
    Ok((size * multiplier) as i64)
}

/// Find the image, pulling it from the offline cache when missing, with Docker's
/// "Unable to find image" lines on stderr.
/// `create` reports a failed pull as the daemon's error (exit 1), `run` dresses it up.
fn image_for_run(
    ctx: &Context,
    cmd: &str,
    name: &str,
    pull: &str,
    quiet: bool,
) -> Result<Image, CliError> {
    let store = ImageStore::open(&ctx.root);
    let reference = Reference::parse(name).map_err(|e| match cmd {
        "create" => CliError::plain(e.to_string()),
        _ => client_error(cmd, e),
    })?;
    let shown = reference.familiar_with_default_tag();
    let do_pull = match pull {
        "always" => true,
        "never" => false,
        "missing" => match store.get(name) {
            Ok(img) => return Ok(img),
            Err(ImageError::NoSuchImage(_)) => true,
            Err(e) => return Err(e.into()),
        },
        other => {
            return Err(client_error(
                cmd,
                format!("invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""),
            ))
        }
    };
    if do_pull {
        let mut err = std::io::stderr().lock();
        let mut sink = std::io::sink();
        if pull == "missing" && !quiet {
            let _ = writeln!(err, "Unable to find image '{shown}' locally");
        }
        let cache = Cache::shipped()?;
        cache::pull(
            &store,
            &cache,
            name,
            cache::PullOutput::Run,
            if quiet { &mut sink } else { &mut err },
        )
        .map_err(|e| daemon_run_error(cmd, CliError::from(e).text()))?;
    }
    store.get(name).map_err(|e| match e {
        ImageError::NoSuchImage(_) => daemon_run_error(cmd, &format!("No such image: {shown}")),
        other => other.into(),
    })
}

/// An engine error before the container exists: `create` prints it as is (exit 1); `run`
/// prefixes it and adds the help hint (exit 125).
fn daemon_run_error(cmd: &str, text: &str) -> CliError {
    match cmd {
        "create" => CliError::Daemon(text.to_string()),
        _ => client_error(cmd, format!("Error response from daemon: {text}")),
    }
}

/// A container that did not start is removed again when `--rm` asked for it (whatever
/// stage failed), as Docker does; then the error is reported.
fn failed_run(
    store: &ContainerStore,
    id: &crate::engine::container::ContainerId,
    auto_remove: bool,
    e: ContainerError,
) -> CliError {
    if auto_remove {
        let _ = lifecycle::remove(store, id, true);
    }
    run_error(e, "run")
}

fn run_error(e: ContainerError, cmd: &str) -> CliError {
    let code = match &e {
        ContainerError::Start { code, .. } => *code as u8,
        _ => 125,
    };
    let text = CliError::from(e).text().to_string();
    CliError::Message {
        text: format!("docker: Error response from daemon: {text}\n\nRun 'docker {cmd} --help' for more information"),
        code,
    }
}

fn create_container(
    ctx: &Context,
    a: &CreateArgs,
    cmd: &str,
) -> Result<crate::engine::container::ContainerId, CliError> {
    let mut opts = create_options(a, cmd)?;
    // As docker/cli: a seccomp profile file travels as its JSON.
    opts.security_opt =
        seccomp::read_profile_files(&opts.security_opt).map_err(|e| CliError::Message {
            text: format!("docker: {e}\n\nRun 'docker {cmd} --help' for more information"),
            code: 125,
        })?;
    let image = image_for_run(ctx, cmd, &a.args[0], &a.pull, a.quiet)?;
    lifecycle::create(&containers(ctx), &image, &opts).map_err(|e| match cmd {
        // `docker create` prints the daemon's error as is and exits 1; `run` dresses it up.
        "create" => CliError::from(e),
        _ => run_error(e, cmd),
    })
}

const CREATE_USAGE: &str = "docker create [OPTIONS] IMAGE [COMMAND] [ARG...]";
const RUN_USAGE: &str = "docker run [OPTIONS] IMAGE [COMMAND] [ARG...]";

pub(super) fn parse_create(path: &str, args: &[String]) -> Result<CreateArgs, CliError> {
    spec(path, CREATE_USAGE, Arity::AtLeast(1)).parse_checked(args)
}

pub fn create(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_create(path, args)?;
    let id = create_container(ctx, &a, "create")?;
    println!("{id}");
    Ok(())
}

pub(super) fn parse_run(path: &str, args: &[String]) -> Result<CreateArgs, CliError> {
    spec(path, RUN_USAGE, Arity::AtLeast(1)).parse_checked(args)
}

pub fn run(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_run(path, args)?;
    let interactive = !a.detach && (a.tty || a.interactive);
    let detach_keys = detach_keys(a.detach_keys.as_deref())?;
    if interactive && a.tty && a.interactive && !terminal::stdin_is_terminal() {
        return Err(CliError::plain("the input device is not a TTY"));
    }
    let id = create_container(ctx, &a, "run")?;
    let store = containers(ctx);
    if a.detach {
        lifecycle::start(&store, &id, false).map_err(|e| failed_run(&store, &id, a.rm, e))?;
        println!("{id}");
        return Ok(());
    }
    if interactive {
        let hello = Hello {
            stdin: a.interactive,
            stdout: true,
            stderr: true,
            size: terminal::window_size().filter(|_| a.tty),
        };
        let session = lifecycle::start_attached(&store, &id, hello)
            .map_err(|e| failed_run(&store, &id, a.rm, e))?
            .ok_or_else(|| CliError::Daemon("the container already runs".into()))?;
        let opts = AttachOptions {
            stdin: a.interactive,
            tty: a.tty,
            detach_keys,
            proxy: sig_proxy(&store, &id, !a.tty && a.sig_proxy != "false"),
        };
        // `run` detaches silently, with success.
        return match interactive::attach(session, opts)? {
            Outcome::Exited(code) => exit_code(code),
            Outcome::Detached => {
                lifecycle::detached(&store, &id);
                Ok(())
            }
        };
    }
    let attached =
        lifecycle::start(&store, &id, true).map_err(|e| failed_run(&store, &id, a.rm, e))?;
    let code = match attached {
        Some(a) => a.wait()?,
        None => 0,
    };
    std::io::stdout().flush().ok();
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::Message {
            text: String::new(),
            code: code.clamp(0, 255) as u8,
        })
    }
}

/// Docker's way of ending with a container's exit code.
fn exit_code(code: i32) -> CliResult {
    if code == 0 {
        Ok(())
    } else {
        Err(CliError::Message {
            text: String::new(),
            code: code.clamp(0, 255) as u8,
        })
    }
}

/// `--sig-proxy`: pass the signals we receive to container `id`.
fn sig_proxy(
    store: &ContainerStore,
    id: &crate::engine::container::ContainerId,
    on: bool,
) -> Option<Box<dyn Fn(Signal) + Send>> {
    let (store, id) = (store.clone(), id.clone());
    on.then(|| -> Box<dyn Fn(Signal) + Send> {
        Box::new(move |signal| {
            // A container that has just ended needs no signal.
            let _ = lifecycle::kill(&store, &id, signal);
        })
    })
}

/// `--detach-keys`, or Docker's default `ctrl-p,ctrl-q`.
fn detach_keys(keys: Option<&str>) -> Result<Vec<u8>, CliError> {
    match keys {
        None => Ok(terminal::DEFAULT_DETACH_KEYS.to_vec()),
        Some(k) => terminal::parse_detach_keys(k)
            .map_err(|e| CliError::plain(format!("Invalid detach keys ({k}) provided: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------
// start / stop / restart / kill / rm / wait / rename / attach

#[derive(Parser, Debug)]
pub(super) struct StartArgs {
    #[arg(short = 'a', long = "attach")]
    attach: bool,
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    args: Vec<String>,
}

/// Run `op` for every named container, Docker-style: print each name on success, each error
/// on stderr, and fail at the end if any failed (with an optional summary line).
fn each(
    names: &[String],
    summary: Option<&str>,
    mut op: impl FnMut(&str) -> Result<(), CliError>,
) -> CliResult {
    let mut failed = Vec::new();
    for n in names {
        match op(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                report(&e);
                failed.push(n.clone());
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    match summary {
        Some(s) => Err(CliError::plain(format!(
            "Error: {s}: {}",
            failed.join(", ")
        ))),
        None => Err(CliError::plain("").silent()),
    }
}

/// Print one container's error as the multi-container commands do.
fn report(e: &CliError) {
    match e {
        CliError::Daemon(t) => eprintln!("Error response from daemon: {t}"),
        CliError::Message { text, .. } => eprintln!("{text}"),
        CliError::Help(text) => println!("{text}"),
    }
}

pub(super) fn parse_start(path: &str, args: &[String]) -> Result<StartArgs, CliError> {
    spec(
        path,
        "docker start [OPTIONS] CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn start(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_start(path, args)?;
    let store = containers(ctx);
    if a.attach || a.interactive {
        if a.args.len() > 1 {
            return Err(CliError::plain(
                "you cannot start and attach multiple containers at once",
            ));
        }
        let id = store.resolve(&a.args[0])?;
        let c = store.load(&id)?;
        let stdin = a.interactive && c.config.open_stdin;
        if c.config.tty || stdin {
            let detach_keys = detach_keys(a.detach_keys.as_deref())?;
            if c.config.tty && stdin && !terminal::stdin_is_terminal() {
                return Err(CliError::plain("the input device is not a TTY"));
            }
            let hello = Hello {
                stdin,
                stdout: true,
                stderr: true,
                size: terminal::window_size().filter(|_| c.config.tty),
            };
            let session = match lifecycle::start_attached(&store, &id, hello)? {
                Some(s) => s,
                // Already running: attach to it as it is.
                None => lifecycle::attach(&store, &id, hello)?,
            };
            let opts = AttachOptions {
                stdin,
                tty: c.config.tty,
                detach_keys,
                proxy: sig_proxy(&store, &id, !c.config.tty),
            };
            return match interactive::attach(session, opts)? {
                Outcome::Exited(code) => exit_code(code),
                Outcome::Detached => {
                    lifecycle::detached(&store, &id);
                    Ok(())
                }
            };
        }
        let attached = lifecycle::start(&store, &id, true)?;
        let code = match attached {
            Some(h) => h.wait()?,
            None => {
                // Already running: follow it through its monitor, as `docker attach` does.
                let hello = Hello {
                    stdin: false,
                    stdout: true,
                    stderr: true,
                    size: None,
                };
                let session = lifecycle::attach(&store, &id, hello)?;
                let opts = AttachOptions {
                    stdin: false,
                    tty: false,
                    detach_keys: detach_keys(a.detach_keys.as_deref())?,
                    proxy: sig_proxy(&store, &id, true),
                };
                match interactive::attach(session, opts)? {
                    Outcome::Exited(code) => code,
                    Outcome::Detached => {
                        lifecycle::detached(&store, &id);
                        0
                    }
                }
            }
        };
        return if code == 0 {
            Ok(())
        } else {
            Err(CliError::Message {
                text: String::new(),
                code: code.clamp(0, 255) as u8,
            })
        };
    }
    each(&a.args, Some("failed to start containers"), |n| {
        let id = store.resolve(n)?;
        lifecycle::start(&store, &id, false)?;
        Ok(())
    })
}

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub(super) struct AttachArgs {
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    #[arg(long = "sig-proxy", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    sig_proxy: String,
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    args: Vec<String>,
}

/// `docker attach CONTAINER`: the running container's output here, our input there, until
/// it exits (its exit code) or the detach keys are typed.
pub(super) fn parse_attach(path: &str, args: &[String]) -> Result<AttachArgs, CliError> {
    spec(path, "docker attach [OPTIONS] CONTAINER", Arity::Exact(1)).parse_checked(args)
}

pub fn attach(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_attach(path, args)?;
    let detach_keys = detach_keys(a.detach_keys.as_deref())?;
    let store = containers(ctx);
    let c = store.get(&a.args[0])?;
    if !c.state.is_running() {
        return Err(CliError::plain(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if c.state.status == Status::Paused {
        return Err(CliError::plain(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let stdin = !a.no_stdin && c.config.open_stdin;
    if c.config.tty && stdin && !terminal::stdin_is_terminal() {
        return Err(CliError::plain("the input device is not a TTY"));
    }
    let hello = Hello {
        stdin,
        stdout: true,
        stderr: true,
        size: terminal::window_size().filter(|_| c.config.tty),
    };
    let session = lifecycle::attach(&store, &c.config.id, hello)?;
    let opts = AttachOptions {
        stdin,
        tty: c.config.tty,
        detach_keys,
        proxy: sig_proxy(
            &store,
            &c.config.id,
            !c.config.tty && a.sig_proxy != "false",
        ),
    };
    match interactive::attach(session, opts)? {
        Outcome::Exited(code) => exit_code(code),
        // As Docker: the escape sequence is reported, and is an error.
        Outcome::Detached => {
            lifecycle::detached(&store, &c.config.id);
            Err(CliError::plain("read escape sequence"))
        }
    }
}

#[derive(Parser, Debug)]
pub(super) struct StopArgs {
    /// Seconds before SIGKILL; negative waits for ever (`--time` is the old name).
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        allow_negative_numbers = true,
        value_parser = parse_int
    )]
    timeout: Option<i64>,
    #[arg(short = 's', long = "signal")]
    signal: Option<String>,
    args: Vec<String>,
}

impl StopArgs {
    fn timeout(&self) -> Option<Duration> {
        match self.timeout {
            Some(t) if t < 0 => None,
            t => Some(Duration::from_secs(t.unwrap_or(10).unsigned_abs())),
        }
    }

    /// Docker's warning for the old flag name (on stdout, as Docker prints it).
    fn warn_deprecated(args: &[String]) {
        if args
            .iter()
            .any(|a| a == "--time" || a.starts_with("--time="))
        {
            println!("Flag --time has been deprecated, use --timeout instead");
        }
    }

    fn signal(&self) -> Result<Option<Signal>, CliError> {
        self.signal
            .as_deref()
            .map(|s| {
                parse_signal(s).ok_or_else(|| CliError::daemon(format!("Invalid signal: {s}")))
            })
            .transpose()
    }
}

pub fn stop(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    stop_or_restart(ctx, path, args, false)
}

pub fn restart(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    stop_or_restart(ctx, path, args, true)
}

fn stop_spec(path: &str, restart: bool) -> Spec {
    if restart {
        spec(
            path,
            "docker restart [OPTIONS] CONTAINER [CONTAINER...]",
            Arity::AtLeast(1),
        )
    } else {
        spec(
            path,
            "docker stop [OPTIONS] CONTAINER [CONTAINER...]",
            Arity::AtLeast(1),
        )
    }
}

/// `stop`'s command line as the command itself parses it (without its `--time` warning).
pub(super) fn parse_stop(path: &str, args: &[String]) -> Result<StopArgs, CliError> {
    stop_spec(path, false).parse_checked(args)
}

pub(super) fn parse_restart(path: &str, args: &[String]) -> Result<StopArgs, CliError> {
    stop_spec(path, true).parse_checked(args)
}

/// `docker stop` and `docker restart`: the same options; restart starts each one again.
fn stop_or_restart(ctx: &Context, path: &str, args: &[String], restart: bool) -> CliResult {
    let spec = stop_spec(path, restart);
    // Not `parse_stop`: Docker warns of `--time` after parsing the flags, before checking
    // the arguments.
    let a: StopArgs = spec.parse(args)?;
    StopArgs::warn_deprecated(args);
    spec.check(a.args.len())?;
    let store = containers(ctx);
    let (timeout, signal) = (a.timeout(), a.signal()?);
    each(&a.args, None, |n| {
        let id = store.resolve(n)?;
        lifecycle::stop(&store, &id, timeout, signal)?;
        if restart {
            lifecycle::start(&store, &id, false)?;
        }
        Ok(())
    })
}

#[derive(Parser, Debug)]
pub(super) struct KillArgs {
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    signal: String,
    args: Vec<String>,
}

pub(super) fn parse_kill(path: &str, args: &[String]) -> Result<KillArgs, CliError> {
    spec(
        path,
        "docker kill [OPTIONS] CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn kill(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_kill(path, args)?;
    let signal: Signal = parse_signal(&a.signal)
        .ok_or_else(|| CliError::daemon(format!("Invalid signal: {}", a.signal)))?;
    let store = containers(ctx);
    each(&a.args, None, |n| {
        let id = store
            .resolve(n)
            .map_err(|e| CliError::Daemon(format!("Cannot kill container: {n}: {e}")))?;
        lifecycle::kill(&store, &id, signal)
            .map_err(|e| CliError::Daemon(format!("Cannot kill container: {n}: {e}")))
    })
}

#[derive(Parser, Debug)]
pub(super) struct RmArgs {
    #[arg(short = 'f', long = "force")]
    force: bool,
    #[arg(short = 'v', long = "volumes")]
    volumes: bool,
    #[arg(short = 'l', long = "link")]
    link: bool,
    args: Vec<String>,
}

pub(super) fn parse_rm(path: &str, args: &[String]) -> Result<RmArgs, CliError> {
    spec(
        path,
        "docker rm [OPTIONS] CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn rm(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_rm(path, args)?;
    let _ = (a.volumes, a.link);
    let store = containers(ctx);
    let mut failed = false;
    for n in &a.args {
        match store
            .resolve(n)
            .and_then(|id| lifecycle::remove(&store, &id, a.force).map_err(as_named(n)))
        {
            Ok(()) => println!("{n}"),
            // `rm -f` reports a container that does not exist, but does not fail on it.
            Err(e @ ContainerError::NoSuchContainer(_)) if a.force => report(&e.into()),
            Err(e) => {
                report(&e.into());
                failed = true;
            }
        }
    }
    if failed {
        return Err(CliError::plain("").silent());
    }
    Ok(())
}

pub(super) fn parse_wait(path: &str, args: &[String]) -> Result<Positional, CliError> {
    spec(
        path,
        "docker wait CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn wait(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let positional = parse_wait(path, args)?.args;
    let store = containers(ctx);
    let mut failed = false;
    for n in &positional {
        let result = store.resolve(n).and_then(|id| {
            lifecycle::wait_stopped(&store, &id, None)?;
            Ok(store.load(&id)?.state.exit_code)
        });
        match result {
            Ok(code) => println!("{code}"),
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {}", CliError::from(e).text());
            }
        }
    }
    if failed {
        return Err(CliError::plain("").silent());
    }
    Ok(())
}

pub(super) fn parse_rename(path: &str, args: &[String]) -> Result<Positional, CliError> {
    spec(path, "docker rename CONTAINER NEW_NAME", Arity::Exact(2)).parse_checked(args)
}

pub fn rename(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let positional = parse_rename(path, args)?.args;
    let (old, new) = (&positional[0], &positional[1]);
    if old.is_empty() || new.is_empty() {
        return Err(CliError::plain(
            "Error: Neither old nor new names may be empty",
        ));
    }
    // Docker's client prints the daemon's error, then names the container it failed on.
    rename_container(ctx, old, new).map_err(|e| {
        CliError::plain(format!(
            "Error response from daemon: {}\nError: failed to rename container named {old}",
            e.text()
        ))
    })
}

/// The daemon's side of `rename`: the same checks in the same order as Docker's.
fn rename_container(ctx: &Context, old: &str, new: &str) -> CliResult {
    let new = new.strip_prefix('/').unwrap_or(new).to_string();
    let store = containers(ctx);
    let id = store.resolve(old)?;
    let lock = store.lock()?;
    let mut c = store.load_locked(&lock, &id)?;
    if c.config.name == new {
        return Err(CliError::daemon(
            "Renaming a container with the same name as its current name",
        ));
    }
    if !crate::engine::container::names::valid_name(&new) {
        // Docker checks the name with its leading slash here.
        let invalid = ContainerError::InvalidName(format!("/{new}"));
        return Err(CliError::Daemon(format!(
            "Error when allocating new name: {invalid}"
        )));
    }
    if let Some(other) = store.find_name(&lock, &new)? {
        let conflict = ContainerError::NameInUse {
            name: new,
            id: other,
        };
        return Err(CliError::Daemon(format!(
            "Error when allocating new name: {conflict}"
        )));
    }
    let old_name = std::mem::replace(&mut c.config.name, new);
    store.save_config(&lock, &c.config)?;
    drop(lock);
    crate::events::Journal::open(&ctx.root).emit(crate::events::Event::ContainerRenamed {
        id: id.to_string(),
        old_name,
        new_name: c.config.name,
    });
    Ok(())
}

#[derive(Parser, Debug)]
pub(super) struct PruneArgs {
    #[arg(short = 'f', long = "force")]
    force: bool,
    #[arg(long = "filter")]
    filter: Vec<String>,
    args: Vec<String>,
}

fn prune_spec(path: &str) -> Spec {
    spec(path, "docker container prune [OPTIONS]", Arity::Exact(0))
}

pub(super) fn parse_prune(path: &str, args: &[String]) -> Result<PruneArgs, CliError> {
    prune_spec(path).parse_checked(args)
}

pub fn prune(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_prune(path, args)?;
    let filters = prune_filters(&prune_spec(path), &a.filter)?;
    if !a.force
        && !super::image::confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let store = containers(ctx);
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    // Damaged containers are not pruned: removing one is an explicit `rm -f`.
    let scan = store.scan()?;
    warn_damaged(&scan.damaged);
    for c in scan.containers {
        if c.state.is_running() || !filters.iter().all(|f| f.keeps(&c)) {
            continue;
        }
        let size = crate::engine::image::layers::dir_size(&c.paths.upper()).unwrap_or(0);
        match lifecycle::remove(&store, &c.config.id, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(c.config.id.to_string());
            }
            // Removed (or started) by someone else meanwhile: not ours to report.
            Err(ContainerError::NoSuchContainer(_) | ContainerError::RemoveRunning(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut out = std::io::stdout().lock();
    if !deleted.is_empty() {
        let _ = writeln!(out, "Deleted Containers:");
        for d in deleted {
            let _ = writeln!(out, "{d}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

/// A `container prune --filter`: which stopped containers may go.
enum PruneFilter {
    /// `until=TIME`: created before then.
    Until(DateTime<Utc>),
    /// `label=KEY[=VALUE]` (`wanted`) or `label!=KEY[=VALUE]`.
    Label {
        key: String,
        value: Option<String>,
        wanted: bool,
    },
}

impl PruneFilter {
    fn keeps(&self, c: &Container) -> bool {
        match self {
            PruneFilter::Until(t) => c.config.created < *t,
            PruneFilter::Label { key, value, wanted } => {
                let has = match (c.config.labels.get(key), value) {
                    (Some(v), Some(want)) => v == want,
                    (found, None) => found.is_some(),
                    (None, Some(_)) => false,
                };
                has == *wanted
            }
        }
    }
}

fn prune_filters(spec: &Spec, args: &[String]) -> Result<Vec<PruneFilter>, CliError> {
    let now = Utc::now();
    args.iter()
        .map(|f| {
            let Some((key, value)) = f.split_once('=') else {
                return Err(spec.usage_error(format!(
                    "invalid argument \"{f}\" for \"--filter\" flag: bad format of filter (expected name=value)"
                ), "Run"));
            };
            let label = |wanted: bool| {
                let (k, v) = match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.to_string(), None),
                };
                PruneFilter::Label { key: k, value: v, wanted }
            };
            match key {
                "until" => parse_time_arg(value, now).map(PruneFilter::Until).map_err(|_| {
                    CliError::daemon(format!(
                        "failed to parse value as time or duration: {value:?}"
                    ))
                }),
                "label" => Ok(label(true)),
                // `label!=x` splits at its '=' into key "label!" and value "x".
                "label!" => Ok(label(false)),
                other => Err(CliError::daemon(format!("Invalid filter '{other}'"))),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// ps

#[derive(Parser, Debug)]
pub(super) struct PsArgs {
    #[arg(short = 'a', long = "all")]
    all: bool,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(short = 'l', long = "latest")]
    latest: bool,
    #[arg(short = 'n', long = "last", default_value_t = -1, value_parser = parse_int)]
    last: i64,
    #[arg(short = 's', long = "size")]
    size: bool,
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    #[arg(long = "format")]
    format: Option<String>,
    args: Vec<String>,
}

/// `ps`'s IMAGE column: the name the container was created with while it still names the
/// same image, else the image's ID (as Docker shows after an `rmi` or a re-tag).
fn shown_image(
    images: &ImageStore,
    name: &str,
    id: &crate::engine::image::Digest,
    no_trunc: bool,
) -> String {
    match images.get(name) {
        Ok(img) if img.id == *id => name.to_string(),
        _ if no_trunc => id.to_string(),
        _ => id.short().to_string(),
    }
}

/// `ps`'s STATUS column.
fn status_text(c: &Container, now: DateTime<Utc>) -> String {
    let since = |t: Option<DateTime<Utc>>| human_duration(now - t.unwrap_or(now));
    match c.state.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", since(c.state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(c.state.started_at)),
        Status::Restarting => "Restarting".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            since(c.state.finished_at)
        ),
    }
}

/// Go's `strconv.Quote` for the COMMAND column.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

struct PsFilter {
    key: String,
    value: String,
}

const STATUSES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// The daemon's check of a filter, before any container is looked at.
fn check_filter(f: &PsFilter) -> Result<(), CliError> {
    match f.key.as_str() {
        // dokles has no volumes or networks yet: these filters are valid and match nothing.
        "name" | "id" | "label" | "ancestor" | "before" | "since" | "volume" | "network" => Ok(()),
        "health" if ["starting", "healthy", "unhealthy", "none"].contains(&f.value.as_str()) => {
            Ok(())
        }
        "health" => Err(CliError::daemon(format!(
            "Unrecognised filter value for health: {}",
            f.value
        ))),
        "is-task" if f.value == "true" || f.value == "false" => Ok(()),
        "is-task" => Err(CliError::daemon(format!(
            "Invalid filter 'is-task=[{}]'",
            f.value
        ))),
        "status" if STATUSES.contains(&f.value.as_str()) => Ok(()),
        "status" => Err(CliError::daemon(format!(
            "Invalid filter 'status={}'",
            f.value
        ))),
        "exited" => f.value.parse::<i32>().map(|_| ()).map_err(|_| {
            CliError::daemon(format!(
                "strconv.Atoi: parsing {:?}: invalid syntax",
                f.value
            ))
        }),
        other => Err(CliError::daemon(format!("Invalid filter '{other}'"))),
    }
}

/// Whether `c` passes every (checked) filter.
/// Docker's `name` filter: a regular expression matched against the name with and without
/// its leading `/`; an invalid expression matches nothing (no error, as Docker).
fn name_matches(pattern: &str, name: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(name) || re.is_match(&format!("/{name}")))
}

/// The containers `before=`/`since=` filters name, resolved once: Docker's error for an
/// unknown one is the daemon's.
fn reference_times(
    filters: &[PsFilter],
    store: &ContainerStore,
) -> Result<Vec<(String, DateTime<Utc>)>, CliError> {
    filters
        .iter()
        .filter(|f| f.key == "before" || f.key == "since")
        .map(|f| match store.get(&f.value) {
            Ok(c) => Ok((f.value.clone(), c.config.created)),
            Err(_) => Err(CliError::daemon(format!("no such container {}", f.value))),
        })
        .collect()
}

/// Whether `c` passes the filters: as the daemon, several values of one key pass when any
/// does, except `label`, whose values must all hold; different keys must all pass.
fn ps_matches(
    c: &Container,
    f: &[PsFilter],
    images: &ImageStore,
    times: &[(String, DateTime<Utc>)],
) -> bool {
    let time_of = |name: &str| times.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
    let one = |PsFilter { key, value }: &PsFilter| match key.as_str() {
        "name" => name_matches(value, &c.config.name),
        "id" => c.config.id.as_str().starts_with(value),
        "status" => c.state.status.as_str() == value,
        "label" => match value.split_once('=') {
            Some((k, v)) => c.config.labels.get(k).is_some_and(|x| x == v),
            None => c.config.labels.contains_key(value),
        },
        "ancestor" => match images.get(value) {
            Ok(img) => img.id == c.config.image_id,
            Err(_) => c.config.image_name == *value,
        },
        "exited" => c.state.status == Status::Exited && value.parse() == Ok(c.state.exit_code),
        "before" => time_of(value).is_some_and(|t| c.config.created < t),
        "since" => time_of(value).is_some_and(|t| c.config.created > t),
        // No container of dokles has a health check or is a swarm task.
        "health" => value == "none",
        "is-task" => value == "false",
        _ => false,
    };
    let keys: std::collections::BTreeSet<&str> = f.iter().map(|x| x.key.as_str()).collect();
    keys.into_iter().all(|key| {
        let mut of_key = f.iter().filter(|x| x.key == key);
        match key {
            "label" => of_key.all(one),
            _ => of_key.any(one),
        }
    })
}

/// The template `ps` renders: `-q`'s IDs (whatever the format), `--format` (a bare `table` is
/// the default table, `raw` a block per container), or the default table (with SIZE for `-s`).
fn ps_format(a: &PsArgs) -> String {
    let table = if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    match (a.format.as_deref().map(str::trim), a.quiet) {
        // docker/cli's NewContainerFormat: -q wins over any format but `raw`'s own quiet one.
        (Some("raw"), true) => "container_id: {{.ID}}".into(),
        (_, true) => "{{.ID}}".into(),
        (Some("table"), _) => table.into(),
        // `raw` is a block per container.
        (Some("raw"), false) => {
            let mut raw = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n".to_string();
            if a.size {
                raw.push_str("size: {{.Size}}\n");
            }
            raw
        }
        (Some(f), _) if !f.is_empty() => a.format.clone().unwrap_or_default(),
        _ => table.into(),
    }
}

fn ps_spec(path: &str) -> Spec {
    spec(path, "docker ps [OPTIONS]", Arity::Exact(0))
}

pub(super) fn parse_ps(path: &str, args: &[String]) -> Result<PsArgs, CliError> {
    ps_spec(path).parse_checked(args)
}

pub fn ps(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_ps(path, args)?;
    if a.quiet && a.format.as_deref().is_some_and(|f| !f.is_empty()) {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let filters: Vec<PsFilter> = a
        .filter
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => Ok(PsFilter { key: k.to_string(), value: v.to_string() }),
            None => Err(ps_spec(path).usage_error(format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            ), "Run")),
        })
        .collect::<Result<_, _>>()?;
    for f in &filters {
        check_filter(f)?;
    }
    let store = containers(ctx);
    let images = ImageStore::open(&ctx.root);
    let times = reference_times(&filters, &store)?;
    let scan = store.scan()?;
    let mut list = scan.containers;
    let limit = if a.latest { 1 } else { a.last };
    let all = a.all
        || limit > 0
        || filters
            .iter()
            .any(|f| f.key == "status" || f.key == "exited");
    if !all {
        list.retain(|c| c.state.is_running());
    }
    let mut kept: Vec<Container> = list
        .into_iter()
        .filter(|c| ps_matches(c, &filters, &images, &times))
        .collect();
    if limit > 0 {
        kept.truncate(limit as usize);
    }
    let now = Utc::now();
    // Docker computes sizes for -s and for any format that shows them.
    let format = ps_format(&a);
    // As docker/cli: sizes are asked of the daemon when the template uses `.Size` (as
    // `{{json .}}` does); otherwise the row says 0B.
    let want_size = a.size || format.contains(".Size") || format.contains("json .");
    let rows: Vec<Value> = kept
        .iter()
        .map(|c| {
            // The daemon's rendering: arguments with spaces in single quotes.
            let command = std::iter::once(c.config.path.clone())
                .chain(c.config.args.iter().map(|a| {
                    if a.contains(' ') {
                        format!("'{a}'")
                    } else {
                        a.clone()
                    }
                }))
                .collect::<Vec<_>>()
                .join(" ");
            let command = if a.no_trunc { command } else { ellipsis(&command, 20) };
            let size = if want_size {
                let upper = crate::engine::image::layers::dir_size(&c.paths.upper()).unwrap_or(0);
                let virt = images.get(&c.config.image_id.to_string()).map(|i| i.size).unwrap_or(0);
                format!("{} (virtual {})", human_size(upper), human_size(upper + virt))
            } else {
                "0B".to_string()
            };
            json!({
                "Command": go_quote(&command),
                "CreatedAt": super::image::go_time_string(c.config.created),
                "ID": if a.no_trunc { c.config.id.to_string() } else { c.config.id.short().to_string() },
                "Image": shown_image(&images, &c.config.image_name, &c.config.image_id, a.no_trunc),
                "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "LocalVolumes": "0",
                "Mounts": "",
                "Names": c.config.name,
                "Networks": "",
                "Platform": null,
                "Ports": "",
                "RunningFor": ago(c.config.created, now),
                "Size": size,
                "State": c.state.status.as_str(),
                "Status": status_text(c, now),
            })
        })
        .collect();
    let headers = json!({
        "Command": "COMMAND", "CreatedAt": "CREATED AT", "ID": "CONTAINER ID", "Image": "IMAGE",
        "Labels": "LABELS", "LocalVolumes": "LOCAL VOLUMES", "Mounts": "MOUNTS", "Names": "NAMES",
        "Networks": "NETWORKS", "Platform": "PLATFORM", "Ports": "PORTS", "RunningFor": "CREATED", "Size": "SIZE",
        "State": "STATE", "Status": "STATUS",
    });
    render_list(super::output::CONTAINERS, &format, &headers, &rows)?;
    warn_damaged(&scan.damaged);
    Ok(())
}

/// Damaged containers are left out of listings (as Docker's daemon leaves out what it cannot
/// load), and named on stderr with the way out, since dokles has no daemon log to tell.
fn warn_damaged(damaged: &[crate::engine::container::Damaged]) {
    for d in damaged {
        eprintln!("WARNING: {d}");
    }
}

// ---------------------------------------------------------------------------------------
// logs

#[derive(Parser, Debug)]
pub(super) struct LogsArgs {
    #[arg(short = 'f', long = "follow")]
    follow: bool,
    #[arg(
        short = 'n',
        long = "tail",
        default_value = "all",
        allow_hyphen_values = true
    )]
    tail: String,
    #[arg(short = 't', long = "timestamps")]
    timestamps: bool,
    #[arg(long = "since")]
    since: Option<String>,
    #[arg(long = "until")]
    until: Option<String>,
    #[arg(long = "details")]
    details: bool,
    args: Vec<String>,
}

/// `--since`/`--until` and `until=` filters: a Go duration before `now` (`10m`, `2h30m`,
/// `1.5h`, `300ms`), an RFC 3339 time, a date, or Unix seconds (Docker's `GetTimestamp`).
pub(super) fn parse_time_arg(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, CliError> {
    if s != "0" {
        if let Some(nanos) = crate::engine::image::changes::go_duration_nanos(s) {
            let nanos = i64::try_from(nanos).map_err(|_| unparsable_time(s))?;
            return Ok(now - chrono::Duration::nanoseconds(nanos));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(secs) = s.parse::<f64>() {
        return DateTime::from_timestamp(secs as i64, ((secs.fract()) * 1e9) as u32)
            .ok_or_else(|| unparsable_time(s));
    }
    Err(unparsable_time(s))
}

fn unparsable_time(s: &str) -> CliError {
    CliError::plain(format!("failed to parse value as time or duration: {s:?}"))
}

pub(super) fn parse_logs(path: &str, args: &[String]) -> Result<LogsArgs, CliError> {
    spec(path, "docker logs [OPTIONS] CONTAINER", Arity::Exact(1)).parse_checked(args)
}

pub fn logs(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_logs(path, args)?;
    let store = containers(ctx);
    let c = store.get(&a.args[0])?;
    let now = Utc::now();
    let time = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|s| parse_time_arg(s, now))
            .transpose()
            .map_err(|e| CliError::plain(format!("invalid value for {flag:?}: {}", e.text())))
    };
    let since = time("since", &a.since)?;
    let until = time("until", &a.until)?;
    // As the daemon: the driver must keep something to read, with options it accepts.
    let max_files = match c.config.log_config.logging() {
        Ok(Logging::Discard) => {
            return Err(CliError::daemon(
                "configured logging driver does not support reading",
            ))
        }
        Ok(Logging::JsonFile(rotation)) => rotation.map_or(1, |r| r.max_files),
        Err(e) => return Err(CliError::daemon(e)),
    };
    let opts = ReadOptions {
        // As the daemon: anything but a count of lines (`all`, `-1`, `abc`) means all.
        tail: a.tail.parse().ok(),
        since,
        until,
    };
    let mut out = LogPrinter::new(a.timestamps, a.details);
    let log = c.paths.log(&c.config.id);
    let mut follower = match logs::read(&log, max_files, &opts, &mut |e| out.print(e)) {
        Err(_) if out.broken => return Ok(()),
        other => other?,
    };
    out.flush();
    if a.follow {
        while !follower.done() && !out.broken {
            let running = store
                .load(&c.config.id)
                .map(|c| c.state.is_running())
                .unwrap_or(false);
            // After a last look at the state, everything the container wrote is in the log.
            match follower.poll(&mut |e| out.print(e)) {
                Err(_) if out.broken => return Ok(()),
                other => other?,
            }
            out.flush();
            if !running {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// An error about a container found as `name`: if it was removed meanwhile, Docker names
/// it as it was asked for.
fn as_named(name: &str) -> impl Fn(ContainerError) -> ContainerError + '_ {
    move |e| match e {
        ContainerError::NoSuchContainer(_) => ContainerError::NoSuchContainer(name.to_string()),
        e => e,
    }
}

/// Log entries onto our stdout and stderr, buffered; whenever the stream changes, the other
/// one is flushed first, so that on one terminal the order stays the container's.
struct LogPrinter {
    out: std::io::BufWriter<std::io::Stdout>,
    err: std::io::BufWriter<std::io::Stderr>,
    timestamps: bool,
    details: bool,
    last_was_err: bool,
    /// Our output went away (a closed pipe): reading can stop.
    broken: bool,
}

impl LogPrinter {
    fn new(timestamps: bool, details: bool) -> Self {
        Self {
            out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
            err: std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()),
            timestamps,
            details,
            last_was_err: false,
            broken: false,
        }
    }

    fn print(&mut self, e: &LogEntry) -> std::io::Result<()> {
        let to_err = e.stream == "stderr";
        if to_err != self.last_was_err {
            self.flush();
            self.last_was_err = to_err;
        }
        let w: &mut dyn Write = if to_err { &mut self.err } else { &mut self.out };
        // --details adds the entry's attributes (dokles logs none) and a space.
        let written = match (self.timestamps, self.details) {
            (true, true) => write!(w, "{}  ", e.time),
            (true, false) => write!(w, "{} ", e.time),
            (false, true) => w.write_all(b" "),
            (false, false) => Ok(()),
        }
        .and_then(|()| w.write_all(e.log.as_bytes()));
        if written.is_err() {
            self.broken = true;
        }
        written
    }

    fn flush(&mut self) {
        if self.out.flush().is_err() || self.err.flush().is_err() {
            self.broken = true;
        }
    }
}

/// Containers for `docker inspect`, or `None` if `name` is no container.
pub fn inspect_container(ctx: &Context, name: &str) -> Result<Option<Value>, CliError> {
    let store = containers(ctx);
    match store.get(name) {
        Ok(c) => Ok(Some(crate::engine::container::inspect::inspect(
            &ImageStore::open(&ctx.root),
            &c,
        ))),
        Err(ContainerError::NoSuchContainer(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// exec

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub(super) struct ExecArgs {
    #[arg(short = 'd', long = "detach")]
    detach: bool,
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    #[arg(short = 't', long = "tty")]
    tty: bool,
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    #[arg(long = "privileged")]
    privileged: bool,
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// CONTAINER COMMAND [ARG...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub(super) fn parse_exec(path: &str, args: &[String]) -> Result<ExecArgs, CliError> {
    spec(
        path,
        "docker exec [OPTIONS] CONTAINER COMMAND [ARG...]",
        Arity::AtLeast(2),
    )
    .parse_checked(args)
}

pub fn exec(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    use crate::engine::container::exec::{exec as exec_in, run_sealed, ExecOptions};
    use crate::runtime::Stdio;
    let a = parse_exec(path, args)?;
    // The exec'd process is forked from us: run from a sealed dokles binary first.
    run_sealed(&ctx.root).map_err(|e| exec_start_error(e, a.detach))?;
    let keys = detach_keys(a.detach_keys.as_deref())?;
    if a.interactive && a.tty && !a.detach && !terminal::stdin_is_terminal() {
        return Err(CliError::plain("the input device is not a TTY"));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(read_env_file("exec", f)?);
    }
    for e in &a.env {
        env.extend(env_flag("exec", e)?);
    }
    let opts = ExecOptions {
        cmd: a.args[1..].to_vec(),
        env,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        privileged: a.privileged,
        tty: a.tty,
        console_size: terminal::window_size().filter(|_| a.tty),
    };
    let store = containers(ctx);
    let id = store.resolve(&a.args[0])?;
    // A process cannot join a frozen cgroup and run: Docker refuses, naming it as typed.
    if store.load(&id)?.state.status == Status::Paused {
        return Err(CliError::daemon(format!(
            "Container {} is paused, unpause the container before exec",
            a.args[0]
        )));
    }
    let mut pipes = None;
    let stdio = if a.detach {
        Stdio::null()
    } else if a.tty {
        // The runtime puts the process's own pty on its stdio.
        Stdio::null()
    } else {
        let (p, stdio) = interactive::Pipes::new(a.interactive)?;
        pipes = Some(p);
        stdio
    };
    let mut started =
        exec_in(&store, &id, &opts, stdio).map_err(|e| exec_start_error(e, a.detach))?;
    if a.detach {
        return Ok(());
    }
    if let Some(master) = started.take_console() {
        return match interactive::relay_terminal(master, a.interactive, keys)? {
            // Docker's client ends a detached exec with this line and exit code 1.
            interactive::Outcome::Detached => Err(CliError::plain("read escape sequence")),
            interactive::Outcome::Exited(_) => exit_code(started.wait()?),
        };
    }
    let relaying = pipes.map(interactive::Pipes::relay).transpose()?;
    let code = started.wait()?;
    if let Some(r) = relaying {
        r.finish(Duration::from_secs(2));
    }
    exit_code(code)
}

/// An exec that failed to start, reported as Docker does.
fn exec_start_error(e: ContainerError, detached: bool) -> CliError {
    match e {
        // Docker's daemon reports a failed detached exec as its error (exit 1)...
        ContainerError::Start { message, .. } if detached => CliError::Daemon(message),
        // ...and an attached one on the exec's own output stream (stdout), CRLF-ended.
        ContainerError::Start { message, code } => {
            print!("{message}\r\n");
            CliError::Message {
                text: String::new(),
                code: code.clamp(0, 255) as u8,
            }
            .silent()
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_go_units() {
        assert_eq!(ram_in_bytes("1024"), Ok(1024));
        assert_eq!(ram_in_bytes("512m"), Ok(512 * 1024 * 1024));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("64MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("1.5KiB"), Ok(1536));
        assert_eq!(ram_in_bytes("10 k"), Ok(10240));
        assert_eq!(ram_in_bytes("7b"), Ok(7));
        assert_eq!(ram_in_bytes("lots"), Err("invalid size: 'lots'".into()));
        assert_eq!(ram_in_bytes("-5"), Err("invalid size: '-5'".into()));
        assert_eq!(ram_in_bytes("10x"), Err("invalid suffix: 'x'".into()));
        assert_eq!(ram_in_bytes("10Mx"), Err("invalid suffix: 'mx'".into()));
        assert_eq!(ram_in_bytes("10KiBs"), Err("invalid suffix: 'KiBs'".into()));
        assert_eq!(
            ram_in_bytes("10.5.5m"),
            Err("strconv.ParseFloat: parsing \"10.5.5\": invalid syntax".into())
        );
    }

    #[test]
    fn commands_are_quoted_like_go() {
        assert_eq!(go_quote("sh -c 'a \"b\"'"), "\"sh -c 'a \\\"b\\\"'\"");
        assert_eq!(
            ellipsis("abcdefghijklmnopqrstuvwxyz", 20),
            "abcdefghijklmnopqrs…"
        );
    }
}

// ---------------------------------------------------------------------------------------
// pause / unpause / commit / top / stats

pub fn pause(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    one_by_one(ctx, path, args, "pause", lifecycle::pause)
}

pub fn unpause(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    one_by_one(ctx, path, args, "unpause", lifecycle::unpause)
}

pub(super) fn parse_pause(path: &str, args: &[String]) -> Result<Positional, CliError> {
    spec(
        path,
        "docker pause CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub(super) fn parse_unpause(path: &str, args: &[String]) -> Result<Positional, CliError> {
    spec(
        path,
        "docker unpause CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

fn one_by_one(
    ctx: &Context,
    path: &str,
    args: &[String],
    cmd: &'static str,
    op: fn(&ContainerStore, &crate::engine::container::ContainerId) -> Result<(), ContainerError>,
) -> CliResult {
    let parse = if cmd == "pause" {
        parse_pause
    } else {
        parse_unpause
    };
    let positional = parse(path, args)?.args;
    let store = containers(ctx);
    each(&positional, None, |n| {
        let id = store.resolve(n)?;
        op(&store, &id)?;
        Ok(())
    })
}

#[derive(Parser, Debug)]
pub(super) struct CommitArgs {
    #[arg(short = 'a', long = "author")]
    author: Option<String>,
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
    #[arg(short = 'p', long = "pause", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    pause: bool,
    args: Vec<String>,
}

pub(super) fn parse_commit(path: &str, args: &[String]) -> Result<CommitArgs, CliError> {
    spec(
        path,
        "docker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        Arity::Range(1, 2),
    )
    .parse_checked(args)
}

pub fn commit(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    use crate::engine::container::commit::{commit as commit_container, CommitOptions};
    let a = parse_commit(path, args)?;
    let tag = match a.args.get(1) {
        Some(t) => {
            // The client parses the name first and words its errors without a prefix.
            Reference::parse(t).map_err(|e| CliError::plain(e.to_string()))?;
            Some(super::image::target_tag(t)?)
        }
        None => None,
    };
    let opts = CommitOptions {
        tag,
        author: a.author.unwrap_or_default(),
        message: a.message.unwrap_or_default(),
        changes: a.change,
        pause: a.pause,
    };
    let id = commit_container(&containers(ctx), &a.args[0], &opts)?;
    println!("{id}");
    Ok(())
}

/// The running container's init, or Docker's "is not running" error.
fn running_init(store: &ContainerStore, name: &str) -> Result<(Container, i32), CliError> {
    let c = store.get(name)?;
    match c
        .state
        .process
        .filter(|p| c.state.is_running() && p.alive())
    {
        Some(p) => Ok((c, p.pid)),
        None => Err(ContainerError::NotRunning(c.config.id.clone()).into()),
    }
}

#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub(super) struct TopArgs {
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// The container, then the options for `ps`: flags after the container are `ps`'s.
    #[arg(trailing_var_arg = true)]
    args: Vec<String>,
}

pub(super) fn parse_top(path: &str, args: &[String]) -> Result<TopArgs, CliError> {
    spec(path, "docker top CONTAINER [ps OPTIONS]", Arity::AtLeast(1)).parse_checked(args)
}

pub fn top(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_top(path, args)?;
    let store = containers(ctx);
    let (_, pid) = running_init(&store, &a.args[0])?;
    let cg = crate::runtime::Cgroup::of_process(nix::unistd::Pid::from_raw(pid))
        .map_err(|e| CliError::daemon(e.to_string()))?;
    let pids: std::collections::HashSet<i32> = cg
        .pids()
        .map_err(|e| CliError::daemon(e.to_string()))?
        .into_iter()
        .collect();
    // As Docker: the host's `ps` with the given options, rows filtered to the container.
    let ps_args: Vec<String> = if a.args.len() > 1 {
        a.args[1..].to_vec()
    } else {
        vec!["-ef".into()]
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .map_err(|e| CliError::daemon(format!("Error running ps: {e}")))?;
    if !out.status.success() {
        return Err(CliError::daemon(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| CliError::daemon("Couldn't find PID field in ps output"))?;
    // docker/cli's top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0).
    let mut table = crate::format::TabWriter::new(20, 1, 3, ' ', Default::default());
    let cols = header.split_whitespace().count();
    table.write_str(&header.split_whitespace().collect::<Vec<_>>().join("\t"));
    table.write_str("\n");
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(p) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !pids.contains(&p) {
            continue;
        }
        // The last column (the command) keeps its spaces.
        let mut row: Vec<String> = fields
            .iter()
            .take(cols - 1)
            .map(|s| s.to_string())
            .collect();
        row.push(
            fields
                .iter()
                .skip(cols - 1)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        );
        table.write_str(&row.join("\t"));
        table.write_str("\n");
    }
    print!("{}", table.finish());
    Ok(())
}

fn host_cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum::<u64>()
            })
        })
        .unwrap_or(0)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

#[derive(Parser, Debug)]
pub(super) struct StatsArgs {
    #[arg(short = 'a', long = "all")]
    all: bool,
    #[arg(long = "no-stream")]
    no_stream: bool,
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    #[arg(long = "format")]
    format: Option<String>,
    args: Vec<String>,
}

pub(super) fn parse_stats(path: &str, args: &[String]) -> Result<StatsArgs, CliError> {
    spec(
        path,
        "docker stats [OPTIONS] [CONTAINER...]",
        Arity::AtLeast(0),
    )
    .parse_checked(args)
}

pub fn stats(ctx: &Context, path: &str, args: &[String]) -> CliResult {
    let a = parse_stats(path, args)?;
    let store = containers(ctx);
    let list: Vec<Container> = if a.args.is_empty() {
        store
            .list()?
            .into_iter()
            .filter(|c| a.all || c.state.is_running())
            .collect()
    } else {
        a.args
            .iter()
            .map(|n| store.get(n))
            .collect::<Result<_, _>>()?
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0);
    let sample = |c: &Container| {
        c.state
            .process
            .filter(|p| c.state.is_running() && p.alive())
            .and_then(|p| {
                crate::runtime::Cgroup::of_process(nix::unistd::Pid::from_raw(p.pid)).ok()
            })
            .and_then(|cg| cg.stats().ok())
    };
    loop {
        let before: Vec<_> = list.iter().map(|c| (sample(c), host_cpu_ticks())).collect();
        std::thread::sleep(Duration::from_millis(500));
        let mut rows = Vec::new();
        for (c, (b, ticks_before)) in list.iter().zip(before) {
            let now = sample(c);
            let ticks = host_cpu_ticks().saturating_sub(ticks_before);
            let (cpu, mem, limit, pids) = match (b, now) {
                (Some(b), Some(n)) => {
                    // System time in ns from clock ticks (USER_HZ = 100).
                    let system_ns = ticks as f64 * 1e7;
                    let cpu = if system_ns > 0.0 {
                        (n.cpu_usage_ns.saturating_sub(b.cpu_usage_ns)) as f64 / system_ns
                            * cpus
                            * 100.0
                    } else {
                        0.0
                    };
                    (
                        cpu,
                        // docker/cli's figure: the usage less inactive page cache.
                        n.memory_in_use(),
                        n.memory_limit.min(host_memory()),
                        n.pids,
                    )
                }
                _ => (0.0, 0, 0, 0),
            };
            let mem_pct = if limit > 0 {
                mem as f64 / limit as f64 * 100.0
            } else {
                0.0
            };
            rows.push(json!({
                "Container": if a.no_trunc { c.config.id.to_string() } else { c.config.id.short().to_string() },
                "ID": if a.no_trunc { c.config.id.to_string() } else { c.config.id.short().to_string() },
                "Name": c.config.name,
                "CPUPerc": format!("{cpu:.2}%"),
                "MemUsage": format!("{} / {}", bytes_size(mem), bytes_size(limit)),
                "MemPerc": format!("{mem_pct:.2}%"),
                "NetIO": "0B / 0B",
                "BlockIO": "0B / 0B",
                "PIDs": pids.to_string(),
            }));
        }
        let format = a.format.clone().filter(|f| !f.is_empty()).unwrap_or_else(|| {
            "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}".into()
        });
        let headers = json!({
            "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
            "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
            "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
        });
        if !a.no_stream {
            // Docker redraws the table in place.
            print!("\x1b[2J\x1b[H");
        }
        render_list(super::output::STATS, &format, &headers, &rows)?;
        if a.no_stream {
            return Ok(());
        }
    }
}
