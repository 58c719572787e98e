//! The JarvisLabs backend (`type: jarvislabs`).
#![doc = include_str!("../README.md")]

mod api;
mod client;
mod compute;
mod definition;
mod instance;
mod provider;

pub use api::{CpuVm, GpuVm};
pub use client::{DEFAULT_API_URL, Hosts, JarvisLabsClient, REGION_URLS};
pub use compute::JarvisLabsCompute;
pub use definition::{CAPABILITIES, JarvisLabs};
pub use instance::{SETUP_COMMANDS, VPC_REGIONS, setup_command};
pub use provider::{JarvisLabsProvider, PROVIDER, server_meta_items};

/// Registers the JarvisLabs backend: its API at the context's endpoint for `jarvislabs`
/// (every region's host derived from it), or JarvisLabs' own hosts; new instances are
/// reached over SSH with the context's settings and run the context's agent.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(JarvisLabs::new(context));
}
