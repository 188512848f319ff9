//! cgroup v1's device controller in memory: what a list of rules leaves behind (a default
//! and its exceptions) and how that state decides an access, both exactly as the kernel's
//! `security/device_cgroup.c` does it. The eBPF program for cgroup v2 is compiled from this
//! state, so a rule list means the same on both kinds of host; and any decision can be
//! checked here without a kernel.

use super::{Access, DeviceKind, DeviceRule};

/// One exception to the default: a block or char device (numbers `None` = any), and the
/// accesses it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl Exception {
    /// Same device pattern (type and numbers, wildcards compared as values), as the kernel
    /// looks exceptions up when adding or removing.
    fn same_pattern(&self, rule: &DeviceRule) -> bool {
        self.kind == rule.kind && self.major == rule.major && self.minor == rule.minor
    }

    /// Whether this exception is about the device `kind major:minor`.
    pub fn covers(&self, kind: DeviceKind, major: u32, minor: u32) -> bool {
        self.kind == kind
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }
}

/// The state of one v1 device cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    default_allow: bool,
    exceptions: Vec<Exception>,
}

impl Default for Emulator {
    /// A cgroup that allows everything (the root's state, which a new cgroup starts from).
    fn default() -> Self {
        Emulator {
            default_allow: true,
            exceptions: Vec::new(),
        }
    }
}

impl Emulator {
    /// The state after writing `rules` in order, starting from allow-all.
    pub fn from_rules(rules: &[DeviceRule]) -> Self {
        let mut emulator = Emulator::default();
        for rule in rules {
            emulator.apply(rule);
        }
        emulator
    }

    /// Write one rule, as `devices.allow` (rule.allow) or `devices.deny`:
    /// `a` sets the default and drops every exception; a rule that agrees with the default
    /// takes its accesses away from the exception with the same pattern (dropping it when
    /// none are left); a rule that disagrees adds its accesses to that exception, or adds it.
    pub fn apply(&mut self, rule: &DeviceRule) {
        if rule.kind == DeviceKind::All {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return;
        }
        let existing = self.exceptions.iter().position(|e| e.same_pattern(rule));
        if rule.allow == self.default_allow {
            if let Some(i) = existing {
                let left = self.exceptions[i].access.without(rule.access);
                if left.is_empty() {
                    self.exceptions.remove(i);
                } else {
                    self.exceptions[i].access = left;
                }
            }
        } else if let Some(i) = existing {
            self.exceptions[i].access = self.exceptions[i].access.union(rule.access);
        } else {
            self.exceptions.push(Exception {
                kind: rule.kind,
                major: rule.major,
                minor: rule.minor,
                access: rule.access,
            });
        }
    }

    /// Whether the cgroup lets a process have `access` to the device `kind major:minor`
    /// (`kind` is `Block` or `Char`). With a deny default one exception must cover the
    /// device and every access asked for; with an allow default no exception may cover the
    /// device and any of them.
    pub fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: Access) -> bool {
        let mut covering = self
            .exceptions
            .iter()
            .filter(|e| e.covers(kind, major, minor));
        if self.default_allow {
            !covering.any(|e| e.access.intersects(access))
        } else {
            covering.any(|e| access.is_subset_of(e.access))
        }
    }

    pub fn default_allow(&self) -> bool {
        self.default_allow
    }

    /// The exceptions, oldest first.
    pub fn exceptions(&self) -> &[Exception] {
        &self.exceptions
    }
}

#[cfg(test)]
mod tests {
    use super::super::container_rules;
    use super::*;

    const C: DeviceKind = DeviceKind::Char;
    const B: DeviceKind = DeviceKind::Block;

    fn rule(
        allow: bool,
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: Access::parse(access).expect("access"),
        }
    }

    #[test]
    fn a_container_may_use_the_default_devices_and_mknod_anything_but_open_no_disk() {
        let emulator = Emulator::from_rules(&container_rules(None).expect("rules"));
        assert!(!emulator.default_allow());
        let rw = Access::READ.union(Access::WRITE);
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 2),
            (136, 4),
            (10, 200),
        ] {
            assert!(emulator.allows(C, major, minor, rw), "c {major}:{minor}");
        }
        // Creating any node is allowed (as in Docker); opening a disk or /dev/mem is not.
        assert!(emulator.allows(B, 8, 0, Access::MKNOD));
        assert!(emulator.allows(C, 1, 1, Access::MKNOD));
        assert!(!emulator.allows(B, 8, 0, Access::READ));
        assert!(!emulator.allows(B, 254, 0, Access::WRITE));
        assert!(!emulator.allows(C, 1, 1, Access::READ));
        // An access that only one exception covers in part is refused.
        assert!(!emulator.allows(B, 8, 0, Access::MKNOD.union(Access::READ)));
    }

    #[test]
    fn the_wildcard_rule_resets_everything_before_it() {
        let emulator = Emulator::from_rules(&[
            rule(true, C, Some(1), Some(3), "rwm"),
            rule(false, DeviceKind::All, None, None, "rwm"),
            rule(true, C, Some(1), Some(5), "r"),
        ]);
        assert!(!emulator.allows(C, 1, 3, Access::READ));
        assert!(emulator.allows(C, 1, 5, Access::READ));
        assert!(!emulator.allows(C, 1, 5, Access::WRITE));
    }

    #[test]
    fn agreeing_rules_take_accesses_away_from_the_same_pattern_only() {
        let mut emulator = Emulator::from_rules(&[
            rule(false, DeviceKind::All, None, None, "rwm"),
            rule(true, C, None, None, "m"),
            rule(true, C, Some(4), None, "rw"),
        ]);
        emulator.apply(&rule(false, C, Some(4), None, "w"));
        assert_eq!(emulator.exceptions()[1].access, Access::READ);
        // A deny of one tty does not punch a hole in the c 4:* exception (v1 keeps it).
        emulator.apply(&rule(false, C, Some(4), Some(1), "r"));
        assert!(emulator.allows(C, 4, 1, Access::READ));
        emulator.apply(&rule(false, C, Some(4), None, "r"));
        assert_eq!(
            emulator.exceptions().len(),
            1,
            "an exception without accesses goes"
        );
        assert!(!emulator.allows(C, 4, 1, Access::READ));
    }

    #[test]
    fn with_an_allow_default_a_partial_overlap_denies() {
        let emulator = Emulator::from_rules(&[
            rule(true, DeviceKind::All, None, None, "rwm"),
            rule(false, B, Some(8), None, "w"),
            rule(false, B, Some(8), None, "m"),
        ]);
        assert!(emulator.allows(B, 8, 1, Access::READ));
        assert!(!emulator.allows(B, 8, 1, Access::READ.union(Access::WRITE)));
        assert!(!emulator.allows(B, 8, 1, Access::MKNOD));
        assert!(emulator.allows(C, 8, 1, Access::WRITE), "another type");
        assert_eq!(
            emulator.exceptions()[0].access,
            Access::parse("wm").expect("wm")
        );
    }
}
