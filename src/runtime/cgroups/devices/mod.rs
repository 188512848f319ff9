//! Device access rules: which device nodes a container may create (`mknod`), read and write.
//!
//! A container's rules are one ordered list ([`container_rules`]): deny everything, then the
//! spec's `linux.resources.devices` in order, then runc's always-allowed devices (null,
//! zero, full, random, urandom, tty, ptmx, pts, tun and `mknod` of any node), then the
//! spec's `linux.devices`. Without them `CAP_MKNOD` (in Docker's default set) would let a
//! container create and open any host device node.
//!
//! cgroup v1 reads the list line by line (`devices.allow` / `devices.deny`); cgroup v2 has
//! no device files, so the list is run through an [`Emulator`] of v1's semantics and the
//! outcome compiled into an eBPF program ([`program`]) attached to the container's cgroup
//! ([`bpf`]). Both hosts therefore decide every access the same way.

pub mod bpf;
pub mod emulator;
pub mod program;

use std::fmt;

use oci_spec::runtime::{Linux, LinuxDeviceCgroup, LinuxDeviceType};

use super::super::error::RuntimeError;

pub use emulator::Emulator;

/// Which device nodes a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// Every device: v1's `a`, which resets the default instead of adding an exception.
    All,
    Block,
    Char,
}

/// What a rule allows or denies: any of read, write and `mknod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(u8);

impl Access {
    // The kernel's bits, the same for v1's device cgroup and the eBPF context
    // (DEVCG_ACC_* and BPF_DEVCG_ACC_*).
    pub const MKNOD: Access = Access(1);
    pub const READ: Access = Access(2);
    pub const WRITE: Access = Access(4);
    pub const ALL: Access = Access(7);

    /// `rwm` and any subset, in any order; nothing else, and not empty.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut access = Access(0);
        for c in text.chars() {
            access = access.union(match c {
                'r' => Access::READ,
                'w' => Access::WRITE,
                'm' => Access::MKNOD,
                _ => return Err(format!("invalid device access {text:?}: only r, w and m")),
            });
        }
        if access.is_empty() {
            return Err("a device rule needs an access (r, w, m)".into());
        }
        Ok(access)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Self {
        Access(bits & Access::ALL.0)
    }

    pub fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    pub fn without(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    pub fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every bit of `self` is in `other`.
    pub fn is_subset_of(self, other: Access) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.intersects(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One allow or deny rule. `None` for a major or minor number is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl DeviceRule {
    /// Allow everything on one node (or every node of a kind, with wildcards).
    pub const fn allow(kind: DeviceKind, major: Option<u32>, minor: Option<u32>) -> Self {
        DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: Access::ALL,
        }
    }

    const fn allow_mknod(kind: DeviceKind) -> Self {
        DeviceRule {
            allow: true,
            kind,
            major: None,
            minor: None,
            access: Access::MKNOD,
        }
    }

    const DENY_ALL: DeviceRule = DeviceRule {
        allow: false,
        kind: DeviceKind::All,
        major: None,
        minor: None,
        access: Access::ALL,
    };

    /// A `linux.resources.devices` rule. A missing type is `a`, a missing access `rwm`, a
    /// missing (or `-1`) major or minor the wildcard.
    pub fn from_oci(rule: &LinuxDeviceCgroup) -> Result<Self, RuntimeError> {
        let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DeviceKind::All,
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            LinuxDeviceType::P => {
                return Err(RuntimeError::InvalidSpec(
                    "device cgroup rules cannot be about FIFOs (type p)".into(),
                ))
            }
        };
        let access = match rule.access().as_deref() {
            None => Access::ALL,
            Some(text) => Access::parse(text).map_err(RuntimeError::InvalidSpec)?,
        };
        Ok(DeviceRule {
            allow: rule.allow(),
            kind,
            major: device_number(rule.major(), "major")?,
            minor: device_number(rule.minor(), "minor")?,
            access,
        })
    }

    /// The rule as v1's `devices.allow` / `devices.deny` read it (`a`, `c 1:3 rwm`).
    pub fn v1_line(&self) -> String {
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        match self.kind {
            DeviceKind::All => "a".to_string(),
            kind => format!(
                "{} {}:{} {}",
                if kind == DeviceKind::Block { "b" } else { "c" },
                number(self.major),
                number(self.minor),
                self.access
            ),
        }
    }
}

fn device_number(n: Option<i64>, what: &str) -> Result<Option<u32>, RuntimeError> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            RuntimeError::InvalidSpec(format!("invalid device {what} number {n} in a device rule"))
        }),
    }
}

/// Devices every container may use (runc's `AllowedDevices`): `mknod` of any node, and
/// null, zero, full, tty, random, urandom, every pts, ptmx and tun.
pub const ALWAYS_ALLOWED_DEVICES: [DeviceRule; 11] = [
    DeviceRule::allow_mknod(DeviceKind::Char),
    DeviceRule::allow_mknod(DeviceKind::Block),
    DeviceRule::allow(DeviceKind::Char, Some(1), Some(3)),
    DeviceRule::allow(DeviceKind::Char, Some(1), Some(8)),
    DeviceRule::allow(DeviceKind::Char, Some(1), Some(7)),
    DeviceRule::allow(DeviceKind::Char, Some(5), Some(0)),
    DeviceRule::allow(DeviceKind::Char, Some(1), Some(5)),
    DeviceRule::allow(DeviceKind::Char, Some(1), Some(9)),
    DeviceRule::allow(DeviceKind::Char, Some(136), None),
    DeviceRule::allow(DeviceKind::Char, Some(5), Some(2)),
    DeviceRule::allow(DeviceKind::Char, Some(10), Some(200)),
];

/// Nothing but the devices every container may use: the rules of a group whose containers
/// (and other processes) are to reach no other device, whatever their own rules say
/// (grading's world).
pub fn only_always_allowed() -> Vec<DeviceRule> {
    let mut rules = vec![DeviceRule::DENY_ALL];
    rules.extend(ALWAYS_ALLOWED_DEVICES);
    rules
}

/// The container's device rules, in the order they apply (see the module docs).
pub fn container_rules(linux: Option<&Linux>) -> Result<Vec<DeviceRule>, RuntimeError> {
    let mut rules = vec![DeviceRule::DENY_ALL];
    let spec_rules = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref());
    for rule in spec_rules.into_iter().flatten() {
        rules.push(DeviceRule::from_oci(rule)?);
    }
    // After the spec's rules, whose usual first rule ("deny all") would erase them.
    rules.extend(ALWAYS_ALLOWED_DEVICES);
    let devices = linux.and_then(|l| l.devices().as_ref());
    for device in devices.into_iter().flatten() {
        let kind = match device.typ() {
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::P => continue, // FIFOs are not device-controlled.
            _ => DeviceKind::Char,
        };
        let number = |n: i64, what| {
            u32::try_from(n).map_err(|_| {
                RuntimeError::InvalidSpec(format!(
                    "device {} has an invalid {what} number {n}",
                    device.path().display()
                ))
            })
        };
        rules.push(DeviceRule::allow(
            kind,
            Some(number(device.major(), "major")?),
            Some(number(device.minor(), "minor")?),
        ));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_written_as_v1_reads_them() {
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true);
        rule.set_typ(Some(LinuxDeviceType::C));
        rule.set_major(Some(136));
        rule.set_access(Some("mwr".into()));
        assert_eq!(
            DeviceRule::from_oci(&rule).expect("valid").v1_line(),
            "c 136:* rwm"
        );
        rule.set_typ(None);
        assert_eq!(DeviceRule::from_oci(&rule).expect("valid").v1_line(), "a");
        rule.set_typ(Some(LinuxDeviceType::B));
        rule.set_major(Some(-1));
        rule.set_minor(Some(3));
        rule.set_access(Some("r".into()));
        assert_eq!(
            DeviceRule::from_oci(&rule).expect("valid").v1_line(),
            "b *:3 r"
        );
    }

    #[test]
    fn malformed_rules_are_refused() {
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_typ(Some(LinuxDeviceType::C));
        rule.set_access(Some("rx".into()));
        assert!(DeviceRule::from_oci(&rule).is_err(), "unknown access");
        rule.set_access(Some(String::new()));
        assert!(DeviceRule::from_oci(&rule).is_err(), "empty access");
        rule.set_access(None);
        rule.set_major(Some(-2));
        assert!(DeviceRule::from_oci(&rule).is_err(), "negative major");
        rule.set_major(Some(1 << 33));
        assert!(DeviceRule::from_oci(&rule).is_err(), "major beyond 32 bits");
    }

    #[test]
    fn a_container_starts_from_deny_all_and_gets_the_always_allowed_devices() {
        let rules = container_rules(None).expect("rules");
        assert_eq!(rules[0].v1_line(), "a");
        assert!(!rules[0].allow);
        let lines: Vec<String> = rules[1..].iter().map(DeviceRule::v1_line).collect();
        assert_eq!(lines[..3], ["c *:* m", "b *:* m", "c 1:3 rwm"]);
        assert!(rules[1..].iter().all(|r| r.allow));
    }
}
