//! The keys a job container authorizes: the project key (the server's way in) and the extra
//! keys the server passes (normally the user's), each rebuilt from its parsed parts so that
//! nothing unvalidated reaches a shell command or a file (dstack's `authorized_keys.py`).

use base64::Engine as _;

use crate::error::{BackendError, ErrorKind, Result};
use crate::shell;

/// Appended to every `authorized_keys` entry the server adds. The shim rewrites only its own
/// entries (marked `# added by dstack-shim`), so ours must never end with its marker.
pub const DSTACK_PUBLIC_KEY_MARKER: &str = "# added by dstack";

/// Key types OpenSSH accepts in `authorized_keys`.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// One OpenSSH public key as `type blob [comment]`, its comment's whitespace collapsed; `None`
/// when it does not parse (an unknown type, a blob that is not base64 or names another type).
pub fn normalize_public_key(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    let key_type = words.next()?;
    let blob = words.next()?;
    if !KEY_TYPES.contains(&key_type) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(blob).ok()?;
    // The blob starts with the key type as an SSH string: a big-endian u32 length, then it.
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    if bytes.get(4..4 + length)? != key_type.as_bytes() {
        return None;
    }
    let comment: Vec<&str> = words.collect();
    Some(match comment.is_empty() {
        true => format!("{key_type} {blob}"),
        false => format!("{key_type} {blob} {}", comment.join(" ")),
    })
}

/// dstack's `build_authorized_keys`: the project key first, then the extra keys that parse
/// (one that does not is skipped with a warning). An invalid project key is an error: the
/// server could not reach the container.
pub fn build_authorized_keys(project_key: &str, extra_keys: &[String]) -> Result<Vec<String>> {
    let project = normalize_public_key(project_key).ok_or_else(|| {
        BackendError::new(ErrorKind::InvalidConfig, "Invalid project SSH key".to_owned())
    })?;
    let mut keys = vec![project];
    for key in extra_keys {
        match normalize_public_key(key) {
            Some(key) => keys.push(key),
            // The text is a public key, or garbage: neither is a secret.
            None => tracing::warn!("Failed to parse authorized key: {key:?}"),
        }
    }
    Ok(keys)
}

/// A shell script that appends to `~/.ssh/authorized_keys` each of `keys` whose key is not
/// there yet (each with the marker, and `options` before it when given: jump hosts use
/// `command="/bin/false"`), creating the file with the modes sshd insists on. The keys are
/// normalized already ([`normalize_public_key`]), so they quote safely.
pub fn add_authorized_keys_script(keys: &[String], options: Option<&str>) -> String {
    let file = "~/.ssh/authorized_keys";
    let mut script = format!(
        "mkdir -p ~/.ssh && chmod 700 ~/.ssh && touch {file} && chmod 600 {file} && \
         {{ [ -z \"$(tail -c1 {file})\" ] || echo >> {file}; }}"
    );
    for key in keys {
        let Some(blob) = key.split_whitespace().nth(1) else { continue };
        let entry = match options {
            Some(options) => format!("{options} {key} {DSTACK_PUBLIC_KEY_MARKER}"),
            None => format!("{key} {DSTACK_PUBLIC_KEY_MARKER}"),
        };
        script.push_str(&format!(
            " && {{ grep -qF {blob} {file} || echo {} >> {file}; }}",
            shell::quote(&entry)
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDVd7dnLFFR7ij5101OBtH8d/tNUmi0ndpldIlZBgT2f";

    #[test]
    fn keys_are_rebuilt_from_their_parts() {
        let messy = format!("  {ED25519}   user@host   laptop \n");
        assert_eq!(normalize_public_key(&messy).unwrap(), format!("{ED25519} user@host laptop"));
        assert_eq!(normalize_public_key(ED25519).unwrap(), ED25519);
        for bad in [
            "",
            "ssh-ed25519",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "ssh-ed25519 not-base64!",
            // A valid blob of one type under another type's name.
            &ED25519.replace("ssh-ed25519", "ssh-rsa"),
            "ssh-ed25519 AAAA; rm -rf /",
        ] {
            assert_eq!(normalize_public_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_project_key_comes_first_and_bad_extra_keys_are_skipped() {
        let extra = vec!["garbage".to_owned(), format!("{ED25519} user")];
        let keys = build_authorized_keys(ED25519, &extra).unwrap();
        assert_eq!(keys, [ED25519.to_owned(), format!("{ED25519} user")]);
        let err = build_authorized_keys("garbage", &extra).unwrap_err();
        assert_eq!(err.message(), "Invalid project SSH key");
    }

    #[test]
    fn the_script_appends_each_key_once_with_the_marker() {
        let keys = vec![format!("{ED25519} it's me")];
        let script = add_authorized_keys_script(&keys, Some("command=\"/bin/false\""));
        assert!(script.starts_with("mkdir -p ~/.ssh && chmod 700 ~/.ssh"));
        let blob = ED25519.split(' ').nth(1).unwrap();
        let entry = format!(r#"command="/bin/false" {ED25519} it'"'"'s me # added by dstack"#);
        let append = format!(
            "{{ grep -qF {blob} ~/.ssh/authorized_keys || echo '{entry}' >> ~/.ssh/authorized_keys; }}"
        );
        assert!(script.ends_with(&append), "{script}");
    }

    /// The script, run by a real shell twice, leaves each key once after what was there.
    #[test]
    fn the_script_is_idempotent_in_a_real_shell() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::fs::write(home.path().join(".ssh/authorized_keys"), "ssh-rsa AAAA other").unwrap();
        let script = add_authorized_keys_script(&[ED25519.to_owned()], None);
        for _ in 0..2 {
            let status = std::process::Command::new("sh")
                .args(["-c", &script])
                .env("HOME", home.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let text = std::fs::read_to_string(home.path().join(".ssh/authorized_keys")).unwrap();
        assert_eq!(text, format!("ssh-rsa AAAA other\n{ED25519} # added by dstack\n"));
    }
}
