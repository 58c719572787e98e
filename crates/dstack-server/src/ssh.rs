//! SSH keys: the key pairs dstack gives users and projects (the CLI uses the user's), and the
//! public keys users add to their account.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use dstack_core::Secret;
use md5::Md5;
use sha2::{Digest, Sha256};
use ssh_key::public::KeyData;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey, PublicKey};

/// A new ed25519 key pair: (OpenSSH public key line ending in `\n`, OpenSSH private key).
pub fn generate_key_pair(comment: &str) -> (String, Secret) {
    let mut private = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
        .expect("ed25519 key generation does not fail");
    private.set_comment(comment);
    let public = private.public_key().to_openssh().expect("an ed25519 key encodes");
    let private = private.to_openssh(LineEnding::LF).expect("an ed25519 key encodes");
    (format!("{public}\n"), Secret::new(private.as_str()))
}

/// The key types dstack accepts from users (its `supported_key_types`).
pub const SUPPORTED_KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-ed25519",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
];

/// OpenSSH refuses RSA keys with a shorter modulus (`SSH_RSA_MINIMUM_MODULUS_SIZE`).
const MIN_RSA_BITS: usize = 1024;

/// A user's public key, read from the OpenSSH disk format (`<type> <base64 blob> [comment]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPublicKey {
    /// The key as given, without surrounding whitespace.
    pub line: String,
    /// OpenSSH's type identifier, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The comment, or else the MD5 of the blob in hex: dstack's default key name.
    pub default_name: String,
}

/// Why a public key is refused; the texts are dstack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    #[error("Invalid public key, must be in OpenSSH public key format")]
    Invalid,
    #[error("Unsupported key type: {0}")]
    Unsupported(String),
}

/// Reads a public key the way dstack does: the declared type must match the blob's, the type
/// must be one of [`SUPPORTED_KEY_TYPES`], and the key itself must be well formed (dstack
/// asks `ssh-keygen -l`; this decodes the key data and applies OpenSSH's RSA size floor).
pub fn parse_public_key(text: &str) -> Result<UserPublicKey, PublicKeyError> {
    let line = text.trim();
    let mut fields = line.splitn(3, |c: char| c.is_ascii_whitespace());
    let declared = fields.next().unwrap_or_default();
    let encoded = fields.next().ok_or(PublicKeyError::Invalid)?;
    let comment = fields.next().map(str::trim).filter(|c| !c.is_empty());
    let blob = STANDARD.decode(encoded).map_err(|_| PublicKeyError::Invalid)?;
    if blob_type(&blob) != Some(declared) {
        return Err(PublicKeyError::Invalid);
    }
    if !SUPPORTED_KEY_TYPES.contains(&declared) {
        return Err(PublicKeyError::Unsupported(declared.to_owned()));
    }
    let key = PublicKey::from_bytes(&blob).map_err(|_| PublicKeyError::Invalid)?;
    if let KeyData::Rsa(rsa) = key.key_data() {
        let modulus = rsa.n.as_positive_bytes().unwrap_or_default();
        let bits = (modulus.len() * 8)
            .saturating_sub(modulus.first().map_or(8, |b| b.leading_zeros() as usize));
        if bits < MIN_RSA_BITS {
            return Err(PublicKeyError::Invalid);
        }
    }
    let fingerprint = format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&blob)));
    let default_name = match comment {
        Some(comment) => comment.to_owned(),
        None => <Md5 as md5::Digest>::digest(&blob).iter().map(|b| format!("{b:02x}")).collect(),
    };
    Ok(UserPublicKey {
        line: line.to_owned(),
        key_type: declared.to_owned(),
        fingerprint,
        default_name,
    })
}

/// The type string a key blob starts with (an SSH `string`: u32 length, then bytes).
fn blob_type(blob: &[u8]) -> Option<&str> {
    let length = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4usize.checked_add(length)?)?).ok()
}

#[cfg(test)]
mod tests {
    use super::{PublicKeyError, STANDARD, parse_public_key};
    use base64::Engine;

    /// Keys made by `ssh-keygen` (OpenSSH 9), with the fingerprints `ssh-keygen -l` printed
    /// for them and the MD5 of the ed25519 blob from Python's `hashlib`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPvPaP6CVcZIUcSRdXQ+8UvwTNNprtlbggP95cmEJJM alice@laptop";
    const ED25519_FINGERPRINT: &str = "SHA256:g6jUbB0Cr5Dew9hjNE9XNvsUvK/Ey+RJ+HXTgN4VSbo";
    const ED25519_MD5: &str = "36a3f2112b61cf16ca90b595f271ac37";
    const ECDSA: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBLfWgwnAX+OUuJUnS5Me4RZJIbXYsHU7VtxJwXpnmqSCPTi5WQbwG5gPXEE0zayI4x0/dui8by1KwuYk+5bnQI5it23d4vbMQPDBYfjJLTUmj9/VpmTar3bhTB2MaXpdJA== root@vm";
    const ECDSA_FINGERPRINT: &str = "SHA256:whmBRS59BAQhL+oefS04tvVlc6cFkhkKyFYQqnmk0jE";
    /// RSA at OpenSSH's floor of 1024 bits.
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDK7Kde8AwbAVzwE5lQZjOVGgOJU4tuBMvlHtsWke8tjonMTpXd7Lb77XTCYD6azS6GZEDFWCr8jQl9ZpdWIeUklEvlllpx23YVuhQElNBW0S0G52yunOydH3Q8wLQ2z/p2vbbYlzxD5DqFhD+psSjsIAdtJsQwAH3QRkdOZUqTCQ== root@vm";
    const RSA_1024_FINGERPRINT: &str = "SHA256:q5EbbrGgkgikYoHXy62JTj9fY4nhgXBC9wGQtM28LAI";

    fn ssh_string(bytes: &[u8]) -> Vec<u8> {
        let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    }

    fn line(key_type: &str, blob: &[u8]) -> String {
        format!("{key_type} {}", STANDARD.encode(blob))
    }

    #[test]
    fn keys_are_read_as_dstack_reads_them() {
        let key = parse_public_key(&format!("  {ED25519}\n")).unwrap();
        assert_eq!(key.line, ED25519);
        assert_eq!(key.key_type, "ssh-ed25519");
        assert_eq!(key.fingerprint, ED25519_FINGERPRINT);
        assert_eq!(key.default_name, "alice@laptop");
        let bare = ED25519.rsplit_once(' ').unwrap().0;
        assert_eq!(parse_public_key(bare).unwrap().default_name, ED25519_MD5);
        let key = parse_public_key(ECDSA).unwrap();
        assert_eq!(
            (key.key_type.as_str(), key.fingerprint.as_str()),
            ("ecdsa-sha2-nistp384", ECDSA_FINGERPRINT)
        );
        let key = parse_public_key(RSA_1024).unwrap();
        assert_eq!(
            (key.key_type.as_str(), key.fingerprint.as_str()),
            ("ssh-rsa", RSA_1024_FINGERPRINT)
        );
    }

    #[test]
    fn bad_keys_are_refused_with_dstacks_reasons() {
        let ed25519_blob = ED25519.split(' ').nth(1).unwrap();
        let mismatched = format!("ssh-rsa {ed25519_blob}");
        let truncated = format!("ssh-ed25519 {}", &ed25519_blob[..40]);
        for text in ["", "ssh-ed25519", "ssh-ed25519 !!!", &mismatched, &truncated] {
            assert_eq!(parse_public_key(text), Err(PublicKeyError::Invalid), "{text:?}");
        }
        // A 768-bit RSA modulus: ssh-keygen refuses those.
        let mut modulus = vec![0x00, 0xc1];
        modulus.extend([0x5a; 95]);
        let mut blob = ssh_string(b"ssh-rsa");
        blob.extend(ssh_string(&[0x01, 0x00, 0x01]));
        blob.extend(ssh_string(&modulus));
        assert_eq!(parse_public_key(&line("ssh-rsa", &blob)), Err(PublicKeyError::Invalid));
        // ssh-dss: a type OpenSSH knows and dstack does not take.
        let dss = line("ssh-dss", &ssh_string(b"ssh-dss"));
        assert_eq!(
            parse_public_key(&dss).unwrap_err().to_string(),
            "Unsupported key type: ssh-dss"
        );
    }

    #[test]
    fn keys_are_openssh_ed25519() {
        let (public, private) = super::generate_key_pair("admin");
        assert!(public.starts_with("ssh-ed25519 ") && public.ends_with(" admin\n"), "{public}");
        assert!(private.expose().starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    }
}
