//! SSH key pairs for users and projects (dstack gives each one; the CLI uses the user's).

use dstack_core::Secret;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

/// A new ed25519 key pair: (OpenSSH public key line ending in `\n`, OpenSSH private key).
pub fn generate_key_pair(comment: &str) -> (String, Secret) {
    let mut private = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .expect("ed25519 key generation does not fail");
    private.set_comment(comment);
    let public = private.public_key().to_openssh().expect("an ed25519 key encodes");
    let private = private.to_openssh(LineEnding::LF).expect("an ed25519 key encodes");
    (format!("{public}\n"), Secret::new(private.as_str()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_openssh_ed25519() {
        let (public, private) = super::generate_key_pair("admin");
        assert!(public.starts_with("ssh-ed25519 ") && public.ends_with(" admin\n"), "{public}");
        assert!(private.expose().starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    }
}
