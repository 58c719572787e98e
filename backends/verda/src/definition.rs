//! The Verda backend's definition, for `verda` and its deprecated alias `datacrunch`: the
//! OAuth token request as the credential check, and the compute.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_catalog::Catalog;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::VerdaBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::{BackendError, ErrorKind};

use crate::compute::VerdaCompute;
use crate::session::{DEFAULT_API_URL, Session};

/// What the Verda backend implements of dstack's feature matrix.
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    ..Capabilities::OFFERS_ONLY
};

/// The Verda backend, as one of its two types.
#[derive(Debug, Clone)]
pub struct Verda {
    backend_type: BackendType,
    base_url: String,
    http: HttpSettings,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
}

impl Verda {
    /// The backend for `backend_type` (`Verda` or `Datacrunch`). Both talk to Verda's API:
    /// its endpoint override, or for `datacrunch` without one of its own, `verda`'s.
    pub fn new(context: &BackendContext, backend_type: BackendType) -> Self {
        let base_url = match context.endpoints.get(backend_type) {
            None if backend_type == BackendType::Datacrunch => {
                context.endpoint(BackendType::Verda, DEFAULT_API_URL)
            }
            _ => context.endpoint(backend_type, DEFAULT_API_URL),
        };
        Self {
            backend_type,
            base_url,
            http: context.http,
            catalog: context.catalog.clone(),
            agent: context.agent.clone(),
        }
    }

    fn session(&self, config: &VerdaBackendConfig) -> Session {
        let creds = &config.creds;
        Session::new(
            self.backend_type,
            &self.base_url,
            &creds.client_id,
            &creds.client_secret,
            &self.http,
        )
    }
}

#[async_trait]
impl BackendDefinition for Verda {
    type Config = VerdaBackendConfig;
    type Compute = VerdaCompute;

    fn backend_type(&self) -> BackendType {
        self.backend_type
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// dstack builds a `VerdaClient`, which requests a token: Verda's `unauthorized_request`
    /// is dstack's "Invalid credentials" on `creds.api_key`; other failures are reported as
    /// they are.
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        let creds = &config.creds;
        if creds.client_id.is_empty() || creds.client_secret.is_empty() {
            // The SDK refuses these before any request.
            return Err(BackendError::new(
                ErrorKind::InvalidConfig,
                "client_id and client_secret must be provided",
            ));
        }
        self.session(config).authenticate().await
    }

    async fn compute(&self, config: Self::Config) -> Result<VerdaCompute> {
        let session = self.session(&config);
        Ok(VerdaCompute::new(
            self.backend_type,
            session,
            config.regions,
            self.catalog.clone(),
            self.agent.clone(),
        ))
    }
}
