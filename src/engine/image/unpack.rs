//! Safe unpacking of untrusted layer tarballs into a layer directory.
//! (Placeholder signature until the hardened unpacker lands from the `unpack` branch.)

use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct UnpackOptions {
    pub allow_devices: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            allow_devices: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UnpackReport {
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    _opts: &UnpackOptions,
) -> Result<UnpackReport, UnpackError> {
    let mut a = tar::Archive::new(reader);
    a.set_preserve_permissions(true);
    a.unpack(dest)?;
    Ok(UnpackReport::default())
}
