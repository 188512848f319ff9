//! Device nodes in the container's `/dev`: Docker's defaults (null, zero, full, random,
//! urandom, tty), the spec's `linux.devices`, and the standard symlinks (`/dev/fd`,
//! `/dev/std{in,out,err}`, `/dev/ptmx -> pts/ptmx`, `/dev/core`).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};

use super::error::RuntimeError;
use super::in_root::{Kind, RootDir, Symlinks};
use super::sync::{ChildFailure, StepContext};

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Docker's default character devices, all `crw-rw-rw-` root:root.
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The `/dev` the container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePlan {
    /// `/dev` is a fresh filesystem of ours (not a bind mount): fill in the defaults and links.
    pub populate_dev: bool,
    pub devices: Vec<Device>,
    /// `/proc/kcore` exists on this kernel, so `/dev/core` may point at it.
    pub kcore: bool,
}

impl DevicePlan {
    pub fn from_spec(spec: &Spec) -> Result<Self, RuntimeError> {
        let populate_dev = spec.mounts().iter().flatten().any(|m| {
            m.destination() == Path::new("/dev")
                && m.typ().as_deref() != Some("bind")
                && !m
                    .options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind")
        });
        let mut devices: Vec<Device> = Vec::new();
        if populate_dev {
            devices.extend(DEFAULT_DEVICES.iter().map(|&(path, major, minor)| Device {
                path: path.into(),
                kind: SFlag::S_IFCHR,
                major,
                minor,
                mode: 0o666,
                uid: Some(0),
                gid: Some(0),
            }));
        }
        let spec_devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
        for device in spec_devices.into_iter().flatten() {
            let device = convert(device)?;
            devices.retain(|d| d.path != device.path);
            devices.push(device);
        }
        Ok(Self {
            populate_dev,
            devices,
            kcore: Path::new("/proc/kcore").exists(),
        })
    }
}

fn convert(device: &LinuxDevice) -> Result<Device, RuntimeError> {
    let kind = match device.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RuntimeError::InvalidSpec(format!(
                "device {} has type \"a\", which only device cgroup rules may use",
                device.path().display()
            )))
        }
    };
    if !device.path().starts_with("/dev") {
        return Err(RuntimeError::InvalidSpec(format!(
            "device {} is outside /dev",
            device.path().display()
        )));
    }
    let number = |n: i64, what: &str| {
        u64::try_from(n).map_err(|_| {
            RuntimeError::InvalidSpec(format!(
                "device {}: bad {what} {n}",
                device.path().display()
            ))
        })
    };
    Ok(Device {
        path: device.path().clone(),
        kind,
        major: number(device.major(), "major")?,
        minor: number(device.minor(), "minor")?,
        mode: device.file_mode().unwrap_or(0o666) & 0o7777,
        uid: device.uid(),
        gid: device.gid(),
    })
}

/// Create the device nodes and `/dev` symlinks, before `pivot_root`.
pub fn create(root: &RootDir, plan: &DevicePlan) -> Result<(), ChildFailure> {
    for device in &plan.devices {
        make_node(root, device)?;
    }
    if !plan.populate_dev {
        return Ok(());
    }
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ];
    if plan.kcore {
        links.push(("/proc/kcore", "core"));
    }
    let dev = root
        .open_path(Path::new("/dev"), Symlinks::Refuse)
        .step(|| "opening /dev in the rootfs".into())?;
    for (target, name) in links {
        match symlinkat(target, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).step(|| format!("creating symlink /dev/{name}")),
        }
    }
    Ok(())
}

fn make_node(root: &RootDir, device: &Device) -> Result<(), ChildFailure> {
    let what = || format!("creating device {}", device.path.display());
    let (Some(parent), Some(name)) = (device.path.parent(), device.path.file_name()) else {
        return Err(ChildFailure::Setup {
            step: what(),
            message: "not a file path".into(),
        });
    };
    let dir = root
        .create(parent, Kind::Directory, Symlinks::Refuse)
        .step(what)?;
    match mknodat(
        Some(dir.as_raw_fd()),
        name,
        device.kind,
        Mode::from_bits_truncate(device.mode),
        makedev(device.major, device.minor),
    ) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e).step(what),
    }
    if device.uid.is_some() || device.gid.is_some() {
        fchownat(
            Some(dir.as_raw_fd()),
            name,
            device.uid.map(Uid::from_raw),
            device.gid.map(Gid::from_raw),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .step(what)?;
    }
    Ok(())
}
