//! Starting `dstack-shim` over SSH, as dstack does on clouds whose images take no user data.

use dstack_core::Secret;
use dstack_core::ssh::SshSettings;

use crate::connection::{Connection, HostKeyPolicy, Target};
use crate::error::SshError;

/// Where the launcher writes the shim's output on the instance (dstack's path).
pub const SHIM_LOG: &str = "/tmp/dstack-shim.log";

/// dstack's launcher: the shim commands joined with `&&`, run by root in the background,
/// detached from the SSH session (`nohup`, not `disown`, which not every shell has).
pub fn launcher_command(shim_commands: &[String]) -> String {
    let script = shell_quote(&shim_commands.join(" && "));
    format!("nohup sudo sh -c {script} >{SHIM_LOG} 2>&1 </dev/null &")
}

/// `text` as one word of a POSIX shell command line.
pub fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r#"'"'"'"#))
}

/// Logs in to `target` and starts the shim: first `setup` (a backend's idempotent
/// preparation, within `settings.setup_timeout`), then [`launcher_command`] (within
/// `settings.launch_timeout`). Returns the host key's fingerprint, for later connections.
/// Only an `Ok` means the launcher ran: a caller records the instance's address after it.
pub async fn start_shim(
    target: &Target,
    key: &Secret,
    policy: HostKeyPolicy,
    setup: Option<&str>,
    shim_commands: &[String],
    settings: &SshSettings,
) -> Result<String, SshError> {
    let connection = Connection::open(target, key, &policy, settings).await?;
    if let Some(setup) = setup {
        connection.check(setup, settings.setup_timeout).await?;
    }
    connection.check(&launcher_command(shim_commands), settings.launch_timeout).await?;
    tracing::debug!(target = %connection.target(), "dstack-shim launched over SSH");
    let host_key = connection.host_key().to_owned();
    connection.close().await;
    Ok(host_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_a_posix_shell() {
        assert_eq!(shell_quote("plain/path-1.0"), "plain/path-1.0");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
    }

    #[test]
    fn the_launcher_runs_the_commands_as_root_in_the_background() {
        let commands = ["cd /tmp".to_owned(), "echo 'hi'".to_owned()];
        assert_eq!(
            launcher_command(&commands),
            r#"nohup sudo sh -c 'cd /tmp && echo '"'"'hi'"'"'' >/tmp/dstack-shim.log 2>&1 </dev/null &"#
        );
    }
}
