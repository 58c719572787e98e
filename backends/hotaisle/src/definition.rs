//! The Hot Aisle backend's definition: dstack's credential and team check, and a compute
//! that rents VMs and bare-metal servers and starts dstack-shim on them over SSH.

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::HotAisleBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::ssh::SshSettings;

use crate::client::{DEFAULT_API_URL, HotAisleClient};
use crate::compute::HotAisleCompute;

/// What the Hot Aisle backend implements of dstack's feature matrix (dstack's mixins: create
/// instance, privileged, instance volumes).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    ..Capabilities::OFFERS_ONLY
};

/// dstack's feature flag: bare metal is released without `force` unless it is `0`.
pub const NO_FORCE_RELEASE_VAR: &str = "DSTACK_FF_HOTAISLE_BARE_METAL_NO_FORCE_RELEASE";

/// dstack's reading of [`NO_FORCE_RELEASE_VAR`]: on unless set to `0` (unset is on).
pub fn no_force_release(value: Option<&str>) -> bool {
    value.unwrap_or("1") != "0"
}

/// The Hot Aisle backend.
#[derive(Debug, Clone)]
pub struct HotAisle {
    base_url: String,
    http: HttpSettings,
    agent: AgentSettings,
    ssh: SshSettings,
    no_force_release: bool,
}

impl HotAisle {
    /// The backend at the context's endpoint for `hotaisle` (or Hot Aisle's), with dstack's
    /// feature flag [`NO_FORCE_RELEASE_VAR`] read from the environment now.
    pub fn new(context: &BackendContext) -> Self {
        Self::with_vars(context, |name| std::env::var(name).ok())
    }

    /// [`HotAisle::new`] reading variables through `var`.
    pub fn with_vars(context: &BackendContext, var: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            base_url: context.endpoint(BackendType::Hotaisle, DEFAULT_API_URL),
            http: context.http,
            agent: context.agent.clone(),
            ssh: context.ssh.clone(),
            no_force_release: no_force_release(var(NO_FORCE_RELEASE_VAR).as_deref()),
        }
    }

    /// The same backend, releasing bare metal without `force` (`true`) or with it.
    pub fn with_no_force_release(mut self, no_force_release: bool) -> Self {
        self.no_force_release = no_force_release;
        self
    }

    /// Whether bare metal is released without `force`.
    pub fn no_force_release_enabled(&self) -> bool {
        self.no_force_release
    }

    fn client(&self, config: &HotAisleBackendConfig) -> HotAisleClient {
        HotAisleClient::new(&self.base_url, &config.creds.api_key, &config.team_handle, &self.http)
    }
}

#[async_trait]
impl BackendDefinition for HotAisle {
    type Config = HotAisleBackendConfig;
    type Compute = HotAisleCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Hotaisle
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// dstack's `validate_api_key`: `GET /user/`. A 401 is "Invalid API key" and a 403 "no
    /// permissions" on `creds.api_key`, a user without teams is refused there too, and a
    /// `team_handle` not among the user's teams on `team_handle`. Regions are not checked.
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        self.client(config).check_team(&config.team_handle).await
    }

    async fn compute(&self, config: Self::Config) -> Result<HotAisleCompute> {
        let client = self.client(&config);
        let (agent, ssh) = (self.agent.clone(), self.ssh.clone());
        Ok(HotAisleCompute::new(config, client, agent, ssh, self.no_force_release))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_on_unless_zero() {
        assert!(no_force_release(None), "dstack's default: no force");
        assert!(no_force_release(Some("1")));
        assert!(no_force_release(Some("")), "set but empty is not `0`");
        assert!(!no_force_release(Some("0")));
        let context = BackendContext::new(empty_catalog());
        let forced = HotAisle::with_vars(&context, |name| {
            (name == NO_FORCE_RELEASE_VAR).then(|| "0".to_owned())
        });
        assert!(!forced.no_force_release_enabled());
        assert!(HotAisle::with_vars(&context, |_| None).no_force_release_enabled());
        assert!(!forced.with_no_force_release(true).with_no_force_release(false).no_force_release);
    }

    /// Never read: these tests list no offers.
    fn empty_catalog() -> std::sync::Arc<dstack_catalog::Catalog> {
        let source = dstack_catalog::Source::PlainDirectory(std::env::temp_dir().join("none"));
        std::sync::Arc::new(dstack_catalog::Catalog::new(source, None))
    }
}
