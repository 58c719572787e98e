//! The Lambda Cloud backend (`type: lambda`). See README.md for what it supports.

mod client;
mod compute;
mod configurator;
mod error;

use std::sync::Arc;

pub use client::{DEFAULT_API_URL, LambdaClient};
pub use configurator::LambdaConfigurator;

/// Registers the Lambda configurator (API at `$DSTACK_LAMBDA_API_URL`, or Lambda's); its
/// offers come from `catalog`.
pub fn register(registry: &mut dstack_core::Registry, catalog: Arc<dstack_catalog::Catalog>) {
    registry.register(Arc::new(LambdaConfigurator::from_env(catalog)));
}
