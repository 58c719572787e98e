//! The typed definition a backend crate writes, and the one [`Configurator`] every definition
//! gets from it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BackendRecord, Capabilities, Compute, Configurator, ValidationContext};
use crate::config::backends::{BackendConfigModel, ConfigRules};
use crate::config::{BackendConfigWithCreds, BackendType};
use crate::error::{BackendError, ErrorKind, Result};

/// A backend, as its crate defines it. Implement this, register it with
/// [`super::Registry::register`], and the rest — the configurator, the stored record, the
/// views of the config, capability checks, timeouts and error context — is provided.
#[async_trait]
pub trait BackendDefinition: Send + Sync + std::fmt::Debug + 'static {
    /// The backend's config (with credentials): one of the structs of
    /// [`crate::config::backends`]. Its own rules ([`crate::config::backends::ConfigRules`])
    /// run between the two checks below.
    type Config: BackendConfigModel;

    /// The backend's compute.
    type Compute: Compute + 'static;

    /// The type this definition configures. One definition may serve two types (an alias
    /// such as `datacrunch` for `verda`), registered once for each.
    fn backend_type(&self) -> BackendType;

    /// What the backend can do; see [`Capabilities`].
    fn capabilities(&self) -> Capabilities;

    /// The credential check: one cheap call to the cloud. Runs first, as in dstack.
    async fn check_credentials(
        &self,
        config: &Self::Config,
        context: &ValidationContext,
    ) -> Result<()>;

    /// What else dstack checks with the cloud before it creates a backend (a VPC, an IAM
    /// profile). Runs after the credentials and the config's own rules.
    async fn check_resources(&self, config: &Self::Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// The config as it is stored: defaults filled in (such as the default regions).
    fn prepare(&self, config: Self::Config) -> Self::Config {
        config
    }

    /// Builds the compute of a stored config.
    async fn compute(&self, config: Self::Config) -> Result<Self::Compute>;
}

/// A [`BackendDefinition`] as a [`Configurator`].
#[derive(Debug)]
pub struct Defined<D>(pub D);

impl<D: BackendDefinition> Defined<D> {
    /// This backend's config out of the API union.
    fn typed<'c>(&self, config: &'c BackendConfigWithCreds) -> Result<&'c D::Config> {
        let expected = self.0.backend_type();
        if config.backend_type() != expected {
            return Err(BackendError::new(
                ErrorKind::InvalidConfig,
                format!("the `{expected}` backend got a `{}` config", config.tag()),
            ));
        }
        D::Config::from_union(config).ok_or_else(|| {
            BackendError::new(
                ErrorKind::Unexpected,
                format!("`{expected}` configs are not `{}`", std::any::type_name::<D::Config>()),
            )
        })
    }
}

#[async_trait]
impl<D: BackendDefinition> Configurator for Defined<D> {
    fn backend_type(&self) -> BackendType {
        self.0.backend_type()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()> {
        let typed = self.typed(config)?;
        self.0.check_credentials(typed, context).await?;
        // The rules `config check` reports, with dstack's texts (its answer names no field).
        if let Some((_, message)) = typed.problems().into_iter().next() {
            return Err(BackendError::new(ErrorKind::InvalidConfig, message));
        }
        self.0.check_resources(typed).await
    }

    async fn create_backend(
        &self,
        _project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord> {
        let typed = self.typed(&config)?.clone();
        BackendRecord::split(&self.0.prepare(typed).into_union(self.0.backend_type()))
    }

    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds> {
        let config = record.join()?;
        self.typed(&config)?;
        Ok(config)
    }

    async fn compute(&self, record: &BackendRecord) -> Result<Arc<dyn Compute>> {
        let config = record.join()?;
        let typed = self.typed(&config)?.clone();
        Ok(Arc::new(self.0.compute(typed).await?))
    }
}
