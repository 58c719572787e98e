//! Configuring AWS: dstack's checks in dstack's order (default-credentials gate, STS
//! `GetCallerIdentity`, tags, IAM instance profile, VPC options, then each region's VPC and
//! subnets), then the stored record with the default regions filled in.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_catalog::Catalog;
use dstack_core::backend::ComputeBackend;
use dstack_core::backend::{Capabilities, ValidationContext};
use dstack_core::config::backends::{AwsBackendConfig, AwsCreds};
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::error::Result;
use dstack_core::{Backend, BackendError, BackendRecord, Configurator, ErrorKind};

use aws_config::SdkConfig;
use aws_sdk_iam::error::ProvideErrorMetadata;
use futures::future::join_all;

use crate::client::sdk_config;
use crate::compute::AwsCompute;
use crate::{network, tags};

/// Where dstack's images are published: the regions used when `regions` is omitted.
pub const DEFAULT_REGIONS: [&str; 11] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
];

/// The configured regions, or [`DEFAULT_REGIONS`] when `regions` is omitted. An empty list
/// means no regions, as in dstack.
pub(crate) fn configured_regions(config: &AwsBackendConfig) -> Vec<String> {
    config.regions.clone().unwrap_or_else(|| DEFAULT_REGIONS.map(str::to_owned).to_vec())
}

/// The region of identity calls.
const MAIN_REGION: &str = "us-east-1";

/// The AWS configurator.
#[derive(Debug, Clone)]
pub struct AwsConfigurator {
    catalog: Arc<Catalog>,
    endpoint_url: Option<String>,
}

impl AwsConfigurator {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self { catalog, endpoint_url: None }
    }

    /// Sends every call to `url` (an emulator or a proxy) instead of AWS's endpoints; the same
    /// as setting `AWS_ENDPOINT_URL`, for code that embeds this crate.
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    fn aws_config(config: &BackendConfigWithCreds) -> Result<&AwsBackendConfig> {
        match config {
            BackendConfigWithCreds::Aws(c) => Ok(c),
            other => Err(BackendError::new(
                ErrorKind::InvalidConfig,
                format!("the AWS configurator got a `{}` config", other.tag()),
            )),
        }
    }
}

fn invalid_config(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::InvalidConfig, message).for_backend(BackendType::Aws)
}

/// AWS's tag rules, as dstack checks them.
fn check_tags(config: &AwsBackendConfig) -> Result<()> {
    let Some(tags) = &config.tags else { return Ok(()) };
    if tags.len() > tags::MAX_TAGS {
        return Err(invalid_config(format!(
            "Maximum number of tags exceeded. Up to {} tags is allowed.",
            tags::MAX_TAGS
        )));
    }
    if tags.iter().all(|(key, value)| tags::is_valid(key, value)) {
        Ok(())
    } else {
        Err(invalid_config(
            "Invalid resource tags. See tags restrictions: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions",
        ))
    }
}

/// The configured instance profile must exist.
async fn check_iam_instance_profile(config: &AwsBackendConfig, sdk: &SdkConfig) -> Result<()> {
    let Some(profile) = &config.iam_instance_profile else { return Ok(()) };
    let answer = aws_sdk_iam::Client::new(sdk)
        .get_instance_profile()
        .instance_profile_name(profile)
        .send()
        .await;
    match answer {
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
async fn check_networks(config: &AwsBackendConfig, endpoint_url: Option<&str>) -> Result<()> {
    let regions = configured_regions(config);
    let lookups = regions.iter().map(|region| async move {
        let client = crate::client::ec2(&config.creds, region, endpoint_url).await;
        network::resolve(&client, config, region, None).await
    });
    for result in join_all(lookups).await {
        result?;
    }
    Ok(())
}

/// dstack's VPC option rules (the per-region lookups come with instance creation).
fn check_vpc_options(config: &AwsBackendConfig) -> Result<()> {
    if config.vpc_name.is_some() && config.vpc_ids.is_some() {
        return Err(invalid_config("Only one of `vpc_name` and `vpc_ids` can be specified"));
    }
    if config.default_vpcs == Some(false) {
        let Some(vpc_ids) = &config.vpc_ids else {
            if config.vpc_name.is_none() {
                return Err(invalid_config(
                    "`vpc_name` or `vpc_ids` must be specified if `default_vpcs: false`.",
                ));
            }
            return Ok(());
        };
        let regions = configured_regions(config);
        let missing: Vec<&String> = regions.iter().filter(|r| !vpc_ids.contains_key(*r)).collect();
        if !missing.is_empty() {
            let hint = if config.regions.is_none() {
                "Configure `vpc_ids` for all regions or specify `regions`."
            } else {
                "Configure `vpc_ids` for all regions specified in `regions`."
            };
            return Err(invalid_config(format!(
                "`vpc_ids` not configured for regions {missing:?}. {hint}"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl Configurator for AwsConfigurator {
    fn backend_type(&self) -> BackendType {
        BackendType::Aws
    }

    fn capabilities(&self) -> Capabilities {
        AwsCompute::CAPABILITIES
    }

    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()> {
        let config = Self::aws_config(config)?;
        let fields: &[&[&str]] = match &config.creds {
            AwsCreds::Default if !context.default_creds_enabled => {
                return Err(BackendError::invalid_credentials(&[&["creds"]], None));
            }
            AwsCreds::Default => &[&["creds"]],
            AwsCreds::AccessKey(_) => &[&["creds", "access_key"], &["creds", "secret_key"]],
        };
        let sdk = sdk_config(&config.creds, MAIN_REGION, self.endpoint_url.as_deref()).await;
        // As dstack: any failure of the identity call means the credentials do not work.
        if let Err(err) = aws_sdk_sts::Client::new(&sdk).get_caller_identity().send().await {
            tracing::debug!("AWS GetCallerIdentity failed: {err:?}");
            return Err(
                BackendError::invalid_credentials(fields, None).for_backend(BackendType::Aws)
            );
        }
        check_tags(config)?;
        check_iam_instance_profile(config, &sdk).await?;
        check_vpc_options(config)?;
        check_networks(config, self.endpoint_url.as_deref()).await
    }

    async fn create_backend(
        &self,
        _project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord> {
        let mut config = Self::aws_config(&config)?.clone();
        config.regions = Some(configured_regions(&config));
        BackendRecord::split(&BackendConfigWithCreds::Aws(config))
    }

    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds> {
        record.join()
    }

    async fn backend(&self, record: &BackendRecord) -> Result<Arc<dyn Backend>> {
        let config = self.config_with_creds(record)?;
        let config = Self::aws_config(&config)?.clone();
        let compute = AwsCompute::new(config, self.catalog.clone(), self.endpoint_url.clone());
        Ok(Arc::new(ComputeBackend::new(compute)))
    }
}
