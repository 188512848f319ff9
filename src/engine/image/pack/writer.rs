//! The tar format as written for layers: ustar headers, PAX extended headers where ustar
//! cannot hold a value, all laid out as GNU tar's `--format=posix` (and Python's tarfile) do,
//! so that equal trees give equal bytes and real layers can be reproduced exactly.

use std::fs::File;
use std::io::{self, Read, Write};

use super::{lossy, PackError};
use crate::engine::image::unpack::PAX_XATTR_PREFIX;

/// Tar entry types this writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    Regular,
    Link,
    Symlink,
    Char,
    Block,
    Directory,
    Fifo,
}

impl EntryKind {
    fn tar_type(self) -> tar::EntryType {
        match self {
            EntryKind::Regular => tar::EntryType::Regular,
            EntryKind::Link => tar::EntryType::Link,
            EntryKind::Symlink => tar::EntryType::Symlink,
            EntryKind::Char => tar::EntryType::Char,
            EntryKind::Block => tar::EntryType::Block,
            EntryKind::Directory => tar::EntryType::Directory,
            EntryKind::Fifo => tar::EntryType::Fifo,
        }
    }
}

/// One tar entry to write.
pub(super) struct Entry<'a> {
    /// Entry name; directories end in `/`.
    pub(super) name: Vec<u8>,
    pub(super) kind: EntryKind,
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
    pub(super) size: u64,
    /// Link target for hard and symbolic links.
    pub(super) link: Vec<u8>,
    pub(super) device: (u32, u32),
    pub(super) xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

/// PAX records as key and value.
type PaxRecords = Vec<(Vec<u8>, Vec<u8>)>;

const BLOCK: usize = 512;
/// GNU tar's default record: 20 blocks.
const RECORD: u64 = 20 * BLOCK as u64;
/// Largest value of an 8-byte octal header field (7 digits and a NUL).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal header field (11 digits and a NUL).
const MAX_OCTAL_12: u64 = 0o77777777777;
const NAME_LEN: usize = 100;
/// Offsets of the name, checksum and link name fields in a header block.
const NAME_FIELD: std::ops::Range<usize> = 0..100;
const CHECKSUM_FIELD: std::ops::Range<usize> = 148..156;
const LINK_FIELD: std::ops::Range<usize> = 157..257;

pub(super) struct TarWriter<W: Write> {
    out: W,
    /// Bytes written so far.
    written: u64,
}

impl<W: Write> TarWriter<W> {
    pub(super) fn new(out: W) -> Self {
        TarWriter { out, written: 0 }
    }

    /// Writes one entry; `data` is a regular file's content (exactly `entry.size` bytes).
    pub(super) fn write(
        &mut self,
        entry: &Entry<'_>,
        data: Option<(&mut File, &[u8])>,
    ) -> Result<(), PackError> {
        let (header, pax) = ustar_header(entry);
        if !pax.is_empty() {
            self.pax_header(&pax)?;
        }
        self.put(header.as_bytes())?;
        if let Some((file, path)) = data {
            let mut buf = vec![0; 64 * 1024];
            let mut left = entry.size;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = match file.read(&mut buf[..want]) {
                    Ok(0) => return Err(PackError::Changed { path: lossy(path) }),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(PackError::Read {
                            path: lossy(path),
                            op: "read",
                            source,
                        })
                    }
                };
                self.put(&buf[..n])?;
                left -= n as u64;
            }
            self.pad(entry.size)?;
        }
        Ok(())
    }

    /// A PAX extended header (`x`) carrying `records` for the entry that follows.
    fn pax_header(&mut self, records: &PaxRecords) -> Result<(), PackError> {
        let data: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        let mut header = tar::Header::new_ustar();
        set_bytes(&mut header, NAME_FIELD, PAX_HEADER_NAME);
        header.set_mode(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::XHeader);
        set_checksum(&mut header);
        self.put(header.as_bytes())?;
        self.put(&data)?;
        self.pad(data.len() as u64)
    }

    /// Zeros after `len` bytes of data, up to the next block.
    fn pad(&mut self, len: u64) -> Result<(), PackError> {
        let rest = (len % BLOCK as u64) as usize;
        if rest != 0 {
            self.put(&[0; BLOCK][rest..])?;
        }
        Ok(())
    }

    /// The end-of-archive marker (two zero blocks), zeros up to a whole 10 KiB record as GNU
    /// tar writes (so a Debian layer packs back to its exact bytes), then a flush.
    pub(super) fn finish(mut self) -> Result<(), PackError> {
        let end = self.written + 2 * BLOCK as u64;
        let total = end.div_ceil(RECORD) * RECORD;
        while self.written < total {
            let n = (total - self.written).min(BLOCK as u64) as usize;
            self.put(&[0; BLOCK][..n])?;
        }
        self.out.flush().map_err(PackError::Write)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        self.out.write_all(bytes).map_err(PackError::Write)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// The ustar header for `entry`, and the PAX records needed for what ustar cannot hold.
fn ustar_header(entry: &Entry<'_>) -> (tar::Header, PaxRecords) {
    let mut header = tar::Header::new_ustar();
    let mut pax = PaxRecords::new();
    // Long names and names that are not ASCII go into PAX records (where they are UTF-8);
    // like GNU tar's posix format, the ustar prefix field is not used.
    if entry.name.len() > NAME_LEN || !entry.name.is_ascii() {
        pax.push((b"path".to_vec(), entry.name.clone()));
        set_bytes(&mut header, NAME_FIELD, &ascii_stand_in(&entry.name));
    } else {
        set_bytes(&mut header, NAME_FIELD, &entry.name);
    }
    if entry.link.len() > NAME_LEN || !entry.link.is_ascii() {
        pax.push((b"linkpath".to_vec(), entry.link.clone()));
        set_bytes(&mut header, LINK_FIELD, &ascii_stand_in(&entry.link));
    } else {
        set_bytes(&mut header, LINK_FIELD, &entry.link);
    }
    header.set_mode(entry.mode);
    let mut number = |key: &[u8], value: u64, max: u64| -> u64 {
        if value > max {
            pax.push((key.to_vec(), value.to_string().into_bytes()));
            0
        } else {
            value
        }
    };
    header.set_uid(number(b"uid", entry.uid.into(), MAX_OCTAL_8));
    header.set_gid(number(b"gid", entry.gid.into(), MAX_OCTAL_8));
    header.set_size(number(b"size", entry.size, MAX_OCTAL_12));
    match u64::try_from(entry.mtime) {
        Ok(mtime) if mtime <= MAX_OCTAL_12 => header.set_mtime(mtime),
        _ => {
            pax.push((b"mtime".to_vec(), entry.mtime.to_string().into_bytes()));
            header.set_mtime(0);
        }
    }
    header.set_entry_type(entry.kind.tar_type());
    if matches!(entry.kind, EntryKind::Char | EntryKind::Block) {
        // Linux device numbers (12-bit major, 20-bit minor) always fit the 7 octal digits.
        let _ = header.set_device_major(entry.device.0);
        let _ = header.set_device_minor(entry.device.1);
    }
    for (key, value) in entry.xattrs {
        pax.push(([PAX_XATTR_PREFIX, key].concat(), value.clone()));
    }
    // `path` and `linkpath` first, as GNU tar writes them, then the rest by key.
    pax.sort_by(|(a, _), (b, _)| (pax_rank(a), a).cmp(&(pax_rank(b), b)));
    set_checksum(&mut header);
    (header, pax)
}

fn pax_rank(key: &[u8]) -> u8 {
    match key {
        b"path" => 0,
        b"linkpath" => 1,
        _ => 2,
    }
}

/// Sets the header checksum the way GNU tar and Go write it: six octal digits, NUL, space.
fn set_checksum(header: &mut tar::Header) {
    // The sum counts the checksum field as spaces, whatever it holds.
    header.set_cksum();
    let sum = header.cksum().unwrap_or(0);
    set_bytes(header, CHECKSUM_FIELD, format!("{sum:06o}\0 ").as_bytes());
}

fn set_bytes(header: &mut tar::Header, field: std::ops::Range<usize>, value: &[u8]) {
    let field = &mut header.as_mut_bytes()[field];
    field.fill(0);
    field[..value.len()].copy_from_slice(value);
}

/// What the ustar field holds when the real value is in a PAX record: as GNU tar writes it,
/// each non-ASCII character replaced by `?`, cut to the field's 100 bytes.
fn ascii_stand_in(value: &[u8]) -> Vec<u8> {
    let mut ascii: Vec<u8> = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
        .collect();
    ascii.truncate(NAME_LEN);
    ascii
}

/// The name GNU tar gives every PAX extended header.
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// One PAX record, `"<length> <key>=<value>\n"`, the length counting itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut len = base + base.to_string().len();
    while base + len.to_string().len() != len {
        len = base + len.to_string().len();
    }
    let mut record = format!("{len} ").into_bytes();
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record(b"path", b"a"), b"9 path=a\n");
        // 4 + 92 + 3 = 99 bytes besides the length: "101 " would make 102, so it is 102.
        let record = pax_record(b"path", &[b'x'; 92]);
        assert_eq!(record.len(), 102);
        assert!(record.starts_with(b"102 path=x"));
    }
}
