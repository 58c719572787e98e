//! The Vultr backend's definition: dstack's credential check (`GET /ssh-keys`), the stored
//! config (`regions: []` when omitted, as dstack stores it), and the compute.

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::VultrBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;

use crate::client::{DEFAULT_API_URL, check_key, client};
use crate::compute::VultrCompute;

/// What the Vultr backend implements of dstack's feature matrix (all of dstack's row).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    multinode: true,
    ..Capabilities::OFFERS_ONLY
};

/// The Vultr backend.
#[derive(Debug, Clone)]
pub struct Vultr {
    base_url: String,
    http: HttpSettings,
    agent: AgentSettings,
}

impl Vultr {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Vultr, DEFAULT_API_URL),
            http: context.http,
            agent: context.agent.clone(),
        }
    }
}

#[async_trait]
impl BackendDefinition for Vultr {
    type Config = VultrBackendConfig;
    type Compute = VultrCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Vultr
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// 401 and 403 are dstack's "Invalid credentials" on `creds.api_key`; other failures
    /// are reported as they are.
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        check_key(&client(&self.base_url, &config.creds.api_key, &self.http)).await
    }

    /// dstack stores `regions: []` (all regions) when none are given.
    fn prepare(&self, mut config: Self::Config) -> Self::Config {
        config.regions.get_or_insert_with(Vec::new);
        config
    }

    async fn compute(&self, config: Self::Config) -> Result<VultrCompute> {
        let with_key = !config.creds.api_key.is_empty();
        let client = client(&self.base_url, &config.creds.api_key, &self.http);
        Ok(VultrCompute::new(client, config.regions, with_key, self.agent.clone()))
    }
}
