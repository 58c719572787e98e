//! The CloudRift backend (`type: cloudrift`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod images;
mod ssh_port;

pub use client::{API_VERSION, DEFAULT_API_URL};
pub use compute::CloudRiftCompute;
pub use definition::{CAPABILITIES, CloudRift};

/// Registers the CloudRift backend: its API at the context's endpoint for `cloudrift`, or
/// CloudRift's; its offers from the context's catalog; the context's agent on its instances.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(CloudRift::new(context));
}
