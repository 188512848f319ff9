//! Writing a directory tree as a deterministic layer tarball.
