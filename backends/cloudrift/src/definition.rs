//! The CloudRift backend's definition: dstack's credential check (`auth/me` must name the
//! account's email; any failure is "Invalid credentials" on `creds.api_key`), the stored
//! config as given, and the compute.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_catalog::Catalog;
use dstack_core::BackendError;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::CloudRiftBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;

use crate::client::{DEFAULT_API_URL, RiftClient};
use crate::compute::CloudRiftCompute;

/// What the CloudRift backend implements of dstack's feature matrix (dstack's
/// `CloudRiftCompute`: instances, privileged containers, instance volumes).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    ..Capabilities::OFFERS_ONLY
};

/// The CloudRift backend.
#[derive(Debug, Clone)]
pub struct CloudRift {
    base_url: String,
    http: HttpSettings,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
}

impl CloudRift {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Cloudrift, DEFAULT_API_URL),
            http: context.http,
            catalog: context.catalog.clone(),
            agent: context.agent.clone(),
        }
    }

    fn client(&self, config: &CloudRiftBackendConfig) -> RiftClient {
        RiftClient::new(&self.base_url, &config.creds.api_key, &self.http)
    }
}

#[async_trait]
impl BackendDefinition for CloudRift {
    type Config = CloudRiftBackendConfig;
    type Compute = CloudRiftCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Cloudrift
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// As dstack's `validate_api_key`: the key is valid when `auth/me` answers with an
    /// `email`; a refusal, an error or an unreachable API all mean it is not.
    async fn check_credentials(
        &self,
        config: &CloudRiftBackendConfig,
        _: &ValidationContext,
    ) -> Result<()> {
        match self.client(config).has_email().await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::warn!("CloudRift auth/me named no email");
                Err(BackendError::invalid_credentials(&[&["creds", "api_key"]], None))
            }
            Err(err) => {
                tracing::warn!("Error validating the CloudRift API key: {err}");
                Err(BackendError::invalid_credentials(&[&["creds", "api_key"]], None))
            }
        }
    }

    async fn compute(&self, config: CloudRiftBackendConfig) -> Result<CloudRiftCompute> {
        let client = self.client(&config);
        Ok(CloudRiftCompute::new(client, config.regions, self.catalog.clone(), self.agent.clone()))
    }
}
