//! The DigitalOcean (`type: digitalocean`) and AMD Developer Cloud (`type: amddevcloud`)
//! backends: one API, two hosts.
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod images;
mod sizes;

pub use client::{AMDDEVCLOUD_API_URL, DIGITALOCEAN_API_URL};
pub use compute::DigitalOceanCompute;
pub use definition::{CAPABILITIES, DigitalOcean};
pub use images::{DOCKER_INSTALL_COMMANDS, Image};
pub use sizes::{DigitalOceanProvider, PROVIDER};

use dstack_core::config::BackendType;

/// Registers both backends: `digitalocean` at the context's endpoint for it or
/// [`DIGITALOCEAN_API_URL`], and `amddevcloud` at its own or [`AMDDEVCLOUD_API_URL`].
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(DigitalOcean::new(BackendType::Digitalocean, context));
    registry.register(DigitalOcean::new(BackendType::Amddevcloud, context));
}
