//! Images: the content-addressed blob store, layers (unpacked on first use), image records and tags,
//! archive formats (docker-archive, OCI layout) and the offline image cache.

pub mod blobs;
pub mod cache;
pub mod changes;
pub mod config;
pub mod digest;
pub mod import;
pub mod index;
pub mod ingest;
pub mod inspect;
pub mod layers;
pub mod load;
pub mod pack;
pub mod reference;
pub mod save;
pub mod store;
pub mod unpack;
pub mod unpacked;

pub use digest::Digest;
pub use reference::{Reference, TaggedRef};
pub use store::{Image, ImageError, ImageStore};
