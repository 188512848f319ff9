//! Bringing one layer tarball into the store: decompress if needed, hash it (the diff ID),
//! keep the uncompressed tar as a blob and prove it unpacks — a dry run of the unpacker that
//! refuses exactly what unpacking would refuse and measures the layer's size — all in one
//! pass over the data. The files themselves are unpacked when a container first needs them
//! (`super::unpacked`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;

use super::digest::{Digest, Hashing};
use super::layers::{chain_ids, LayerMeta};
use super::store::Transaction;
use super::unpack::{check_layer, UnpackOptions};
use crate::events::Event;

/// A reader that may be gzip-compressed; other compressions are refused by name.
pub fn maybe_decompress<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::with_capacity(1 << 20, reader);
    let head = buf.fill_buf().context("cannot read input")?;
    match head {
        [0x1f, 0x8b, ..] => Ok(Box::new(GzDecoder::new(buf))),
        [b'B', b'Z', b'h', ..] => {
            bail!("bzip2-compressed archives are not supported; use gzip or none")
        }
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => {
            bail!("xz-compressed archives are not supported; use gzip or none")
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => {
            bail!("zstd-compressed archives are not supported; use gzip or none")
        }
        _ => Ok(Box::new(buf)),
    }
}

/// Copies everything read through it into a writer.
struct Tee<R, W> {
    reader: R,
    writer: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.writer.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Ingest the layer tar read from `reader` as the layer above `parent` (a chain ID).
/// Returns the stored layer's metadata. When `expected` is given, the computed diff ID must
/// match it or nothing is stored.
pub fn ingest_layer(
    tx: &Transaction<'_>,
    reader: impl Read,
    parent: Option<&Digest>,
    expected: Option<&Digest>,
) -> Result<LayerMeta> {
    let staging = tx.staging()?;
    let blob_path = staging.path().join("layer.tar");
    let blob = File::create(&blob_path).context("cannot create staged layer blob")?;
    let mut tee = Tee {
        reader: Hashing::new(maybe_decompress(reader)?),
        writer: io::BufWriter::with_capacity(1 << 20, blob),
    };
    let size = check(&mut tee)?;
    let Tee { reader, writer } = tee;
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .context("cannot write staged layer blob")?;
    let (diff_id, _, _) = reader.finish();
    store_layer(tx, size, &blob_path, diff_id, parent, expected)
}

/// Ingest a layer tarball that already sits in a staging file (an extracted image archive):
/// an uncompressed one is hashed and checked in one read and then moved into the blob store
/// as is, without another copy.
pub fn ingest_layer_file(
    tx: &Transaction<'_>,
    path: &Path,
    parent: Option<&Digest>,
    expected: Option<&Digest>,
) -> Result<LayerMeta> {
    // The same tar may serve several layers of an archive; after the first it is a blob.
    if let Some(d) = expected.filter(|d| !path.exists() && tx.store().blobs().contains(d)) {
        let blob = open(&tx.store().blobs().path(d))?;
        return ingest_layer(tx, blob, parent, expected);
    }
    let mut file = open(path)?;
    let mut magic = [0u8; 6];
    let n = file.read(&mut magic).context("cannot read layer")?;
    let compressed = n >= 2 && magic[..2] == [0x1f, 0x8b]
        || n >= 3 && &magic[..3] == b"BZh"
        || n >= 6 && magic == [0xfd, b'7', b'z', b'X', b'Z', 0]
        || n >= 4 && magic[..4] == [0x28, 0xb5, 0x2f, 0xfd];
    let file = open(path)?;
    if compressed {
        return ingest_layer(tx, file, parent, expected);
    }
    let mut reader = Hashing::new(io::BufReader::with_capacity(1 << 20, file));
    let size = check(&mut reader)?;
    let (diff_id, _, _) = reader.finish();
    store_layer(tx, size, path, diff_id, parent, expected)
}

/// Dry-run the unpacking of `reader`, reading it to the end (the bytes after the
/// end-of-archive marker count for the digest too); returns the layer's size.
fn check(reader: &mut impl Read) -> Result<u64> {
    let checked =
        check_layer(&mut *reader, &UnpackOptions::default()).context("cannot unpack layer")?;
    io::copy(reader, &mut io::sink()).context("cannot read layer")?;
    Ok(checked.size)
}

/// Check the diff ID and record the layer, its tar moving into the blob store.
fn store_layer(
    tx: &Transaction<'_>,
    size: u64,
    blob_path: &Path,
    diff_id: Digest,
    parent: Option<&Digest>,
    expected: Option<&Digest>,
) -> Result<LayerMeta> {
    if let Some(exp) = expected {
        if *exp != diff_id {
            bail!("invalid diffID for layer: expected {exp}, got {diff_id}");
        }
    }
    let chain_id = match parent {
        None => diff_id.clone(),
        Some(p) => chain_ids(&[p.clone(), diff_id.clone()])[1].clone(),
    };
    let meta = LayerMeta {
        chain_id,
        diff_id: diff_id.clone(),
        parent: parent.cloned(),
        size,
    };
    tx.store().blobs().adopt(blob_path, &diff_id)?;
    tx.store().layers().record(&meta)?;
    tx.record(Event::LayerStored {
        chain_id: meta.chain_id.to_string(),
        diff_id: meta.diff_id.to_string(),
        blob: tx.store().blobs().path(&diff_id).display().to_string(),
        bytes: meta.size,
    });
    Ok(meta)
}

/// Whether the layer with this chain ID and its blob are already stored.
pub fn have_layer(tx: &Transaction<'_>, chain_id: &Digest, diff_id: &Digest) -> bool {
    tx.store().layers().contains(chain_id) && tx.store().blobs().contains(diff_id)
}

/// Open a file for ingesting, with the path in the error.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}
