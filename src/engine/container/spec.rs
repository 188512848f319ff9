//! From a container's record to the OCI runtime spec the runtime executes: Docker's default
//! spec, the process (args, env, cwd, user resolved in the container's own /etc/passwd),
//! the /etc/hostname, /etc/hosts and /etc/resolv.conf bind mounts, capabilities, cgroup,
//! seccomp.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    Capability, LinuxCpu, LinuxMemory, LinuxNamespace, LinuxNamespaceType, LinuxPids,
    LinuxResources, LinuxSeccomp, Mount, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Spec,
    User,
};

use super::record::ContainerConfig;
use super::seccomp;
use super::store::Container;
use crate::runtime::{default_spec, DEFAULT_CAPABILITIES};

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build the runtime spec for `c`, whose rootfs is mounted at its `merged` dir.
pub fn build_spec(c: &Container) -> Result<Spec> {
    build_spec_rooted(c, &c.paths.merged())
}

/// Build the spec reading the container's user database under `files` (its `merged` dir
/// before start; `/proc/<init>/root` while it runs).
pub fn build_spec_rooted(c: &Container, files: &Path) -> Result<Spec> {
    let rootfs = c.paths.merged();
    let cfg = &c.config;
    let user = resolve_user(files, &cfg.user)?;
    let init = if cfg.init { Some(init_binary()?) } else { None };
    let mut args = Vec::new();
    if init.is_some() {
        // Docker's --init: tini as PID 1 reaps zombies and forwards signals.
        args.extend([INIT_PATH.to_string(), "--".to_string()]);
    }
    args.push(cfg.path.clone());
    args.extend(cfg.args.iter().cloned());
    let env = container_env(&cfg.env, &cfg.hostname, &user.home, cfg.tty);
    let cwd = if cfg.working_dir.is_empty() {
        PathBuf::from("/")
    } else {
        PathBuf::from(&cfg.working_dir)
    };
    let mut spec = default_spec(&rootfs, args, env, &cwd, &cfg.hostname);

    if let Some(process) = spec.process_mut() {
        let mut u = User::default();
        u.set_uid(user.uid);
        u.set_gid(user.gid);
        u.set_additional_gids(if user.groups.is_empty() {
            None
        } else {
            Some(user.groups.clone())
        });
        process.set_user(u);
        process.set_terminal(Some(cfg.tty));
        if !cfg.ulimits.is_empty() {
            process.set_rlimits(Some(rlimits(&cfg.ulimits)?));
        }
        if no_new_privileges(&cfg.security_opt) {
            process.set_no_new_privileges(Some(true));
        }
        if let Some(mut caps) = process.capabilities().clone() {
            let mut set: HashSet<Capability> = caps.bounding().clone().unwrap_or_default();
            adjust_capabilities(&mut set, &cfg.cap_add, &cfg.cap_drop, cfg.privileged)?;
            caps.set_bounding(Some(set.clone()));
            caps.set_effective(Some(set.clone()));
            caps.set_permitted(Some(set));
            process.set_capabilities(Some(caps));
        }
    }

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (dest, src) in [
        ("/etc/resolv.conf", c.paths.resolv_conf()),
        ("/etc/hostname", c.paths.hostname()),
        ("/etc/hosts", c.paths.hosts()),
    ] {
        let mut m = Mount::default();
        m.set_destination(PathBuf::from(dest));
        m.set_typ(Some("bind".into()));
        m.set_source(Some(src));
        m.set_options(Some(vec!["rbind".into(), "rprivate".into()]));
        mounts.push(m);
    }
    if let Some(init) = init {
        let mut m = Mount::default();
        m.set_destination(PathBuf::from(INIT_PATH));
        m.set_typ(Some("bind".into()));
        m.set_source(Some(init));
        m.set_options(Some(vec!["bind".into(), "ro".into()]));
        mounts.push(m);
    }
    spec.set_mounts(Some(mounts));
    if let Some(linux) = spec.linux_mut() {
        if cfg.cgroupns_mode == "private" {
            let mut namespaces = linux.namespaces().clone().unwrap_or_default();
            let mut cgroup = LinuxNamespace::default();
            cgroup.set_typ(LinuxNamespaceType::Cgroup);
            namespaces.push(cgroup);
            linux.set_namespaces(Some(namespaces));
        }
        linux.set_cgroups_path(Some(cgroup_path(cfg)));
        linux.set_resources(resources(cfg)?);
        if cfg.privileged {
            linux.set_masked_paths(None);
            linux.set_readonly_paths(None);
        }
    }
    if let Some(linux) = spec.linux_mut() {
        linux.set_seccomp(container_seccomp(cfg)?);
    }
    Ok(spec)
}

/// `--ulimit`s as OCI rlimits (`-1` is unlimited).
fn rlimits(ulimits: &[super::record::Ulimit]) -> Result<Vec<PosixRlimit>> {
    ulimits
        .iter()
        .map(|u| {
            let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(format!(
                "RLIMIT_{}",
                u.name.to_ascii_uppercase()
            )))
            .with_context(|| format!("invalid ulimit type: {}", u.name))?;
            let value = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(value(u.soft))
                .hard(value(u.hard))
                .build()
                .context("invalid ulimit")
        })
        .collect()
}

/// Where `--init` puts the init inside the container, as Docker does.
const INIT_PATH: &str = "/dev/init";

/// The host's init for `--init`: Docker's own `docker-init`, else Debian's static tini.
fn init_binary() -> Result<PathBuf> {
    ["/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/local/bin/docker-init"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .context("--init needs an init binary on the host: install Debian's tini package (tini-static) or docker-init")
}

/// `--memory`, `--memory-swap`, `--cpu-shares`, `--cpus`, `--cpuset-cpus` and
/// `--pids-limit` as OCI resources, as Docker's daemon writes them (its CFS period of
/// 100 ms; memory+swap twice the memory unless given; a swap of -1 left unset, which is
/// no limit).
fn resources(cfg: &super::record::ContainerConfig) -> Result<Option<LinuxResources>> {
    if cfg.cpu_shares < 0 {
        bail!("shares: invalid argument");
    }
    let mut r = LinuxResources::default();
    let mut any = false;
    if cfg.memory > 0 {
        let mut m = LinuxMemory::default();
        m.set_limit(Some(cfg.memory));
        let swap = match cfg.memory_swap {
            0 => Some(cfg.memory.saturating_mul(2)),
            swap if swap > 0 => Some(swap),
            _ => None,
        };
        m.set_swap(swap);
        r.set_memory(Some(m));
        any = true;
    }
    let mut c = LinuxCpu::default();
    if cfg.cpu_shares > 0 {
        c.set_shares(Some(cfg.cpu_shares as u64));
    }
    if !cfg.cpuset_cpus.is_empty() {
        c.set_cpus(Some(cfg.cpuset_cpus.clone()));
    }
    if cfg.nano_cpus > 0 {
        let period: u64 = 100_000;
        c.set_period(Some(period));
        c.set_quota(Some(cfg.nano_cpus * period as i64 / 1_000_000_000));
    }
    if c != LinuxCpu::default() {
        r.set_cpu(Some(c));
        any = true;
    }
    if cfg.pids_limit > 0 {
        let mut p = LinuxPids::default();
        p.set_limit(cfg.pids_limit);
        r.set_pids(Some(p));
        any = true;
    }
    Ok(any.then_some(r))
}

/// The container's seccomp filter (see `seccomp`): its security options and `--privileged`
/// over its capability bounding set (Docker's defaults with `--cap-add`/`--cap-drop`).
pub fn container_seccomp(cfg: &ContainerConfig) -> Result<Option<LinuxSeccomp>> {
    let mut bounding: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    adjust_capabilities(&mut bounding, &cfg.cap_add, &cfg.cap_drop, cfg.privileged)?;
    Ok(seccomp::for_container(
        &cfg.security_opt,
        cfg.privileged,
        &bounding,
    )?)
}

/// Whether `--security-opt` asks for no-new-privileges: the last of `no-new-privileges` or
/// `no-new-privileges=BOOL` (also `:BOOL`) wins, as in Docker.
fn no_new_privileges(opts: &[String]) -> bool {
    opts.iter().fold(false, |on, opt| {
        if opt == "no-new-privileges" {
            return true;
        }
        match opt.split_once('=').or_else(|| opt.split_once(':')) {
            Some(("no-new-privileges", v)) => parse_go_bool(v).unwrap_or(on),
            _ => on,
        }
    })
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The container's cgroup: below its cgroup parent (default `/dokles`), joined and cleaned
/// as Go's `filepath.Join` does (Docker's daemon: `/x/../y/` puts it in `/y`). An absolute
/// parent is taken from the hierarchy's root, a relative one from the monitor's cgroup —
/// in grading, inside the submission's cgroup namespace: its root is the submission's
/// cgroup, so the submission's limits (pids, devices) hold for its containers too, whatever
/// parent it asks for.
pub fn cgroup_path(cfg: &super::ContainerConfig) -> PathBuf {
    let parent = if cfg.cgroup_parent.is_empty() {
        "/dokles"
    } else {
        &cfg.cgroup_parent
    };
    PathBuf::from(clean_path(&format!("{parent}/{}", cfg.id)))
}

/// Go's `path.Clean`: one slash between names, no `.`, a `..` takes the name before it
/// away (none above the root of an absolute path).
pub fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut names: Vec<&str> = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => match names.last() {
                Some(&last) if last != ".." => {
                    names.pop();
                }
                _ if absolute => {}
                _ => names.push(".."),
            },
            name => names.push(name),
        }
    }
    let joined = names.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn container_env(env: &[String], hostname: &str, home: &str, tty: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        out.push(DEFAULT_PATH.to_string());
    }
    out.push(format!("HOSTNAME={hostname}"));
    out.extend(env.iter().cloned());
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        out.push(format!("HOME={home}"));
    }
    out
}

/// Docker's capability names (`NET_ADMIN`, `CAP_NET_ADMIN`).
fn parse_cap(name: &str) -> Result<Capability> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full.clone()))
        .map_err(|_| anyhow::anyhow!("invalid capability {name:?}: unknown capability: \"{full}\""))
}

/// Capability names as `create` records them, Docker's way: `net_admin` and `NET_ADMIN` become
/// `CAP_NET_ADMIN`, `all` becomes `ALL`; an unknown name is refused with Docker's message
/// (`field` is `CapAdd` or `CapDrop`).
pub fn normalize_capabilities(names: &[String], field: &str) -> Result<Vec<String>, String> {
    names
        .iter()
        .map(|n| {
            if n.eq_ignore_ascii_case("all") {
                return Ok("ALL".to_string());
            }
            let upper = n.to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            serde_json::from_value::<Capability>(serde_json::Value::String(full.clone()))
                .map(|_| full.clone())
                .map_err(|_| format!("invalid {field}: unknown capability: \"{full}\""))
        })
        .collect()
}

/// Every capability dokles itself may pass on: the kernel's, within our own bounding set (a
/// dokles that runs inside a restricted container cannot grant what it lacks; asking for it
/// would fail the whole start).
fn all_caps() -> HashSet<Capability> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let bounding = own_bounding_set().unwrap_or(u64::MAX);
    (0..=last)
        .filter(|n| *n < 64 && bounding & (1 << n) != 0)
        .filter_map(|n| serde_json::from_value(serde_json::Value::String(cap_name(n)?.into())).ok())
        .collect()
}

/// `CapBnd` of this process, from /proc/self/status.
fn own_bounding_set() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapBnd:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn cap_name(n: u32) -> Option<&'static str> {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES.get(n as usize).copied()
}

/// Docker's rules: `--privileged` gives all; `--cap-drop ALL` empties the set before adds;
/// `--cap-add ALL` gives all.
fn adjust_capabilities(
    set: &mut HashSet<Capability>,
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<()> {
    if privileged || add.iter().any(|a| a.eq_ignore_ascii_case("all")) {
        *set = all_caps();
    }
    for d in drop {
        if d.eq_ignore_ascii_case("all") {
            set.clear();
        } else {
            set.remove(&parse_cap(d)?);
        }
    }
    for a in add {
        if !a.eq_ignore_ascii_case("all") {
            set.insert(parse_cap(a)?);
        }
    }
    Ok(())
}

/// A user resolved in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group first, as Docker sets them.
    pub groups: Vec<u32>,
    pub home: String,
}

/// Resolve `user[:group]` (names or numbers) with the container's /etc/passwd and
/// /etc/group, as Docker does; an empty spec is root.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let passwd = read_in_root(rootfs, "etc/passwd").unwrap_or_default();
    let group = read_in_root(rootfs, "etc/group").unwrap_or_default();
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && (f[0] == user_part || f[2] == user_part)).then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
                f[5].to_string(),
            )
        })
    });
    let (name, uid, gid, home) = match (entry, user_part.parse::<u32>()) {
        (Some((n, Some(u), Some(g), h)), _) => (n, u, g, h),
        // A numeric user without a passwd entry is in group 0, as with Docker.
        (None, Ok(u)) => (String::new(), u, 0, "/".to_string()),
        _ => bail!("unable to find user {user_part}: no matching entries in passwd file"),
    };
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    let gid = match group_part {
        None | Some("") => gid,
        Some(g) => match group.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && (f[0] == g || f[2] == g))
                .then(|| f[2].parse::<u32>().ok())
                .flatten()
        }) {
            Some(id) => id,
            None => g.parse::<u32>().map_err(|_| {
                anyhow::anyhow!("unable to find group {g}: no matching entries in group file")
            })?,
        },
    };
    // Docker's supplementary groups: the primary group, then the groups listing the user.
    let mut groups = vec![gid];
    if !name.is_empty() {
        groups.extend(
            group
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 4 && f[3].split(',').any(|m| m == name))
                        .then(|| f[2].parse::<u32>().ok())
                        .flatten()
                })
                .filter(|g| *g != gid),
        );
    }
    Ok(ResolvedUser {
        uid,
        gid,
        groups,
        home,
    })
}

/// Read a file of the container's rootfs with every symlink resolved inside the rootfs
/// (`openat2` with `RESOLVE_IN_ROOT`), so a hostile image cannot point it at host files.
pub fn read_in_root(rootfs: &Path, rel: &str) -> Option<String> {
    let root = File::open(rootfs).ok()?;
    let path = CString::new(rel).ok()?;
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_IN_ROOT: u64 = 0x10;
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 reads `how` (a properly sized open_how) and `path` (NUL-terminated);
    // the returned fd, if any, is owned by the File below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            std::os::fd::AsRawFd::as_raw_fd(&root),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor returned by openat2 above.
    let mut f = unsafe { File::from_raw_fd(fd as i32) };
    let mut s = String::new();
    f.read_to_string(&mut s).ok()?;
    Some(s)
}

/// Docker's /etc/hosts for a container without a network of its own.
pub fn hosts_file() -> String {
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
}

/// The host's resolv.conf without loopback name servers (unreachable from the container),
/// falling back to Docker's public defaults when none remain.
pub fn resolv_conf() -> Result<String> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    Ok(out)
}

/// Write the per-container /etc files.
/// Readable by every user of the container, whatever the umask.
pub fn write_etc_files(c: &super::record::ContainerPaths, hostname: &str) -> Result<()> {
    use crate::state::{mode::CONTAINER_FILE, write_file};
    write_file(
        &c.hostname(),
        format!("{hostname}\n").as_bytes(),
        CONTAINER_FILE,
    )
    .with_context(|| format!("cannot write {}", c.hostname().display()))?;
    write_file(&c.hosts(), hosts_file().as_bytes(), CONTAINER_FILE)
        .with_context(|| format!("cannot write {}", c.hosts().display()))?;
    write_file(&c.resolv_conf(), resolv_conf()?.as_bytes(), CONTAINER_FILE)
        .with_context(|| format!("cannot write {}", c.resolv_conf().display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_paths_are_cleaned_as_go_cleans_them() {
        assert_eq!(clean_path("/x/../y//abc"), "/y/abc");
        assert_eq!(clean_path("/../../etc/abc"), "/etc/abc");
        assert_eq!(clean_path("foo/./abc"), "foo/abc");
        assert_eq!(clean_path("../foo/abc"), "../foo/abc");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("a/.."), ".");
    }

    #[test]
    fn users_resolve_from_the_containers_passwd() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nanna:x:1000:1000::/home/anna:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:anna\nanna:x:1000:\n",
        )
        .unwrap();
        let r = resolve_user(t.path(), "").unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let a = resolve_user(t.path(), "anna").unwrap();
        assert_eq!(
            (a.uid, a.gid, a.groups.clone()),
            (1000, 1000, vec![1000, 50])
        );
        let n = resolve_user(t.path(), "1234:50").unwrap();
        assert_eq!((n.uid, n.gid, n.groups.clone()), (1234, 50, vec![50]));
        let bare = resolve_user(t.path(), "4321").unwrap();
        assert_eq!((bare.uid, bare.gid, bare.groups), (4321, 0, vec![0]));
        assert!(resolve_user(t.path(), "bob").is_err());
    }

    #[test]
    fn capability_names_are_normalised_like_dockers() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_capabilities(&names(&["net_admin", "CAP_SYS_TIME", "all"]), "CapAdd"),
            Ok(names(&["CAP_NET_ADMIN", "CAP_SYS_TIME", "ALL"]))
        );
        assert_eq!(
            normalize_capabilities(&names(&["nope"]), "CapDrop"),
            Err("invalid CapDrop: unknown capability: \"CAP_NOPE\"".to_string())
        );
    }

    #[test]
    fn no_new_privileges_takes_docker_booleans() {
        let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(no_new_privileges(&opts(&["no-new-privileges"])));
        assert!(no_new_privileges(&opts(&["no-new-privileges=1"])));
        assert!(no_new_privileges(&opts(&["no-new-privileges:true"])));
        assert!(!no_new_privileges(&opts(&["no-new-privileges=false"])));
        assert!(!no_new_privileges(&opts(&[
            "no-new-privileges",
            "no-new-privileges=0"
        ])));
        assert!(!no_new_privileges(&opts(&["seccomp=unconfined"])));
    }

    #[test]
    fn reading_in_root_does_not_follow_symlinks_out() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("etc/passwd")).unwrap();
        // Resolved inside the root: <root>/etc/hostname does not exist.
        assert_eq!(read_in_root(t.path(), "etc/passwd"), None);
    }
}
