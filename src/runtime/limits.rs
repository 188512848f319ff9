//! Per-process limits from the spec: `process.rlimits` and `process.oomScoreAdj`, and the
//! container's namespaced `linux.sysctl` settings.

use std::collections::HashMap;
use std::fs;

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use super::error::RuntimeError;
use super::sync::{ChildFailure, StepContext};

/// One resource limit, checked in the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    name: String,
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
}

impl Rlimit {
    pub fn from_spec(limit: &PosixRlimit) -> Result<Self, RuntimeError> {
        use PosixRlimitType::*;
        let resource = match limit.typ() {
            RlimitCpu => libc::RLIMIT_CPU,
            RlimitFsize => libc::RLIMIT_FSIZE,
            RlimitData => libc::RLIMIT_DATA,
            RlimitStack => libc::RLIMIT_STACK,
            RlimitCore => libc::RLIMIT_CORE,
            RlimitRss => libc::RLIMIT_RSS,
            RlimitNproc => libc::RLIMIT_NPROC,
            RlimitNofile => libc::RLIMIT_NOFILE,
            RlimitMemlock => libc::RLIMIT_MEMLOCK,
            RlimitAs => libc::RLIMIT_AS,
            RlimitLocks => libc::RLIMIT_LOCKS,
            RlimitSigpending => libc::RLIMIT_SIGPENDING,
            RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
            RlimitNice => libc::RLIMIT_NICE,
            RlimitRtprio => libc::RLIMIT_RTPRIO,
            RlimitRttime => libc::RLIMIT_RTTIME,
        };
        let name = limit.typ().to_string();
        if limit.soft() > limit.hard() {
            return Err(RuntimeError::InvalidSpec(format!(
                "{name}: soft limit {} is above hard limit {}",
                limit.soft(),
                limit.hard()
            )));
        }
        Ok(Self {
            name,
            resource,
            soft: limit.soft(),
            hard: limit.hard(),
        })
    }

    /// Set the limit on this process. Raising a hard limit needs `CAP_SYS_RESOURCE`; without
    /// it the error says what the current hard limit is.
    pub fn apply(&self) -> Result<(), ChildFailure> {
        let wanted = libc::rlimit {
            rlim_cur: self.soft,
            rlim_max: self.hard,
        };
        // SAFETY: setrlimit reads the rlimit struct we pass.
        if unsafe { libc::setrlimit(self.resource, &wanted) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the rlimit struct we pass.
        let known = unsafe { libc::getrlimit(self.resource, &mut current) } == 0;
        let message = if error.raw_os_error() == Some(libc::EPERM) && known {
            format!(
                "{error}: the hard limit may not be raised above {} here",
                current.rlim_max
            )
        } else {
            error.to_string()
        };
        Err(ChildFailure::Setup {
            step: format!("setting {} to {}:{}", self.name, self.soft, self.hard),
            message,
        })
    }
}

/// `process.oomScoreAdj` for this process (inherited by its children).
pub fn set_oom_score_adj(value: i32) -> Result<(), ChildFailure> {
    fs::write("/proc/self/oom_score_adj", value.to_string())
        .step(|| format!("setting oom_score_adj to {value}"))
}

/// A sysctl the container may set: one its own namespaces isolate (the same list as runc
/// and Docker accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    key: String,
    value: String,
}

impl Sysctl {
    pub fn from_spec(
        sysctls: Option<&HashMap<String, String>>,
        new_ipc: bool,
        new_net: bool,
    ) -> Result<Vec<Self>, RuntimeError> {
        let mut checked = Vec::new();
        for (key, value) in sysctls.into_iter().flatten() {
            let valid_chars = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !key.split('.').any(|part| part.is_empty() || part == "..");
            let ipc = matches!(
                key.as_str(),
                "kernel.msgmax"
                    | "kernel.msgmnb"
                    | "kernel.msgmni"
                    | "kernel.sem"
                    | "kernel.shmall"
                    | "kernel.shmmax"
                    | "kernel.shmmni"
                    | "kernel.shm_rmid_forced"
            ) || key.starts_with("fs.mqueue.");
            let net = key.starts_with("net.");
            let allowed = valid_chars && ((ipc && new_ipc) || (net && new_net));
            if !allowed {
                return Err(RuntimeError::InvalidSpec(format!(
                    "sysctl {key:?} is not allowed: only sysctls of the container's own IPC or \
                     network namespace can be set"
                )));
            }
            checked.push(Self {
                key: key.clone(),
                value: value.clone(),
            });
        }
        Ok(checked)
    }

    /// Write the setting through the container's `/proc/sys` (after `pivot_root`).
    pub fn apply(&self) -> Result<(), ChildFailure> {
        let path = format!("/proc/sys/{}", self.key.replace('.', "/"));
        fs::write(&path, &self.value).step(|| format!("setting sysctl {}", self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls_are_accepted() {
        let ask = |key: &str, ipc, net| {
            let map = HashMap::from([(key.to_string(), "1".to_string())]);
            Sysctl::from_spec(Some(&map), ipc, net).is_ok()
        };
        assert!(ask("net.ipv4.ip_forward", false, true));
        assert!(!ask("net.ipv4.ip_forward", true, false), "host network");
        assert!(ask("kernel.shmmax", true, false));
        assert!(ask("fs.mqueue.msg_max", true, false));
        assert!(!ask("kernel.hostname", true, true));
        assert!(!ask("vm.swappiness", true, true));
        assert!(!ask("net/../../kernel/x", true, true));
    }
}
