//! The container store: `containers/<id>/` directories holding each container's config,
//! state, log and overlay dirs; name/ID resolution as Docker's; and reconciliation — a
//! container whose monitor and process are gone is recorded as exited, never left "running".
//!
//! Every entry of `containers/` is a whole container or a damaged one (see [`super::damaged`]),
//! never one half made or half removed: `create` builds a container in a staging directory
//! and renames it in once complete ([`ContainerStore::stage`], [`ContainerStore::insert`]),
//! and removal renames it out into `tmp/` before deleting its files
//! ([`ContainerStore::forget`]). A writer killed half-way leaves only `tmp/` entries, which
//! the next writer removes, and possibly a layer pin without its container, which
//! [`ContainerStore::lock`] releases. Readers tolerate containers vanishing under them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use thiserror::Error;

use super::damaged::{read_record, Damaged, Problem};
use super::record::{ContainerConfig, ContainerId, ContainerPaths, State, Status};
use crate::engine::image::{ImageError, ImageStore};
use crate::state::{atomic_write_json, create_dir, mode, StateLock, StateRoot};

/// Errors with Docker's wording; the CLI prefixes "Error response from daemon: ".
#[derive(Debug, Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("Multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: ContainerId },
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("Container {0} is not running")]
    NotRunning(ContainerId),
    #[error("You cannot remove a running container {0}. Stop the container before attempting removal or force remove")]
    RemoveRunning(ContainerId),
    /// The container could not start; `code` is Docker's exit code for it (125/126/127).
    #[error("{message}")]
    Start { message: String, code: i32 },
    /// Its files cannot be read as a container: only `rm -f` can act on it.
    #[error("{0}")]
    Damaged(Box<Damaged>),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A container's config and state, read together.
#[derive(Debug, Clone)]
pub struct Container {
    pub config: ContainerConfig,
    pub state: State,
    pub paths: ContainerPaths,
}

/// Every entry of `containers/`: the containers (newest first, as `ps` lists them) and the
/// damaged entries (by ID).
#[derive(Debug, Default)]
pub struct Scan {
    pub containers: Vec<Container>,
    pub damaged: Vec<Damaged>,
}

/// One entry of `containers/` as read just now.
enum Entry {
    Whole(Container),
    Damaged(Damaged),
    /// Removed (or never there).
    Gone,
}

/// A container being created: a directory in staging that no other process sees, until
/// [`ContainerStore::insert`] renames it into `containers/`. Dropped, it is deleted.
#[derive(Debug)]
pub struct Staged {
    dir: tempfile::TempDir,
    id: ContainerId,
}

impl Staged {
    /// Where its files are while it is staged.
    pub fn paths(&self) -> ContainerPaths {
        ContainerPaths {
            dir: self.dir.path().to_path_buf(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContainerStore {
    root: StateRoot,
    dir: PathBuf,
}

impl ContainerStore {
    pub fn open(root: &StateRoot) -> Self {
        Self {
            root: root.clone(),
            dir: root.join("containers"),
        }
    }

    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    pub fn paths(&self, id: &ContainerId) -> ContainerPaths {
        ContainerPaths {
            dir: self.dir.join(id.as_str()),
        }
    }

    /// Take the root's writer lock, as every change to a container does, and release the
    /// layer pins of containers that no longer exist (a `create` or `rm` killed between
    /// pinning and renaming). Best effort: a pin left over only keeps layers from GC.
    pub fn lock(&self) -> Result<StateLock> {
        let lock = self.root.lock()?;
        let images = ImageStore::open(&self.root);
        for owner in images.pin_owners() {
            if let Some(id) = ContainerId::parse(&owner) {
                if fs::symlink_metadata(self.paths(&id).dir)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
                {
                    let _ = images.unpin(&lock, &owner);
                }
            }
        }
        Ok(lock)
    }

    /// The IDs of every entry of `containers/`, whole or damaged. Other names are not
    /// containers dokles made, and nothing can name them.
    fn ids(&self) -> Result<Vec<ContainerId>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.with_context(|| format!("cannot read {}", self.dir.display()))?;
            if let Some(id) = e.file_name().to_str().and_then(ContainerId::parse) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Read entry `id` as it is now (no reconciliation).
    fn read(&self, id: &ContainerId) -> Entry {
        let paths = self.paths(id);
        let damaged = |problem, config, state| {
            Entry::Damaged(Damaged {
                id: id.clone(),
                paths: paths.clone(),
                problem,
                config,
                state,
            })
        };
        match fs::symlink_metadata(&paths.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Entry::Gone,
            Err(e) => return damaged(Problem::Unreadable("directory", e.to_string()), None, None),
            Ok(m) if !m.is_dir() => return damaged(Problem::NotADirectory, None, None),
            Ok(_) => {}
        }
        let config = read_record::<ContainerConfig>(&paths.dir, "config.json").and_then(|c| {
            if c.id == *id {
                Ok(c)
            } else {
                Err(Problem::ForeignConfig(c.id))
            }
        });
        let state = read_record::<State>(&paths.dir, "state.json");
        match (config, state) {
            (Ok(config), Ok(state)) => Entry::Whole(Container {
                config,
                state,
                paths,
            }),
            // A container removed while we read (renamed away whole) is gone, not damaged.
            _ if !paths.dir.exists() => Entry::Gone,
            (Err(problem), state) => damaged(problem, None, state.ok()),
            (Ok(config), Err(problem)) => damaged(problem, Some(config), None),
        }
    }

    /// Read one container, reconciling a stale "running" state.
    pub fn load(&self, id: &ContainerId) -> Result<Container, ContainerError> {
        let c = self.whole(id)?;
        if !needs_reconcile(&c.state) {
            return Ok(c);
        }
        let lock = self.lock()?;
        self.load_locked(&lock, id)
    }

    /// [`Self::load`] for a caller that holds the lock.
    pub fn load_locked(
        &self,
        lock: &StateLock,
        id: &ContainerId,
    ) -> Result<Container, ContainerError> {
        let mut c = self.whole(id)?;
        if needs_reconcile(&c.state) {
            c.state.status = Status::Exited;
            c.state.exit_code = 255;
            c.state.error = "the container's monitor ended before recording its exit".into();
            c.state.process = None;
            c.state.monitor = None;
            c.state.finished_at = Some(Utc::now());
            self.save_state(lock, id, &c.state)?;
            remove_stale_cgroup(&c.config);
            crate::events::Journal::open(&self.root).emit(crate::events::Event::ContainerExited {
                id: id.to_string(),
                name: c.config.name.clone(),
                exit_code: c.state.exit_code,
                oom_killed: false,
            });
        }
        Ok(c)
    }

    fn whole(&self, id: &ContainerId) -> Result<Container, ContainerError> {
        match self.read(id) {
            Entry::Whole(c) => Ok(c),
            Entry::Damaged(d) => Err(ContainerError::Damaged(Box::new(d))),
            Entry::Gone => Err(ContainerError::NoSuchContainer(id.to_string())),
        }
    }

    /// Every entry of `containers/`: whole containers (reconciled) and damaged ones.
    /// Containers removed while we look are left out.
    pub fn scan(&self) -> Result<Scan> {
        let mut out = Scan::default();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(c) => out.containers.push(c),
                Err(ContainerError::Damaged(d)) => out.damaged.push(*d),
                Err(ContainerError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.containers
            .sort_by_key(|c| std::cmp::Reverse(c.config.created));
        out.damaged.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Every whole container, newest first (as `ps` lists them).
    pub fn list(&self) -> Result<Vec<Container>> {
        Ok(self.scan()?.containers)
    }

    /// The name of entry `id`, if its config can be read (damaged state or not).
    fn name_of(&self, id: &ContainerId) -> Option<String> {
        read_record::<ContainerConfig>(&self.paths(id).dir, "config.json")
            .ok()
            .filter(|c| c.id == *id)
            .map(|c| c.name)
    }

    /// Resolve a name or ID as Docker does: full ID, exact name, then unique ID prefix.
    /// Damaged entries are found by ID and prefix, and by name while their config can be
    /// read; entries that vanish meanwhile are not found.
    pub fn resolve(&self, name: &str) -> Result<ContainerId, ContainerError> {
        let ids = self.ids()?;
        if let Some(id) = ContainerId::parse(name) {
            if ids.contains(&id) {
                return Ok(id);
            }
        }
        let wanted = name.strip_prefix('/').unwrap_or(name);
        if let Some(id) = ids
            .iter()
            .find(|id| self.name_of(id).as_deref() == Some(wanted))
        {
            return Ok(id.clone());
        }
        if !name.is_empty() {
            let mut hits = ids.iter().filter(|id| id.as_str().starts_with(name));
            match (hits.next(), hits.next()) {
                (Some(id), None) => return Ok(id.clone()),
                (Some(_), Some(_)) => return Err(ContainerError::Ambiguous(name.to_string())),
                _ => {}
            }
        }
        Err(ContainerError::NoSuchContainer(name.to_string()))
    }

    pub fn get(&self, name: &str) -> Result<Container, ContainerError> {
        let id = self.resolve(name)?;
        self.load(&id).map_err(|e| match e {
            // Removed between resolving and reading: Docker names what was asked for.
            ContainerError::NoSuchContainer(_) => ContainerError::NoSuchContainer(name.to_string()),
            e => e,
        })
    }

    /// The container using `name`, if any (under the lock, for uniqueness checks).
    pub fn find_name(&self, _lock: &StateLock, name: &str) -> Result<Option<ContainerId>> {
        Ok(self
            .ids()?
            .into_iter()
            .find(|id| self.name_of(id).as_deref() == Some(name)))
    }

    /// Start creating container `config`: its directories, state and config, in staging.
    pub fn stage(&self, lock: &StateLock, config: &ContainerConfig) -> Result<Staged> {
        let dir = self.root.staging_dir(lock)?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode::PRIVATE_DIR))
            .context("cannot set the container directory's mode")?;
        let staged = Staged {
            dir,
            id: config.id.clone(),
        };
        let paths = staged.paths();
        // The upper dir is the container's `/` (its mode shows through the overlay).
        for (d, m) in [
            (paths.upper(), mode::ROOTFS_DIR),
            (paths.work(), mode::PRIVATE_DIR),
            (paths.merged(), mode::ROOTFS_DIR),
        ] {
            create_dir(&d, m).with_context(|| format!("cannot create {}", d.display()))?;
        }
        atomic_write_json(&paths.state(), &State::created())?;
        atomic_write_json(&paths.config(), config)?;
        Ok(staged)
    }

    /// Make a staged container exist: one rename into `containers/`.
    pub fn insert(&self, _lock: &StateLock, staged: Staged) -> Result<ContainerPaths> {
        create_dir(&self.dir, mode::PRIVATE_DIR)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let paths = self.paths(&staged.id);
        // Kept: once renamed it is no longer ours to delete (a failed rename leaves it to
        // the next writer's clean-up of staging).
        let from = staged.dir.keep();
        fs::rename(&from, &paths.dir)
            .with_context(|| format!("cannot move the new container to {}", paths.dir.display()))?;
        Ok(paths)
    }

    /// Replace the state of container `id`, which must still exist: a writer that finds it
    /// removed must not bring back a directory holding only a state file.
    pub fn save_state(
        &self,
        _lock: &StateLock,
        id: &ContainerId,
        state: &State,
    ) -> Result<(), ContainerError> {
        let paths = self.paths(id);
        self.still_there(&paths, id)?;
        Ok(atomic_write_json(&paths.state(), state)?)
    }

    pub fn save_config(
        &self,
        _lock: &StateLock,
        config: &ContainerConfig,
    ) -> Result<(), ContainerError> {
        let paths = self.paths(&config.id);
        self.still_there(&paths, &config.id)?;
        Ok(atomic_write_json(&paths.config(), config)?)
    }

    fn still_there(&self, paths: &ContainerPaths, id: &ContainerId) -> Result<(), ContainerError> {
        match fs::symlink_metadata(&paths.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(ContainerError::NoSuchContainer(id.to_string())),
        }
    }

    /// Make container `id` cease to exist: one rename takes its directory out of
    /// `containers/` into `tmp/`, then its layers are unpinned. Its files, now at the
    /// returned paths, are for [`Self::remove_files`] — or for the next writer's clean-up of
    /// `tmp/`, if this process dies first.
    pub fn forget(
        &self,
        lock: &StateLock,
        id: &ContainerId,
    ) -> Result<ContainerPaths, ContainerError> {
        let from = self.paths(id).dir;
        let to = self.root.join("tmp").join(format!("removed-{id}"));
        match fs::rename(&from, &to) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NoSuchContainer(id.to_string()))
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot remove {}", from.display()))
                    .into())
            }
            Ok(()) => {}
        }
        ImageStore::open(&self.root).unpin(lock, id.as_str())?;
        Ok(ContainerPaths { dir: to })
    }

    /// Delete the files of a forgotten container (a directory, or whatever a damaged entry
    /// was: a symlink is removed, not followed). Another writer's clean-up of `tmp/` may be
    /// deleting them at the same time; that is fine.
    pub fn remove_files(&self, paths: &ContainerPaths) -> Result<()> {
        let res = match fs::symlink_metadata(&paths.dir) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&paths.dir),
            Ok(_) => fs::remove_file(&paths.dir),
            Err(e) => Err(e),
        };
        match res {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", paths.dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Image IDs used by containers, with whether that container may be running (for `rmi`).
    /// A damaged container counts while its config can be read, as running unless its state
    /// says otherwise.
    pub fn image_users(&self) -> Result<Vec<(crate::engine::image::Digest, ContainerId, bool)>> {
        let scan = self.scan()?;
        let whole = scan.containers.into_iter().map(|c| {
            let running = c.state.is_running();
            (c.config.image_id, c.config.id, running)
        });
        let damaged = scan.damaged.into_iter().filter_map(|d| {
            let running = d.state.as_ref().is_none_or(State::is_running);
            d.config.map(|c| (c.image_id, c.id, running))
        });
        Ok(whole.chain(damaged).collect())
    }
}

/// Remove the cgroup of a container whose monitor died before it could (best effort: the
/// cgroup is empty once the container's processes are gone, and an absent one is fine).
pub fn remove_stale_cgroup(config: &ContainerConfig) {
    if let Ok(cgroup) = crate::runtime::Cgroup::locate(&super::spec::cgroup_path(config)) {
        let _ = cgroup.remove();
    }
}

fn needs_reconcile(state: &State) -> bool {
    state.is_running()
        && !state.monitor.is_some_and(|m| m.alive())
        && !state.process.is_some_and(|p| p.alive())
}
