//! The container engine: images, containers; volumes and networks as they land.

pub mod container;
pub mod image;
