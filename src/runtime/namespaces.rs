//! Which namespaces the container gets: new ones to `unshare`, existing ones to join with
//! `setns` (a namespace `path` in the spec), and bringing up `lo` in a new network namespace.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxNamespaceType};

use super::error::RuntimeError;

/// The namespace set-up decided from the spec, with namespace files opened up front (in the
/// caller's mount namespace, where their paths mean what the engine meant).
#[derive(Debug)]
pub struct NamespacePlan {
    /// Existing namespaces to enter, in spec order.
    join: Vec<(OwnedFd, CloneFlags)>,
    /// New namespaces to create.
    unshare: CloneFlags,
}

impl NamespacePlan {
    pub fn from_spec(linux: Option<&Linux>) -> Result<Self, RuntimeError> {
        let mut join = Vec::new();
        let mut unshare = CloneFlags::empty();
        let namespaces = linux.and_then(|l| l.namespaces().as_ref());
        for ns in namespaces.into_iter().flatten() {
            let flag = clone_flag(ns.typ())?;
            match ns.path() {
                None => unshare |= flag,
                Some(_) if flag == CloneFlags::CLONE_NEWNS => {
                    return Err(RuntimeError::InvalidSpec(
                        "joining an existing mount namespace is not supported".into(),
                    ))
                }
                Some(path) => {
                    let file = File::open(path).map_err(|e| {
                        RuntimeError::host(format!("cannot open namespace {}", path.display()), e)
                    })?;
                    join.push((OwnedFd::from(file), flag));
                }
            }
        }
        if !unshare.contains(CloneFlags::CLONE_NEWNS) {
            return Err(RuntimeError::InvalidSpec(
                "the container needs a new mount namespace (linux.namespaces has no \"mount\")"
                    .into(),
            ));
        }
        Ok(Self { join, unshare })
    }

    /// Join every namespace of the running process `pid` that differs from the caller's
    /// (the mount namespace last, so the others are still opened through the host's /proc).
    pub fn join_process(pid: Pid) -> Result<Self, RuntimeError> {
        let mut join = Vec::new();
        for (name, flag) in [
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("net", CloneFlags::CLONE_NEWNET),
            ("pid", CloneFlags::CLONE_NEWPID),
            ("mnt", CloneFlags::CLONE_NEWNS),
        ] {
            let theirs = format!("/proc/{pid}/ns/{name}");
            let same = |a: &str, b: &str| match (std::fs::metadata(a), std::fs::metadata(b)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if same(&theirs, &format!("/proc/self/ns/{name}")) {
                continue;
            }
            let file = File::open(&theirs)
                .map_err(|e| RuntimeError::host(format!("cannot open namespace {theirs}"), e))?;
            join.push((OwnedFd::from(file), flag));
        }
        if !join
            .iter()
            .any(|(_, flag)| *flag == CloneFlags::CLONE_NEWNS)
        {
            return Err(RuntimeError::InvalidSpec(format!(
                "process {pid} shares the caller's mount namespace: not a container"
            )));
        }
        Ok(Self {
            join,
            unshare: CloneFlags::empty(),
        })
    }

    /// Whether the container gets a network namespace of its own (only `lo` in it).
    pub fn new_network_namespace(&self) -> bool {
        self.unshare.contains(CloneFlags::CLONE_NEWNET)
    }

    pub fn new_ipc_namespace(&self) -> bool {
        self.unshare.contains(CloneFlags::CLONE_NEWIPC)
    }

    pub fn new_uts_namespace(&self) -> bool {
        self.unshare.contains(CloneFlags::CLONE_NEWUTS)
    }

    /// The namespace files, which the setup process must keep open until it has entered them.
    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.join.iter().map(|(fd, _)| fd.as_raw_fd())
    }

    /// Enter the joined namespaces (in order), then create the new ones. A new PID namespace applies to
    /// the children of the caller only: the caller must fork afterwards.
    pub fn enter(&self) -> nix::Result<()> {
        for (fd, flag) in &self.join {
            setns(fd.as_fd(), *flag)?;
        }
        unshare(self.unshare)
    }
}

fn clone_flag(typ: LinuxNamespaceType) -> Result<CloneFlags, RuntimeError> {
    Ok(match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::User => {
            return Err(RuntimeError::InvalidSpec(
                "user namespaces are not supported".into(),
            ))
        }
        LinuxNamespaceType::Time => {
            return Err(RuntimeError::InvalidSpec(
                "time namespaces are not supported".into(),
            ))
        }
    })
}

/// Set `lo` up in the current network namespace (`SIOCGIFFLAGS`/`SIOCSIFFLAGS` on a socket).
pub fn bring_up_loopback() -> io::Result<()> {
    // SAFETY: plain socket(2); the result is checked before use and owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };

    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes `ifru_flags` of the ifreq we own.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just filled in the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from the ifreq we own.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
