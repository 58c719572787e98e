//! The Lambda Cloud backend (`type: lambda`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod keys;

pub use client::DEFAULT_API_URL;
pub use compute::{LambdaCompute, SETUP};
pub use definition::{CAPABILITIES, Lambda};
pub use keys::key_name;

/// Registers the Lambda backend: its API at the context's endpoint for `lambda`, or
/// Lambda's; its offers from the context's catalog; instances reached with the context's
/// SSH settings.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Lambda::new(context));
}
