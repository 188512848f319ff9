//! The setup processes: everything between `fork` and the container's `exec`.
//!
//! The caller forks an *intermediate* process. It installs stdio, closes every inherited
//! descriptor, makes itself non-dumpable, joins/creates the namespaces and then forks again
//! with `CLONE_PARENT` — a new PID namespace only applies to children, and `CLONE_PARENT`
//! makes the container's init a direct child of the caller, who can `waitpid` it. The
//! intermediate reports the init's PID and exits.
//!
//! The caller has created the container's cgroup; the intermediate joins it before anything
//! else, so the init is born inside it.
//!
//! `docker exec` takes the same path with a plan that joins the running container's
//! namespaces and cgroup instead of creating them, and skips the filesystem setup.
//!
//! The *init* (PID 1 in its namespace) sets up the filesystem, hostname, identity and
//! capabilities, reports `Ready`, waits for the start signal, then `exec`s the container's
//! command; on any failure it sends a [`ChildFailure`] to the caller and exits.
//!
//! CVE-2019-5736 (overwriting the runtime binary through `/proc/<pid>/exe`): the setup
//! processes run the caller's binary, so they mark themselves non-dumpable
//! (`PR_SET_DUMPABLE` 0) first thing: `/proc/<pid>/exe`, `/proc/<pid>/fd` and
//! `/proc/<pid>/mem` of a non-dumpable process open only with `CAP_SYS_PTRACE`. That is not
//! enough on its own: a container may be given `CAP_SYS_PTRACE`, and `execve` makes the new
//! image dumpable again — when the command is a `#!/proc/self/exe` script, the new image is
//! the caller's binary once more. So the caller itself must run from a sealed view of its
//! binary ([`super::exe_seal`]); the engine's monitor and `docker exec` do.

use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::mount::MsFlags;
use nix::sys::prctl;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{dup2, sethostname, setsid, Pid};
use oci_spec::runtime::{LinuxSeccomp, Mount, Process, Spec};

use super::capabilities::{self, CapabilityPlan};
use super::cgroups;
use super::console;
use super::devices::{self, DevicePlan};
use super::error::RuntimeError;
use super::in_root::{Kind, Symlinks};
use super::limits::{self, Sysctl};
use super::namespaces::{self, NamespacePlan};
use super::process::{self, ProcessPlan};
use super::rootfs;
use super::seccomp::SeccompFilter;
use super::sync::{ChildEnd, ChildFailure, ChildMessage, StepContext};

/// Everything the setup processes do, decided and validated in the caller before forking,
/// so that they only carry it out.
#[derive(Debug)]
pub struct InitPlan {
    namespaces: NamespacePlan,
    /// The new container's filesystem and names; `None` for a process joining a running
    /// container (`docker exec`), which finds them in place.
    container: Option<ContainerSetup>,
    capabilities: CapabilityPlan,
    last_cap: u32,
    seccomp: Option<SeccompFilter>,
    process: ProcessPlan,
}

/// What only a new container sets up.
#[derive(Debug)]
struct ContainerSetup {
    rootfs: PathBuf,
    propagation: MsFlags,
    mounts: Vec<Mount>,
    devices: DevicePlan,
    hostname: Option<String>,
    domainname: Option<String>,
    masked_paths: Vec<String>,
    readonly_paths: Vec<String>,
    root_readonly: bool,
    sysctls: Vec<Sysctl>,
}

impl InitPlan {
    /// A new container for `spec` on `rootfs`.
    pub fn from_spec(spec: &Spec, rootfs: &Path) -> Result<Self, RuntimeError> {
        let rootfs = std::fs::canonicalize(rootfs)
            .map_err(|e| RuntimeError::host(format!("rootfs {}", rootfs.display()), e))?;
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| RuntimeError::InvalidSpec("the spec has no process".into()))?;
        let linux = spec.linux().as_ref();
        let namespaces = NamespacePlan::from_spec(linux)?;
        let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
        let domainname = spec.domainname().clone().filter(|d| !d.is_empty());
        if (hostname.is_some() || domainname.is_some()) && !namespaces.new_uts_namespace() {
            return Err(RuntimeError::InvalidSpec(
                "cannot set a hostname without a UTS namespace of the container's own".into(),
            ));
        }
        let list = |paths: Option<&Vec<String>>| paths.cloned().unwrap_or_default();
        let sysctls = Sysctl::from_spec(
            linux.and_then(|l| l.sysctl().as_ref()),
            namespaces.new_ipc_namespace(),
            namespaces.new_network_namespace(),
        )?;
        let container = ContainerSetup {
            sysctls,
            propagation: rootfs::root_propagation(
                linux.and_then(|l| l.rootfs_propagation().as_deref()),
            )?,
            rootfs,
            mounts: spec.mounts().clone().unwrap_or_default(),
            devices: DevicePlan::from_spec(spec)?,
            hostname,
            domainname,
            masked_paths: list(linux.and_then(|l| l.masked_paths().as_ref())),
            readonly_paths: list(linux.and_then(|l| l.readonly_paths().as_ref())),
            root_readonly: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
        };
        let seccomp = linux.and_then(|l| l.seccomp().as_ref());
        Self::new(namespaces, Some(container), process, seccomp)
    }

    /// `process` joining the running container whose init is `init`.
    pub fn for_exec(
        init: Pid,
        process: &Process,
        seccomp: Option<&LinuxSeccomp>,
    ) -> Result<Self, RuntimeError> {
        Self::new(NamespacePlan::join_process(init)?, None, process, seccomp)
    }

    fn new(
        namespaces: NamespacePlan,
        container: Option<ContainerSetup>,
        process: &Process,
        seccomp: Option<&LinuxSeccomp>,
    ) -> Result<Self, RuntimeError> {
        Ok(Self {
            namespaces,
            container,
            seccomp: seccomp.map(SeccompFilter::compile).transpose()?,
            capabilities: CapabilityPlan::from_spec(process.capabilities().as_ref()),
            last_cap: capabilities::last_cap()
                .map_err(|e| RuntimeError::host("cannot read cap_last_cap", e))?,
            process: ProcessPlan::from_spec(process)?,
        })
    }
}

/// The intermediate process, right after `fork`. Never returns.
///
/// `stdio[n]` is the descriptor that becomes the container's fd `n` (`None`: keep ours).
pub fn run_intermediate(
    plan: &InitPlan,
    cgroup_dirs: &[PathBuf],
    channel: ChildEnd,
    stdio: [Option<RawFd>; 3],
) -> ! {
    // Only the intermediate returns here: the init execs or exits inside.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        intermediate(plan, cgroup_dirs, channel, stdio)
    }));
    exit(outcome.unwrap_or(2))
}

/// The intermediate's work; returns its exit code.
fn intermediate(
    plan: &InitPlan,
    cgroup_dirs: &[PathBuf],
    channel: ChildEnd,
    stdio: [Option<RawFd>; 3],
) -> i32 {
    // Lift the channel above 2 first, so that placing stdio on 0..2 cannot overwrite it.
    // Without a channel there is no one to tell about a failure.
    let Ok(channel) = channel.lift_above_stdio() else {
        return 1;
    };
    let forked =
        prepare_process(plan, &channel, stdio).and_then(|()| enter_and_fork(plan, cgroup_dirs));
    match forked {
        Ok(0) => run_init(plan, channel),
        Ok(init) => {
            channel.send(&ChildMessage::InitPid(init));
            0
        }
        Err(failure) => {
            channel.send(&ChildMessage::Failed(failure));
            1
        }
    }
}

/// Non-dumpable, stdio in place, every other inherited descriptor closed.
fn prepare_process(
    plan: &InitPlan,
    channel: &ChildEnd,
    stdio: [Option<RawFd>; 3],
) -> Result<(), ChildFailure> {
    prctl::set_dumpable(false).step(|| "making the setup non-dumpable".into())?;
    // Lift the stdio sources above 2 before placing any, so none overwrites another.
    let mut lifted = [None; 3];
    for (slot, source) in lifted.iter_mut().zip(stdio) {
        if let Some(fd) = source {
            *slot = Some(fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(stdio_failure)?);
        }
    }
    for (target, source) in lifted.iter().enumerate() {
        if let Some(fd) = source {
            dup2(*fd, target as RawFd).map_err(stdio_failure)?;
        }
    }
    let mut keep: Vec<RawFd> = plan.namespaces.fds().collect();
    keep.push(channel.raw_fd());
    process::close_inherited_fds(&keep).step(|| "closing inherited descriptors".into())
}

/// Join the cgroup, enter the namespaces, fork the init. Returns 0 in the init and the
/// init's PID in the intermediate.
fn enter_and_fork(plan: &InitPlan, cgroup_dirs: &[PathBuf]) -> Result<i32, ChildFailure> {
    // The cgroup first: a new cgroup namespace is rooted at the cgroup joined.
    cgroups::join(cgroup_dirs).step(|| "joining the container's cgroup".into())?;
    plan.namespaces
        .enter()
        .step(|| "entering namespaces".into())?;
    clone_parent().step(|| "forking the container's init".into())
}

fn stdio_failure(e: Errno) -> ChildFailure {
    ChildFailure::Setup {
        step: "installing stdio".into(),
        message: e.desc().into(),
    }
}

fn internal(step: &str) -> ChildFailure {
    ChildFailure::Setup {
        step: step.into(),
        message: "internal error".into(),
    }
}

/// `fork` with `CLONE_PARENT`: the child's parent is our parent (the caller of `spawn`).
fn clone_parent() -> nix::Result<i32> {
    // SAFETY: clone(2) without CLONE_VM and with a null stack behaves like fork(2): the child
    // continues on a copy of this stack. This process is a fresh fork child with a single
    // thread, so no lock can be held by a thread that does not exist in the child.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    Errno::result(rc).map(|pid| pid as i32)
}

/// The container's init. Never returns: it becomes the container's command or exits.
fn run_init(plan: &InitPlan, channel: ChildEnd) -> ! {
    let failure = match catch_unwind(AssertUnwindSafe(|| setup(plan, &channel))) {
        Ok(Ok(())) => {
            channel.send(&ChildMessage::Ready);
            if !channel.wait_for_start() {
                exit(1)
            }
            // Last, so that a vanished caller cannot kill the setup with SIGPIPE.
            match process::reset_signals() {
                Ok(()) => ChildFailure::Exec(process::exec(&plan.process)),
                Err(failure) => failure,
            }
        }
        Ok(Err(failure)) => failure,
        Err(_) => internal("setting up the container (panic)"),
    };
    channel.send(&ChildMessage::Failed(failure));
    exit(1)
}

/// Everything the init (or an exec'd process) does before `exec`, in runc's order.
fn setup(plan: &InitPlan, channel: &ChildEnd) -> Result<(), ChildFailure> {
    prctl::set_dumpable(false).step(|| "making the init non-dumpable".into())?;
    setsid().step(|| "starting a new session".into())?;
    join_new_session_keyring()?;
    if let Some(container) = &plan.container {
        setup_container(plan, container)?;
    }
    process::enter_cwd(&plan.process.cwd)?;
    if plan.process.terminal {
        let mount_dev_console = plan
            .container
            .as_ref()
            .is_some_and(|c| c.devices.populate_dev);
        console::setup(
            channel,
            plan.process.console_size,
            mount_dev_console,
            plan.process.uid,
        )?;
    }

    if let Some(value) = plan.process.oom_score_adj {
        limits::set_oom_score_adj(value)?;
    }
    for rlimit in &plan.process.rlimits {
        rlimit.apply()?;
    }

    // Without no_new_privs, installing a filter takes CAP_SYS_ADMIN: do it while we have it
    // (as runc); the filter must then allow the few calls left before exec.
    if let Some(filter) = plan
        .seccomp
        .as_ref()
        .filter(|_| !plan.process.no_new_privileges)
    {
        filter.install()?;
    }

    let caps = &plan.capabilities;
    capabilities::drop_bounding(caps, plan.last_cap)
        .step(|| "dropping capabilities from the bounding set".into())?;
    capabilities::set_keep_caps(true).step(|| "keeping capabilities across setuid".into())?;
    process::switch_user(&plan.process)?;
    capabilities::set_keep_caps(false).step(|| "resetting keep-capabilities".into())?;
    capabilities::apply(caps, plan.last_cap).step(|| "setting capabilities".into())?;
    if plan.process.no_new_privileges {
        prctl::set_no_new_privs().step(|| "setting no_new_privs".into())?;
        if let Some(filter) = &plan.seccomp {
            filter.install()?;
        }
    }
    process::cloexec_all_but_stdio()
}

/// A new container's names and filesystem, ending in `pivot_root` and the path masks.
fn setup_container(plan: &InitPlan, container: &ContainerSetup) -> Result<(), ChildFailure> {
    // Device nodes and mount points get exactly the modes asked for; the process's own
    // umask is set with its identity.
    umask(Mode::empty());
    if plan.namespaces.new_network_namespace() {
        namespaces::bring_up_loopback().step(|| "bringing up the loopback interface".into())?;
    }
    if let Some(hostname) = &container.hostname {
        sethostname(hostname).step(|| format!("setting the hostname {hostname}"))?;
    }
    if let Some(domainname) = &container.domainname {
        set_domainname(domainname).step(|| format!("setting the domain name {domainname}"))?;
    }

    let root = rootfs::enter_rootfs(&container.rootfs, container.propagation)?;
    for entry in &container.mounts {
        rootfs::mount_spec_entry(&root, entry)?;
    }
    devices::create(&root, &container.devices)?;
    // A working directory the image lacks is created, as runc does.
    let cwd = &plan.process.cwd;
    root.create(cwd, Kind::Directory, Symlinks::FollowInRoot)
        .step(|| format!("creating the working directory {}", cwd.display()))?;
    drop(root);
    rootfs::pivot(&container.rootfs)?;

    // Through the container's own /proc/sys, before it turns read-only.
    for sysctl in &container.sysctls {
        sysctl.apply()?;
    }

    rootfs::readonly_paths(&container.readonly_paths)?;
    rootfs::mask_paths(&container.masked_paths)?;
    if container.root_readonly {
        rootfs::remount_read_only(Path::new("/"))
            .step(|| "making the root filesystem read-only".into())?;
    }
    Ok(())
}

/// A session keyring of the container's own, so its processes cannot use the caller's keys
/// (as runc does). Kernels without keys support are fine.
fn join_new_session_keyring() -> Result<(), ChildFailure> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_ulong = 1;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) creates and joins an anonymous
    // keyring; it reads no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    match Errno::result(rc) {
        Ok(_) | Err(Errno::ENOSYS) => Ok(()),
        Err(e) => Err(e).step(|| "joining a new session keyring".into()),
    }
}

fn set_domainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(rc).map(drop)
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) ends this forked process without running the caller's atexit
    // handlers or flushing its buffers, which belong to the parent.
    unsafe { libc::_exit(code) }
}
