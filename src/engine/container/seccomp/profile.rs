//! Docker's seccomp profile format (moby `profiles/seccomp`): what `default.json` and a
//! user's `--security-opt seccomp=<file>` hold, before it is resolved for one container.
//!
//! Rules are conditional (`includes` / `excludes` on capabilities, architectures and the
//! kernel version); the runtime spec's `linux.seccomp` is not — see `resolve`.

use std::fmt;

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompArg};
use serde::{Deserialize, Deserializer};

use super::SeccompError;

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What a system call no rule matches gets. A profile without it and without rules
    /// means "no seccomp" (as moby).
    #[serde(default)]
    pub default_action: Option<LinuxSeccompAction>,
    /// The errno of a `SCMP_ACT_ERRNO` default (EPERM when absent).
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// The old format's flat architecture list; excludes `arch_map`.
    #[serde(default)]
    pub architectures: Vec<Arch>,
    /// Per native architecture, the sub-architectures its processes may also use.
    #[serde(default)]
    pub arch_map: Vec<ArchMapEntry>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub syscalls: Vec<SyscallRule>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<Arch>,
}

/// One rule: an action for some system calls, possibly only under conditions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// The old format's single name; excludes `names`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Vec<LinuxSeccompArg>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

/// When a rule applies (`includes`: all must hold) or does not (`excludes`: any holds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capability names as in the runtime spec (`CAP_SYS_ADMIN`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    /// Architectures by libseccomp's names (`amd64`, `x86`, `x32`, `arm64`, `s390x`, ...).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub arches: Vec<String>,
    #[serde(default, deserialize_with = "kernel_version")]
    pub min_kernel: Option<KernelVersion>,
}

/// A kernel's `<version>.<major revision>`; minor revisions and suffixes do not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub kernel: u8,
    pub major: u8,
}

impl KernelVersion {
    /// Parse a `minKernel` value as moby does: exactly `<kernel>.<major>`, each 0–255,
    /// not `0.0`. Errors read as moby's.
    pub fn parse_min(version: &str) -> Result<Self, String> {
        let invalid = |detail: String| {
            format!("invalid kernel version: \"{version}\", expected \"<kernel>.<major>\"{detail}")
        };
        let parts: Vec<&str> = version.splitn(3, '.').collect();
        let [kernel, major] = parts[..] else {
            return Err(invalid(String::new()));
        };
        let number = |part: &str| {
            part.parse::<u8>().map_err(|_| {
                invalid(format!(
                    ": strconv.ParseUint: parsing \"{part}\": {}",
                    parse_uint_failure(part)
                ))
            })
        };
        let v = Self {
            kernel: number(kernel)?,
            major: number(major)?,
        };
        if v == (Self {
            kernel: 0,
            major: 0,
        }) {
            return Err(invalid(": version cannot be 0.0".into()));
        }
        Ok(v)
    }

    /// The running kernel's version from a `uname -r` release (`6.18.0-1-amd64`).
    pub fn from_release(release: &str) -> Option<Self> {
        let mut numbers = release.splitn(2, '.').map(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        });
        let kernel = numbers.next()??;
        let major = numbers.next()??;
        Some(Self {
            kernel: u8::try_from(kernel).unwrap_or(u8::MAX),
            major: u8::try_from(major).unwrap_or(u8::MAX),
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kernel, self.major)
    }
}

/// Go's `strconv.ParseUint` reason for a part that is not a u8.
fn parse_uint_failure(part: &str) -> &'static str {
    if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
        "value out of range"
    } else {
        "invalid syntax"
    }
}

impl Profile {
    /// Decode a profile's JSON, as the daemon does with the text the client sent.
    pub fn parse(json: &str) -> Result<Self, SeccompError> {
        serde_json::from_str(json).map_err(SeccompError::Decode)
    }
}

impl SyscallRule {
    /// The system calls this rule names (`name` or `names`, not both).
    pub fn syscall_names(&self) -> Result<Vec<String>, SeccompError> {
        match (&self.name, self.names.is_empty()) {
            (Some(name), true) if !name.is_empty() => Ok(vec![name.clone()]),
            (Some(name), false) if !name.is_empty() => Err(SeccompError::NameAndNames),
            _ => Ok(self.names.clone()),
        }
    }
}

/// Go decodes `null` into an empty slice; so do we.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `"4.8"`; an empty string or `null` means no condition.
fn kernel_version<'de, D>(deserializer: D) -> Result<Option<KernelVersion>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => KernelVersion::parse_min(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_kernel_takes_exactly_kernel_and_major() {
        assert_eq!(
            KernelVersion::parse_min("4.8"),
            Ok(KernelVersion {
                kernel: 4,
                major: 8
            })
        );
        assert_eq!(
            KernelVersion::parse_min("x.y").unwrap_err(),
            "invalid kernel version: \"x.y\", expected \"<kernel>.<major>\": strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert!(KernelVersion::parse_min("4.8.1").is_err());
        assert!(KernelVersion::parse_min("4").is_err());
        assert!(KernelVersion::parse_min("3.300").is_err());
        assert!(KernelVersion::parse_min("0.0")
            .unwrap_err()
            .ends_with("version cannot be 0.0"));
    }

    #[test]
    fn the_running_kernel_counts_version_and_major_revision_only() {
        let v = |release| KernelVersion::from_release(release);
        assert_eq!(
            v("6.18.0-1-amd64"),
            Some(KernelVersion {
                kernel: 6,
                major: 18
            })
        );
        assert_eq!(v("3.12-rc5"), v("3.12.25-gentoo"));
        assert_eq!(v("garbage"), None);
    }

    #[test]
    fn a_rule_names_its_calls_with_name_or_names_but_not_both() {
        let rule = |json: &str| serde_json::from_str::<SyscallRule>(json).expect("rule");
        let single = rule(r#"{"name":"mkdir","action":"SCMP_ACT_ERRNO"}"#);
        assert_eq!(single.syscall_names().unwrap(), ["mkdir"]);
        let both = rule(r#"{"name":"mkdir","names":["rmdir"],"action":"SCMP_ACT_ERRNO"}"#);
        assert!(matches!(
            both.syscall_names(),
            Err(SeccompError::NameAndNames)
        ));
    }

    #[test]
    fn nulls_decode_as_go_decodes_them() {
        let p = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":null,"includes":{"caps":null,"minKernel":""}}]}"#,
        )
        .expect("profile");
        assert!(p.syscalls[0].args.is_empty());
        assert_eq!(p.syscalls[0].includes, Filter::default());
    }
}
