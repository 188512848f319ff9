//! Containers: records and state, the store (and its damaged entries), the lifecycle and the
//! per-container monitor.

pub mod attach;
pub mod commit;
pub mod damaged;
pub mod exec;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod record;
pub mod seccomp;
pub mod spec;
pub mod store;

pub use damaged::Damaged;
pub use record::{ContainerConfig, ContainerId, State, Status};
pub use store::{Container, ContainerError, ContainerStore, Scan};
