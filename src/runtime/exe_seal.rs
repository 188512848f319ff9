//! A sealed view of the running binary, for every process that will enter a container
//! (CVE-2019-5736).
//!
//! The runtime forks the container's init and `exec`'d processes from its caller, so until
//! they `execve` the container's command they *are* the caller's binary: `/proc/<pid>/exe`
//! of such a process, and `/proc/self/exe` as the interpreter of a `#!/proc/self/exe` script
//! the process executes, lead to the caller's file. If that file is the host's dokles
//! binary, a container process can take an `O_PATH` handle on it and reopen it for writing
//! through `/proc/self/fd/N` as soon as no process executes it any more (a killed monitor,
//! an upgrade that installed a new inode): the next `dokles` run as root is then the
//! attacker's. Non-dumpability does not close this: `execve` makes the new image dumpable
//! again, and a container with `CAP_SYS_PTRACE` is not stopped by it at all.
//!
//! So processes that fork into containers (the monitor, `docker exec`) run from a view of
//! the binary that cannot be written through any handle:
//!
//! * [`SealMethod::Overlay`] (as runc ≥ 1.2 does): a detached, read-only overlayfs whose
//!   only layers are the binary's directory and an empty scratch directory, made with
//!   `fsopen`/`fsmount` and never attached anywhere. An overlay without an upper layer has
//!   no way to write, whatever the mount flags; its files are not the host's inodes. It
//!   costs one small mount and no copy.
//! * [`SealMethod::Memfd`] (the fallback): a copy in a `memfd` with every write seal set.
//!   It costs a copy of the binary (and its memory, for as long as a process runs it).
//!
//! [`SealedExe::of_current_exe`] makes one; [`current_exe_is_sealed`] tells whether this
//! process already runs from one. `DOKLES_EXE_SEAL=memfd` forces the fallback (tests,
//! measurements). A process running from a view has no path of its own on the host:
//! `std::env::current_exe()` names the view (`/dokles`, `/memfd:dokles (deleted)`), so it
//! starts dokles again through `/proc/self/exe`.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use rustix::fs::{self as rfs, AtFlags, MemfdFlags, Mode, OFlags, SealFlags, StatxFlags};
use rustix::mount::{self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags};

use super::error::RuntimeError;

/// Environment variable that forces a method (`memfd` or `overlay`), for tests and
/// measurements; unset, the overlay is tried first.
pub const METHOD_ENV: &str = "DOKLES_EXE_SEAL";

/// The running process's binary, through procfs.
const SELF_EXE: &str = "/proc/self/exe";

/// `OVERLAYFS_SUPER_MAGIC` from `<linux/magic.h>`.
const OVERLAYFS_SUPER_MAGIC: rfs::FsWord = 0x794c_7630;

/// Sealed descriptors are kept at or above this number: callers place their own
/// descriptors (the monitor's report pipe is 3) between fork and exec, and must not
/// overwrite the one the child is about to execute.
const FD_FLOOR: i32 = 10;

/// The seals that make a memfd unwritable for good.
fn write_seals() -> SealFlags {
    SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE
}

/// How a [`SealedExe`] keeps the binary from being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealMethod {
    /// A detached, read-only overlayfs over the binary's directory.
    Overlay,
    /// A sealed in-memory copy.
    Memfd,
}

/// A handle on an unwritable view of this process's binary, to execute instead of it.
#[derive(Debug)]
pub struct SealedExe {
    file: OwnedFd,
    method: SealMethod,
}

impl SealedExe {
    /// Seal the binary this process runs. `scratch` is an empty directory of the caller's
    /// (the overlay's second, empty layer; overlayfs needs two to run without an upper
    /// layer). It is created if missing; it must not contain, or lie in, the binary's
    /// directory — if it does, the overlay refuses and the copy is made instead.
    pub fn of_current_exe(scratch: &Path) -> Result<Self, RuntimeError> {
        let forced = match std::env::var(METHOD_ENV).as_deref() {
            Ok("memfd") => Some(SealMethod::Memfd),
            Ok("overlay") => Some(SealMethod::Overlay),
            _ => None,
        };
        Self::seal(scratch, forced)
    }

    /// The overlay view, else (or if `forced` says so) the sealed copy.
    fn seal(scratch: &Path, forced: Option<SealMethod>) -> Result<Self, RuntimeError> {
        let exe = File::open(SELF_EXE)
            .map_err(|e| RuntimeError::host("cannot open the running binary", e))?;
        let overlay = match forced {
            Some(SealMethod::Memfd) => Err(io::Error::other("not tried")),
            _ => prepare_scratch(scratch).and_then(|()| overlay_view(&exe, scratch)),
        };
        let (file, method) = match overlay {
            Ok(file) => (file, SealMethod::Overlay),
            Err(e) if forced == Some(SealMethod::Overlay) => {
                return Err(RuntimeError::host(
                    "cannot make a read-only overlay view of the running binary",
                    e,
                ))
            }
            Err(_) => (
                sealed_copy(&exe).map_err(|e| {
                    RuntimeError::host("cannot make a sealed copy of the running binary", e)
                })?,
                SealMethod::Memfd,
            ),
        };
        let file = rustix::io::fcntl_dupfd_cloexec(&file, FD_FLOOR)
            .map_err(|e| RuntimeError::host("cannot move the sealed binary's descriptor", e))?;
        Ok(Self { file, method })
    }

    pub fn method(&self) -> SealMethod {
        self.method
    }

    /// A command that executes the sealed binary with `arg0` as its `argv[0]`. The
    /// descriptor is close-on-exec: only this process and the child it spawns use it.
    pub fn command(&self, arg0: impl AsRef<OsStr>) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(format!("/proc/self/fd/{}", self.file.as_raw_fd()));
        cmd.arg0(arg0);
        cmd
    }
}

/// Whether this process runs from a sealed binary: a memfd with every write seal, or a
/// read-only overlayfs that is not attached anywhere in this mount namespace (the kind
/// [`SealedExe`] makes).
pub fn current_exe_is_sealed() -> bool {
    let Ok(exe) = File::open(SELF_EXE) else {
        return false;
    };
    if rfs::fcntl_get_seals(&exe).is_ok_and(|seals| seals.contains(write_seals())) {
        return true;
    }
    let on_read_only_overlay = rfs::fstatfs(&exe)
        .is_ok_and(|fs| fs.f_type == OVERLAYFS_SUPER_MAGIC)
        && rfs::fstatvfs(&exe).is_ok_and(|vfs| vfs.f_flag.contains(rfs::StatVfsMountFlags::RDONLY));
    on_read_only_overlay && !mount_is_attached(&exe)
}

/// Whether the mount `file` lies on appears in this process's mount table.
fn mount_is_attached(file: &File) -> bool {
    let Ok(stat) = rfs::statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID) else {
        // Without a mount ID (Linux < 5.8) we cannot tell: assume the worst.
        return true;
    };
    let id = stat.stx_mnt_id.to_string();
    std::fs::read_to_string("/proc/self/mountinfo").map_or(true, |table| {
        table
            .lines()
            .any(|line| line.split(' ').next() == Some(id.as_str()))
    })
}

fn prepare_scratch(scratch: &Path) -> io::Result<()> {
    match std::fs::create_dir(scratch) {
        Ok(()) => std::fs::set_permissions(scratch, std::fs::Permissions::from_mode(0o700)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The running binary seen through a fresh, detached, read-only overlayfs of its
/// directory — checked to be the very file that runs (not one renamed into its place
/// since).
fn overlay_view(exe: &File, scratch: &Path) -> io::Result<OwnedFd> {
    let path = std::fs::read_link(SELF_EXE)?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other("the running binary has no directory"));
    };
    let context = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let lower = format!(
        "{}:{}",
        escape_layer(dir.as_os_str()),
        escape_layer(scratch.as_os_str())
    );
    rmount::fsconfig_set_string(&context, "lowerdir", lower.as_str())?;
    // Inode numbers stay those of the lower file (checked below); this also keeps
    // overlayfs from logging about xino when the layers are on different filesystems.
    let _ = rmount::fsconfig_set_string(&context, "xino", "off");
    rmount::fsconfig_create(&context)?;
    let mount = rmount::fsmount(
        &context,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV,
    )?;
    let view = rfs::openat(
        &mount,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if !same_file(exe.as_fd(), view.as_fd())? {
        return Err(io::Error::other(
            "the binary in the running binary's directory is another file",
        ));
    }
    Ok(view)
}

/// Same inode number, size and modification time, and a regular file (overlayfs reports
/// the lower file's inode number with `xino=off`, on a device of its own).
fn same_file(
    running: std::os::fd::BorrowedFd<'_>,
    view: std::os::fd::BorrowedFd<'_>,
) -> io::Result<bool> {
    let a = rfs::fstat(running)?;
    let b = rfs::fstat(view)?;
    let regular = rfs::FileType::from_raw_mode(b.st_mode) == rfs::FileType::RegularFile;
    Ok(regular
        && a.st_ino == b.st_ino
        && a.st_size == b.st_size
        && (a.st_mtime, a.st_mtime_nsec) == (b.st_mtime, b.st_mtime_nsec))
}

/// A lower layer path as overlayfs parses its `lowerdir` list: `:` separates layers,
/// `\` escapes.
fn escape_layer(path: &OsStr) -> String {
    let text = String::from_utf8_lossy(path.as_bytes());
    text.replace('\\', "\\\\").replace(':', "\\:")
}

/// A copy of the running binary in a memfd that no one can write, shrink, grow or re-seal.
fn sealed_copy(exe: &File) -> io::Result<OwnedFd> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) asks for an executable memfd where vm.memfd_noexec would
    // otherwise refuse; older kernels do not know the flag.
    let memfd = match rfs::memfd_create("dokles", flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rfs::memfd_create("dokles", flags)?,
        other => other?,
    };
    let mut copy = File::from(memfd);
    let expected = exe.metadata()?.len();
    let copied = io::copy(&mut &*exe, &mut copy)?;
    if copied != expected {
        return Err(io::Error::other(format!(
            "copied {copied} of the binary's {expected} bytes"
        )));
    }
    copy.set_permissions(std::fs::Permissions::from_mode(0o555))?;
    // F_SEAL_EXEC (Linux 6.3) also freezes the mode; older kernels refuse it, harmlessly.
    let _ = rfs::fcntl_add_seals(&copy, SealFlags::EXEC);
    rfs::fcntl_add_seals(&copy, write_seals())?;
    Ok(copy.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn layer_paths_escape_separators() {
        assert_eq!(escape_layer(OsStr::new("/usr/bin")), "/usr/bin");
        assert_eq!(escape_layer(OsStr::new("/a:b\\c")), "/a\\:b\\\\c");
    }

    /// Run in a child by the tests below: whether the child sees itself as sealed.
    #[test]
    #[ignore = "run by the sealing tests, from a sealed copy of this test binary"]
    fn probe_reports_sealing() {
        let expected = std::env::var("DOKLES_SEAL_PROBE").as_deref() == Ok("sealed");
        assert_eq!(current_exe_is_sealed(), expected);
    }

    /// Seal this test binary with `method`, check nothing can write it, and run the probe
    /// from it.
    fn seal_and_probe(method: SealMethod) -> SealedExe {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let sealed = SealedExe::seal(&scratch.path().join("exe-seal"), Some(method))
            .expect("seal the test binary");
        assert_eq!(sealed.method(), method);
        assert!(
            !current_exe_is_sealed(),
            "the test binary itself is not sealed"
        );

        let reopened = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", sealed.file.as_raw_fd()));
        if let Ok(mut file) = reopened {
            // A sealed memfd opens for writing; no byte gets through.
            let e = file.write(b"\x7f").expect_err("a sealed binary is written");
            assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        }

        let out = sealed
            .command("probe")
            .args(["--exact", "runtime::exe_seal::tests::probe_reports_sealing"])
            .args(["--ignored", "--test-threads=1"])
            .env("DOKLES_SEAL_PROBE", "sealed")
            .output()
            .expect("run the sealed test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        sealed
    }

    #[test]
    fn the_overlay_view_runs_and_refuses_writes() {
        let sealed = seal_and_probe(SealMethod::Overlay);
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", sealed.file.as_raw_fd()))
            .expect_err("the overlay view opens for writing");
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    }

    #[test]
    fn the_memfd_copy_runs_and_refuses_writes() {
        seal_and_probe(SealMethod::Memfd);
    }
}
