//! Pieces shared by many backend models: single-variant creds and their `type` tags.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Resource tags or labels: key → value, in the order written.
pub type Tags = IndexMap<String, String>;

/// The `type` of API-key credentials. It may be omitted: it has one possible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyTag {
    #[default]
    ApiKey,
}

/// The `type` of access-key credentials. It may be omitted: it has one possible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessKeyTag {
    #[default]
    AccessKey,
}

/// The `type` of service-account credentials. It may be omitted: it has one possible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountTag {
    #[default]
    ServiceAccount,
}

/// Credentials made of one API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreds {
    /// The type of credentials. Always `api_key`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ApiKeyTag,
    /// The API key.
    pub api_key: Secret,
}

/// Credentials made of an access key and a secret key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyCreds {
    /// The type of credentials. Always `access_key`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: AccessKeyTag,
    /// The access key.
    pub access_key: Secret,
    /// The secret key.
    pub secret_key: Secret,
}

/// The most tags dstack allows on a backend.
pub const MAX_TAGS: usize = 25;

/// dstack's rule for backends with `tags` (AWS, Azure, GCP, Nebius).
pub fn tag_count_problems(tags: Option<&Tags>) -> Vec<super::FieldNote> {
    if tags.is_some_and(|t| t.len() > MAX_TAGS) {
        vec![(
            vec!["tags".to_owned()],
            format!("Maximum number of tags exceeded. Up to {MAX_TAGS} tags is allowed."),
        )]
    } else {
        Vec::new()
    }
}
