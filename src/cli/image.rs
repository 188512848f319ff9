//! The image commands: `images`, `pull`, `load`, `save`, `tag`, `rmi`, `image prune`,
//! `history`, `image inspect`, `import` — and the `image` management group around them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use chrono::{DateTime, Local, Utc};
use clap::Parser;
use serde_json::{json, Value};

use super::args::{parse_bool, positionals, spec, Arity, Positional, Spec};
use super::output::{render_inspect, render_list};
use super::units::{ago, human_size, human_size_4};
use super::{CliError, CliResult, Context};
use crate::engine::image::cache::{self, Cache};
use crate::engine::image::import::ImportOptions;
use crate::engine::image::inspect::inspect;
use crate::engine::image::layers::chain_ids;
use crate::engine::image::load::{load as load_archive, LoadEvent};
use crate::engine::image::reference::ReferenceError;
use crate::engine::image::save::{save as save_archive, select};
use crate::engine::image::store::Removal;
use crate::engine::image::{Digest, Image, ImageError, ImageStore, Reference, TaggedRef};

positionals!(
    ImagesArgs,
    PullArgs,
    LoadArgs,
    SaveArgs,
    ImportArgs,
    RmiArgs,
    PruneArgs,
    HistoryArgs,
    InspectArgs,
    ImageInspectArgs,
);

fn store(ctx: &Context) -> ImageStore {
    ImageStore::open(&ctx.root)
}

// ---------------------------------------------------------------------------------------
// images

#[derive(Parser, Debug)]
pub(super) struct ImagesArgs {
    #[arg(short = 'a', long = "all")]
    all: bool,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(long = "digests")]
    digests: bool,
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    #[arg(long = "format")]
    format: Option<String>,
    args: Vec<String>,
}

/// The filters `docker images --filter` accepts.
#[derive(Debug, Default)]
struct ImageFilters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
}

impl ImageFilters {
    /// Whether the image carries every `label=key` / `label=key=value` asked for.
    fn labels_match(&self, img: &Image) -> bool {
        let labels = img
            .config
            .runtime_config()
            .and_then(|c| c.get("Labels"))
            .and_then(Value::as_object);
        self.labels.iter().all(|(k, v)| {
            labels
                .and_then(|l| l.get(k))
                .is_some_and(|x| v.as_ref().is_none_or(|v| x.as_str() == Some(v)))
        })
    }
}

fn parse_image_filters(
    spec: &Spec,
    flag: &str,
    store: &ImageStore,
    raw: &[String],
) -> Result<ImageFilters, CliError> {
    let mut f = ImageFilters::default();
    for item in raw {
        let Some((key, value)) = item.split_once('=') else {
            return Err(spec.usage_error(
                format!("invalid argument \"{item}\" for \"{flag}\" flag: bad format of filter (expected name=value)"),
                "Run",
            ));
        };
        match key {
            // As moby: exactly `true` or `false`, and any `true` wins.
            "dangling" => {
                f.dangling = match (value, f.dangling) {
                    ("true", _) | ("false", Some(true)) => Some(true),
                    ("false", _) => Some(false),
                    _ => {
                        return Err(CliError::daemon(format!(
                            "Invalid filter 'dangling=[{value}]'"
                        )))
                    }
                }
            }
            "reference" => f.references.push(value.to_string()),
            "label" => f.labels.push(match value.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (value.to_string(), None),
            }),
            "before" | "since" => {
                let img = store.get(value)?;
                let t = img.config.created().unwrap_or(img.record.added);
                if key == "before" {
                    f.before = Some(t);
                } else {
                    f.since = Some(t);
                }
            }
            _ => return Err(CliError::daemon(format!("Invalid filter '{key}'"))),
        }
    }
    Ok(f)
}

/// Whether a tag matches a reference pattern (`python`, `python:3.*`, `*/app`), as Docker's
/// `reference` filter: the pattern is matched against the familiar name and name:tag.
/// Patterns were checked by [`check_patterns`].
fn reference_matches(pattern: &str, repo: &str, tag: &str) -> bool {
    glob_match(pattern, repo) || glob_match(pattern, &format!("{repo}:{tag}"))
}

fn glob_match(pattern: &str, name: &str) -> bool {
    super::glob::path_match(pattern, name).unwrap_or(false)
}

/// A malformed `reference` pattern is the daemon's error, as Docker's.
fn check_patterns(patterns: &[String]) -> Result<(), CliError> {
    for p in patterns {
        super::glob::path_match(p, "").map_err(|e| CliError::daemon(e.to_string()))?;
    }
    Ok(())
}

struct Row {
    repository: String,
    tag: String,
    digest: String,
}

fn image_rows(img: &Image, refs: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    let digest_of = |repo: &str| {
        img.repo_digests
            .iter()
            .filter_map(|d| d.rsplit_once('@'))
            .find(|(r, _)| Reference::parse(r).is_ok_and(|x| x.repo().familiar() == repo))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    for t in &img.tags {
        let repo = t.repo().familiar();
        if !refs.is_empty() && !refs.iter().any(|p| reference_matches(p, &repo, t.tag())) {
            continue;
        }
        rows.push(Row {
            digest: digest_of(&repo),
            repository: repo,
            tag: t.tag().to_string(),
        });
    }
    // Repo digests of repositories without a tag show with tag <none>.
    let tagged: BTreeSet<String> = img.tags.iter().map(|t| t.repo().familiar()).collect();
    for d in &img.repo_digests {
        if let Some((r, digest)) = d.rsplit_once('@') {
            if let Ok(r) = Reference::parse(r) {
                let repo = r.repo().familiar();
                if !tagged.contains(&repo)
                    && (refs.is_empty() || refs.iter().any(|p| glob_match(p, &repo)))
                {
                    rows.push(Row {
                        repository: repo,
                        tag: "<none>".into(),
                        digest: digest.to_string(),
                    });
                }
            }
        }
    }
    if img.tags.is_empty() && img.repo_digests.is_empty() && refs.is_empty() {
        rows.push(Row {
            repository: "<none>".into(),
            tag: "<none>".into(),
            digest: "<none>".into(),
        });
    }
    rows
}

/// Go's `time.Time.String()` in local time: `2026-11-23 13:55:49 +0000 UTC`.
pub(super) fn go_time_string(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Local);
    let zone = zone_abbreviation(t.timestamp()).unwrap_or_else(|| local.format("%:z").to_string());
    format!("{} {zone}", local.format("%Y-%m-%d %H:%M:%S %z"))
}

/// The local time zone's abbreviation at `secs` (`UTC`, `CET`, `CEST`), as the C library
/// reads it from `TZ` / `/etc/localtime`; chrono knows offsets only.
fn zone_abbreviation(secs: i64) -> Option<String> {
    let time: libc::time_t = secs;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for the
    // call. `tm_zone` then points at static storage owned by the C library (or is null).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() || tm.tm_zone.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Go's `time.Unix(t, 0).Format(time.RFC3339)` in local time (`history`'s CREATED AT).
fn go_rfc3339_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn short_or_full(id: &crate::engine::image::Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}

fn images_spec(name: &str) -> Spec {
    spec(
        name,
        "docker images [OPTIONS] [REPOSITORY[:TAG]]",
        Arity::AtMost(1),
    )
}

pub(super) fn parse_images(name: &str, args: &[String]) -> Result<ImagesArgs, CliError> {
    images_spec(name).parse_checked(args)
}

pub fn images(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let spec = images_spec(name);
    let a = parse_images(name, args)?;
    let store = store(ctx);
    let filters = parse_image_filters(&spec, "-f, --filter", &store, &a.filter)?;
    let mut refs = filters.references.clone();
    // As docker/cli: an empty REPOSITORY argument filters nothing.
    refs.extend(a.args.iter().filter(|r| !r.is_empty()).cloned());
    check_patterns(&refs)?;
    let index = store.index()?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for img in store.list()? {
        let created = img.config.created().unwrap_or(img.record.added);
        let untagged = img.tags.is_empty();
        let has_children = !index.children_of(&img.id).is_empty();
        if let Some(d) = filters.dangling {
            if d != (untagged && !has_children) {
                continue;
            }
        }
        if !a.all && untagged && has_children {
            continue;
        }
        if filters.before.is_some_and(|b| created >= b)
            || filters.since.is_some_and(|s| created <= s)
        {
            continue;
        }
        if !filters.labels_match(&img) {
            continue;
        }
        for r in image_rows(&img, &refs) {
            rows.push(json!({
                "Containers": "N/A",
                "CreatedAt": go_time_string(created),
                "CreatedSince": ago(created, now),
                "Digest": r.digest,
                "ID": short_or_full(&img.id, a.no_trunc),
                "Repository": r.repository,
                "SharedSize": "N/A",
                "Size": human_size(img.size),
                "Tag": r.tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size_4(img.size),
            }));
        }
    }
    let format = match (&a.format, a.quiet, a.digests) {
        // docker/cli's NewImageFormat: `raw` is a block per row.
        (Some(f), true, _) if f == "raw" => "image_id: {{.ID}}".to_string(),
        (Some(f), false, digests) if f == "raw" => format!(
            "repository: {{{{ .Repository }}}}\ntag: {{{{.Tag}}}}\n{}image_id: {{{{.ID}}}}\ncreated_at: {{{{.CreatedAt}}}}\nvirtual_size: {{{{.Size}}}}\n",
            if digests { "digest: {{.Digest}}\n" } else { "" }
        ),
        (Some(f), _, _) if !f.is_empty() && f != "table" => f.clone(),
        (_, true, _) => "{{.ID}}".to_string(),
        (_, false, true) => {
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                .to_string()
        }
        _ => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".to_string(),
    };
    let headers = json!({
        "Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
        "Digest": "DIGEST", "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE",
        "Size": "SIZE", "Tag": "TAG", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE",
    });
    render_list(super::output::IMAGES, &format, &headers, &rows)
}

// ---------------------------------------------------------------------------------------
// pull

#[derive(Parser, Debug)]
pub(super) struct PullArgs {
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    #[arg(long = "platform")]
    platform: Option<String>,
    #[arg(long = "disable-content-trust", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    disable_content_trust: bool,
    args: Vec<String>,
}

fn pull_output(quiet: bool) -> cache::PullOutput {
    if quiet {
        cache::PullOutput::Quiet
    } else {
        cache::PullOutput::Pull
    }
}

pub(super) fn parse_pull(name: &str, args: &[String]) -> Result<PullArgs, CliError> {
    spec(
        name,
        "docker pull [OPTIONS] NAME[:TAG|@DIGEST]",
        Arity::Exact(1),
    )
    .parse_checked(args)
}

pub fn pull(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_pull(name, args)?;
    let target = &a.args[0];
    let reference = Reference::parse(target).map_err(|e| CliError::plain(e.to_string()))?;
    if a.all_tags && (reference.tag().is_some() || reference.digest().is_some()) {
        return Err(CliError::plain("tag can't be used with --all-tags/-a"));
    }
    if let Some(p) = &a.platform {
        if p != "linux/amd64" && p != "linux" {
            return Err(CliError::daemon(format!(
                "no matching manifest for {p} in the offline image cache"
            )));
        }
    }
    let _ = a.disable_content_trust;
    let cache = Cache::shipped()?;
    let store = store(ctx);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.all_tags {
        cache::pull_all_tags(&store, &cache, &reference, pull_output(a.quiet), &mut out)?;
        return Ok(());
    }
    cache::pull(&store, &cache, target, pull_output(a.quiet), &mut out)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// load / save / import

#[derive(Parser, Debug)]
pub(super) struct LoadArgs {
    #[arg(short = 'i', long = "input")]
    input: Option<String>,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    args: Vec<String>,
}

pub(super) fn parse_load(name: &str, args: &[String]) -> Result<LoadArgs, CliError> {
    spec(name, "docker load [OPTIONS]", Arity::Exact(0)).parse_checked(args)
}

pub fn load(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_load(name, args)?;
    let input: Box<dyn Read> = match &a.input {
        Some(p) => Box::new(open_input(p)?),
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::plain(
                    "requested load from stdin, but stdin is empty",
                ));
            }
            Box::new(std::io::stdin().lock())
        }
    };
    let events = load_archive(&store(ctx), input).map_err(|e| {
        // Docker prints its tar process' failure without the daemon prefix.
        match e.downcast_ref::<crate::engine::image::load::UntarFailed>() {
            Some(untar) => CliError::plain(untar.to_string()),
            None => CliError::from(e),
        }
    })?;
    // As Docker's client: layer progress only when stdout is a terminal and not -q.
    let progress = !a.quiet && std::io::stdout().is_terminal();
    let width = super::terminal::window_size().map_or(0, |w| w.columns);
    let mut out = std::io::stdout().lock();
    for e in events {
        let written = match e {
            LoadEvent::LayerLoaded { diff_id, bytes } if progress => {
                write!(out, "{}", layer_progress(&diff_id, bytes, width))
            }
            LoadEvent::LayerLoaded { .. } => Ok(()),
            other => writeln!(out, "{other}"),
        };
        written.map_err(|e| CliError::plain(format!("cannot write output: {e}")))?;
    }
    Ok(())
}

/// A loaded layer's line as Docker's terminal display leaves it: a new line, then the line
/// redrawn in place (`ESC[1A`, clear, text, `ESC[1B`) with the bytes read, and on terminals
/// wider than 110 columns a full bar (docker's `jsonmessage` and `JSONProgress`).
fn layer_progress(diff_id: &Digest, bytes: u64, width: u16) -> String {
    let progress = match bytes {
        0 => String::new(),
        _ => {
            let bar = match width > 110 {
                true => format!("[{}>] ", "=".repeat(50)),
                false => String::new(),
            };
            let size = human_size_4(bytes);
            format!("{bar}{size:>8}/{size}")
        }
    };
    format!(
        "\n\x1b[1A\x1b[2K\r{}: Loading layer {progress}\r\x1b[1B",
        diff_id.short()
    )
}

fn open_input(p: &str) -> Result<File, CliError> {
    File::open(p).map_err(|e| CliError::plain(format!("open {p}: {}", go_io_error(&e))))
}

/// Go's lowercase errno texts (`no such file or directory`).
fn go_io_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code)
            .desc()
            .to_ascii_lowercase(),
        None => e.to_string(),
    }
}

/// Go's `filepath.Clean`: the shortest lexically equivalent path.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&p) if p != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir`: everything before the last slash, cleaned.
fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".into(),
    }
}

/// The checks of moby's `atomicwriter.New` (used by `docker save -o`): the directory must
/// exist, and the destination, if it exists, must be a regular file. Errors in Go's words.
fn validate_output_path(path: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt as _;
    if path.is_empty() {
        return Err("file name is empty".into());
    }
    let dir = go_dir(path);
    if dir != "." && dir != ".." {
        match std::fs::metadata(&dir) {
            Err(e) => {
                return Err(format!(
                    "invalid output path: stat {dir}: {}",
                    go_io_error(&e)
                ))
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!("invalid output path: stat {dir}: not a directory"))
            }
            Ok(_) => {}
        }
    }
    let t = match std::fs::symlink_metadata(path) {
        Ok(m) => m.file_type(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "failed to stat output path: lstat {path}: {}",
                go_io_error(&e)
            ))
        }
    };
    let refusal = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "cannot write to a directory"
    } else if t.is_symlink() {
        "cannot write to a symbolic link directly"
    } else if t.is_fifo() {
        "cannot write to a named pipe (FIFO)"
    } else if t.is_socket() {
        "cannot write to a socket"
    } else if t.is_char_device() {
        "cannot write to a character device file"
    } else {
        "cannot write to a block device file"
    };
    Err(refusal.into())
}

#[derive(Parser, Debug)]
pub(super) struct SaveArgs {
    #[arg(short = 'o', long = "output")]
    output: Option<String>,
    args: Vec<String>,
}

pub(super) fn parse_save(name: &str, args: &[String]) -> Result<SaveArgs, CliError> {
    spec(
        name,
        "docker save [OPTIONS] IMAGE [IMAGE...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn save(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_save(name, args)?;
    let store = store(ctx);
    match &a.output {
        None => {
            if std::io::stdout().is_terminal() {
                return Err(CliError::plain(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let images = select(&store, &a.args)?;
            let stdout = std::io::stdout();
            save_archive(&store, &images, std::io::BufWriter::new(stdout.lock()))?;
        }
        Some(path) => {
            // The client checks the destination before it asks the daemon for anything.
            validate_output_path(path)
                .map_err(|e| CliError::plain(format!("failed to save image: {e}")))?;
            let images = select(&store, &a.args)?;
            let path = Path::new(path);
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let base = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".tmp-{base}"))
                .tempfile_in(dir)
                .map_err(|e| {
                    CliError::plain(format!("failed to save image: {}", go_io_error(&e)))
                })?;
            save_archive(&store, &images, std::io::BufWriter::new(tmp.as_file()))?;
            tmp.persist(path).map_err(|e| {
                CliError::plain(format!("failed to save image: {}", go_io_error(&e.error)))
            })?;
        }
    }
    crate::events::Journal::open(&ctx.root).emit(crate::events::Event::ImageSaved {
        refs: a.args.clone(),
        output: a.output.clone(),
    });
    Ok(())
}

#[derive(Parser, Debug)]
pub(super) struct ImportArgs {
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
    #[arg(long = "platform")]
    platform: Option<String>,
    args: Vec<String>,
}

pub(super) fn parse_import(name: &str, args: &[String]) -> Result<ImportArgs, CliError> {
    spec(
        name,
        "docker import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        // docker/cli's RequiresMinArgs(1): arguments after the repository are ignored.
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn import(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_import(name, args)?;
    let _ = a.platform;
    let tag = match a.args.get(1) {
        None => None,
        Some(t) => {
            let r = Reference::parse(t).map_err(|e| CliError::plain(e.to_string()))?;
            Some(
                r.with_default_tag()
                    .ok_or_else(|| CliError::daemon("cannot import with a digest reference"))?,
            )
        }
    };
    let source = &a.args[0];
    let input: Box<dyn Read> = if source == "-" {
        Box::new(std::io::stdin().lock())
    } else if source.starts_with("http://") || source.starts_with("https://") {
        return Err(CliError::daemon(format!(
            "importing from a URL ({source}) needs the network, which dokles' offline engine does not use; download the file and import it by path"
        )));
    } else {
        Box::new(open_input(source)?)
    };
    let opts = ImportOptions {
        tag,
        changes: a.change,
        message: a.message,
        source: source.clone(),
    };
    let id = crate::engine::image::import::import(&store(ctx), input, &opts)?;
    println!("{id}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// tag / rmi / prune

/// A new tag as `tag` and `commit` take it, with the client's errors for a bad one.
/// The checks the Docker 28 client's reference library (`ParseNormalizedNamed`) makes before
/// anything reaches the daemon. Its domain rule is newer than the 20.10 daemon's: a first
/// component with an uppercase letter is a registry, so `WTB/x` passes here and is refused
/// by the daemon ([`ReferenceError::DaemonUppercase`]).
fn client_parse_named(s: &str) -> Result<(), String> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = match s.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", s.to_string()),
    };
    let remainder =
        if (domain == "docker.io" || domain == "index.docker.io") && !remainder.contains('/') {
            format!("library/{remainder}")
        } else {
            remainder
        };
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(format!(
            "invalid reference format: repository name ({remote}) must be lowercase"
        ));
    }
    match Reference::parse(s) {
        Ok(_) | Err(ReferenceError::Uppercase(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The client's checks of `docker tag`'s source and target (the Go client's `ImageTag`);
/// what the daemon checks follows in [`tag`].
fn check_tag_arguments(source: &str, target: &str) -> Result<(), CliError> {
    let invalid = |name: &str, e: String| {
        CliError::plain(format!(
            "Error parsing reference: {name:?} is not a valid repository/tag: {e}"
        ))
    };
    // The source may also be an ID (`ParseAnyReference`).
    let is_id = Digest::parse(source).is_ok()
        || (source.len() == 64
            && source
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    if !is_id {
        client_parse_named(source).map_err(|e| invalid(source, e))?;
    }
    client_parse_named(target).map_err(|e| invalid(target, e))?;
    if target.contains('@') {
        return Err(CliError::plain(
            "refusing to create a tag with a digest reference",
        ));
    }
    Ok(())
}

/// The tag `docker tag` and `import` record for `target`, with the daemon's refusals.
pub(super) fn target_tag(target: &str) -> Result<TaggedRef, CliError> {
    let reference = Reference::parse(target).map_err(|e| {
        CliError::plain(format!(
            "Error parsing reference: {target:?} is not a valid repository/tag: {e}"
        ))
    })?;
    if reference.digest().is_some() {
        return Err(CliError::plain(
            "refusing to create a tag with a digest reference",
        ));
    }
    reference
        .with_default_tag()
        .ok_or_else(|| CliError::daemon("invalid target reference"))
}

pub(super) fn parse_tag(name: &str, args: &[String]) -> Result<Positional, CliError> {
    spec(
        name,
        "docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        Arity::Exact(2),
    )
    .parse_checked(args)
}

pub fn tag(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let positional = parse_tag(name, args)?.args;
    let (source, target) = (&positional[0], &positional[1]);
    check_tag_arguments(source, target)?;
    let store = store(ctx);
    let mut tx = store.begin()?;
    // The daemon finds the source first, then parses the target with its own (older) rules.
    let id = store.resolve(tx.index(), source)?;
    let target_tag = match Reference::parse(target) {
        Ok(r) => r.with_default_tag(),
        Err(ReferenceError::Uppercase(_)) => {
            return Err(ImageError::Reference(ReferenceError::DaemonUppercase).into())
        }
        Err(e) => return Err(ImageError::Reference(e).into()),
    }
    .ok_or_else(|| CliError::daemon("invalid target reference"))?;
    // moby's reference store refuses a repository named like a digest algorithm.
    if target_tag.repo().familiar() == "sha256" {
        return Err(CliError::daemon(
            "refusing to create an ambiguous tag using digest algorithm as name",
        ));
    }
    tx.set_tag(&target_tag, &id);
    tx.announce(crate::events::Event::ImageTagged {
        source: source.clone(),
        target: target_tag.full(),
    });
    tx.commit()?;
    Ok(())
}

#[derive(Parser, Debug)]
pub(super) struct RmiArgs {
    #[arg(short = 'f', long = "force")]
    force: bool,
    #[arg(long = "no-prune")]
    no_prune: bool,
    args: Vec<String>,
}

fn print_removals(out: &mut impl Write, removals: &[Removal], lower: bool) -> Result<(), CliError> {
    for r in removals {
        let line = match r {
            Removal::Untagged(t) => format!("{}: {t}", if lower { "untagged" } else { "Untagged" }),
            Removal::Deleted(d) => format!("{}: {d}", if lower { "deleted" } else { "Deleted" }),
        };
        writeln!(out, "{line}").map_err(|e| CliError::plain(e.to_string()))?;
    }
    Ok(())
}

pub(super) fn parse_rmi(name: &str, args: &[String]) -> Result<RmiArgs, CliError> {
    spec(
        name,
        "docker rmi [OPTIONS] IMAGE [IMAGE...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub fn rmi(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_rmi(name, args)?;
    let _ = a.no_prune;
    let store = store(ctx);
    let containers = crate::engine::container::ContainerStore::open(&ctx.root);
    let users = containers.image_users()?;
    let user = |id: &crate::engine::image::Digest| {
        users
            .iter()
            .filter(|(img, _, _)| img == id)
            .max_by_key(|(_, _, running)| *running)
            .map(|(_, c, running)| (c.short().to_string(), *running))
    };
    // Docker's client reports every failure; with -f, images that do not exist are not
    // failures of the command (exit 0), anything else still is.
    let mut failed = false;
    let stdout = std::io::stdout();
    for image in &a.args {
        if image.is_empty() {
            // The client's request URL then lacks the name: the daemon knows no such route,
            // a not-found that -f forgives.
            failed |= !a.force;
            eprintln!("Error response from daemon: page not found");
            continue;
        }
        let mut tx = store.begin()?;
        match tx.remove(image, a.force, &user) {
            Ok(removals) => {
                tx.commit()?;
                print_removals(&mut stdout.lock(), &removals, false)?;
            }
            Err(e) => {
                failed |= !(a.force && matches!(e, ImageError::NoSuchImage(_)));
                eprintln!("Error response from daemon: {}", CliError::from(e).text());
            }
        }
    }
    if failed {
        return Err(CliError::Message {
            text: String::new(),
            code: 1,
        }
        .silent());
    }
    Ok(())
}

#[derive(Parser, Debug)]
pub(super) struct PruneArgs {
    #[arg(short = 'a', long = "all")]
    all: bool,
    #[arg(short = 'f', long = "force")]
    force: bool,
    #[arg(long = "filter")]
    filter: Vec<String>,
    args: Vec<String>,
}

pub(super) fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn prune_spec() -> Spec {
    spec(
        "image prune",
        "docker image prune [OPTIONS]",
        Arity::Exact(0),
    )
}

pub(super) fn parse_prune(_: &str, args: &[String]) -> Result<PruneArgs, CliError> {
    prune_spec().parse_checked(args)
}

/// `image prune --filter`s as moby's `ImagesPrune` applies them.
struct ImagePruneFilters {
    /// Only untagged images without children (the client always adds `dangling=true`, or
    /// `dangling=false` with `-a`; any `false`/`0` among the values means all images).
    dangling_only: bool,
    /// `until=`: only images created at or before then.
    until: Option<DateTime<Utc>>,
    /// `label=KEY[=VALUE]`: every one must match.
    labels: BTreeSet<String>,
    /// `label!=KEY[=VALUE]`: images matching all of them are kept.
    not_labels: BTreeSet<String>,
}

impl ImagePruneFilters {
    /// The daemon's checks, in its order: known filter names, then `until`.
    fn parse(raw: &[(String, String)], all: bool) -> Result<Self, CliError> {
        if let Some((key, _)) = raw
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "dangling" | "label" | "label!" | "until"))
        {
            return Err(CliError::daemon(format!("Invalid filter '{key}'")));
        }
        let values = |key: &str| -> BTreeSet<String> {
            raw.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let dangling = values("dangling");
        let until = values("until");
        if until.len() > 1 {
            return Err(CliError::daemon("more than one until filter specified"));
        }
        let until = match until.iter().next() {
            Some(v) => Some(
                super::container::parse_time_arg(v, Utc::now()).map_err(|_| {
                    CliError::daemon(format!("failed to parse value as time or duration: {v:?}"))
                })?,
            ),
            None => None,
        };
        Ok(Self {
            dangling_only: !(all || dangling.contains("false") || dangling.contains("0")),
            until,
            labels: values("label"),
            not_labels: values("label!"),
        })
    }

    /// Filters' `MatchKVList`: every `KEY[=VALUE]` is among `labels` (true if none given).
    fn match_kv_list(
        wanted: &BTreeSet<String>,
        labels: Option<&serde_json::Map<String, Value>>,
    ) -> bool {
        if wanted.is_empty() {
            return true;
        }
        let Some(labels) = labels.filter(|l| !l.is_empty()) else {
            return false;
        };
        wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => labels.get(k).and_then(Value::as_str) == Some(v),
            None => labels.contains_key(w.as_str()),
        })
    }

    fn keeps_out(&self, img: &Image) -> bool {
        let created = img.config.created().unwrap_or(img.record.added);
        if self.until.is_some_and(|u| created > u) {
            return true;
        }
        let Some(config) = img.config.runtime_config() else {
            return false;
        };
        let labels = config.get("Labels").and_then(Value::as_object);
        !Self::match_kv_list(&self.labels, labels)
            || (!self.not_labels.is_empty() && Self::match_kv_list(&self.not_labels, labels))
    }
}

pub fn prune(ctx: &Context, args: &[String]) -> CliResult {
    let spec = prune_spec();
    let a = parse_prune("image prune", args)?;
    let store = store(ctx);
    // The client checks only the NAME=VALUE form; the daemon the rest, after the question.
    let mut raw = Vec::new();
    for item in &a.filter {
        let Some((key, value)) = item.split_once('=') else {
            return Err(spec.usage_error(
                format!("invalid argument \"{item}\" for \"--filter\" flag: bad format of filter (expected name=value)"),
                "Run",
            ));
        };
        raw.push((key.to_string(), value.to_string()));
    }
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(&format!("{warning}\nAre you sure you want to continue?")) {
        return Ok(());
    }
    let filters = ImagePruneFilters::parse(&raw, a.all)?;
    let containers = crate::engine::container::ContainerStore::open(&ctx.root);
    let used: BTreeSet<crate::engine::image::Digest> = containers
        .image_users()?
        .into_iter()
        .map(|(img, _, _)| img)
        .collect();
    let mut tx = store.begin()?;
    let sizes_before = layer_sizes(&store)?;
    let mut candidates = Vec::new();
    for id in tx.index().images.keys() {
        let untagged = tx.index().is_untagged(id);
        let has_children = !tx.index().children_of(id).is_empty();
        // moby skips untagged parents in either mode, and tagged images unless -a.
        if (untagged && has_children) || (filters.dangling_only && !untagged) || used.contains(id) {
            continue;
        }
        if !filters.keeps_out(&store.image(tx.index(), id)?) {
            candidates.push(id.clone());
        }
    }
    let mut removals = Vec::new();
    for id in candidates {
        if tx.index().images.contains_key(&id) {
            removals.extend(tx.remove(&id.to_string(), true, &|_| None)?);
        }
    }
    tx.commit()?;
    let reclaimed: u64 = removals
        .iter()
        .filter_map(|r| match r {
            Removal::Deleted(d) => sizes_before.iter().find(|(c, _)| c == d).map(|(_, s)| *s),
            Removal::Untagged(_) => None,
        })
        .sum();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| CliError::plain(e.to_string());
    if !removals.is_empty() {
        writeln!(out, "Deleted Images:").map_err(io)?;
        print_removals(&mut out, &removals, true)?;
        writeln!(out).map_err(io)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size_4(reclaimed)).map_err(io)?;
    Ok(())
}

fn layer_sizes(store: &ImageStore) -> Result<Vec<(crate::engine::image::Digest, u64)>, CliError> {
    let mut out = Vec::new();
    for c in store.layers().list()? {
        out.push((c.clone(), store.layers().meta(&c)?.size));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// history

#[derive(Parser, Debug)]
pub(super) struct HistoryArgs {
    #[arg(short = 'H', long = "human", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_bool)]
    human: bool,
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(long = "format")]
    format: Option<String>,
    args: Vec<String>,
}

/// docker/cli's `Ellipsis`: cut to `max` characters, the last one an ellipsis.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

pub(super) fn parse_history(name: &str, args: &[String]) -> Result<HistoryArgs, CliError> {
    spec(name, "docker history [OPTIONS] IMAGE", Arity::Exact(1)).parse_checked(args)
}

pub fn history(ctx: &Context, name: &str, args: &[String]) -> CliResult {
    let a = parse_history(name, args)?;
    if a.args[0].is_empty() {
        // The client's request URL then lacks the name: the daemon knows no such route.
        return Err(CliError::daemon("page not found"));
    }
    let store = store(ctx);
    let img = store.get(&a.args[0])?;
    let chain = chain_ids(img.config.diff_ids());
    let mut layer_sizes = Vec::new();
    for c in &chain {
        layer_sizes.push(store.layers().meta(c)?.size);
    }
    // Pair history entries with layers: every entry that is not an empty layer owns the next.
    let mut entries: Vec<(Value, u64)> = Vec::new();
    let history = img.config.history();
    let mut layer = 0;
    if history.is_empty() {
        for s in &layer_sizes {
            entries.push((json!({}), *s));
        }
    }
    for h in history {
        let empty = h
            .get("empty_layer")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let size = if empty {
            0
        } else {
            let s = layer_sizes.get(layer).copied().unwrap_or(0);
            layer += 1;
            s
        };
        entries.push((h.clone(), size));
    }
    let now = Utc::now();
    let n = entries.len();
    let mut owners = std::collections::HashMap::new();
    owners.insert(n, img.id.clone());
    let index = store.index()?;
    let mut parent = img.record.parent.clone();
    while let Some(p) = parent.filter(|p| index.images.contains_key(p)) {
        let parent_image = store.image(&index, &p)?;
        owners
            .entry(parent_image.config.history().len().max(1))
            .or_insert(p.clone());
        parent = parent_image.record.parent.clone();
    }
    let mut rows = Vec::new();
    for (i, (h, size)) in entries.iter().enumerate().rev() {
        let created = h
            .get("created")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let created_by = h
            .get("created_by")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\t', " ");
        // The row that ends an image present locally (this one, or a parent a commit
        // built on) shows that image's ID, as Docker's history walks the parent chain.
        let id = match owners.get(&(i + 1)) {
            Some(owner) => short_or_full(owner, a.no_trunc),
            None => "<missing>".to_string(),
        };
        rows.push(json!({
            // Keys in the order `{{json .}}` prints them (docker/cli marshals a Go map).
            "Comment": h.get("comment").and_then(Value::as_str).unwrap_or(""),
            "CreatedAt": created.map(go_rfc3339_local).unwrap_or_default(),
            "CreatedBy": if a.no_trunc { created_by.clone() } else { ellipsis(&created_by, 45) },
            "CreatedSince": match (created, a.human) {
                (Some(t), true) => ago(t, now),
                (Some(t), false) => go_rfc3339_local(t),
                (None, _) => "N/A".to_string(),
            },
            "ID": id,
            "Size": if a.human { human_size(*size) } else { size.to_string() },
        }));
    }
    let format = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() && f != "table" => f.clone(),
        (_, true) => "{{.ID}}".to_string(),
        _ if a.human => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
        }
        _ => "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string(),
    };
    let headers = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    render_list(super::output::HISTORY, &format, &headers, &rows)
}

// ---------------------------------------------------------------------------------------
// inspect

#[derive(Parser, Debug)]
pub(super) struct InspectArgs {
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    #[arg(short = 's', long = "size")]
    size: bool,
    #[arg(long = "type")]
    kind: Option<String>,
    args: Vec<String>,
}

/// `docker image inspect`'s flags: only --format (no --size, no --type).
#[derive(Parser, Debug)]
pub(super) struct ImageInspectArgs {
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    args: Vec<String>,
}

pub(super) fn parse_image_inspect(_: &str, args: &[String]) -> Result<ImageInspectArgs, CliError> {
    spec(
        "image inspect",
        "docker image inspect [OPTIONS] IMAGE [IMAGE...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub(super) fn parse_container_inspect(_: &str, args: &[String]) -> Result<InspectArgs, CliError> {
    spec(
        "container inspect",
        "docker container inspect [OPTIONS] CONTAINER [CONTAINER...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

pub(super) fn parse_inspect(_: &str, args: &[String]) -> Result<InspectArgs, CliError> {
    spec(
        "inspect",
        "docker inspect [OPTIONS] NAME|ID [NAME|ID...]",
        Arity::AtLeast(1),
    )
    .parse_checked(args)
}

/// `docker image inspect`
pub fn image_inspect(ctx: &Context, args: &[String]) -> CliResult {
    let a = parse_image_inspect("image inspect", args)?;
    let a = InspectArgs {
        format: a.format,
        size: false,
        kind: None,
        args: a.args,
    };
    inspect_typed(ctx, a, Some("image"))
}

/// `docker container inspect`
pub fn container_inspect(ctx: &Context, args: &[String]) -> CliResult {
    inspect_typed(
        ctx,
        parse_container_inspect("container inspect", args)?,
        Some("container"),
    )
}

/// `docker inspect`: containers first, then images (volumes and networks join as they land).
pub fn inspect_any(ctx: &Context, args: &[String]) -> CliResult {
    inspect_typed(ctx, parse_inspect("inspect", args)?, None)
}

/// The kinds `docker inspect --type` knows (dokles has images and containers so far).
const TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// `inspect` of objects of one kind (`docker image inspect`, `docker container inspect`) or,
/// with `forced` None, of any kind (`docker inspect [--type]`).
fn inspect_typed(ctx: &Context, a: InspectArgs, forced: Option<&str>) -> CliResult {
    if let Some(k) = &a.kind {
        if !TYPES.contains(&k.as_str()) {
            return Err(CliError::plain(format!(
                "unknown type: {k:?}: must be one of {}",
                TYPES.map(|t| format!("{t:?}")).join(", ")
            )));
        }
    }
    let kind = forced.or(a.kind.as_deref());
    if let Some(k) = kind {
        if k != "image" && k != "container" {
            // Kinds dokles does not have yet hold no objects.
            let errors: Vec<String> = a
                .args
                .iter()
                .map(|n| format!("Error: No such {k}: {n}"))
                .collect();
            render_inspect(a.format.as_deref(), &[])?;
            return Err(CliError::plain(errors.join("\n")));
        }
    }
    let store = store(ctx);
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for name in &a.args {
        if name.is_empty() {
            errors.push(match kind {
                Some("image") => "Error: No such image: ".to_string(),
                _ => "invalid container name or ID: value is empty".to_string(),
            });
            continue;
        }
        if kind != Some("image") {
            match super::container::inspect_container(ctx, name) {
                Ok(Some(v)) => {
                    objects.push(v);
                    continue;
                }
                Ok(None) => {}
                // A damaged container, say: the other names are still inspected.
                Err(CliError::Daemon(text)) => {
                    errors.push(format!("Error response from daemon: {text}"));
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        if kind == Some("container") {
            errors.push(format!(
                "Error response from daemon: No such container: {name}"
            ));
            continue;
        }
        match store.get(name) {
            Ok(img) => {
                if a.size {
                    // An image's size is always in its inspect output.
                    eprintln!("WARNING: --size ignored for image");
                }
                objects.push(inspect(&store, &img))
            }
            Err(ImageError::NoSuchImage(shown)) => errors.push(match kind {
                Some(_) => format!(
                    "Error response from daemon: no such image: {name}: No such image: {shown}"
                ),
                None => format!("Error: No such object: {name}"),
            }),
            Err(other @ ImageError::Reference(_)) => errors.push(match kind {
                Some(_) => format!(
                    "Error response from daemon: no such image: {name}: {}",
                    CliError::from(other).text()
                ),
                None => format!("Error: No such object: {name}"),
            }),
            Err(other) => errors.push(format!(
                "Error response from daemon: {}",
                CliError::from(other).text()
            )),
        }
    }
    if objects.is_empty() && a.format.is_some() {
        // docker/cli's TemplateInspector flushes a bare newline when nothing was rendered.
        println!();
    } else {
        render_inspect(a.format.as_deref(), &objects)?;
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(CliError::plain(errors.join("\n")))
}
