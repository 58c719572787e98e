//! The Lambda backend's definition: dstack's credential check, and a compute that launches
//! instances and starts dstack's shim on them over SSH.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_catalog::Catalog;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::LambdaBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::ssh::SshSettings;

use crate::client::{DEFAULT_API_URL, capacity, client};
use crate::compute::LambdaCompute;

/// What the Lambda backend implements of dstack's feature matrix (dstack's mixins: create
/// instance, privileged, instance volumes).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    ..Capabilities::OFFERS_ONLY
};

/// The Lambda backend.
#[derive(Debug, Clone)]
pub struct Lambda {
    base_url: String,
    http: HttpSettings,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    ssh: SshSettings,
}

impl Lambda {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Lambda, DEFAULT_API_URL),
            http: context.http,
            catalog: context.catalog.clone(),
            agent: context.agent.clone(),
            ssh: context.ssh.clone(),
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

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        capacity(&client(&self.base_url, &config.creds.api_key, &self.http)).await.map(drop)
    }

    async fn compute(&self, config: Self::Config) -> Result<LambdaCompute> {
        let client = client(&self.base_url, &config.creds.api_key, &self.http);
        Ok(LambdaCompute::new(
            client,
            config.regions,
            self.catalog.clone(),
            self.agent.clone(),
            self.ssh.clone(),
        ))
    }
}
