//! The context a backend is registered with.

use std::collections::BTreeMap;
use std::sync::Arc;

use dstack_catalog::Catalog;
use dstack_core::config::BackendType;
use dstack_core::provisioning::AgentSettings;
use dstack_core::ssh::SshSettings;

use crate::http::HttpSettings;

/// What `register(&mut Registry, &BackendContext)` gives a backend crate.
#[derive(Debug, Clone)]
pub struct BackendContext {
    /// The offer catalogs (gpuhunt's), shared by every backend.
    pub catalog: Arc<Catalog>,
    /// Timeouts and retries of REST clients.
    pub http: HttpSettings,
    /// The agent new instances run, and dstack's base image.
    pub agent: AgentSettings,
    /// Base URLs that replace the providers' documented ones.
    pub endpoints: Endpoints,
    /// How instances are reached over SSH, for backends that start the agent that way.
    pub ssh: SshSettings,
}

impl BackendContext {
    /// Defaults everywhere: the providers' own endpoints, dstack's agent release.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog,
            http: HttpSettings::default(),
            agent: AgentSettings::default(),
            endpoints: Endpoints::default(),
            ssh: SshSettings::default(),
        }
    }

    /// The base URL of `backend`'s API: the override, or the provider's documented `default`.
    pub fn endpoint(&self, backend: BackendType, default: &str) -> String {
        self.endpoints.get(backend).unwrap_or(default).trim_end_matches('/').to_owned()
    }
}

/// Base URLs per backend type, replacing the providers' documented ones (including their
/// path prefix, such as `https://cloud.lambdalabs.com/api/v1`): for proxies, air-gapped
/// mirrors, and fakes in tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints(BTreeMap<BackendType, String>);

impl Endpoints {
    /// The variable that overrides `backend`'s base URL: `DSTACK_<TYPE>_API_URL`.
    pub fn variable(backend: BackendType) -> String {
        format!("DSTACK_{}_API_URL", backend.as_str().to_ascii_uppercase())
    }

    /// Every `DSTACK_<TYPE>_API_URL` that `var` finds (empty values are unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let found = BackendType::ALL
            .into_iter()
            .filter_map(|t| var(&Self::variable(t)).filter(|v| !v.is_empty()).map(|v| (t, v)))
            .collect();
        Self(found)
    }

    pub fn set(&mut self, backend: BackendType, url: impl Into<String>) {
        self.0.insert(backend, url.into());
    }

    pub fn get(&self, backend: BackendType) -> Option<&str> {
        self.0.get(&backend).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_come_from_dstacks_variables() {
        assert_eq!(Endpoints::variable(BackendType::Digitalocean), "DSTACK_DIGITALOCEAN_API_URL");
        let endpoints = Endpoints::from_vars(|name| match name {
            "DSTACK_LAMBDA_API_URL" => Some("http://127.0.0.1:9/api/v1/".to_owned()),
            "DSTACK_RUNPOD_API_URL" => Some(String::new()),
            _ => None,
        });
        assert_eq!(endpoints.get(BackendType::Lambda), Some("http://127.0.0.1:9/api/v1/"));
        assert_eq!(endpoints.get(BackendType::Runpod), None, "empty is unset");
        let catalog = Arc::new(Catalog::new(dstack_catalog::Source::from_env(), None));
        let context = BackendContext { endpoints, ..BackendContext::new(catalog) };
        assert_eq!(context.endpoint(BackendType::Lambda, "https://x"), "http://127.0.0.1:9/api/v1");
        assert_eq!(
            context.endpoint(BackendType::Vultr, "https://api.vultr.com/v2"),
            "https://api.vultr.com/v2"
        );
    }
}
