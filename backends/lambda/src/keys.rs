//! The project's SSH key on Lambda: registered once under a name derived from the key, as
//! dstack names it, so every instance of the project reuses it.

use dstack_backend_kit::RestClient;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind};
use sha1::{Digest, Sha1};

use crate::client::{add_ssh_key, ssh_keys};

/// dstack's name for a public key: the last 16 hex digits of its SHA-1.
pub fn key_name(public_key: &str) -> String {
    let digest = Sha1::digest(public_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[hex.len() - 16..].to_owned()
}

/// A registered key: its name, and its id when this call registered it (so that a failed
/// create can remove what it added).
#[derive(Debug)]
pub struct RegisteredKey {
    pub name: String,
    pub added: Option<String>,
}

/// Registers `public_key` unless a key of its name is there.
pub async fn register(client: &RestClient, public_key: &str) -> Result<RegisteredKey> {
    let name = key_name(public_key);
    if ssh_keys(client).await?.iter().any(|k| k.name == name) {
        return Ok(RegisteredKey { name, added: None });
    }
    match add_ssh_key(client, &name, public_key).await {
        Ok(key) => Ok(RegisteredKey { name, added: Some(key.id) }),
        // Another create registered it in between: the name is taken by the same key.
        Err(err) if err.kind() == ErrorKind::InvalidConfig => {
            if ssh_keys(client).await?.iter().any(|k| k.name == name) {
                Ok(RegisteredKey { name, added: None })
            } else {
                Err(err)
            }
        }
        Err(err) => Err(err),
    }
}

/// The first key of an instance's configuration: the project's.
pub fn project_key(keys: &[dstack_core::offers::SshKey]) -> Result<&str> {
    keys.first().map(|k| k.public.trim()).ok_or_else(|| {
        BackendError::new(ErrorKind::InvalidConfig, "the instance has no SSH key to log in with")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_tail_of_the_keys_sha1_as_dstack_computes_them() {
        // Python: hashlib.sha1(b"ssh-ed25519 AAAA test").hexdigest()[-16:]
        assert_eq!(key_name("ssh-ed25519 AAAA test"), "1cb9331ca7206e7e");
        assert_ne!(key_name("ssh-ed25519 AAAA test"), key_name("ssh-ed25519 AAAB test"));
    }
}
