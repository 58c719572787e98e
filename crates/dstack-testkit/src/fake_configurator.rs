//! A stand-in for a backend's configurator where the server's own logic is under test (the
//! API's backend endpoints, config.yml apply): it accepts credentials whose key starts with
//! `GOOD` and refuses others with dstack's "Invalid credentials" error, the way dstack's
//! recorded API samples were made. It never stands in for a backend under test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dstack_core::backend::{Capabilities, ValidationContext};
use dstack_core::config::load::from_json;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::error::Result;
use dstack_core::{BackendError, BackendRecord, Compute, Configurator, Registry, Secret};

/// A configurator with scripted credential checks.
#[derive(Debug, Clone)]
pub struct FakeConfigurator {
    backend_type: BackendType,
    delay: Duration,
    checks: Arc<AtomicUsize>,
    /// Whether its compute can be built (it lists no offers); by default building fails.
    buildable: bool,
    builds: Arc<AtomicUsize>,
}

impl FakeConfigurator {
    pub fn new(backend_type: BackendType) -> Self {
        Self {
            backend_type,
            delay: Duration::ZERO,
            checks: Arc::new(AtomicUsize::new(0)),
            buildable: false,
            builds: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Makes every credential check take `delay` (an unreachable cloud).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Makes its compute buildable: an offers-only backend with no offers.
    pub fn buildable(mut self) -> Self {
        self.buildable = true;
        self
    }

    /// How many computes were built.
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::SeqCst)
    }

    /// How many credential checks ran.
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    /// A registry with a fake for each of `types`.
    pub fn registry(types: &[BackendType]) -> (Registry, Vec<FakeConfigurator>) {
        let mut registry = Registry::new();
        let fakes: Vec<FakeConfigurator> =
            types.iter().map(|t| FakeConfigurator::new(*t)).collect();
        for fake in &fakes {
            registry.register_configurator(Arc::new(fake.clone()));
        }
        (registry, fakes)
    }
}

/// The secret a config carries: its API key, access key, client secret or kubeconfig.
fn key_of(config: &BackendConfigWithCreds) -> Option<String> {
    let value = serde_json::to_value(config).ok()?;
    let creds = &value["creds"];
    ["api_key", "access_key", "client_secret", "data"]
        .iter()
        .find_map(|k| creds[k].as_str())
        .or_else(|| value["kubeconfig"]["data"].as_str())
        .map(str::to_owned)
}

#[async_trait]
impl Configurator for FakeConfigurator {
    fn backend_type(&self) -> BackendType {
        self.backend_type
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::OFFERS_ONLY
    }

    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if config.uses_default_creds() {
            return if context.default_creds_enabled {
                Ok(())
            } else {
                Err(BackendError::invalid_credentials(&[&["creds"]], None))
            };
        }
        match key_of(config) {
            Some(key) if key.starts_with("GOOD") => Ok(()),
            _ => Err(BackendError::invalid_credentials(&[&["creds", "api_key"]], None)),
        }
    }

    async fn create_backend(
        &self,
        _project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord> {
        let full = serde_json::to_string(&config).unwrap_or_default();
        Ok(BackendRecord { config: config.without_creds().to_string(), auth: Secret::new(full) })
    }

    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds> {
        let value: serde_json::Value = serde_json::from_str(record.auth.expose())
            .map_err(|e| BackendError::new(dstack_core::ErrorKind::Unexpected, e.to_string()))?;
        from_json(&value).map_err(|errors| {
            BackendError::new(dstack_core::ErrorKind::Unexpected, format!("{errors:?}"))
        })
    }

    async fn compute(&self, _record: &BackendRecord) -> Result<Arc<dyn Compute>> {
        if !self.buildable {
            return Err(BackendError::unsupported(
                self.backend_type,
                "compute (fake configurator)",
            ));
        }
        self.builds.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(NoOffers))
    }
}

/// The compute of a buildable fake: no offers.
#[derive(Debug)]
struct NoOffers;

#[async_trait]
impl Compute for NoOffers {
    async fn offers(
        &self,
        _: &dstack_core::offers::Requirements,
    ) -> Result<Vec<dstack_core::offers::InstanceOfferWithAvailability>> {
        Ok(Vec::new())
    }
}
