//! The Lambda Cloud backend (`type: lambda`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;

pub use client::DEFAULT_API_URL;
pub use compute::LambdaCompute;
pub use definition::Lambda;

/// Registers the Lambda backend: its API at the context's endpoint for `lambda`, or
/// Lambda's; its offers from the context's catalog.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Lambda::new(context));
}
