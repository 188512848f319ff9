//! Images: the content-addressed blob store, unpacked layers, image records and tags,
//! archive formats (docker-archive, OCI layout) and the offline image cache.

pub mod pack;
pub mod unpack;
