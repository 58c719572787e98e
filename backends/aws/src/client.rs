//! The SDK for one backend: one configuration (with its credentials cache) and one EC2 client
//! per region, made once and reused by every call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use dstack_core::config::backends::AwsCreds;
use tokio::sync::OnceCell;

/// Attempts per call: throttling, 5xx answers, timeouts and dropped connections are retried
/// with exponential backoff and jitter by the SDK's standard retry strategy.
pub const MAX_ATTEMPTS: u32 = 4;

/// The region of identity calls (STS, IAM).
pub const MAIN_REGION: &str = "us-east-1";

/// The SDK of one set of credentials.
#[derive(Debug)]
pub struct AwsClients {
    creds: AwsCreds,
    endpoint_url: Option<String>,
    sdk: OnceCell<SdkConfig>,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
}

impl AwsClients {
    /// Calls go to `endpoint_url` when given (an emulator, a proxy), else to AWS's endpoints
    /// (the SDK honours `AWS_ENDPOINT_URL`).
    pub fn new(creds: AwsCreds, endpoint_url: Option<String>) -> Self {
        Self { creds, endpoint_url, sdk: OnceCell::new(), ec2: Mutex::new(HashMap::new()) }
    }

    /// The SDK configuration (in [`MAIN_REGION`]): static keys or the default credential
    /// chain, loaded once.
    pub async fn sdk(&self) -> &SdkConfig {
        self.sdk
            .get_or_init(|| async {
                let retry = RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200));
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(MAIN_REGION))
                    .retry_config(retry);
                if let AwsCreds::AccessKey(keys) = &self.creds {
                    loader = loader.credentials_provider(Credentials::new(
                        keys.access_key.expose(),
                        keys.secret_key.expose(),
                        None,
                        None,
                        "dstack-config",
                    ));
                }
                if let Some(url) = &self.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                loader.load().await
            })
            .await
    }

    /// The EC2 client of `region`.
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        if let Some(client) = self.ec2.lock().unwrap_or_else(|e| e.into_inner()).get(region) {
            return client.clone();
        }
        let config = aws_sdk_ec2::config::Builder::from(self.sdk().await)
            .region(Region::new(region.to_owned()))
            .build();
        let client = aws_sdk_ec2::Client::from_conf(config);
        let mut clients = self.ec2.lock().unwrap_or_else(|e| e.into_inner());
        clients.entry(region.to_owned()).or_insert(client).clone()
    }
}

/// An EC2 filter: `name` matching any of `values`.
pub fn filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
}
