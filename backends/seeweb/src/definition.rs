//! The Seeweb backend's definition: dstack's credential check (`GET /regions` with the token)
//! and a compute that creates VMs running dstack's shim.

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::SeewebBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;

use crate::client::{DEFAULT_API_URL, SeewebClient};
use crate::compute::SeewebCompute;

/// What the Seeweb backend implements of dstack's feature matrix (dstack's mixins: create
/// instance, privileged, instance volumes, multinode).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    multinode: true,
    ..Capabilities::OFFERS_ONLY
};

/// The Seeweb backend.
#[derive(Debug, Clone)]
pub struct Seeweb {
    base_url: String,
    http: HttpSettings,
    agent: AgentSettings,
}

impl Seeweb {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Seeweb, DEFAULT_API_URL),
            http: context.http,
            agent: context.agent.clone(),
        }
    }

    fn client(&self, config: &SeewebBackendConfig) -> SeewebClient {
        SeewebClient::new(&self.base_url, &config.creds.api_token, &self.http)
    }
}

#[async_trait]
impl BackendDefinition for Seeweb {
    type Config = SeewebBackendConfig;
    type Compute = SeewebCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Seeweb
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// A refused token (401 or 403) is "Invalid credentials" on `creds.api_token`; any other
    /// failure is reported as it is, as dstack reports it. Regions are not checked.
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        self.client(config).check_token().await
    }

    async fn compute(&self, config: Self::Config) -> Result<SeewebCompute> {
        let client = self.client(&config);
        Ok(SeewebCompute::new(config, client, self.agent.clone()))
    }
}
