//! The container's capability sets: the spec's names as kernel bit numbers, dropping the
//! bounding set, and setting effective/permitted/inheritable (`capset`) and ambient sets.
//!
//! Order (as runc): drop the bounding set while still fully privileged, switch user with
//! `PR_SET_KEEPCAPS` so the permitted set survives, then `capset` and raise ambient caps.

use std::io;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// The five capability sets as bit masks (bit n = capability number n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilityPlan {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapabilityPlan {
    /// Absent sets are empty, as the OCI spec says.
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> Self {
        let mask = |set: Option<&Capabilities>| set.map_or(0, |s| s.iter().map(|c| bit(*c)).sum());
        match caps {
            None => Self::default(),
            Some(c) => Self {
                bounding: mask(c.bounding().as_ref()),
                effective: mask(c.effective().as_ref()),
                permitted: mask(c.permitted().as_ref()),
                inheritable: mask(c.inheritable().as_ref()),
                ambient: mask(c.ambient().as_ref()),
            },
        }
    }
}

/// Bit mask of one capability.
pub fn bit(cap: Capability) -> u64 {
    1u64 << number(cap)
}

/// The kernel's number for a capability (`linux/capability.h`).
pub fn number(cap: Capability) -> u32 {
    use Capability::*;
    match cap {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

/// The highest capability number the running kernel knows.
pub fn last_cap() -> io::Result<u32> {
    let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("cap_last_cap: {e}")))
}

/// Drop every capability outside `plan.bounding` from the bounding set.
pub fn drop_bounding(plan: &CapabilityPlan, last_cap: u32) -> io::Result<()> {
    for cap in 0..=last_cap.min(63) {
        if plan.bounding & (1 << cap) == 0 {
            prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)?;
        }
    }
    Ok(())
}

/// Keep (or stop keeping) the permitted set across a switch away from uid 0.
pub fn set_keep_caps(keep: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0)
}

/// Set the effective, permitted and inheritable sets, then the ambient set.
pub fn apply(plan: &CapabilityPlan, last_cap: u32) -> io::Result<()> {
    capset(plan)?;
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )?;
    for cap in 0..=last_cap.min(63) {
        if plan.ambient & (1 << cap) != 0 {
            prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
            )?;
        }
    }
    Ok(())
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn capset(plan: &CapabilityPlan) -> io::Result<()> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |mask: u64, high: bool| (if high { mask >> 32 } else { mask }) as u32;
    let data: [CapData; 2] = [false, true].map(|high| CapData {
        effective: half(plan.effective, high),
        permitted: half(plan.permitted, high),
        inheritable: half(plan.inheritable, high),
    });
    // SAFETY: version 3 of capset reads one header and two data structs, which we pass.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the capability prctls take integer arguments only.
    let rc = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::DEFAULT_CAPABILITIES;

    #[test]
    fn dockers_default_set_is_the_well_known_mask() {
        let mask: u64 = DEFAULT_CAPABILITIES.iter().map(|c| bit(*c)).sum();
        assert_eq!(format!("{mask:016x}"), "00000000a80425fb");
    }
}
