//! The layer byte stream: gzip is recognised by its magic bytes and decompressed on the fly,
//! other compressions are refused by name, anything else is read as a plain tar.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

use super::UnpackError;

/// The decompressed byte stream, after a look at the first bytes.
pub(super) enum Input<R: Read> {
    Plain(io::Chain<io::Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>>),
}

impl<R: Read> Input<R> {
    pub(super) fn sniff(mut reader: R) -> Result<Self, UnpackError> {
        let mut magic = Vec::with_capacity(6);
        (&mut reader)
            .take(6)
            .read_to_end(&mut magic)
            .map_err(|source| UnpackError::Archive {
                after: None,
                source,
            })?;
        let unsupported = |compression| Err(UnpackError::UnsupportedCompression { compression });
        if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return unsupported("zstd");
        }
        if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            return unsupported("xz");
        }
        if magic.starts_with(b"BZh") {
            return unsupported("bzip2");
        }
        let gzip = magic.starts_with(&[0x1f, 0x8b]);
        let stream = io::Cursor::new(magic).chain(reader);
        Ok(if gzip {
            Input::Gzip(Box::new(MultiGzDecoder::new(stream)))
        } else {
            Input::Plain(stream)
        })
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Gzip(r) => r.read(buf),
        }
    }
}
