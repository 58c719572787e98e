//! The JarvisLabs backend's definition: dstack's credential check (`users/user_info` with the
//! key; the region rule is dstack-core's) and a compute that creates VMs and starts dstack's
//! shim on them over SSH.

use async_trait::async_trait;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::JarvisLabsBackendConfig;
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::ssh::SshSettings;

use crate::client::{DEFAULT_API_URL, Hosts, JarvisLabsClient};
use crate::compute::JarvisLabsCompute;

/// What the JarvisLabs backend implements of dstack's feature matrix (dstack's mixins:
/// create instance, privileged, instance volumes, and — new in 0.22 — multinode, in the VPC
/// regions only).
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    multinode: true,
    ..Capabilities::OFFERS_ONLY
};

/// The JarvisLabs backend.
#[derive(Debug, Clone)]
pub struct JarvisLabs {
    hosts: Hosts,
    http: HttpSettings,
    agent: AgentSettings,
    ssh: SshSettings,
}

impl JarvisLabs {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            hosts: Hosts::for_endpoint(&context.endpoint(BackendType::Jarvislabs, DEFAULT_API_URL)),
            http: context.http,
            agent: context.agent.clone(),
            ssh: context.ssh.clone(),
        }
    }

    fn client(&self, config: &JarvisLabsBackendConfig) -> JarvisLabsClient {
        JarvisLabsClient::new(&self.hosts, &config.creds.api_key, &self.http)
    }
}

#[async_trait]
impl BackendDefinition for JarvisLabs {
    type Config = JarvisLabsBackendConfig;
    type Compute = JarvisLabsCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Jarvislabs
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// A refused key (401 or 403) is "Invalid credentials" on `creds.api_key`; any other
    /// failure is reported as it is, as dstack reports it. The regions are checked after it
    /// by the config's own rule (gpuhunt's known regions, dstack's message).
    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        self.client(config).check_api_key().await
    }

    async fn compute(&self, config: Self::Config) -> Result<JarvisLabsCompute> {
        let client = self.client(&config);
        Ok(JarvisLabsCompute::new(config, client, self.agent.clone(), self.ssh.clone()))
    }
}
