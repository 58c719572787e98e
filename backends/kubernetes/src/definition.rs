//! The Kubernetes backend's definition: dstack's context rules and one check per cluster.

use async_trait::async_trait;
use dstack_backend_kit::BackendContext;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::{ConfigRules, Kubeconfig, KubernetesBackendConfig};
use dstack_core::error::Result;
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, ErrorKind};

use crate::clusters::{ClientSettings, check, clusters};
use crate::compute::KubernetesCompute;

/// What the Kubernetes backend implements of dstack's feature matrix: jobs as pods,
/// privileged pods, host-path instance volumes, and several nodes per run (pods reach each
/// other by IP). dstack's PVC volumes and gateways are not implemented here yet.
pub const CAPABILITIES: Capabilities = Capabilities {
    run_job: true,
    privileged: true,
    instance_volumes: true,
    multinode: true,
    ..Capabilities::OFFERS_ONLY
};

/// The Kubernetes backend.
#[derive(Debug, Clone)]
pub struct Kubernetes {
    runner_url: String,
    ssh: SshSettings,
}

impl Kubernetes {
    /// The backend whose pods download dstack-runner as the context's agent settings say and
    /// whose jump pods are reached with the context's SSH settings.
    pub fn new(context: &BackendContext) -> Self {
        // dstack's job pods always get the amd64 runner (it passes no architecture).
        let runner_url = context.agent.downloads("amd64").runner_url;
        Self { runner_url, ssh: context.ssh.clone() }
    }
}

#[async_trait]
impl BackendDefinition for Kubernetes {
    type Config = KubernetesBackendConfig<Kubeconfig>;
    type Compute = KubernetesCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Kubernetes
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// dstack's order: the contexts rules, then the clusters built from the kubeconfig
    /// (`context x not found`, `current-context is not set`), then `GET /version` on each
    /// (10 s, no retries): "Failed to validate cluster (context='x')" on `kubeconfig`.
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        let config = normalized(config.clone())?;
        if let Some((_, message)) = config.problems().into_iter().next() {
            return Err(BackendError::new(ErrorKind::InvalidConfig, message));
        }
        for cluster in clusters(&config, ClientSettings::CHECK).await? {
            if !check(&cluster).await {
                let details = format!("Failed to validate cluster {cluster}");
                return Err(BackendError::invalid_credentials(&[&["kubeconfig"]], Some(&details)));
            }
        }
        Ok(())
    }

    /// The deprecated `networking` section is stored as `proxy_jump`.
    fn prepare(&self, config: Self::Config) -> Self::Config {
        match normalized(config.clone()) {
            Ok(config) => config,
            // Refused by the check already; stored as it came.
            Err(_) => config,
        }
    }

    async fn compute(&self, config: Self::Config) -> Result<KubernetesCompute> {
        let clusters = clusters(&config, ClientSettings::CALLS).await?;
        Ok(KubernetesCompute::new(clusters, self.runner_url.clone(), self.ssh.clone()))
    }
}

/// `config` with a `networking` section (sent through the API) turned into `proxy_jump`, as
/// `config.yml` has it turned when it is read; both set is refused on `networking`.
fn normalized(
    mut config: KubernetesBackendConfig<Kubeconfig>,
) -> Result<KubernetesBackendConfig<Kubeconfig>> {
    match config.normalize_networking() {
        Ok(Some(warning)) => tracing::warn!("{warning}"),
        Ok(None) => {}
        Err(err) => {
            let field: Vec<&str> = err.field.iter().map(String::as_str).collect();
            return Err(
                BackendError::new(ErrorKind::InvalidConfig, err.message).with_fields(&[&field])
            );
        }
    }
    Ok(config)
}
