//! The Lambda backend's definition: a credential check, and offers.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_catalog::Catalog;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::LambdaBackendConfig;
use dstack_core::error::Result;

use crate::client::{DEFAULT_API_URL, capacity, client};
use crate::compute::LambdaCompute;

/// The Lambda backend.
#[derive(Debug, Clone)]
pub struct Lambda {
    base_url: String,
    http: HttpSettings,
    catalog: Arc<Catalog>,
}

impl Lambda {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Lambda, DEFAULT_API_URL),
            http: context.http,
            catalog: context.catalog.clone(),
        }
    }
}

#[async_trait]
impl BackendDefinition for Lambda {
    type Config = LambdaBackendConfig;
    type Compute = LambdaCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Lambda
    }

    /// Offers only: creating instances needs the agent started over SSH (not yet).
    fn capabilities(&self) -> Capabilities {
        Capabilities::OFFERS_ONLY
    }

    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        capacity(&client(&self.base_url, &config.creds.api_key, &self.http)).await.map(drop)
    }

    async fn compute(&self, config: Self::Config) -> Result<LambdaCompute> {
        let client = client(&self.base_url, &config.creds.api_key, &self.http);
        Ok(LambdaCompute::new(client, config.regions, self.catalog.clone()))
    }
}
