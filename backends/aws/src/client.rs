//! SDK configuration for one set of credentials and one region.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use dstack_core::config::backends::AwsCreds;

/// The SDK configuration: static keys or the default credential chain, in `region`, at
/// `endpoint_url` when one is given (otherwise the SDK's own, which honours
/// `AWS_ENDPOINT_URL`).
pub async fn sdk_config(creds: &AwsCreds, region: &str, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
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
