//! `type: oci` — Oracle Cloud Infrastructure.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

/// The OCI backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OciBackendConfig {
    /// OCI regions to use. Omit to use every subscribed region that dstack supports.
    pub regions: Option<Vec<String>>,
    /// Compartment for all resources dstack creates. Omit to let dstack create or reuse
    /// `dstack-<project>`.
    pub compartment_id: Option<String>,
    /// Shape names to allow besides the shape families dstack supports (experimental), such
    /// as `…Flex` shapes. Only shapes in dstack's offer catalog (gpuhunt) can be offered.
    pub experimental_instance_types: Option<Vec<String>>,
    /// The credentials.
    pub creds: OciCreds,
}

crate::tagged_union! {
    /// OCI credentials, chosen by `type`.
    pub enum OciCreds as "credentials type" {
        /// An API signing key of an OCI user.
        Client(OciClientCreds) = "client",
        /// A profile of the OCI CLI config file on the server host. Refused when
        /// `DSTACK_DEFAULT_CREDS_DISABLED` is set.
        Default(OciDefaultCreds) = "default",
    }
}

/// An OCI user's API signing key. Exactly one of `key_file` and `key_content` is set.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"properties": {"key_file": {"type": "string", "minLength": 1}}, "required": ["key_file"]},
    {"properties": {"key_content": {"type": "string", "minLength": 1}}, "required": ["key_content"]},
]))]
pub struct OciClientCreds {
    /// The user OCID.
    pub user: String,
    /// The tenancy OCID.
    pub tenancy: String,
    /// Path to the PEM private key on the server host.
    pub key_file: Option<String>,
    /// The PEM private key.
    pub key_content: Option<Secret>,
    /// The passphrase of the private key, if it is encrypted.
    pub pass_phrase: Option<Secret>,
    /// The fingerprint of the public key.
    pub fingerprint: String,
    /// Any region the tenancy is subscribed to; used for identity calls.
    pub region: String,
}

/// The fields of [`OciClientCreds`] before the key rule is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOciClientCreds {
    user: String,
    tenancy: String,
    key_file: Option<String>,
    key_content: Option<Secret>,
    pass_phrase: Option<Secret>,
    fingerprint: String,
    region: String,
}

impl<'de> Deserialize<'de> for OciClientCreds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawOciClientCreds::deserialize(deserializer)?;
        let has_file = raw.key_file.as_deref().is_some_and(|s| !s.is_empty());
        let has_content = raw.key_content.as_ref().is_some_and(|s| !s.is_empty());
        match (has_file, has_content) {
            (true, true) => Err(serde::de::Error::custom(
                "key_file and key_content are mutually exclusive; set only one of them",
            )),
            (false, false) => {
                Err(serde::de::Error::custom("Either key_file or key_content should be set"))
            }
            _ => Ok(OciClientCreds {
                user: raw.user,
                tenancy: raw.tenancy,
                key_file: raw.key_file,
                key_content: raw.key_content,
                pass_phrase: raw.pass_phrase,
                fingerprint: raw.fingerprint,
                region: raw.region,
            }),
        }
    }
}

/// A profile of the OCI CLI config file on the server host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OciDefaultCreds {
    /// Path to the OCI CLI config file.
    #[serde(default = "default_oci_config_file")]
    pub file: String,
    /// The profile to use in that file.
    #[serde(default = "default_oci_profile")]
    pub profile: String,
}

fn default_oci_config_file() -> String {
    "~/.oci/config".to_owned()
}

fn default_oci_profile() -> String {
    "DEFAULT".to_owned()
}

impl super::ConfigRules for OciBackendConfig {}
