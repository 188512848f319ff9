//! The offline image cache: real images built by `fixtures/build`, described by
//! `fixtures/images/index.json`. The small ones (busybox, hello-world) are embedded in the
//! binary; the larger ones are read from a cache directory. `pull` (and `run`'s implicit
//! pull) take images from here, with Docker's progress lines.

use crate::events::{Event, PulledLayer};
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use include_dir::{include_dir, Dir};
use serde::Deserialize;

use super::digest::Digest;
use super::layers::chain_ids;
use super::load::load_images;
use super::reference::{Reference, TaggedRef};
use super::store::{ImageError, ImageStore};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/images/embedded");
const INDEX: &str = include_str!("../../../fixtures/images/index.json");
/// Where a source checkout keeps the larger images.
const SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/images");
/// Overrides the directories searched for cached image archives.
pub const CACHE_ENV: &str = "DOKLES_IMAGES";

#[derive(Debug, Clone, Deserialize)]
pub struct CachedLayer {
    pub diff_id: Digest,
    pub size: u64,
}

/// One cached image archive and what it holds.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheEntry {
    pub name: String,
    pub tags: Vec<String>,
    pub file: String,
    pub id: Digest,
    pub manifest_digest: Digest,
    pub layers: Vec<CachedLayer>,
    pub size: u64,
}

impl CacheEntry {
    fn repository(&self) -> Option<Reference> {
        Reference::parse(&self.name).ok()
    }

    /// `python:latest`, `python:3.11`, …
    pub fn familiar_tags(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| format!("{}:{t}", self.name))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Cache {
    entries: Vec<CacheEntry>,
    dirs: Vec<PathBuf>,
}

/// How a pull went, for `Status:` and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    Downloaded,
    UpToDate,
}

impl Cache {
    /// The cache shipped with this binary, looking for archives in `$DOKLES_IMAGES`
    /// (colon-separated), next to the installed binary (`../share/dokles/images`), and in the
    /// source checkout it was built from.
    pub fn shipped() -> Result<Self> {
        let entries: Vec<CacheEntry> =
            serde_json::from_str(INDEX).context("the embedded image cache index is corrupt")?;
        let mut dirs = Vec::new();
        if let Some(v) = std::env::var_os(CACHE_ENV) {
            dirs.extend(std::env::split_paths(&v));
        }
        if let Ok(exe) = std::env::current_exe() {
            if let Some(bin) = exe.parent() {
                dirs.push(bin.join("../share/dokles/images"));
            }
        }
        dirs.push(PathBuf::from(SOURCE_DIR));
        Ok(Self { entries, dirs })
    }

    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }

    /// The directories searched for archives, in order (they need not exist).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The entry holding `tag`, if any.
    pub fn find(&self, tag: &TaggedRef) -> Option<&CacheEntry> {
        self.entries.iter().find(|e| {
            e.repository().is_some_and(|r| r.repo() == tag.repo())
                && e.tags.iter().any(|t| t == tag.tag())
        })
    }

    /// Every cached `name:tag`, for error messages and lessons.
    pub fn available(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.familiar_tags())
            .collect()
    }

    /// Open an entry's archive: embedded bytes first, then the cache directories.
    pub fn open(&self, entry: &CacheEntry) -> Result<Box<dyn Read>> {
        if let Some(f) = EMBEDDED.get_file(&entry.file) {
            return Ok(Box::new(f.contents()));
        }
        for dir in &self.dirs {
            let p = dir.join(&entry.file);
            if p.is_file() {
                let f = File::open(&p).with_context(|| format!("cannot open {}", p.display()))?;
                return Ok(Box::new(f));
            }
        }
        anyhow::bail!(
            "the archive {} of {} is not installed (looked in {}); set {CACHE_ENV} to the directory holding it",
            entry.file,
            entry.name,
            self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    }
}

/// moby's default `max-concurrent-downloads`: later layers say "Waiting" first.
const MAX_CONCURRENT_DOWNLOADS: usize = 3;

/// Which of Docker's pull lines to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullOutput {
    /// `docker pull`: progress, then the full name.
    Pull,
    /// `docker pull -q`: only the full name.
    Quiet,
    /// `run`/`create`'s implicit pull: progress without "Using default tag" or the name.
    Run,
}

/// Pull `name` from the offline cache into `store`, writing Docker's progress lines to `out`.
pub fn pull(
    store: &ImageStore,
    cache: &Cache,
    name: &str,
    output: PullOutput,
    out: &mut dyn Write,
) -> Result<PullOutcome, ImageError> {
    pull_tag(store, cache, name, output, out, false)
}

/// `docker pull -a REPOSITORY`: every cached tag of the repository (in the sorted order of a
/// registry's tag list), each with its own progress and digest; then one status line for the
/// repository (moby's `pullRepository`) and its full name.
pub fn pull_all_tags(
    store: &ImageStore,
    cache: &Cache,
    repo: &Reference,
    output: PullOutput,
    out: &mut dyn Write,
) -> Result<PullOutcome, ImageError> {
    let mut tags: Vec<String> = cache
        .entries
        .iter()
        .filter(|e| e.repository().is_some_and(|r| r.repo() == repo.repo()))
        .flat_map(|e| e.tags.iter().cloned())
        .collect();
    if tags.is_empty() {
        return Err(ImageError::NotCached {
            name: repo.repo().familiar(),
            available: cache.available(),
        });
    }
    tags.sort();
    let mut outcome = PullOutcome::UpToDate;
    for tag in tags {
        let name = format!("{}:{tag}", repo.repo().full());
        if pull_tag(store, cache, &name, output, out, true)? == PullOutcome::Downloaded {
            outcome = PullOutcome::Downloaded;
        }
    }
    let familiar = repo.repo().familiar();
    if output != PullOutput::Quiet {
        let status = match outcome {
            PullOutcome::Downloaded => format!("Status: Downloaded newer image for {familiar}"),
            PullOutcome::UpToDate => format!("Status: Image is up to date for {familiar}"),
        };
        writeln!(out, "{status}").context("cannot write output")?;
    }
    writeln!(out, "{}", repo.repo().full()).context("cannot write output")?;
    Ok(outcome)
}

/// One tag (or digest); `in_repository` leaves the status and name lines to
/// [`pull_all_tags`].
fn pull_tag(
    store: &ImageStore,
    cache: &Cache,
    name: &str,
    output: PullOutput,
    out: &mut dyn Write,
    in_repository: bool,
) -> Result<PullOutcome, ImageError> {
    let quiet = output == PullOutput::Quiet;
    let print_name = output != PullOutput::Run && !in_repository;
    let reference = Reference::parse(name)?;
    let mut say = |line: String| -> Result<(), ImageError> {
        if !quiet {
            writeln!(out, "{line}").context("cannot write output")?;
        }
        Ok(())
    };
    if reference.tag().is_none() && reference.digest().is_none() && output != PullOutput::Run {
        say("Using default tag: latest".into())?;
    }
    let tag = reference.with_default_tag();
    let entry = match &tag {
        Some(t) => cache.find(t),
        None => cache.entries.iter().find(|e| {
            Some(&e.manifest_digest) == reference.digest()
                && e.repository().is_some_and(|r| r.repo() == reference.repo())
        }),
    };
    let Some(entry) = entry else {
        return Err(ImageError::NotCached {
            name: reference.familiar_with_default_tag(),
            available: cache.available(),
        });
    };
    let shown = tag
        .as_ref()
        .map(|t| t.tag().to_string())
        .unwrap_or_else(|| {
            reference
                .digest()
                .map(|d| d.to_string())
                .unwrap_or_default()
        });
    say(format!("{shown}: Pulling from {}", reference.repo().path()))?;

    let mut tx = store.begin()?;
    let digest_key = format!("{}@{}", reference.repo().full(), entry.manifest_digest);
    // moby's pullSchema2 stops before any layer when the image (its config) is already in
    // the store, e.g. under another tag: no layer lines, yet the tag is (re)set.
    let present_image = tx.index().images.contains_key(&entry.id);
    let already = present_image
        && tag
            .as_ref()
            .is_none_or(|t| tx.index().tags.get(&t.full()) == Some(&entry.id));
    let mut pulled = Vec::new();
    let diff_ids: Vec<Digest> = entry.layers.iter().map(|l| l.diff_id.clone()).collect();
    let chain = chain_ids(&diff_ids);
    if !present_image {
        let present: Vec<bool> = chain.iter().map(|c| store.layers().contains(c)).collect();
        // Docker's progress without a terminal: every layer is announced in order, those
        // beyond the three concurrent downloads wait; then (the offline cache being quick)
        // each download completes and is extracted in layer order.
        let mut downloads = 0;
        let mut waiting = Vec::new();
        for (d, p) in diff_ids.iter().zip(&present) {
            if *p {
                say(format!("{}: Already exists", d.short()))?;
            } else {
                say(format!("{}: Pulling fs layer", d.short()))?;
                downloads += 1;
                if downloads > MAX_CONCURRENT_DOWNLOADS {
                    waiting.push(d.short());
                }
            }
        }
        for short in waiting {
            say(format!("{short}: Waiting"))?;
        }
        let loaded = load_images(&mut tx, cache.open(entry)?)?;
        if !loaded.images.iter().any(|(id, _)| *id == entry.id) {
            return Err(ImageError::Other(anyhow::anyhow!(
                "the cached archive {} does not hold image {}",
                entry.file,
                entry.id
            )));
        }
        for (d, p) in diff_ids.iter().zip(&present) {
            if !*p {
                say(format!("{}: Verifying Checksum", d.short()))?;
                say(format!("{}: Download complete", d.short()))?;
                say(format!("{}: Pull complete", d.short()))?;
            }
        }
        for ((chain_id, diff_id), present) in chain.iter().zip(&diff_ids).zip(&present) {
            pulled.push(PulledLayer {
                chain_id: chain_id.to_string(),
                diff_id: diff_id.to_string(),
                dir: store.layers().diff_dir(chain_id).display().to_string(),
                bytes: store.layers().meta(chain_id).map(|m| m.size).unwrap_or(0),
                new: !present,
            });
        }
    } else if !already {
        // Only the tag is new: every layer was there.
        for (chain_id, diff_id) in chain.iter().zip(&diff_ids) {
            pulled.push(PulledLayer {
                chain_id: chain_id.to_string(),
                diff_id: diff_id.to_string(),
                dir: store.layers().diff_dir(chain_id).display().to_string(),
                bytes: store.layers().meta(chain_id).map(|m| m.size).unwrap_or(0),
                new: false,
            });
        }
    }
    let pulled_ref = match &tag {
        Some(t) => t.full(),
        None => format!("{}@{}", reference.repo().full(), entry.manifest_digest),
    };
    tx.announce(if already {
        Event::ImageUpToDate {
            reference: pulled_ref,
            id: entry.id.to_string(),
        }
    } else {
        Event::ImagePulled {
            reference: pulled_ref,
            id: entry.id.to_string(),
            layers: pulled,
        }
    });
    if let Some(t) = &tag {
        tx.add_tag(t, &entry.id);
    }
    tx.index_mut()
        .repo_digests
        .insert(digest_key, entry.id.clone());
    tx.commit()?;
    say(format!("Digest: {}", entry.manifest_digest))?;
    let familiar = match &tag {
        Some(t) => t.familiar(),
        None => reference.familiar_with_default_tag(),
    };
    let outcome = if already {
        PullOutcome::UpToDate
    } else {
        PullOutcome::Downloaded
    };
    if !in_repository {
        say(match outcome {
            PullOutcome::UpToDate => format!("Status: Image is up to date for {familiar}"),
            PullOutcome::Downloaded => format!("Status: Downloaded newer image for {familiar}"),
        })?;
    }
    let full = match &tag {
        Some(t) => t.full(),
        None => format!("{}@{}", reference.repo().full(), entry.manifest_digest),
    };
    if print_name {
        writeln!(out, "{full}").context("cannot write output")?;
    }
    Ok(outcome)
}
