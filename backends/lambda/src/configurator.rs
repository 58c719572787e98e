//! Configuring Lambda: one credential check, then the stored record.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_catalog::Catalog;
use dstack_core::backend::ComputeBackend;
use dstack_core::backend::{Capabilities, ValidationContext};
use dstack_core::config::backends::LambdaBackendConfig;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::error::Result;
use dstack_core::{Backend, BackendError, BackendRecord, Configurator, ErrorKind};

use crate::client::{DEFAULT_API_URL, LambdaClient};
use crate::compute::LambdaCompute;

/// The Lambda configurator.
#[derive(Debug, Clone)]
pub struct LambdaConfigurator {
    base_url: String,
    catalog: Arc<Catalog>,
}

impl LambdaConfigurator {
    /// Uses `$DSTACK_LAMBDA_API_URL` when set, else Lambda's API.
    pub fn from_env(catalog: Arc<Catalog>) -> Self {
        let base_url = std::env::var("DSTACK_LAMBDA_API_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        Self { base_url, catalog }
    }

    pub fn with_base_url(base_url: impl Into<String>, catalog: Arc<Catalog>) -> Self {
        Self { base_url: base_url.into(), catalog }
    }

    fn lambda_config(config: &BackendConfigWithCreds) -> Result<&LambdaBackendConfig> {
        match config {
            BackendConfigWithCreds::Lambda(c) => Ok(c),
            other => Err(BackendError::new(
                ErrorKind::InvalidConfig,
                format!("the Lambda configurator got a `{}` config", other.tag()),
            )),
        }
    }
}

#[async_trait]
impl Configurator for LambdaConfigurator {
    fn backend_type(&self) -> BackendType {
        BackendType::Lambda
    }

    fn capabilities(&self) -> Capabilities {
        LambdaCompute::CAPABILITIES
    }

    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        _context: &ValidationContext,
    ) -> Result<()> {
        let config = Self::lambda_config(config)?;
        let client = LambdaClient::new(&self.base_url, config.creds.api_key.clone());
        client.instance_types().await.map(|_| ())
    }

    async fn create_backend(
        &self,
        _project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord> {
        Self::lambda_config(&config)?;
        BackendRecord::split(&config)
    }

    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds> {
        record.join()
    }

    async fn backend(&self, record: &BackendRecord) -> Result<Arc<dyn Backend>> {
        let config = self.config_with_creds(record)?;
        let config = Self::lambda_config(&config)?.clone();
        let client = LambdaClient::new(&self.base_url, config.creds.api_key.clone());
        Ok(Arc::new(ComputeBackend::new(LambdaCompute::new(
            client,
            config.regions,
            self.catalog.clone(),
        ))))
    }
}
