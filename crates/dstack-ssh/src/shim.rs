//! Starting `dstack-shim` over SSH, as dstack does on clouds whose images take no user data.

use dstack_core::backend::SshKeyPair;
use dstack_core::shell;
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, ErrorKind, Secret};

use crate::connection::{Connection, HostKeyPolicy, Target};
use crate::error::SshError;

/// Where the launcher writes the shim's output on the instance (dstack's path).
pub const SHIM_LOG: &str = "/tmp/dstack-shim.log";

/// dstack's launcher: the shim commands joined with `&&`, run by root in the background,
/// detached from the SSH session (`nohup`, not `disown`, which not every shell has).
pub fn launcher_command(shim_commands: &[String]) -> String {
    let script = shell::quote(&shim_commands.join(" && "));
    format!("nohup sudo sh -c {script} >{SHIM_LOG} 2>&1 </dev/null &")
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

/// What a backend's `update_provisioning_data` does once its VM has an address: logs in to
/// `target` with the project key (accepting the fresh instance's host key, as dstack does)
/// and starts the shim. `Ok(true)`: the launcher ran, and the caller records the hostname
/// now, not before. `Ok(false)`: the instance is not reachable yet (booting, key not
/// installed, slow) — the caller keeps the hostname unset and the server asks again at its
/// next check. A failing command is a `Transient` error (tried again at the next check);
/// a changed host key or an unusable key is an `Unexpected` one.
pub async fn start_shim_when_reachable(
    target: &Target,
    keys: &SshKeyPair,
    setup: Option<&str>,
    shim_commands: &[String],
    settings: &SshSettings,
) -> Result<bool, BackendError> {
    let started = start_shim(
        target,
        &keys.private,
        HostKeyPolicy::AcceptFirst,
        setup,
        shim_commands,
        settings,
    )
    .await;
    match started {
        Ok(_) => Ok(true),
        Err(err) if err.is_retryable() => {
            tracing::debug!(%target, "dstack-shim not started yet: {err}");
            Ok(false)
        }
        // A failing setup (a package lock still held by the image's own first-boot updates)
        // may pass at the next check; the server's provisioning timeout bounds the retries.
        Err(err @ SshError::CommandFailed { .. }) => {
            Err(BackendError::new(ErrorKind::Transient, err.to_string()))
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launcher_runs_the_commands_as_root_in_the_background() {
        let commands = ["cd /tmp".to_owned(), "echo 'hi'".to_owned()];
        assert_eq!(
            launcher_command(&commands),
            r#"nohup sudo sh -c 'cd /tmp && echo '"'"'hi'"'"'' >/tmp/dstack-shim.log 2>&1 </dev/null &"#
        );
    }
}
