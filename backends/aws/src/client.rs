//! SDK configuration for one set of credentials and one region.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use dstack_core::config::backends::AwsCreds;

/// Attempts per call: throttling, 5xx answers, timeouts and dropped connections are retried
/// with exponential backoff and jitter by the SDK's standard retry strategy.
pub const MAX_ATTEMPTS: u32 = 4;

/// The SDK configuration: static keys or the default credential chain, in `region`, at
/// `endpoint_url` when one is given (otherwise the SDK's own, which honours
/// `AWS_ENDPOINT_URL`).
pub async fn sdk_config(creds: &AwsCreds, region: &str, endpoint_url: Option<&str>) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .retry_config(retry);
    if let AwsCreds::AccessKey(keys) = creds {
        loader = loader.credentials_provider(Credentials::new(
            keys.access_key.expose(),
            keys.secret_key.expose(),
            None,
            None,
            "dstack-config",
        ));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// An EC2 client for `region`.
pub async fn ec2(
    creds: &AwsCreds,
    region: &str,
    endpoint_url: Option<&str>,
) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(creds, region, endpoint_url).await)
}

/// An EC2 filter: `name` matching any of `values`.
pub fn filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
        .build()
}
