//! The AWS backend (`type: aws`), on the official AWS SDK for Rust.
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod error;
pub mod images;
pub mod network;
mod placement;
pub mod security;
mod tags;

pub use compute::AwsCompute;
pub use definition::{Aws, CAPABILITIES};

/// Registers the AWS backend; its offers come from the context's catalog. The SDK honours
/// `AWS_ENDPOINT_URL` (an emulator such as moto, or a proxy); the context's endpoint for
/// `aws` does the same for code that embeds the crate.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Aws::new(context));
}
