//! Safe unpacking of untrusted layer tarballs into a layer directory.
