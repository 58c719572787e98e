//! The clusters a config names, as dstack resolves them: one per listed context (its region
//! is the context's name, its namespace the context's), or — without `contexts` — the
//! kubeconfig's `current-context` (legacy mode: region `""`, the config's `namespace`).

use std::time::Duration;

use dstack_core::config::backends::{
    Kubeconfig, KubernetesBackendConfig, KubernetesContext, KubernetesProxyJump,
};
use dstack_core::yaml::{self, Value};
use dstack_core::{BackendError, ErrorKind};
use kube::config::{KubeConfigOptions, Kubeconfig as KubeFile};

/// The region of the cluster of legacy mode (no `contexts`).
pub const LEGACY_REGION: &str = "";

/// One cluster: a kubeconfig context with its client.
#[derive(Clone)]
pub struct Cluster {
    pub context: String,
    pub region: String,
    pub namespace: String,
    pub proxy_jump: KubernetesProxyJump,
    pub client: kube::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster{self}")
    }
}

/// dstack's `(context='x')`, with the region when it differs: `(context='x' region='')`.
impl std::fmt::Display for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.context == self.region {
            true => write!(f, "(context='{}')", self.context),
            false => write!(f, "(context='{}' region='{}')", self.context, self.region),
        }
    }
}

/// How each cluster's client calls its API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Connect and read timeout of every request.
    pub timeout: Duration,
    /// Whether throttled and unavailable answers (429, 503, 504) are retried.
    pub retries: bool,
}

impl ClientSettings {
    /// dstack's cluster check: 10 s, no retries.
    pub const CHECK: ClientSettings =
        ClientSettings { timeout: Duration::from_secs(10), retries: false };
    /// dstack's other calls: 30 s, retried.
    pub const CALLS: ClientSettings =
        ClientSettings { timeout: Duration::from_secs(30), retries: true };
}

/// dstack's message for a config it cannot build clusters from (shown as is, no field).
fn invalid(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::InvalidConfig, message)
}

/// The kubeconfig text as kube reads it; what is not a YAML mapping is refused with dstack's
/// `Unexpected kubeconfig_data type: <Python type>`.
pub fn parse_kubeconfig(data: &str) -> Result<KubeFile, BackendError> {
    let parsed = yaml::node::parse(data).map_err(|err| invalid(err.message.clone()))?;
    let python_type = match &parsed.root.value {
        Value::Mapping(_) => None,
        Value::Null => Some("NoneType"),
        Value::Bool(_) => Some("bool"),
        Value::Int(_) => Some("int"),
        Value::Float(_) => Some("float"),
        Value::String(_) => Some("str"),
        Value::Timestamp(_) => Some("date"),
        Value::Sequence(_) => Some("list"),
    };
    if let Some(python_type) = python_type {
        return Err(invalid(format!("Unexpected kubeconfig_data type: {python_type}")));
    }
    KubeFile::from_yaml(data).map_err(|err| invalid(err.to_string()))
}

/// The namespace of context `name`: `default` when it sets none. An unknown context is
/// dstack's `context <name> not found`.
fn context_namespace(kubeconfig: &KubeFile, name: &str) -> Result<String, BackendError> {
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| invalid(format!("context {name} not found")))?;
    Ok(context
        .context
        .as_ref()
        .and_then(|c| c.namespace.clone())
        .unwrap_or_else(|| "default".to_owned()))
}

/// The clusters of `config`, each with a client built for `settings`.
pub async fn clusters(
    config: &KubernetesBackendConfig<Kubeconfig>,
    settings: ClientSettings,
) -> Result<Vec<Cluster>, BackendError> {
    let kubeconfig = parse_kubeconfig(config.kubeconfig.data.expose())?;
    // (context, region, namespace, jump host)
    let mut wanted: Vec<(String, String, String, KubernetesProxyJump)> = Vec::new();
    let no_jump = || KubernetesProxyJump { hostname: None, port: None };
    match &config.contexts {
        Some(contexts) => {
            for context in contexts {
                let name = context.name().to_owned();
                let namespace = context_namespace(&kubeconfig, &name)?;
                let proxy_jump = match context {
                    KubernetesContext::Config(c) => c.proxy_jump.clone(),
                    KubernetesContext::Name(_) => None,
                };
                wanted.push((name.clone(), name, namespace, proxy_jump.unwrap_or_else(no_jump)));
            }
        }
        None => {
            let name = kubeconfig
                .current_context
                .clone()
                .ok_or_else(|| invalid("current-context is not set"))?;
            let kube_namespace = context_namespace(&kubeconfig, &name)?;
            let namespace = config.namespace.clone().unwrap_or_else(|| "default".to_owned());
            if kube_namespace != namespace {
                tracing::warn!(
                    "Namespace mismatch: kubeconfig -> '{kube_namespace}', backend config -> \
                     '{namespace}'. The backend config's namespace is used; it is deprecated: \
                     set namespace '{namespace}' in kubeconfig context '{name}' instead"
                );
            }
            let proxy_jump = config.proxy_jump.clone().unwrap_or_else(no_jump);
            wanted.push((name, LEGACY_REGION.to_owned(), namespace, proxy_jump));
        }
    }
    let mut clusters = Vec::with_capacity(wanted.len());
    for (context, region, namespace, proxy_jump) in wanted {
        let client = client(&kubeconfig, &context, settings).await?;
        clusters.push(Cluster { context, region, namespace, proxy_jump, client });
    }
    Ok(clusters)
}

/// A client for `context` of `kubeconfig` (its server, TLS and credentials).
async fn client(
    kubeconfig: &KubeFile,
    context: &str,
    settings: ClientSettings,
) -> Result<kube::Client, BackendError> {
    let options = KubeConfigOptions { context: Some(context.to_owned()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .map_err(|err| invalid(err.to_string()))?;
    config.connect_timeout = Some(settings.timeout);
    config.read_timeout = Some(settings.timeout);
    config.write_timeout = Some(settings.timeout);
    config.default_retry = settings.retries;
    kube::Client::try_from(config).map_err(|err| invalid(err.to_string()))
}

/// dstack's cluster check: the API server answers `GET /version`.
pub async fn check(cluster: &Cluster) -> bool {
    match cluster.client.apiserver_version().await {
        Ok(info) => {
            tracing::debug!("cluster {cluster} gitVersion: {}", info.git_version);
            true
        }
        Err(err) => {
            tracing::debug!("cluster {cluster} check failed: {err}");
            false
        }
    }
}
