//! Docker's default runtime spec: what `docker run` hands to its OCI runtime when no flags
//! change it (moby's `oci/defaults.go` plus the daemon's additions, as Docker 20.10 emits them).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, Linux, LinuxCapabilities, LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespace,
    LinuxNamespaceType, LinuxResources, Mount, Process, Root, Spec, User,
};

/// Docker's default capability set: `00000000a80425fb` as a bit mask.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths Docker hides from the container (`/dev/null` over files, an empty read-only tmpfs
/// over directories).
pub const DEFAULT_MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths Docker makes read-only inside the container.
pub const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Size of `/dev/shm` when `--shm-size` is not given: 64 MiB.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// The spec `docker run` would produce for `args` in `rootfs`, with no other flags.
pub fn default_spec(
    rootfs: &Path,
    args: Vec<String>,
    env: Vec<String>,
    cwd: &Path,
    hostname: &str,
) -> Spec {
    let mut spec = Spec::default();
    spec.set_version("1.0.2-dev".to_string());
    spec.set_hostname(Some(hostname.to_string()));
    spec.set_annotations(None);

    let mut root = Root::default();
    root.set_path(rootfs.to_path_buf());
    root.set_readonly(Some(false));
    spec.set_root(Some(root));

    let caps: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    let mut capabilities = LinuxCapabilities::default();
    capabilities.set_bounding(Some(caps.clone()));
    capabilities.set_effective(Some(caps.clone()));
    capabilities.set_permitted(Some(caps));
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);

    let mut process = Process::default();
    process.set_terminal(Some(false));
    process.set_user(User::default());
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(cwd.to_path_buf());
    process.set_capabilities(Some(capabilities));
    process.set_no_new_privileges(None);
    process.set_rlimits(None);
    spec.set_process(Some(process));

    spec.set_mounts(Some(default_mounts()));

    let mut linux = Linux::default();
    linux.set_namespaces(Some(
        [
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
        ]
        .into_iter()
        .map(|typ| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(typ);
            ns
        })
        .collect(),
    ));
    linux.set_masked_paths(Some(
        DEFAULT_MASKED_PATHS.iter().map(|p| p.to_string()).collect(),
    ));
    linux.set_readonly_paths(Some(
        DEFAULT_READONLY_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect(),
    ));
    linux.set_devices(None);
    let mut resources = LinuxResources::default();
    resources.set_devices(Some(default_device_rules()));
    linux.set_resources(Some(resources));
    linux.set_seccomp(None);
    linux.set_cgroups_path(None);
    spec.set_linux(Some(linux));
    spec
}

/// Docker's device cgroup rules: deny everything, allow the default devices (null, zero,
/// urandom, random, tty, console), and deny fuse explicitly.
fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let rule =
        |allow: bool, typ: Option<LinuxDeviceType>, major: Option<i64>, minor: Option<i64>| {
            let mut rule = LinuxDeviceCgroup::default();
            rule.set_allow(allow);
            rule.set_typ(typ);
            rule.set_major(major);
            rule.set_minor(minor);
            rule.set_access(Some("rwm".to_string()));
            rule
        };
    let c = Some(LinuxDeviceType::C);
    vec![
        rule(false, None, None, None),
        rule(true, c, Some(1), Some(5)),
        rule(true, c, Some(1), Some(3)),
        rule(true, c, Some(1), Some(9)),
        rule(true, c, Some(1), Some(8)),
        rule(true, c, Some(5), Some(0)),
        rule(true, c, Some(5), Some(1)),
        rule(false, c, Some(10), Some(229)),
    ]
}

fn default_mounts() -> Vec<Mount> {
    let shm_size = format!("size={DEFAULT_SHM_SIZE}");
    [
        (
            "/proc",
            "proc",
            "proc",
            &["rw", "nosuid", "noexec", "nodev"][..],
        ),
        (
            "/dev",
            "tmpfs",
            "tmpfs",
            &["rw", "nosuid", "strictatime", "mode=755", "size=65536k"][..],
        ),
        (
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "rw",
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ][..],
        ),
        (
            "/sys",
            "sysfs",
            "sysfs",
            &["ro", "nosuid", "noexec", "nodev"][..],
        ),
        (
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"][..],
        ),
        (
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["rw", "nosuid", "noexec", "nodev"][..],
        ),
        (
            "/dev/shm",
            "tmpfs",
            "shm",
            &[
                "rw",
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                shm_size.as_str(),
            ][..],
        ),
    ]
    .into_iter()
    .map(|(destination, typ, source, options)| {
        let mut mount = Mount::default();
        mount.set_destination(PathBuf::from(destination));
        mount.set_typ(Some(typ.to_string()));
        mount.set_source(Some(PathBuf::from(source)));
        mount.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
        mount
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_round_trips_through_json_like_dockers() {
        let spec = default_spec(
            Path::new("/rootfs"),
            vec!["sh".into()],
            vec!["PATH=/bin".into()],
            Path::new("/"),
            "abc123",
        );
        let json = serde_json::to_value(&spec).expect("spec serializes");
        let bounding = json["process"]["capabilities"]["bounding"]
            .as_array()
            .expect("bounding set present");
        assert_eq!(bounding.len(), 14);
        assert!(bounding.contains(&"CAP_NET_BIND_SERVICE".into()));
        assert_eq!(json["linux"]["maskedPaths"][2], "/proc/kcore");
        assert_eq!(json["mounts"][2]["options"][4], "ptmxmode=0666");
        assert_eq!(json["mounts"][6]["options"][5], "size=67108864");
        assert_eq!(json["hostname"], "abc123");
        let devices = &json["linux"]["resources"]["devices"];
        assert_eq!(
            devices[0],
            serde_json::json!({"allow": false, "access": "rwm"})
        );
        assert_eq!(devices[7]["major"], 10);
        let back: Spec = serde_json::from_value(json).expect("spec deserializes");
        assert_eq!(back, spec);
    }
}
