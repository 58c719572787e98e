//! The Hot Aisle backend (`type: hotaisle`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod provider;

pub use client::{DEFAULT_API_URL, HotAisleClient};
pub use compute::{HotAisleCompute, InstanceData, SUPPORTED_GPUS, USER};
pub use definition::{CAPABILITIES, HotAisle, NO_FORCE_RELEASE_VAR, no_force_release};
pub use provider::{FLAG_BARE_METAL, HotAisleProvider, LOCATION, PROVIDER};

/// Registers the Hot Aisle backend: its API at the context's endpoint for `hotaisle`, or
/// Hot Aisle's; new instances run the context's agent, started over the context's SSH
/// settings; dstack's `DSTACK_FF_HOTAISLE_BARE_METAL_NO_FORCE_RELEASE` is read now.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(HotAisle::new(context));
}
