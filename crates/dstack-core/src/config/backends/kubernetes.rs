//! `type: kubernetes`. The file form can read the kubeconfig from `kubeconfig.filename`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::files::{FileFieldError, fill_data};
use crate::secret::Secret;

/// The Kubernetes backend. `K` is [`KubeconfigFile`] in `config.yml`, [`Kubeconfig`] in the
/// API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesBackendConfig_{K}")]
pub struct KubernetesBackendConfig<K> {
    /// Kubeconfig contexts to use, each a cluster and a region named after the context: a
    /// context name, or a mapping with `name` and `proxy_jump`. Omit to use the kubeconfig's
    /// `current-context` (legacy mode).
    pub contexts: Option<Vec<KubernetesContext>>,
    /// Legacy mode only: the SSH jump host into the cluster. Omit to detect it.
    pub proxy_jump: Option<KubernetesProxyJump>,
    /// Legacy mode only: the namespace to use, overriding the context's. Deprecated: set the
    /// namespace in the kubeconfig context instead.
    pub namespace: Option<String>,
    /// The kubeconfig.
    pub kubeconfig: K,
    /// Deprecated alias of `proxy_jump` from older dstack versions: `ssh_host` is
    /// `proxy_jump.hostname` and `ssh_port` is `proxy_jump.port`. Read and turned into
    /// `proxy_jump` with a warning.
    #[serde(default, skip_serializing)]
    #[schemars(extend("deprecated" = true))]
    pub networking: Option<KubernetesNetworking>,
}

crate::shape_union! {
    /// A kubeconfig context to use: its name, or a mapping with its name and jump host.
    pub enum KubernetesContext {
        /// The context name.
        Name(String) = "string",
        /// The context name and its SSH jump host.
        Config(KubernetesContextConfig) = "mapping",
    }
}

impl KubernetesContext {
    pub fn name(&self) -> &str {
        match self {
            KubernetesContext::Name(name) => name,
            KubernetesContext::Config(config) => &config.name,
        }
    }
}

/// A kubeconfig context with its own SSH jump host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesContextConfig {
    /// The context name in the kubeconfig.
    pub name: String,
    /// The SSH jump host into this cluster. Omit to detect it.
    pub proxy_jump: Option<KubernetesProxyJump>,
}

/// The SSH jump host dstack uses to reach pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesProxyJump {
    /// External IP or hostname of any cluster node. Omit to detect it.
    pub hostname: Option<String>,
    /// A port reachable from outside the cluster. Omit to allocate a NodePort.
    pub port: Option<i64>,
}

/// The deprecated `networking` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNetworking {
    /// Same as `proxy_jump.hostname`.
    pub ssh_host: Option<String>,
    /// Same as `proxy_jump.port`.
    pub ssh_port: Option<i64>,
}

/// A kubeconfig in `config.yml`: read from `filename` unless `data` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeconfigFile {
    /// Path to the kubeconfig on the server host (`~` is expanded).
    #[serde(default)]
    pub filename: String,
    /// The kubeconfig itself (YAML text). When set, `filename` is not read.
    pub data: Option<Secret>,
}

/// A kubeconfig in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kubeconfig {
    /// The file the kubeconfig was read from, if any (informational).
    #[serde(default)]
    pub filename: String,
    /// The kubeconfig (YAML text).
    pub data: Secret,
}

impl KubeconfigFile {
    pub fn resolve(self) -> Result<Kubeconfig, FileFieldError> {
        let data = self.data.map(|d| d.expose().to_owned());
        let data = fill_data(data, &self.filename, &["kubeconfig"], "filename", "data")?;
        Ok(Kubeconfig { filename: self.filename, data: Secret::new(data) })
    }
}

impl<K> KubernetesBackendConfig<K> {
    /// Turns the deprecated `networking` section into `proxy_jump`. Returns the deprecation
    /// warning to show, or an error if both are set.
    pub fn normalize_networking(&mut self) -> Result<Option<String>, FileFieldError> {
        let Some(networking) = self.networking.take() else { return Ok(None) };
        if self.proxy_jump.is_some() {
            return Err(FileFieldError {
                field: vec!["networking".to_owned()],
                message: "`networking` is a deprecated alias of `proxy_jump`; set only \
                          `proxy_jump`"
                    .to_owned(),
            });
        }
        self.proxy_jump =
            Some(KubernetesProxyJump { hostname: networking.ssh_host, port: networking.ssh_port });
        Ok(Some(
            "`networking` is deprecated; write `proxy_jump: {hostname: ..., port: ...}` instead \
             of `networking: {ssh_host: ..., ssh_port: ...}`"
                .to_owned(),
        ))
    }
}

/// dstack's rules before it contacts the clusters.
impl<K> super::ConfigRules for KubernetesBackendConfig<K> {
    fn problems(&self) -> Vec<super::FieldNote> {
        let note = |message: String| vec![(vec!["contexts".to_owned()], message)];
        let Some(contexts) = &self.contexts else { return Vec::new() };
        let mut names: Vec<&str> = contexts.iter().map(KubernetesContext::name).collect();
        names.sort_unstable();
        let mut duplicates: Vec<&str> =
            names.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
        duplicates.dedup();
        if !duplicates.is_empty() {
            return note(format!("duplicate contexts: {}", duplicates.join(", ")));
        }
        if self.proxy_jump.is_some() {
            return note("proxy_jump must not be set if contexts is set".to_owned());
        }
        if self.namespace.is_some() {
            return note("namespace must not be set if contexts is set".to_owned());
        }
        Vec::new()
    }
}
