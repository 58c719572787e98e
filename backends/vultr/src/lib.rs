//! The Vultr backend (`type: vultr`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod launch;
mod plans;
mod provider;
mod supported;

pub use client::DEFAULT_API_URL;
pub use compute::VultrCompute;
pub use definition::{CAPABILITIES, Vultr};
pub use plans::{BARE_METAL_GPUS, VDM_GPUS};
pub use provider::VultrProvider;

/// Registers the Vultr backend: its API at the context's endpoint for `vultr`
/// (`DSTACK_VULTR_API_URL`), or Vultr's; the agent from the context's settings.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Vultr::new(context));
}
