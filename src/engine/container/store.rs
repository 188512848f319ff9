//! The container store: `containers/<id>/` directories holding each container's config,
//! state, log and overlay dirs; name/ID resolution as Docker's; and reconciliation — a
//! container whose monitor and process are gone is recorded as exited, never left "running".

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use thiserror::Error;

use super::record::{ContainerConfig, ContainerId, ContainerPaths, State, Status};
use crate::engine::image::ImageError;
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
                // A directory without config.json is a create that did not finish.
                if e.path().join("config.json").is_file() {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Read one container, reconciling a stale "running" state.
    pub fn load(&self, id: &ContainerId) -> Result<Container> {
        let paths = self.paths(id);
        let config: ContainerConfig = read_json(&paths.config())?;
        let mut state: State = read_json(&paths.state())?;
        if needs_reconcile(&state) {
            let _lock = self.root.lock()?;
            state = read_json(&paths.state())?;
            if needs_reconcile(&state) {
                state.status = Status::Exited;
                state.exit_code = 255;
                state.error = "the container's monitor ended before recording its exit".into();
                state.process = None;
                state.monitor = None;
                state.finished_at = Some(Utc::now());
                atomic_write_json(&paths.state(), &state)?;
                remove_stale_cgroup(&config);
                crate::events::Journal::open(&self.root).emit(
                    crate::events::Event::ContainerExited {
                        id: id.to_string(),
                        name: config.name.clone(),
                        exit_code: state.exit_code,
                        oom_killed: false,
                    },
                );
            }
        }
        Ok(Container {
            config,
            state,
            paths,
        })
    }

    /// Every container, newest first (as `ps` lists them).
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(c) => out.push(c),
                // Removed by another process between listing and reading.
                Err(_) if !self.paths(&id).config().exists() => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        Ok(out)
    }

    /// Resolve a name or ID as Docker does: full ID, exact name, then unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<ContainerId, ContainerError> {
        let ids = self.ids()?;
        if let Some(id) = ContainerId::parse(name) {
            if ids.contains(&id) {
                return Ok(id);
            }
        }
        let wanted = name.strip_prefix('/').unwrap_or(name);
        for id in &ids {
            let config: ContainerConfig = read_json(&self.paths(id).config())?;
            if config.name == wanted {
                return Ok(id.clone());
            }
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
        Ok(self.load(&id)?)
    }

    /// The container using `name`, if any (under the lock, for uniqueness checks).
    pub fn find_name(&self, name: &str) -> Result<Option<ContainerId>> {
        for id in self.ids()? {
            let config: ContainerConfig = read_json(&self.paths(&id).config())?;
            if config.name == name {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Write a new container's files. The config is written last: until then the directory
    /// is not a container (and the next writer's cleanup may take it).
    pub fn insert(&self, _lock: &StateLock, config: &ContainerConfig) -> Result<ContainerPaths> {
        let paths = self.paths(&config.id);
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
        Ok(paths)
    }

    pub fn save_state(&self, _lock: &StateLock, id: &ContainerId, state: &State) -> Result<()> {
        atomic_write_json(&self.paths(id).state(), state)
    }

    pub fn save_config(&self, _lock: &StateLock, config: &ContainerConfig) -> Result<()> {
        atomic_write_json(&self.paths(&config.id).config(), config)
    }

    /// Delete a container (its process must be gone): [`Self::forget`] then
    /// [`Self::remove_files`].
    pub fn delete(&self, lock: &StateLock, id: &ContainerId) -> Result<()> {
        let config: Option<ContainerConfig> = read_json(&self.paths(id).config()).ok();
        self.forget(lock, id)?;
        if let Some(config) = &config {
            remove_stale_cgroup(config);
        }
        self.remove_files(id)
    }

    /// Make the container cease to exist: its config goes (a directory without one is no
    /// container) and its layers are no longer pinned.
    pub fn forget(&self, lock: &StateLock, id: &ContainerId) -> Result<()> {
        let config = self.paths(id).config();
        match fs::remove_file(&config) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", config.display()))
            }
            _ => {}
        }
        crate::engine::image::ImageStore::open(&self.root).unpin(lock, id.as_str())
    }

    /// Remove what is left of a forgotten container's directory.
    pub fn remove_files(&self, id: &ContainerId) -> Result<()> {
        let dir = self.paths(id).dir;
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Image IDs used by containers, with whether that container is running (for `rmi`).
    pub fn image_users(&self) -> Result<Vec<(crate::engine::image::Digest, ContainerId, bool)>> {
        Ok(self
            .list()?
            .into_iter()
            .map(|c| {
                (
                    c.config.image_id.clone(),
                    c.config.id.clone(),
                    c.state.is_running(),
                )
            })
            .collect())
    }
}

/// Remove the cgroup of a container whose monitor died before it could (best effort: the
/// cgroup is empty once the container's processes are gone, and an absent one is fine).
fn remove_stale_cgroup(config: &ContainerConfig) {
    if let Ok(cgroup) = crate::runtime::Cgroup::locate(&super::spec::cgroup_path(config)) {
        let _ = cgroup.remove();
    }
}

fn needs_reconcile(state: &State) -> bool {
    state.is_running()
        && !state.monitor.is_some_and(|m| m.alive())
        && !state.process.is_some_and(|p| p.alive())
}

fn read_json<T: serde::de::DeserializeOwned>(p: &std::path::Path) -> Result<T> {
    let data = fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("corrupt {}", p.display()))
}
