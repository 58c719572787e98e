//! Encryption of secrets at rest, compatible with dstack's format:
//! `enc:<key type>:<key name>:<payload>`, where the payload of an `aes` key is
//! base64(12-byte nonce ‖ AES-256-GCM ciphertext ‖ tag) with no associated data, and the
//! payload of the `identity` key is the plain text.
//!
//! The first configured key encrypts. To decrypt, every key of the value's type is tried in
//! order (the name is only a label, as in dstack). An identity key is always present last, so
//! values written before encryption was configured stay readable.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use dstack_core::Secret;
use dstack_core::config::EncryptionKeyConfig;
use rand::RngCore;

/// The keys in force.
#[derive(Clone)]
pub struct Keys {
    keys: Vec<Key>,
}

#[derive(Clone)]
enum Key {
    Identity,
    Aes { name: String, cipher: Box<Aes256Gcm> },
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .keys
            .iter()
            .map(|k| match k {
                Key::Identity => "identity".to_owned(),
                Key::Aes { name, .. } => format!("aes:{name}"),
            })
            .collect();
        f.debug_struct("Keys").field("keys", &names).finish()
    }
}

/// A value that cannot be decrypted with the configured keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the stored value is not in the `enc:<type>:<name>:<payload>` format")]
    Malformed,
    #[error(
        "no configured `{key_type}` key decrypts a value written with key `{key_name}`; \
         add that key back to `encryption.keys` in config.yml"
    )]
    NoKey { key_type: String, key_name: String },
    #[error(
        "the configured key `{key_name}` does not decrypt a value written with a key of that \
         name: its secret is not the one the value was written with; put the old secret back \
         in `encryption.keys` in config.yml"
    )]
    SecretChanged { key_name: String },
}

impl Default for Keys {
    /// No encryption configured: the identity key only.
    fn default() -> Self {
        Self { keys: vec![Key::Identity] }
    }
}

impl Keys {
    /// Keys from config.yml's `encryption.keys`, with an identity key appended unless present.
    pub fn from_config(configs: &[EncryptionKeyConfig]) -> Self {
        let mut keys: Vec<Key> = configs
            .iter()
            .map(|config| match config {
                EncryptionKeyConfig::Identity => Key::Identity,
                EncryptionKeyConfig::Aes(aes) => Key::Aes {
                    name: aes.name.as_str().to_owned(),
                    cipher: Box::new(Aes256Gcm::new(&aes.secret.key_bytes().into())),
                },
            })
            .collect();
        if !keys.iter().any(|k| matches!(k, Key::Identity)) {
            keys.push(Key::Identity);
        }
        Self { keys }
    }

    /// Encrypts with the first key.
    pub fn encrypt(&self, plaintext: &str) -> String {
        match &self.keys[0] {
            Key::Identity => format!("enc:identity:noname:{plaintext}"),
            Key::Aes { name, cipher } => {
                let mut nonce = [0u8; 12];
                rand::rng().fill_bytes(&mut nonce);
                let ciphertext = cipher
                    .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
                    .expect("AES-GCM encryption of an in-memory buffer cannot fail");
                let mut payload = nonce.to_vec();
                payload.extend(ciphertext);
                format!("enc:aes:{name}:{}", BASE64.encode(payload))
            }
        }
    }

    pub fn encrypt_secret(&self, secret: &Secret) -> String {
        self.encrypt(secret.expose())
    }

    /// Decrypts a stored value with the first key of its type that works.
    pub fn decrypt(&self, stored: &str) -> Result<Secret, DecryptError> {
        let rest = stored.strip_prefix("enc:").ok_or(DecryptError::Malformed)?;
        let (key_type, rest) = rest.split_once(':').ok_or(DecryptError::Malformed)?;
        let (key_name, payload) = rest.split_once(':').ok_or(DecryptError::Malformed)?;
        let no_key =
            || DecryptError::NoKey { key_type: key_type.to_owned(), key_name: key_name.to_owned() };
        match key_type {
            "identity" => Ok(Secret::new(payload)),
            "aes" => {
                let bytes = BASE64.decode(payload).map_err(|_| DecryptError::Malformed)?;
                if bytes.len() < 12 + 16 {
                    return Err(DecryptError::Malformed);
                }
                let (nonce, ciphertext) = bytes.split_at(12);
                self.keys
                    .iter()
                    .filter_map(|k| match k {
                        Key::Aes { cipher, .. } => Some(cipher),
                        Key::Identity => None,
                    })
                    .find_map(|cipher| cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok())
                    .and_then(|plain| String::from_utf8(plain).ok())
                    .map(Secret::new)
                    .ok_or_else(|| {
                        let same_name = self.keys.iter().any(
                            |k| matches!(k, Key::Aes { name, .. } if name.as_str() == key_name),
                        );
                        if same_name {
                            DecryptError::SecretChanged { key_name: key_name.to_owned() }
                        } else {
                            no_key()
                        }
                    })
            }
            _ => Err(no_key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dstack_core::config::load::from_yaml;

    fn keys(yaml: &str) -> Keys {
        let configs: Vec<EncryptionKeyConfig> = from_yaml(yaml).unwrap();
        Keys::from_config(&configs)
    }

    const KEY1: &str = "cR2r1JmkPyL6edBQeHKz6ZBjCfS2oWk87Gc2G3wHVoA=";
    const KEY2: &str = "E5yzN6V3XvBq/f085ISWFCdgnOGED0kuFaAkASlmmO4=";

    #[test]
    fn identity_is_the_default() {
        let keys = Keys::default();
        assert_eq!(keys.encrypt("x"), "enc:identity:noname:x");
        assert_eq!(keys.decrypt("enc:identity:noname:a:b").unwrap().expose(), "a:b");
    }

    #[test]
    fn first_key_encrypts_and_all_keys_decrypt() {
        let old = keys(&format!("[{{type: aes, name: old, secret: '{KEY2}'}}]"));
        let written_with_old = old.encrypt("s3cret");
        assert!(written_with_old.starts_with("enc:aes:old:"));
        assert!(!written_with_old.contains("s3cret"));
        let rotated = keys(&format!(
            "[{{type: aes, name: new, secret: '{KEY1}'}}, {{type: aes, name: old, secret: '{KEY2}'}}]"
        ));
        assert!(rotated.encrypt("x").starts_with("enc:aes:new:"));
        assert_eq!(rotated.decrypt(&written_with_old).unwrap().expose(), "s3cret");
        // Values written before encryption was configured stay readable.
        assert_eq!(rotated.decrypt("enc:identity:noname:plain").unwrap().expose(), "plain");
    }

    #[test]
    fn a_removed_key_is_named_in_the_error() {
        let old = keys(&format!("[{{type: aes, name: old, secret: '{KEY2}'}}]"));
        let stored = old.encrypt("s3cret");
        let new = keys(&format!("[{{type: aes, name: new, secret: '{KEY1}'}}]"));
        let err = new.decrypt(&stored).unwrap_err();
        assert_eq!(err, DecryptError::NoKey { key_type: "aes".into(), key_name: "old".into() });
        assert!(err.to_string().contains("key `old`"));
        assert_eq!(Keys::default().decrypt("plain").unwrap_err(), DecryptError::Malformed);
    }

    #[test]
    fn a_changed_secret_is_not_called_a_removed_key() {
        let stored = keys(&format!("[{{type: aes, name: k, secret: '{KEY2}'}}]")).encrypt("s");
        let changed = keys(&format!("[{{type: aes, name: k, secret: '{KEY1}'}}]"));
        let err = changed.decrypt(&stored).unwrap_err();
        assert_eq!(err, DecryptError::SecretChanged { key_name: "k".into() });
        assert!(err.to_string().contains("its secret is not the one"), "{err}");
    }

    /// A value made by Python's `cryptography` AESGCM, as dstack makes them:
    /// key KEY1, nonce 000102..0b, plaintext "hello", no associated data.
    #[test]
    fn decrypts_a_value_made_by_python_cryptography() {
        let keys = keys(&format!("[{{type: aes, name: key1, secret: '{KEY1}'}}]"));
        let stored = "enc:aes:key1:AAECAwQFBgcICQoLWsxekYV2zzdFJaUDHbz/GI4FSez9";
        assert_eq!(keys.decrypt(stored).unwrap().expose(), "hello");
    }
}
