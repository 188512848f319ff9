//! What one archive entry asks for, read from its headers: where it goes (a normalised path
//! beneath the layer), what it makes, and the metadata to give it. Nothing here touches the
//! file system.

use std::io::{self, Read};

use rustix::fs::{self as rfs, Dev, FileType, Gid, Timespec, Uid};

use super::{UnpackError, MAX_PATH_LEN, OVERLAY_XATTR_PREFIX, PAX_SPARSE_PREFIX, PAX_XATTR_PREFIX};

/// Where an entry goes: the layer directory itself, or a path beneath it.
pub(super) enum Target {
    Root,
    /// Components, none empty, `.` or `..`, none containing `/` or NUL.
    Beneath(Vec<Vec<u8>>),
}

impl Target {
    /// Normalises an archive path: leading `/` and `.` / empty components dropped, `..` refused.
    pub(super) fn parse(raw: &[u8]) -> Result<Target, PathProblem> {
        if raw.is_empty() {
            return Err(PathProblem::Empty);
        }
        if raw.len() > MAX_PATH_LEN {
            return Err(PathProblem::TooLong);
        }
        if raw.contains(&0) {
            return Err(PathProblem::Nul);
        }
        let mut components = Vec::new();
        for component in raw.split(|&b| b == b'/') {
            match component {
                b"" | b"." => {}
                b".." => return Err(PathProblem::Traversal),
                name => components.push(name.to_vec()),
            }
        }
        Ok(if components.is_empty() {
            Target::Root
        } else {
            Target::Beneath(components)
        })
    }
}

pub(super) enum PathProblem {
    Empty,
    TooLong,
    Nul,
    Traversal,
}

/// What an entry creates.
pub(super) enum Kind {
    Directory,
    Regular,
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
    /// Character device, block device or fifo.
    Node(FileType, Dev),
    /// Carries nothing for the file system (PAX global header).
    Nothing,
}

/// Ownership, permissions, times and extended attributes from an entry's headers.
#[derive(Clone)]
pub(super) struct Meta {
    /// Permission bits with setuid, setgid and sticky.
    pub(super) mode: u32,
    pub(super) uid: Uid,
    pub(super) gid: Gid,
    pub(super) mtime: Timespec,
    /// From `SCHILY.xattr.*` PAX records.
    pub(super) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

pub(super) fn entry_kind<R: Read>(
    entry: &tar::Entry<'_, R>,
    raw_path: &[u8],
    path: &str,
) -> Result<Kind, UnpackError> {
    use tar::EntryType as T;
    let header = entry.header();
    let link = || {
        entry
            .link_name_bytes()
            .filter(|l| !l.is_empty())
            .map(|l| l.into_owned())
            .ok_or_else(|| UnpackError::InvalidHeader {
                path: path.to_owned(),
                field: "link name",
                source: io::Error::new(io::ErrorKind::InvalidData, "missing"),
            })
    };
    let device = || -> Result<Dev, UnpackError> {
        let number = |field: &'static str, value: io::Result<Option<u32>>| {
            value
                .and_then(|v| {
                    v.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "missing"))
                })
                .map_err(|source| UnpackError::InvalidHeader {
                    path: path.to_owned(),
                    field,
                    source,
                })
        };
        let major = number("device major", header.device_major())?;
        let minor = number("device minor", header.device_minor())?;
        Ok(rfs::makedev(major, minor))
    };
    Ok(match header.entry_type() {
        // Pre-POSIX archives mark directories as regular files with a trailing slash.
        T::Regular if header.as_old().linkflag[0] == 0 && raw_path.ends_with(b"/") => {
            Kind::Directory
        }
        T::Regular => Kind::Regular,
        T::Directory => Kind::Directory,
        T::Symlink => Kind::Symlink(link()?),
        T::Link => Kind::Hardlink(link()?),
        T::Char => Kind::Node(FileType::CharacterDevice, device()?),
        T::Block => Kind::Node(FileType::BlockDevice, device()?),
        T::Fifo => Kind::Node(FileType::Fifo, 0),
        T::XGlobalHeader => Kind::Nothing,
        // GNU sparse ('S') above all: its header claims a size its data does not hold, and
        // Docker refuses it as any other type it does not know (contiguous '7' included).
        _ => {
            return Err(UnpackError::UnsupportedType {
                path: path.to_owned(),
                flag: header.as_old().linkflag[0],
            })
        }
    })
}

pub(super) fn read_meta<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &str,
) -> Result<Meta, UnpackError> {
    let invalid = |field: &'static str| {
        move |source: io::Error| UnpackError::InvalidHeader {
            path: path.to_owned(),
            field,
            source,
        }
    };
    let mut pax_mtime = None;
    let mut xattrs = Vec::new();
    if let Some(records) = entry.pax_extensions().map_err(invalid("PAX"))? {
        for record in records {
            let record = record.map_err(invalid("PAX"))?;
            let key = record.key_bytes();
            if key.starts_with(PAX_SPARSE_PREFIX) {
                return Err(UnpackError::SparsePax {
                    path: path.to_owned(),
                });
            }
            if key == b"mtime" {
                pax_mtime =
                    Some(parse_pax_time(record.value_bytes()).map_err(invalid("PAX mtime"))?);
            } else if let Some(xattr) = key.strip_prefix(PAX_XATTR_PREFIX) {
                if !xattr.starts_with(OVERLAY_XATTR_PREFIX) {
                    xattrs.push((xattr.to_vec(), record.value_bytes().to_vec()));
                }
            }
        }
    }
    let header = entry.header();
    let old = header.as_old();
    let mtime = match pax_mtime {
        Some(t) => t,
        None => {
            let secs = or_zero(&old.mtime, header.mtime()).map_err(invalid("mtime"))?;
            Timespec {
                tv_sec: i64::try_from(secs)
                    .map_err(|e| invalid("mtime")(io::Error::new(io::ErrorKind::InvalidData, e)))?,
                tv_nsec: 0,
            }
        }
    };
    let id = |field: &'static str, value: io::Result<u64>| {
        value
            .and_then(|v| {
                u32::try_from(v)
                    .ok()
                    .filter(|&v| v != u32::MAX)
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("{v} is out of range"))
                    })
            })
            .map_err(invalid(field))
    };
    Ok(Meta {
        mode: or_zero(&old.mode, header.mode().map(u64::from)).map_err(invalid("mode"))? as u32
            & 0o7777,
        uid: Uid::from_raw(id("uid", or_zero(&old.uid, header.uid()))?),
        gid: Gid::from_raw(id("gid", or_zero(&old.gid, header.gid()))?),
        mtime,
        xattrs,
    })
}

/// A numeric header field left empty (all NUL or spaces) reads as 0, as in Go's archive/tar
/// (some writers leave fields they do not use empty).
fn or_zero(raw: &[u8], parsed: io::Result<u64>) -> io::Result<u64> {
    if raw.iter().all(|&b| b == 0 || b == b' ') {
        Ok(0)
    } else {
        parsed
    }
}

/// Parses a PAX time, `[-]seconds[.fraction]`.
fn parse_pax_time(value: &[u8]) -> io::Result<Timespec> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{:?}", String::from_utf8_lossy(value)),
        )
    };
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let mut nanos: i64 = 0;
    for (i, digit) in fraction.bytes().take(9).enumerate() {
        nanos += i64::from(digit - b'0') * 10i64.pow(8 - i as u32);
    }
    Ok(match (negative, nanos) {
        (false, _) => Timespec {
            tv_sec: secs,
            tv_nsec: nanos,
        },
        (true, 0) => Timespec {
            tv_sec: -secs,
            tv_nsec: 0,
        },
        (true, _) => Timespec {
            tv_sec: -secs - 1,
            tv_nsec: 1_000_000_000 - nanos,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_are_made_relative_and_may_not_climb() {
        let parts = |raw: &[u8]| match Target::parse(raw) {
            Ok(Target::Beneath(c)) => Some(c),
            _ => None,
        };
        assert_eq!(
            parts(b"/etc//passwd"),
            Some(vec![b"etc".to_vec(), b"passwd".to_vec()])
        );
        assert_eq!(parts(b"./bin/"), Some(vec![b"bin".to_vec()]));
        assert!(matches!(Target::parse(b"./"), Ok(Target::Root)));
        assert!(matches!(
            Target::parse(b"a/../b"),
            Err(PathProblem::Traversal)
        ));
        assert!(matches!(Target::parse(b""), Err(PathProblem::Empty)));
    }

    #[test]
    fn pax_times_allow_fractions_and_signs() {
        let t = parse_pax_time(b"1700000000.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 250_000_000));
        let t = parse_pax_time(b"-1.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 500_000_000));
        assert!(parse_pax_time(b"12x").is_err());
        assert!(parse_pax_time(b"").is_err());
    }
}
