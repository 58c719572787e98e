//! The core of the dstack server in Rust: `config.yml` models and their loader, the traits
//! every backend implements, the offer and instance model, and the error type.
//!
//! This crate does no network I/O and knows no cloud SDK or HTTP framework; backends and the
//! server build on it.

pub mod config;
pub mod secret;
pub mod yaml;

pub use secret::Secret;
pub mod backend;
pub mod container;
pub mod error;
pub mod fleets;
pub mod offers;
pub mod placement;
pub mod provisioning;
pub mod resources;
pub mod shell;
pub mod ssh;

pub use backend::{
    BackendDefinition, BackendRecord, Capabilities, Compute, Configurator, Registry, SshKeyPair,
};
pub use error::{BackendError, ErrorKind};
