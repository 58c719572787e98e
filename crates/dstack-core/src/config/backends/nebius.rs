//! `type: nebius` — Nebius AI Cloud. The file form can read the service account from a Nebius
//! CLI credentials file (`filename`) or the private key from `private_key_file`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{ServiceAccountTag, Tags};
use crate::config::files::{FileFieldError, fill_data, read_file};
use crate::secret::Secret;

/// The Nebius backend. `C` is [`NebiusFileCreds`] in `config.yml`, [`NebiusCreds`] in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "NebiusBackendConfig_{C}")]
pub struct NebiusBackendConfig<C> {
    /// Nebius project IDs to use, at most one per region. Omit to use each region's default
    /// project.
    pub projects: Option<Vec<String>>,
    /// Nebius regions to use. Omit to use all regions of the tenancy.
    pub regions: Option<Vec<String>>,
    /// InfiniBand fabrics allowed for clusters. Omit to allow all.
    pub fabrics: Option<Vec<String>>,
    /// Labels added to every resource dstack creates. At most 25.
    pub tags: Option<Tags>,
    /// The service account credentials.
    pub creds: C,
}

/// Nebius service account credentials in `config.yml`: give `filename` (a Nebius CLI
/// credentials file), or the IDs plus `private_key_file` or `private_key_content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NebiusFileCreds {
    /// The type of credentials. Always `service_account`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ServiceAccountTag,
    /// The service account ID.
    pub service_account_id: Option<String>,
    /// The ID of the service account's public key.
    pub public_key_id: Option<String>,
    /// Path to the PEM private key on the server host.
    pub private_key_file: Option<String>,
    /// The PEM private key.
    pub private_key_content: Option<Secret>,
    /// Path to a Nebius CLI service account credentials file (JSON); when set, it provides
    /// the three values above.
    pub filename: Option<String>,
}

/// Nebius service account credentials in the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NebiusCreds {
    /// The type of credentials. Always `service_account`; may be omitted.
    #[serde(rename = "type", default)]
    pub kind: ServiceAccountTag,
    /// The service account ID.
    pub service_account_id: String,
    /// The ID of the service account's public key.
    pub public_key_id: String,
    /// The file the private key was read from, if any (informational).
    pub private_key_file: Option<String>,
    /// The PEM private key.
    pub private_key_content: Secret,
    /// The credentials file the values were read from, if any (informational).
    pub filename: Option<String>,
}

/// The part of a Nebius CLI credentials file dstack reads.
#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "subject-credentials")]
    subject: SubjectCredentials,
}

#[derive(Deserialize)]
struct SubjectCredentials {
    #[serde(rename = "private-key")]
    private_key: String,
    kid: String,
    sub: String,
}

impl NebiusFileCreds {
    /// Reads the credentials file or the key file when needed, giving the API form.
    pub fn resolve(self) -> Result<NebiusCreds, FileFieldError> {
        let mut creds = self;
        let error = |field: &'static str, message: String| FileFieldError {
            field: vec!["creds".to_owned(), field.to_owned()],
            message,
        };
        if let Some(filename) = creds.filename.clone().filter(|f| !f.is_empty()) {
            let text = read_file(&filename).map_err(|m| error("filename", m))?;
            let parsed: CredentialsFile = serde_json::from_str(&text).map_err(|e| {
                error("filename", format!("Failed to parse credentials file {filename}: {e}"))
            })?;
            creds.service_account_id = Some(parsed.subject.sub);
            creds.public_key_id = Some(parsed.subject.kid);
            creds.private_key_content = Some(Secret::new(parsed.subject.private_key));
        } else {
            let content = creds.private_key_content.take().map(|s| s.expose().to_owned());
            let path = creds.private_key_file.clone().unwrap_or_default();
            let content =
                fill_data(content, &path, &["creds"], "private_key_file", "private_key_content")?;
            creds.private_key_content = Some(Secret::new(content));
        }
        let required = |value: Option<String>, field: &'static str| {
            value.ok_or_else(|| {
                error(
                    field,
                    format!(
                        "missing required field `{field}`; set it, or set `filename` to a \
                         Nebius CLI credentials file"
                    ),
                )
            })
        };
        Ok(NebiusCreds {
            kind: creds.kind,
            service_account_id: required(creds.service_account_id, "service_account_id")?,
            public_key_id: required(creds.public_key_id, "public_key_id")?,
            private_key_file: creds.private_key_file,
            private_key_content: creds.private_key_content.unwrap_or_default(),
            filename: creds.filename,
        })
    }
}

impl<C> super::ConfigRules for NebiusBackendConfig<C> {
    fn problems(&self) -> Vec<super::FieldNote> {
        super::common::tag_count_problems(self.tags.as_ref())
    }
}
