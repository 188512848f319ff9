//! What the world's init takes away before the judge and the submission start, beyond the
//! namespaces: capabilities the engine never needs (dropped from the bounding set, so no
//! program the submission runs can have them), and — with a seccomp filter no process can
//! remove — the system calls that would simply undo the read-only view: a remount that
//! leaves out read-only, and the new mount API. And the loopback interface of its own
//! network namespace, up.
//!
//! The init and the judge keep their full permitted set: with `CAP_SYS_PTRACE` gone from
//! every program the submission runs, and the judge holding capabilities they lack, the
//! submission cannot ptrace the judge, read its memory or take its descriptors.

use std::io;

use anyhow::{Context, Result};
use oci_spec::runtime::{
    LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscallBuilder,
};

use crate::runtime::{RuntimeError, SeccompFilter};

/// Capabilities neither the engine nor a container with Docker's default set needs, whose
/// use would reach the host: loading kernel modules, raw I/O, ptrace (of the judge, too),
/// `open_by_handle_at` (a host file by its handle, past every mount), rebooting, the
/// clock, the kernel log, MAC policy, audit, immutable files, process accounting, BPF and
/// perf, checkpoint/restore, terminal configuration, wake alarms.
const DROPPED: [u32; 19] = [
    16, // CAP_SYS_MODULE
    17, // CAP_SYS_RAWIO
    19, // CAP_SYS_PTRACE
    2,  // CAP_DAC_READ_SEARCH
    22, // CAP_SYS_BOOT
    25, // CAP_SYS_TIME
    34, // CAP_SYSLOG
    32, // CAP_MAC_OVERRIDE
    33, // CAP_MAC_ADMIN
    30, // CAP_AUDIT_CONTROL
    37, // CAP_AUDIT_READ
    9,  // CAP_LINUX_IMMUTABLE
    20, // CAP_SYS_PACCT
    35, // CAP_WAKE_ALARM
    36, // CAP_BLOCK_SUSPEND
    39, // CAP_BPF
    38, // CAP_PERFMON
    40, // CAP_CHECKPOINT_RESTORE
    26, // CAP_SYS_TTY_CONFIG
];

/// Drop [`DROPPED`] from the bounding set (and the inheritable and ambient sets, which
/// would otherwise carry them over an `execve`). The caller keeps them in its permitted
/// and effective sets.
pub fn drop_capabilities() -> Result<()> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .context("reading /proc/sys/kernel/cap_last_cap")?
        .trim()
        .parse()
        .context("reading /proc/sys/kernel/cap_last_cap")?;
    for cap in DROPPED.into_iter().filter(|&c| c <= last) {
        prctl(libc::PR_CAPBSET_DROP, cap.into(), 0)
            .with_context(|| format!("dropping capability {cap} from the bounding set"))?;
    }
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )
    .context("clearing the ambient capabilities")?;
    clear_inheritable().context("clearing the inheritable capabilities")
}

/// The seccomp filter every process of the world runs under (the judge included: it needs
/// none of these). A mount(2) with `MS_REMOUNT` but without `MS_RDONLY` — `mount -o
/// remount,rw`, bind or not — fails with EPERM; the new mount API (fsopen, fsconfig,
/// fsmount, fspick, open_tree, move_mount, mount_setattr) fails with ENOSYS, so `mount(8)`
/// falls back to mount(2). Remounting read-only, and every mount the engine makes for a
/// container, still work.
pub fn forbid_remounting() -> Result<()> {
    let errno = |names: &[&str], errno: i32| {
        LinuxSyscallBuilder::default()
            .names(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(errno as u32)
    };
    let remount_rw = LinuxSeccompArgBuilder::default()
        .index(3usize)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .value(libc::MS_REMOUNT | libc::MS_RDONLY)
        .value_two(libc::MS_REMOUNT)
        .build()
        .context("building the seccomp filter")?;
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![
            errno(&["mount"], libc::EPERM)
                .args(vec![remount_rw])
                .build()
                .context("building the seccomp filter")?,
            errno(
                &[
                    "fsopen",
                    "fsconfig",
                    "fsmount",
                    "fspick",
                    "open_tree",
                    "move_mount",
                    "mount_setattr",
                ],
                libc::ENOSYS,
            )
            .build()
            .context("building the seccomp filter")?,
        ])
        .build()
        .context("building the seccomp filter")?;
    let filter = SeccompFilter::compile(&profile).map_err(|e| anyhow::anyhow!("{e}"))?;
    filter
        .install()
        .map_err(|e| anyhow::anyhow!("{}", RuntimeError::from(e)))
}

/// Bring up `lo` in the world's network namespace (a new one has it down).
pub fn loopback_up() -> Result<()> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("opening a socket to configure lo");
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: an all-zero ifreq is a valid value of this plain C struct.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass, which outlives
    // the calls.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(io::Error::last_os_error()).context("reading the flags of lo");
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(io::Error::last_os_error()).context("bringing lo up");
        }
    }
    Ok(())
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Empty the inheritable set, keeping the permitted and effective sets.
fn clear_inheritable() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset (version 3) read one header and read or write two data
    // structs, which we pass.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        for d in &mut data {
            d.inheritable = 0;
        }
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
