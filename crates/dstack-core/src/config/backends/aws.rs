//! `type: aws` — Amazon Web Services.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::common::Tags;
use crate::secret::Secret;
use indexmap::IndexMap;

/// The AWS backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsBackendConfig {
    /// AWS regions to use. Omit to use every region where dstack's images are published.
    pub regions: Option<Vec<String>>,
    /// Name of a custom VPC that must exist in every configured region.
    /// Mutually exclusive with `vpc_ids`.
    pub vpc_name: Option<String>,
    /// VPC ID per region (`us-east-1: vpc-0a2b...`). Regions not listed use their default VPC
    /// unless `default_vpcs` is `false`. Mutually exclusive with `vpc_name`.
    pub vpc_ids: Option<IndexMap<String, String>>,
    /// Whether regions without a configured VPC may use their default VPC. Defaults to `true`;
    /// `false` requires `vpc_name` or `vpc_ids`.
    pub default_vpcs: Option<bool>,
    /// Whether instances get public IPs. Defaults to `true`. With `false`, instances run in
    /// private subnets, which need outbound internet access (NAT or Transit Gateway).
    pub public_ips: Option<bool>,
    /// IAM instance profile (or role created in the console) attached to the instances.
    pub iam_instance_profile: Option<String>,
    /// Tags added to every resource dstack creates. At most 25; keys may not start with `aws:`.
    pub tags: Option<Tags>,
    /// Custom AMIs to use instead of dstack's images.
    pub os_images: Option<AwsOsImages>,
    /// Extra instance types to offer beyond the families dstack supports, if the offer
    /// catalog lists them.
    pub experimental_instance_types: Option<Vec<String>>,
    /// The credentials.
    pub creds: AwsCreds,
}

crate::tagged_union! {
    /// AWS credentials, chosen by `type`.
    pub enum AwsCreds as "credentials type" {
        /// A static access key pair.
        AccessKey(AwsAccessKeyCreds) = "access_key",
        /// The AWS SDK's default credential chain on the server host: environment, shared
        /// config and credentials files, SSO, instance role. Refused when
        /// `DSTACK_DEFAULT_CREDS_DISABLED` is set.
        Default = "default",
    }
}

/// A static AWS access key pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsAccessKeyCreds {
    /// The access key ID (`AKIA...`).
    pub access_key: Secret,
    /// The secret access key.
    pub secret_key: Secret,
}

/// Custom AMIs per kind of instance. A kind left unset cannot be provisioned while custom
/// images are configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsOsImages {
    /// The AMI for CPU-only instances.
    pub cpu: Option<AwsOsImage>,
    /// The AMI for instances with NVIDIA GPUs.
    pub nvidia: Option<AwsOsImage>,
}

/// One custom AMI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsOsImage {
    /// The AMI name.
    pub name: String,
    /// The AMI owner: a 12-digit AWS account ID, or `self`.
    #[serde(default)]
    pub owner: AwsImageOwner,
    /// The OS user dstack logs in as to provision the instance.
    pub user: String,
}

/// A 12-digit AWS account ID or `self`. YAML may write the ID as a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(transform = account_or_self)]
pub struct AwsImageOwner(String);

fn account_or_self(schema: &mut schemars::Schema) {
    *schema = schemars::json_schema!({
        "description": "A 12-digit AWS account ID, or `self`.",
        "anyOf": [
            {"type": "string", "pattern": r"^(\d{12}|self)$"},
            {"type": "integer", "minimum": 100_000_000_000_u64, "maximum": 999_999_999_999_u64},
        ],
    });
}

impl AwsImageOwner {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for AwsImageOwner {
    fn default() -> Self {
        Self("self".to_owned())
    }
}

impl<'de> Deserialize<'de> for AwsImageOwner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owner = String::deserialize(deserializer)?;
        let is_account = owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit());
        if is_account || owner == "self" {
            Ok(Self(owner))
        } else {
            Err(serde::de::Error::custom(format!(
                "invalid AMI owner `{owner}`: expected a 12-digit AWS account ID or `self`"
            )))
        }
    }
}
