//! The AWS backend (`type: aws`) on the official AWS SDK for Rust. See README.md for what it
//! supports.

mod client;
mod compute;
mod configurator;
mod error;
pub mod images;
pub mod network;
pub mod security;
mod tags;

use std::sync::Arc;

pub use compute::AwsCompute;
pub use configurator::{AwsConfigurator, DEFAULT_REGIONS};

/// Registers the AWS configurator; its offers come from `catalog`. The SDK honours
/// `AWS_ENDPOINT_URL` (an emulator such as moto, or a proxy).
pub fn register(registry: &mut dstack_core::Registry, catalog: Arc<dstack_catalog::Catalog>) {
    registry.register(Arc::new(AwsConfigurator::new(catalog)));
}
