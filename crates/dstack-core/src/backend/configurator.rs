//! The object-safe face of a backend, which the registry holds. Backend crates do not
//! implement it: they write a [`super::BackendDefinition`], and [`super::Defined`] implements
//! this for them. Test fakes implement it directly.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BackendRecord, Capabilities, Compute};
use crate::config::{BackendConfigWithCreds, BackendType};
use crate::error::Result;

/// Settings that shape config validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationContext {
    /// `false` when `DSTACK_DEFAULT_CREDS_DISABLED` is set: `creds: {type: default}` is refused.
    pub default_creds_enabled: bool,
}

impl Default for ValidationContext {
    fn default() -> Self {
        Self { default_creds_enabled: true }
    }
}

/// Configures one backend type.
#[async_trait]
pub trait Configurator: Send + Sync + std::fmt::Debug {
    fn backend_type(&self) -> BackendType;

    /// What backends of this type can do.
    fn capabilities(&self) -> Capabilities;

    /// Checks `config`: its own rules, then with the cloud (credentials, one cheap call, and
    /// what else dstack checks before it creates a backend). Errors carry the field paths
    /// they concern.
    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()>;

    /// Turns a validated config into the record to store, filling defaults (such as the
    /// default regions).
    async fn create_backend(
        &self,
        project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord>;

    /// The config with credentials, for project admins.
    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds>;

    /// The config without credentials, for every project member.
    fn config_without_creds(&self, record: &BackendRecord) -> Result<serde_json::Value> {
        Ok(self.config_with_creds(record)?.without_creds())
    }

    /// Builds the backend's compute from a stored record.
    async fn compute(&self, record: &BackendRecord) -> Result<Arc<dyn Compute>>;
}
