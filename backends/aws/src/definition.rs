//! The AWS backend's definition: dstack's checks in dstack's order (default-credentials gate,
//! STS `GetCallerIdentity`, tag rules, IAM instance profile; then the VPC-option rules; then
//! each region's VPC and subnets), and the stored config with the default regions filled in.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::error::ProvideErrorMetadata;
use dstack_backend_kit::BackendContext;
use dstack_catalog::Catalog;
use dstack_core::backend::{BackendDefinition, Capabilities, ValidationContext};
use dstack_core::config::BackendType;
use dstack_core::config::backends::{AwsBackendConfig, AwsCreds};
use dstack_core::error::Result;
use dstack_core::provisioning::AgentSettings;
use dstack_core::{BackendError, ErrorKind};
use futures::future::join_all;

use crate::client::AwsClients;
use crate::compute::AwsCompute;
use crate::network;

/// What the AWS backend implements of dstack's feature matrix.
pub const CAPABILITIES: Capabilities = Capabilities {
    create_instance: true,
    privileged: true,
    instance_volumes: true,
    placement_groups: true,
    reservations: true,
    ..Capabilities::OFFERS_ONLY
};

/// The AWS backend.
#[derive(Debug, Clone)]
pub struct Aws {
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    endpoint_url: Option<String>,
}

impl Aws {
    pub fn new(context: &BackendContext) -> Self {
        Self {
            catalog: context.catalog.clone(),
            agent: context.agent.clone(),
            endpoint_url: context.endpoints.get(BackendType::Aws).map(str::to_owned),
        }
    }

    /// Sends every call to `url` (an emulator or a proxy) instead of AWS's endpoints; the same
    /// as setting `AWS_ENDPOINT_URL`.
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    fn clients(&self, config: &AwsBackendConfig) -> AwsClients {
        AwsClients::new(config.creds.clone(), self.endpoint_url.clone())
    }
}

fn invalid_config(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::InvalidConfig, message)
}

#[async_trait]
impl BackendDefinition for Aws {
    type Config = AwsBackendConfig;
    type Compute = AwsCompute;

    fn backend_type(&self) -> BackendType {
        BackendType::Aws
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// dstack's first checks, in its order: the default-credentials gate, STS, the tag rules,
    /// the IAM instance profile. The VPC-option rules follow (the config's rules), then the
    /// per-region networks.
    async fn check_credentials(
        &self,
        config: &AwsBackendConfig,
        context: &ValidationContext,
    ) -> Result<()> {
        let fields: &[&[&str]] = match &config.creds {
            AwsCreds::Default if !context.default_creds_enabled => {
                return Err(BackendError::invalid_credentials(&[&["creds"]], None));
            }
            AwsCreds::Default => &[&["creds"]],
            AwsCreds::AccessKey(_) => &[&["creds", "access_key"], &["creds", "secret_key"]],
        };
        let clients = self.clients(config);
        let sdk = clients.sdk().await;
        // As dstack: any failure of the identity call means the credentials do not work.
        if let Err(err) = aws_sdk_sts::Client::new(sdk).get_caller_identity().send().await {
            tracing::debug!("AWS GetCallerIdentity failed: {err:?}");
            return Err(BackendError::invalid_credentials(fields, None));
        }
        if let Some((_, message)) = config.tag_problems().into_iter().next() {
            return Err(invalid_config(message));
        }
        let Some(profile) = &config.iam_instance_profile else { return Ok(()) };
        let iam = aws_sdk_iam::Client::new(sdk);
        match iam.get_instance_profile().instance_profile_name(profile).send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("NoSuchEntity") => {
                Err(invalid_config(format!("IAM instance profile {profile} not found")))
            }
            Err(err) => {
                tracing::warn!("checking IAM instance profile {profile} failed: {err:?}");
                Err(invalid_config(format!("Failed to check IAM instance profile {profile}")))
            }
        }
    }

    /// Every configured region must have a VPC with subnets that fit `public_ips`; all regions
    /// are looked up at once.
    async fn check_resources(&self, config: &AwsBackendConfig) -> Result<()> {
        let clients = self.clients(config);
        let regions = config.configured_regions();
        let lookups = regions.iter().map(|region| {
            let clients = &clients;
            async move { network::resolve(&clients.ec2(region).await, config, region, None).await }
        });
        join_all(lookups).await.into_iter().collect::<Result<Vec<_>>>().map(drop)
    }

    fn prepare(&self, mut config: AwsBackendConfig) -> AwsBackendConfig {
        config.regions = Some(config.configured_regions());
        config
    }

    async fn compute(&self, config: AwsBackendConfig) -> Result<AwsCompute> {
        let clients = self.clients(&config);
        Ok(AwsCompute::new(config, self.catalog.clone(), self.agent.clone(), clients))
    }
}
