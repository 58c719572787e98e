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

/// Where dstack's images are published: the regions used when `regions` is omitted.
pub const AWS_DEFAULT_REGIONS: [&str; 11] = [
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

impl AwsBackendConfig {
    /// dstack's tag rules: the first of its rules, which dstack checks before the IAM
    /// instance profile (the AWS backend calls this itself, to keep that order).
    pub fn tag_problems(&self) -> Vec<super::FieldNote> {
        let mut problems = super::common::tag_count_problems(self.tags.as_ref());
        if self.tags.iter().flatten().any(|(key, value)| !is_valid_aws_tag(key, value)) {
            problems.push((
                vec!["tags".to_owned()],
                "Invalid resource tags. See tags restrictions: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions".to_owned(),
            ));
        }
        problems
    }

    /// The configured regions, or [`AWS_DEFAULT_REGIONS`] when `regions` is omitted. An empty
    /// list means no regions, as in dstack.
    pub fn configured_regions(&self) -> Vec<String> {
        self.regions.clone().unwrap_or_else(|| AWS_DEFAULT_REGIONS.map(str::to_owned).to_vec())
    }
}

/// Whether AWS accepts a tag (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html>).
pub fn is_valid_aws_tag(key: &str, value: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    (1..=128).contains(&key.chars().count())
        && !key.starts_with("aws:")
        && key.chars().all(allowed)
        && value.chars().count() <= 256
        && value.chars().all(allowed)
}

/// dstack's AWS rules, in the order dstack checks them (the configurator reports the first).
impl super::ConfigRules for AwsBackendConfig {
    fn problems(&self) -> Vec<super::FieldNote> {
        let mut problems = self.tag_problems();
        let mut note =
            |field: &str, message: String| problems.push((vec![field.to_owned()], message));
        if self.vpc_name.is_some() && self.vpc_ids.is_some() {
            note("vpc_ids", "Only one of `vpc_name` and `vpc_ids` can be specified".to_owned());
        } else if self.default_vpcs == Some(false) && self.vpc_name.is_none() {
            match &self.vpc_ids {
                None => note(
                    "default_vpcs",
                    "`vpc_name` or `vpc_ids` must be specified if `default_vpcs: false`."
                        .to_owned(),
                ),
                Some(vpc_ids) => {
                    let regions = self.configured_regions();
                    let missing: Vec<&String> =
                        regions.iter().filter(|r| !vpc_ids.contains_key(*r)).collect();
                    if !missing.is_empty() {
                        let hint = if self.regions.is_none() {
                            "Configure `vpc_ids` for all regions or specify `regions`."
                        } else {
                            "Configure `vpc_ids` for all regions specified in `regions`."
                        };
                        note(
                            "vpc_ids",
                            format!("`vpc_ids` not configured for regions {missing:?}. {hint}"),
                        );
                    }
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod rules_tests {
    use super::*;
    use crate::config::backends::ConfigRules;

    fn aws(json: serde_json::Value) -> AwsBackendConfig {
        let mut value = json;
        value["type"] = "aws".into();
        value["creds"] = serde_json::json!({"type": "default"});
        match crate::config::load::from_json(&value).unwrap() {
            crate::config::BackendConfigWithCreds::Aws(c) => c,
            _ => unreachable!(),
        }
    }

    #[test]
    fn aws_rules_in_dstacks_order() {
        let first = |json| aws(json).problems().into_iter().next().map(|(f, m)| (f.join("."), m));
        assert_eq!(first(serde_json::json!({})), None);
        let (field, message) = first(serde_json::json!({"tags": {"aws:x": "1"}})).unwrap();
        assert_eq!(field, "tags");
        assert!(message.starts_with("Invalid resource tags"));
        let (field, _) =
            first(serde_json::json!({"vpc_name": "v", "vpc_ids": {"us-east-1": "vpc-1"}})).unwrap();
        assert_eq!(field, "vpc_ids");
        let (_, message) = first(serde_json::json!({"default_vpcs": false})).unwrap();
        assert!(message.starts_with("`vpc_name` or `vpc_ids` must be specified"));
        let (_, message) = first(serde_json::json!({
            "default_vpcs": false, "regions": ["us-east-1", "eu-west-1"], "vpc_ids": {"us-east-1": "vpc-1"}
        }))
        .unwrap();
        assert_eq!(
            message,
            "`vpc_ids` not configured for regions [\"eu-west-1\"]. Configure `vpc_ids` for all regions specified in `regions`."
        );
        assert!(is_valid_aws_tag("team", "ml-platform/a@b.c"));
        assert!(!is_valid_aws_tag("", "x") && !is_valid_aws_tag("k", "bad#value"));
        assert!(!is_valid_aws_tag(&"k".repeat(129), "x"));
    }
}
