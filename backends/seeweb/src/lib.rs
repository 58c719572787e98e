//! The Seeweb Cloud Server GPU backend (`type: seeweb`).
#![doc = include_str!("../README.md")]

mod api;
mod cache;
mod client;
mod compute;
mod definition;
mod provider;
mod script;

pub use api::PlanAvailability;
pub use cache::CachedByKey;
pub use client::{DEFAULT_API_URL, SeewebClient};
pub use compute::SeewebCompute;
pub use definition::{CAPABILITIES, Seeweb};
pub use provider::{PROVIDER, SeewebProvider};

/// Registers the Seeweb backend: its API at the context's endpoint for `seeweb`, or
/// Seeweb's; new instances run the context's agent.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Seeweb::new(context));
}
