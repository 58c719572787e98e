//! The traits every backend implements, and the registry the server looks them up in.
//!
//! - [`Configurator`]: one per backend type. Checks a config against the cloud, turns it into
//!   the stored record, reads it back, and builds the [`Backend`].
//! - [`Backend`] → [`Compute`]: offers, create, update and terminate instances.
//!
//! The traits use `async-trait` so that the registry can hold `Arc<dyn Configurator>`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{BackendConfigWithCreds, BackendType};
use crate::error::{BackendError, Result};
use crate::offers::{
    InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use crate::secret::Secret;

/// What a backend can do, declared up front so the server never has to find out by failing.
/// Mirrors dstack's compute feature matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Creates VMs that run dstack's shim ("VM-based" backends, fleets).
    pub create_instance: bool,
    /// Runs jobs directly as containers ("container-based" backends).
    pub run_job: bool,
    /// Provisions several instances as one group.
    pub group_provisioning: bool,
    pub privileged: bool,
    pub instance_volumes: bool,
    pub multinode: bool,
    pub placement_groups: bool,
    pub reservations: bool,
    pub gateways: bool,
    pub private_gateways: bool,
    pub volumes: bool,
}

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

/// A backend as the server stores it: non-secret config JSON, and secret auth JSON that the
/// server encrypts before it reaches the database.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendRecord {
    pub config: String,
    pub auth: Secret,
}

impl BackendRecord {
    /// The usual record of a backend whose secrets are all under `creds`: the config without
    /// credentials, and the credentials' JSON as the secret part.
    pub fn split(config: &BackendConfigWithCreds) -> Result<Self> {
        let creds = serde_json::to_value(config)
            .ok()
            .and_then(|v| v.get("creds").cloned())
            .ok_or_else(|| unreadable("config", "it has no `creds`"))?;
        Ok(BackendRecord {
            config: config.without_creds().to_string(),
            auth: Secret::new(creds.to_string()),
        })
    }

    /// Reads back a record made by [`BackendRecord::split`].
    pub fn join(&self) -> Result<BackendConfigWithCreds> {
        let mut config: serde_json::Value =
            serde_json::from_str(&self.config).map_err(|e| unreadable("config", e))?;
        config["creds"] =
            serde_json::from_str(self.auth.expose()).map_err(|e| unreadable("creds", e))?;
        crate::config::load::from_json(&config).map_err(|errors| {
            unreadable(
                "config",
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            )
        })
    }
}

fn unreadable(what: &str, err: impl fmt::Display) -> BackendError {
    BackendError::new(
        crate::error::ErrorKind::Unexpected,
        format!("stored backend {what} is unreadable: {err}"),
    )
}

/// A backend that is its compute: what most backends are.
#[derive(Debug)]
pub struct ComputeBackend {
    compute: Arc<dyn Compute>,
}

impl ComputeBackend {
    pub fn new(compute: impl Compute + 'static) -> Self {
        Self { compute: Arc::new(compute) }
    }
}

impl Backend for ComputeBackend {
    fn backend_type(&self) -> BackendType {
        self.compute.backend_type()
    }

    fn compute(&self) -> Arc<dyn Compute> {
        self.compute.clone()
    }
}

/// Configures one backend type.
#[async_trait]
pub trait Configurator: Send + Sync + fmt::Debug {
    fn backend_type(&self) -> BackendType;

    /// What backends of this type can do.
    fn capabilities(&self) -> Capabilities;

    /// Checks `config` with the cloud: credentials (one cheap call) and what else dstack
    /// checks before it creates a backend. Errors carry the field paths they concern.
    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()>;

    /// Turns a validated config into the record to store, filling defaults (such as the
    /// default regions) and creating cloud resources the backend needs.
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

    /// Builds the backend from a stored record.
    async fn backend(&self, record: &BackendRecord) -> Result<Arc<dyn Backend>>;
}

/// A configured backend of a project.
pub trait Backend: Send + Sync + fmt::Debug {
    fn backend_type(&self) -> BackendType;
    fn compute(&self) -> Arc<dyn Compute>;
}

/// Provisioning on one configured backend.
#[async_trait]
pub trait Compute: Send + Sync + fmt::Debug {
    fn backend_type(&self) -> BackendType;

    fn capabilities(&self) -> Capabilities;

    /// Offers matching `requirements`, with their availability.
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>>;

    /// Starts an instance for `offer`. Returns as soon as the provider accepted the request;
    /// [`Compute::update_provisioning_data`] fills in what is known later (the IP). On failure
    /// nothing may be left running.
    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let _ = (offer, config);
        Err(BackendError::unsupported(self.backend_type(), "creating instances"))
    }

    /// Refreshes `data` (hostname, IPs) while the instance starts.
    async fn update_provisioning_data(&self, data: &mut ProvisioningData) -> Result<()> {
        let _ = data;
        Ok(())
    }

    /// Terminates an instance. Idempotent: an instance that no longer exists is success.
    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        backend_data: Option<&str>,
    ) -> Result<()>;
}

/// Maps backend types to their configurators: the server fills it with one `register` call
/// per backend compiled in.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    configurators: BTreeMap<BackendType, Arc<dyn Configurator>>,
    /// The backend features the embedding binary declares, compiled in or not; `None` when
    /// unknown. Lets "not available" tell "rebuild with this feature" from "not supported".
    declared_features: Option<Vec<&'static str>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares which backend features the binary has (compiled in or not).
    pub fn declare_features(&mut self, features: &[&'static str]) {
        self.declared_features = Some(features.to_vec());
    }

    pub fn register(&mut self, configurator: Arc<dyn Configurator>) {
        self.configurators.insert(configurator.backend_type(), configurator);
    }

    /// The configurator of `backend_type`, or a "not available" error naming the Cargo
    /// feature to enable.
    pub fn get(&self, backend_type: BackendType) -> Result<&Arc<dyn Configurator>> {
        self.configurators.get(&backend_type).ok_or_else(|| {
            let declared = match (&self.declared_features, backend_type.cargo_feature()) {
                (Some(features), Some(feature)) => features.contains(&feature),
                _ => true,
            };
            if declared {
                BackendError::not_available(backend_type)
            } else {
                BackendError::new(
                    crate::error::ErrorKind::NotAvailable,
                    format!("Backend `{backend_type}` is not supported by this version of dstack-server yet"),
                )
                .for_backend(backend_type)
            }
        })
    }

    /// The types that can be configured, in name order (dstack's `list_types`).
    pub fn available_types(&self) -> Vec<BackendType> {
        self.configurators.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Static(BackendType);

    #[async_trait]
    impl Configurator for Static {
        fn backend_type(&self) -> BackendType {
            self.0
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities { create_instance: true, ..Capabilities::default() }
        }
        async fn validate_config(
            &self,
            _: &BackendConfigWithCreds,
            context: &ValidationContext,
        ) -> Result<()> {
            if context.default_creds_enabled {
                Ok(())
            } else {
                Err(BackendError::invalid_credentials(&[&["creds"]], None))
            }
        }
        async fn create_backend(
            &self,
            _: &str,
            c: BackendConfigWithCreds,
        ) -> Result<BackendRecord> {
            Ok(BackendRecord {
                config: serde_json::to_string(&c.without_creds()).unwrap(),
                auth: Secret::new("{}"),
            })
        }
        fn config_with_creds(&self, _: &BackendRecord) -> Result<BackendConfigWithCreds> {
            Err(BackendError::unsupported(self.0, "reading configs"))
        }
        async fn backend(&self, _: &BackendRecord) -> Result<Arc<dyn Backend>> {
            Err(BackendError::unsupported(self.0, "building backends"))
        }
    }

    #[test]
    fn registry_finds_registered_and_names_missing_features() {
        let mut registry = Registry::new();
        registry.register(Arc::new(Static(BackendType::Vultr)));
        registry.register(Arc::new(Static(BackendType::Aws)));
        assert_eq!(registry.available_types(), [BackendType::Aws, BackendType::Vultr]);
        assert_eq!(registry.get(BackendType::Aws).unwrap().backend_type(), BackendType::Aws);
        let err = registry.get(BackendType::Gcp).unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::NotAvailable);
        assert!(err.message().contains("--features gcp"));
        registry.declare_features(&["aws", "vultr"]);
        let err = registry.get(BackendType::Gcp).unwrap_err();
        assert!(err.message().contains("not supported by this version"), "{}", err.message());
    }

    #[test]
    fn configurators_are_usable_as_trait_objects() {
        let configurator: Arc<dyn Configurator> = Arc::new(Static(BackendType::Lambda));
        let config: BackendConfigWithCreds = crate::config::load::from_json(&serde_json::json!({
            "type": "lambda", "creds": {"api_key": "k"}
        }))
        .unwrap();
        let refused = futures_lite_block_on(
            configurator
                .validate_config(&config, &ValidationContext { default_creds_enabled: false }),
        );
        assert_eq!(refused.unwrap_err().fields(), [["creds"]]);
        let record = futures_lite_block_on(configurator.create_backend("main", config)).unwrap();
        assert_eq!(record.config, r#"{"type":"lambda","regions":null}"#);
    }

    /// Polls a future that never waits (the test configurator does no I/O).
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }
}
