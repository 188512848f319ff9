//! The typed events of the journal: what the engine did, with the real values a narration
//! (and a lesson's checks) needs. Serialized as `{"type": "container_started", ...}`.
//!
//! IDs and digests are plain strings (`sha256:…`, 64-hex container IDs), so that readers
//! need nothing from the engine to use them.

use serde::{Deserialize, Serialize};

/// One thing the engine did, after it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A docker CLI invocation ended (emitted once per invocation, errors included, after
    /// everything it caused). `argv` is what followed `docker`, as typed.
    Command {
        argv: Vec<String>,
        exit_code: i32,
        cwd: String,
    },

    /// An image was brought in from the offline cache.
    ImagePulled {
        /// The full reference pulled (`docker.io/library/busybox:latest`).
        reference: String,
        id: String,
        /// Bottom layer first.
        layers: Vec<PulledLayer>,
    },
    /// A pull found the image already present under that reference.
    ImageUpToDate {
        reference: String,
        id: String,
    },
    /// A new layer was stored: its tar verified against its diff ID, kept as a blob, and
    /// checked to unpack (emitted for every new layer, by pull, load, import and commit alike).
    LayerStored {
        chain_id: String,
        diff_id: String,
        /// The layer's uncompressed tar.
        blob: String,
        /// Bytes of the files it will unpack to.
        bytes: u64,
    },
    /// A stored layer was unpacked into its directory, for the first container that needs it.
    LayerUnpacked {
        chain_id: String,
        diff_id: String,
        /// The unpacked files (an overlay lower dir).
        dir: String,
        /// Bytes of the files in it.
        bytes: u64,
    },
    /// An image came in through `docker load`; `refs` are the tags it got.
    ImageLoaded {
        id: String,
        refs: Vec<String>,
    },
    /// `docker tag`.
    ImageTagged {
        source: String,
        target: String,
    },
    /// A tag was removed (`rmi` of a tag, or of an image with its tags).
    ImageUntagged {
        reference: String,
    },
    /// An image left the store.
    ImageDeleted {
        id: String,
    },
    /// `docker save`; `output` is the file written, `None` for stdout.
    ImageSaved {
        refs: Vec<String>,
        output: Option<String>,
    },
    /// `docker commit`: a container's changes became a new image.
    ImageCommitted {
        container_id: String,
        container_name: String,
        id: String,
        reference: Option<String>,
    },
    /// `docker import`: a file system tarball became an image.
    ImageImported {
        id: String,
        reference: Option<String>,
        source: String,
    },

    /// `docker create` (or the create step of `run`).
    ContainerCreated {
        id: String,
        name: String,
        /// The image as the user named it.
        image: String,
        image_id: String,
        /// The main process: entrypoint and command.
        cmd: Vec<String>,
    },
    /// The container's main process runs (emitted by its monitor).
    ContainerStarted {
        id: String,
        name: String,
        /// Its pid on the host.
        pid: i32,
        /// The main process: its argv as the runtime ran it.
        cmd: Vec<String>,
        /// The namespaces the runtime created for it (from the spec it ran), with their
        /// inodes as the kernel shows them in `/proc/<pid>/ns` when they could be read.
        namespaces: Vec<Namespace>,
        overlay: Overlay,
        /// The cgroup directories it was placed in.
        cgroups: Vec<String>,
        hostname: String,
        tty: bool,
    },
    /// The container could not start (a missing binary, a bad working directory, …): Docker's
    /// message and exit code (125, 126, 127). Emitted by its monitor.
    ContainerStartFailed {
        id: String,
        name: String,
        message: String,
        exit_code: i32,
    },
    /// The container's main process ended (emitted by the monitor that saw it).
    ContainerExited {
        id: String,
        name: String,
        exit_code: i32,
        oom_killed: bool,
    },
    /// `docker stop`: `signal` was sent; `killed` when SIGKILL had to follow the timeout.
    ContainerStopped {
        id: String,
        name: String,
        signal: String,
        killed: bool,
    },
    /// A signal was sent to the container's main process (`docker kill`, a proxied Ctrl-C).
    ContainerKilled {
        id: String,
        name: String,
        signal: String,
    },
    ContainerRemoved {
        id: String,
        name: String,
    },
    ContainerRenamed {
        id: String,
        old_name: String,
        new_name: String,
    },
    /// `docker pause`: `freezer` says what was written where (absent in older journals).
    ContainerPaused {
        id: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        freezer: Option<FreezerWrite>,
    },
    /// `docker unpause`, with the freezer write that thawed it.
    ContainerUnpaused {
        id: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        freezer: Option<FreezerWrite>,
    },
    /// `docker exec`: a further process runs in the container.
    ExecStarted {
        id: String,
        name: String,
        pid: i32,
        cmd: Vec<String>,
        tty: bool,
        /// As asked (`--user`, else the container's user); empty for the image default.
        user: String,
    },
    ExecExited {
        id: String,
        name: String,
        pid: i32,
        exit_code: i32,
    },
    /// A client attached to the container's streams.
    ContainerAttached {
        id: String,
        name: String,
    },
    /// A client detached with the detach keys; the container runs on.
    ContainerDetached {
        id: String,
        name: String,
    },
}

/// One layer of a pulled image.
/// A write to a cgroup's freezer: `FROZEN` to v1's `freezer.state`, `1` to v2's
/// `cgroup.freeze`, and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezerWrite {
    pub file: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledLayer {
    pub chain_id: String,
    pub diff_id: String,
    /// The layer's directory; its files appear there when a container first needs them.
    pub dir: String,
    pub bytes: u64,
    /// Stored by this pull (`false`: already present, shared with another image).
    pub new: bool,
}

/// A namespace of a started container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// The kernel's name, as in `/proc/<pid>/ns/<kind>`: pid, mnt, uts, ipc, net, cgroup,
    /// user.
    pub kind: String,
    /// The namespace's inode (`net:[4026532281]`), if the process could still be looked at.
    pub inode: Option<u64>,
}

/// The overlay mount of a container's root file system, exactly as mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    /// Top first, as in the mount's `lowerdir=` option.
    pub lowerdirs: Vec<String>,
    pub upperdir: String,
    pub workdir: String,
    pub merged: String,
}
