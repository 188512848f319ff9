//! A Docker profile resolved for one container on one machine into the runtime spec's
//! `linux.seccomp`, rule for rule as moby's `setupSeccomp` (Docker 20.10): rules whose
//! `includes` / `excludes` do not fit the container's capability bounding set, the
//! machine's architecture or its kernel version are left out; the architecture list is the
//! native one's `archMap` entry.

use std::collections::BTreeSet;

use oci_spec::runtime::{Arch, Capability, LinuxSeccomp, LinuxSyscall};

use super::profile::{Filter, KernelVersion, Profile};
use super::SeccompError;

/// What a profile is resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// libseccomp's name of the native architecture (`amd64`), as `arches` filters use;
    /// empty where moby knows none.
    pub arch: &'static str,
    pub kernel: KernelVersion,
    /// The container's capability bounding set, by spec name (`CAP_SYS_ADMIN`).
    pub capabilities: BTreeSet<String>,
}

impl Target {
    /// This machine, for a container with the bounding set `capabilities`.
    pub fn host<'a>(
        capabilities: impl IntoIterator<Item = &'a Capability>,
    ) -> Result<Self, SeccompError> {
        let uname = nix::sys::utsname::uname().map_err(SeccompError::Uname)?;
        let release = uname.release().to_string_lossy().into_owned();
        let kernel =
            KernelVersion::from_release(&release).ok_or(SeccompError::KernelRelease(release))?;
        Ok(Self {
            arch: NATIVE_ARCH,
            kernel,
            capabilities: capabilities.into_iter().map(capability_name).collect(),
        })
    }

    fn has_cap(&self, cap: &str) -> bool {
        self.capabilities.contains(cap)
    }

    fn kernel_at_least(&self, v: KernelVersion) -> bool {
        self.kernel >= v
    }

    /// `excludes`: any condition that holds leaves the rule out.
    fn excluded_by(&self, f: &Filter) -> bool {
        f.arches.iter().any(|a| a == self.arch)
            || f.caps.iter().any(|c| self.has_cap(c))
            || f.min_kernel.is_some_and(|v| self.kernel_at_least(v))
    }

    /// `includes`: every condition must hold for the rule to stay.
    fn included_by(&self, f: &Filter) -> bool {
        (f.arches.is_empty() || f.arches.iter().any(|a| a == self.arch))
            && f.caps.iter().all(|c| self.has_cap(c))
            && f.min_kernel.is_none_or(|v| self.kernel_at_least(v))
    }
}

/// libseccomp's name of the architecture dokles is built for (Go's `goToNative`).
const NATIVE_ARCH: &str = if cfg!(target_arch = "x86_64") {
    "amd64"
} else if cfg!(target_arch = "x86") {
    "x86"
} else if cfg!(target_arch = "aarch64") {
    "arm64"
} else if cfg!(target_arch = "arm") {
    "arm"
} else if cfg!(target_arch = "s390x") {
    "s390x"
} else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
    "ppc64le"
} else if cfg!(target_arch = "powerpc64") {
    "ppc64"
} else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
    "mipsel64"
} else if cfg!(target_arch = "mips64") {
    "mips64"
} else {
    ""
};

/// The seccomp architecture of a libseccomp name (moby's `nativeToSeccomp`).
fn seccomp_arch(arch: &str) -> Option<Arch> {
    Some(match arch {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mips3l64n32" => Arch::ScmpArchMipsel64n32,
        "mipsle" => Arch::ScmpArchMipsel,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

/// `CAP_SYS_ADMIN` for [`Capability::SysAdmin`], as the runtime spec spells it.
fn capability_name(cap: &Capability) -> String {
    match serde_json::to_value(cap) {
        Ok(serde_json::Value::String(name)) => name,
        // Capability serialises to its name; keep a usable spelling regardless.
        _ => format!("CAP_{cap}"),
    }
}

impl Profile {
    /// The runtime spec's seccomp for `target`; `None` when the profile asks for none.
    pub fn resolve(&self, target: &Target) -> Result<Option<LinuxSeccomp>, SeccompError> {
        // No default action and no rules: seccomp disabled.
        if self.default_action.is_none() && self.syscalls.is_empty() {
            return Ok(None);
        }
        let default_action = self.default_action.ok_or(SeccompError::NoDefaultAction)?;
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(SeccompError::ArchitecturesAndArchMap);
        }
        let mut architectures = self.architectures.clone();
        if let Some(native) = seccomp_arch(target.arch) {
            if let Some(entry) = self.arch_map.iter().find(|e| e.architecture == native) {
                architectures.push(entry.architecture);
                architectures.extend(entry.sub_architectures.iter().copied());
            }
        }

        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            if target.excluded_by(&rule.excludes) || !target.included_by(&rule.includes) {
                continue;
            }
            let mut call = LinuxSyscall::default();
            call.set_names(rule.syscall_names()?);
            call.set_action(rule.action);
            call.set_errno_ret(rule.errno_ret);
            call.set_args((!rule.args.is_empty()).then(|| rule.args.clone()));
            syscalls.push(call);
        }

        let mut seccomp = LinuxSeccomp::default();
        seccomp.set_default_action(default_action);
        seccomp.set_default_errno_ret(self.default_errno_ret);
        seccomp.set_architectures((!architectures.is_empty()).then_some(architectures));
        seccomp.set_syscalls(Some(syscalls));
        Ok(Some(seccomp))
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompOperator};

    use super::super::default_profile;
    use super::*;

    /// Docker's default capabilities, by spec name.
    const DOCKER_CAPS: [&str; 14] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];

    fn target(arch: &'static str, kernel: (u8, u8), extra_caps: &[&str]) -> Target {
        Target {
            arch,
            kernel: KernelVersion {
                kernel: kernel.0,
                major: kernel.1,
            },
            capabilities: DOCKER_CAPS
                .iter()
                .chain(extra_caps)
                .map(|c| c.to_string())
                .collect(),
        }
    }

    fn resolved(t: &Target) -> LinuxSeccomp {
        default_profile()
            .expect("the embedded profile decodes")
            .resolve(t)
            .expect("the default profile resolves")
            .expect("the default profile is a filter")
    }

    /// The rules (action, args) that name `syscall`.
    fn rules_for(s: &LinuxSeccomp, syscall: &str) -> Vec<LinuxSyscall> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == syscall))
            .cloned()
            .collect()
    }

    fn allowed_unconditionally(s: &LinuxSeccomp, syscall: &str) -> bool {
        rules_for(s, syscall)
            .iter()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
    }

    #[test]
    fn the_default_profile_denies_by_default_and_allows_the_common_calls() {
        let s = resolved(&target("amd64", (6, 18), &[]));
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), None, "EPERM, the runtime's default");
        for call in ["read", "execve", "clone", "mkdir", "socket", "capset"] {
            assert!(!rules_for(&s, call).is_empty(), "{call} has a rule");
        }
        for call in ["read", "execve", "mkdir", "capset", "setresuid"] {
            assert!(allowed_unconditionally(&s, call), "{call} is allowed");
        }
    }

    #[test]
    fn namespace_and_mount_calls_come_with_cap_sys_admin() {
        let plain = resolved(&target("amd64", (6, 18), &[]));
        for call in ["mount", "umount2", "unshare", "setns", "sethostname", "bpf"] {
            assert!(rules_for(&plain, call).is_empty(), "{call} denied without");
        }
        // clone is allowed only without namespace flags (CLONE_NEWNS|..., 0x7e020000).
        let clone = rules_for(&plain, "clone");
        assert_eq!(clone.len(), 1);
        let arg = clone[0].args().as_ref().expect("an argument condition")[0];
        assert_eq!(
            (arg.index(), arg.value(), arg.op()),
            (0, 0x7e02_0000, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        // clone3 cannot be filtered on its flags: ENOSYS, so libc falls back to clone.
        let clone3 = rules_for(&plain, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(
            (clone3[0].action(), clone3[0].errno_ret()),
            (LinuxSeccompAction::ScmpActErrno, Some(38))
        );

        let admin = resolved(&target("amd64", (6, 18), &["CAP_SYS_ADMIN"]));
        for call in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "sethostname",
            "clone",
            "clone3",
        ] {
            assert!(allowed_unconditionally(&admin, call), "{call} allowed with");
        }
        // Some calls no capability brings back.
        assert!(rules_for(&admin, "pivot_root").is_empty());
        assert!(rules_for(&admin, "clone")
            .iter()
            .all(|r| r.args().is_none()));
    }

    #[test]
    fn capability_rules_follow_the_bounding_set() {
        let plain = resolved(&target("amd64", (6, 18), &[]));
        // CAP_SYS_CHROOT is one of Docker's defaults.
        assert!(allowed_unconditionally(&plain, "chroot"));
        let dropped = Target {
            capabilities: plain_caps_without("CAP_SYS_CHROOT"),
            ..target("amd64", (6, 18), &[])
        };
        assert!(rules_for(&resolved(&dropped), "chroot").is_empty());
        for (cap, call) in [
            ("CAP_SYS_TIME", "settimeofday"),
            ("CAP_SYS_MODULE", "init_module"),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYS_PTRACE", "process_vm_readv"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
        ] {
            assert!(rules_for(&plain, call).is_empty(), "{call} needs {cap}");
            let with = resolved(&target("amd64", (6, 18), &[cap]));
            assert!(allowed_unconditionally(&with, call), "{call} with {cap}");
        }
    }

    fn plain_caps_without(cap: &str) -> BTreeSet<String> {
        DOCKER_CAPS
            .iter()
            .filter(|c| **c != cap)
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn architecture_rules_and_the_arch_map_follow_the_native_architecture() {
        let amd64 = resolved(&target("amd64", (6, 18), &[]));
        assert_eq!(
            amd64.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        assert!(allowed_unconditionally(&amd64, "arch_prctl"));
        assert!(allowed_unconditionally(&amd64, "modify_ldt"));
        assert!(rules_for(&amd64, "s390_runtime_instr").is_empty());

        let s390x = resolved(&target("s390x", (6, 18), &[]));
        assert_eq!(
            s390x.architectures().as_deref(),
            Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..])
        );
        assert!(rules_for(&s390x, "arch_prctl").is_empty());
        assert!(allowed_unconditionally(&s390x, "s390_runtime_instr"));
        // On s390 the clone flags are the second argument.
        let clone = rules_for(&s390x, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args().as_ref().expect("condition")[0].index(), 1);

        // An architecture moby does not know gets no list: the runtime's native one.
        let unknown = resolved(&target("", (6, 18), &[]));
        assert_eq!(unknown.architectures(), &None);
    }

    #[test]
    fn min_kernel_rules_need_the_running_kernel() {
        // ptrace is allowed from 4.8 on (older kernels let it bypass seccomp).
        let new = resolved(&target("amd64", (6, 18), &[]));
        assert!(allowed_unconditionally(&new, "ptrace"));
        let exactly = resolved(&target("amd64", (4, 8), &[]));
        assert!(allowed_unconditionally(&exactly, "ptrace"));
        let old = resolved(&target("amd64", (4, 7), &[]));
        assert!(rules_for(&old, "ptrace").is_empty());
        let older_major = resolved(&target("amd64", (3, 19), &[]));
        assert!(rules_for(&older_major, "ptrace").is_empty());
    }

    #[test]
    fn excludes_min_kernel_drops_the_rule_on_newer_kernels() {
        let profile = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"excludes":{"minKernel":"5.10"}}]}"#,
        )
        .expect("profile");
        let on = |kernel| {
            profile
                .resolve(&target("amd64", kernel, &[]))
                .expect("resolves")
                .expect("filter")
                .syscalls()
                .clone()
                .unwrap_or_default()
        };
        let old = on((5, 4));
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].errno_ret(), Some(13));
        assert!(on((5, 10)).is_empty());
    }

    #[test]
    fn a_profile_without_default_action_or_rules_means_no_seccomp() {
        let empty = Profile::parse("{}").expect("profile");
        assert_eq!(empty.resolve(&target("amd64", (6, 18), &[])).unwrap(), None);
        let no_default =
            Profile::parse(r#"{"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#)
                .expect("profile");
        assert!(matches!(
            no_default.resolve(&target("amd64", (6, 18), &[])),
            Err(SeccompError::NoDefaultAction)
        ));
    }

    #[test]
    fn architectures_and_arch_map_exclude_each_other() {
        let both = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]}"#,
        )
        .expect("profile");
        let err = both
            .resolve(&target("amd64", (6, 18), &[]))
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"
        );
        let old_format = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}"#,
        )
        .expect("profile");
        let s = old_format
            .resolve(&target("amd64", (6, 18), &[]))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..])
        );
    }

    #[test]
    fn the_host_target_reads_this_kernel_and_spells_capabilities_as_the_spec() {
        let t = Target::host(&[Capability::SysAdmin, Capability::NetRaw]).expect("uname");
        assert_eq!(t.arch, NATIVE_ARCH);
        assert!(
            t.kernel
                >= KernelVersion {
                    kernel: 3,
                    major: 0
                }
        );
        assert_eq!(
            t.capabilities
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["CAP_NET_RAW", "CAP_SYS_ADMIN"]
        );
    }
}
