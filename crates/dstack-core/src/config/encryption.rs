//! The `encryption` section: keys that encrypt secrets at rest.

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

/// Encryption of secrets stored in the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// The keys, in order: the first one encrypts new values; all are tried to decrypt. To
    /// rotate, put the new key first and keep the old ones until data is re-encrypted.
    pub keys: Vec<EncryptionKeyConfig>,
}

crate::tagged_union! {
    /// An encryption key, chosen by `type`.
    pub enum EncryptionKeyConfig as "encryption key type" {
        /// No encryption: values are stored as they are. Used when no key is configured, and
        /// kept last so that values written without encryption stay readable.
        Identity = "identity",
        /// AES-256-GCM.
        Aes(AesKeyConfig) = "aes",
    }
}

/// An AES-256-GCM key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AesKeyConfig {
    /// The key's name: letters and digits only. It labels the values the key encrypted.
    pub name: KeyName,
    /// The key: 32 random bytes, base64-encoded (`head -c 32 /dev/urandom | base64`).
    pub secret: AesSecret,
}

/// A key name: letters and digits only (Python's `str.isalnum`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct KeyName(String);

impl KeyName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name.is_empty() || !name.chars().all(char::is_alphanumeric) {
            return Err(serde::de::Error::custom(format!(
                "Key name must be alphanumeric (letters and digits only), got `{name}`"
            )));
        }
        Ok(Self(name))
    }
}

/// A base64-encoded 32-byte AES key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct AesSecret(Secret);

impl AesSecret {
    /// The raw 32-byte key. Checked when the config was read.
    pub fn key_bytes(&self) -> [u8; 32] {
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(self.0.expose()).unwrap_or_default();
        decoded.try_into().unwrap_or([0; 32])
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AesSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secret = Secret::deserialize(deserializer)?;
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(secret.expose()).map_err(|_| {
                serde::de::Error::custom(
                    "Failed to decode secret from base64; generate one with \
                     `head -c 32 /dev/urandom | base64`",
                )
            })?;
        if decoded.len() != 32 {
            return Err(serde::de::Error::custom(format!(
                "AES key must be 32 bytes. Got {} bytes; generate one with \
                 `head -c 32 /dev/urandom | base64`",
                decoded.len()
            )));
        }
        Ok(Self(secret))
    }
}
