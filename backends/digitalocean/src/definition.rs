//! The DigitalOcean and AMD Developer Cloud backends' definition (dstack's
//! `BaseDigitalOceanConfigurator` and its two subclasses): one definition, registered for each
//! type with its own API.

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings, RestClient};
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::DigitalOceanBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::{BackendError, ErrorKind};

use crate::client::{self, AMDDEVCLOUD_API_URL, DIGITALOCEAN_API_URL};
use crate::compute::DigitalOceanCompute;

/// What the backends implement of dstack's feature matrix.
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    ..Capabilities::OFFERS_ONLY
};

/// The DigitalOcean backend, or the AMD Developer Cloud one: the same code at another API.
#[derive(Debug, Clone)]
pub struct DigitalOcean {
    backend: BackendType,
    base_url: String,
    http: HttpSettings,
    agent: AgentSettings,
}

impl DigitalOcean {
    /// `BackendType::Digitalocean` or `BackendType::Amddevcloud`, at the context's endpoint
    /// for that type or its documented API.
    pub fn new(backend: BackendType, context: &BackendContext) -> Self {
        let default = match backend {
            BackendType::Amddevcloud => AMDDEVCLOUD_API_URL,
            _ => DIGITALOCEAN_API_URL,
        };
        Self {
            backend,
            base_url: context.endpoint(backend, default),
            http: context.http,
            agent: context.agent.clone(),
        }
    }

    fn client(&self, config: &DigitalOceanBackendConfig) -> RestClient {
        client::client(self.backend, &self.base_url, &config.creds.api_key, &self.http)
    }
}

#[async_trait]
impl BackendDefinition for DigitalOcean {
    type Config = DigitalOceanBackendConfig;
    type Compute = DigitalOceanCompute;

    fn backend_type(&self) -> BackendType {
        self.backend
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// dstack's `_validate_creds`: `GET /v2/account` (a refused key is "Invaild API key", sic,
    /// on `creds.api_key`), then, with `project_name`, the project among `GET /v2/projects`.
    async fn check_credentials(
        &self,
        config: &DigitalOceanBackendConfig,
        _context: &ValidationContext,
    ) -> Result<()> {
        let client = self.client(config);
        if let Err(err) = client::account(&client).await {
            return Err(match err.kind() {
                ErrorKind::InvalidCredentials => BackendError::invalid_credentials(
                    &[&["creds", "api_key"]],
                    Some("Invaild API key"),
                )
                .for_backend(self.backend),
                _ => err,
            });
        }
        let Some(project) = config.project_name.as_deref().filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        match client::project_id(&client, project).await? {
            Some(_) => Ok(()),
            None => Err(BackendError::invalid_credentials(
                &[&["project_name"]],
                Some(&format!("Project with name '{project}' does not exist")),
            )
            .for_backend(self.backend)),
        }
    }

    async fn compute(&self, config: DigitalOceanBackendConfig) -> Result<DigitalOceanCompute> {
        let client = self.client(&config);
        Ok(DigitalOceanCompute::new(self.backend, config, client, self.agent.clone()))
    }
}
