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

/// The `type` of API-token credentials (Seeweb). It may be omitted: it has one possible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiTokenTag {
    #[default]
    ApiToken,
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

/// Credentials made of one API key that may not be empty (Daytona, Lium): dstack refuses
/// `api_key: ""` when it reads the config, not later at the credential check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NonEmptyApiKeyCreds {
    /// The type of credentials. Always `api_key`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ApiKeyTag,
    /// The API key; at least 1 character.
    #[serde(deserialize_with = "non_empty_secret")]
    // `length(min = 1)` is lost on a `$ref`; the keyword is set beside it instead.
    #[schemars(extend("minLength" = 1))]
    pub api_key: Secret,
}

/// Reads a secret that must have at least one character, with pydantic's `min_length` text.
/// Whitespace counts: `" "` passes, as in dstack.
pub fn non_empty_secret<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Secret, D::Error> {
    let secret = Secret::deserialize(deserializer)?;
    if secret.is_empty() {
        return Err(serde::de::Error::custom("String should have at least 1 character"));
    }
    Ok(secret)
}

/// Credentials made of one API token (Seeweb). Unlike Daytona's and Lium's API keys, dstack puts no
/// length rule on it: `""` parses, and only the credential check refuses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenCreds {
    /// The type of credentials. Always `api_token` (not `api_key`); may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ApiTokenTag,
    /// The API token.
    pub api_token: Secret,
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

/// A list of strings as Python prints it (`['a', 'b']`): dstack's messages embed such lists,
/// and the exact text is part of its answers.
pub fn python_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| python_str(s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// A string as Python's `repr` prints it: single quotes, unless the text has a single quote
/// and no double quote.
fn python_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_lists_print_as_python_does() {
        assert_eq!(python_list(["us-east1", "zz"]), "['us-east1', 'zz']");
        assert_eq!(python_list(Vec::<String>::new()), "[]");
        assert_eq!(python_list(["it's"]), r#"["it's"]"#);
        assert_eq!(python_list([r#"a'b"c"#]), r#"['a\'b"c']"#);
        assert_eq!(python_list(["a\\b\n"]), r"['a\\b\n']");
    }
}
