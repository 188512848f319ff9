//! The container engine: images now; containers, volumes and networks as they land.

pub mod image;
