//! How the server reaches instances over SSH: the settings every SSH connection to an
//! instance follows (`dstack-ssh` makes the connections; this is data only).

use std::time::Duration;

/// Timeouts and retries of SSH connections to instances, as dstack's: a 10 s connect
/// timeout, 60 s for the shim launcher, 240 s for setup commands that may install packages,
/// 9 s for a request to the shim's HTTP API through the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// From the TCP connect to a finished authentication.
    pub connect_timeout: Duration,
    /// How many times one call connects while the instance boots (refused or silent port,
    /// key not installed yet) before it reports the instance unreachable.
    pub connect_attempts: u32,
    /// The pause between those attempts.
    pub retry_interval: Duration,
    /// The limit of the command that starts `dstack-shim` in the background.
    pub launch_timeout: Duration,
    /// The limit of setup commands run before it (packages, Docker configuration).
    pub setup_timeout: Duration,
    /// Replaces every instance's SSH port: where instances are reached through a forwarder
    /// (a bastion's port mapping, a test `sshd`) instead of the provider's port.
    pub instance_port: Option<u16>,
    /// Replaces every instance's host likewise: all instances reached at one forwarder's
    /// address (with `instance_port`, one port-forwarding bastion; a test `sshd`).
    pub instance_host: Option<String>,
    /// Where `dstack-shim`'s HTTP API listens on the instance (its `localhost` only, reached
    /// through an SSH tunnel): dstack's `DSTACK_SHIM_HTTP_PORT`, 10998. Tests point it at a
    /// fake shim on loopback.
    pub shim_port: u16,
    /// The limit of one request to the shim's API once logged in (dstack's
    /// `REQUEST_TIMEOUT`): opening the tunnel, sending the request, reading the answer.
    pub shim_request_timeout: Duration,
}

/// dstack's `DSTACK_SHIM_HTTP_PORT`: where the shim's HTTP API listens on an instance.
pub const DSTACK_SHIM_HTTP_PORT: u16 = 10998;

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            connect_attempts: 3,
            retry_interval: Duration::from_secs(2),
            launch_timeout: Duration::from_secs(60),
            setup_timeout: Duration::from_secs(240),
            instance_port: None,
            instance_host: None,
            shim_port: DSTACK_SHIM_HTTP_PORT,
            shim_request_timeout: Duration::from_secs(9),
        }
    }
}

impl SshSettings {
    /// The port to connect to for an instance whose provider gives `port`.
    pub fn port(&self, port: u16) -> u16 {
        self.instance_port.unwrap_or(port)
    }

    /// The host to connect to for an instance whose provider gives `host`.
    pub fn host<'a>(&'a self, host: &'a str) -> &'a str {
        self.instance_host.as_deref().unwrap_or(host)
    }

    /// The longest one shim start (setup, then launcher, each after its retried connect) may
    /// take: what a caller's own timeout must exceed.
    pub fn longest_start(&self) -> Duration {
        let connecting = (self.connect_timeout + self.retry_interval) * self.connect_attempts;
        connecting + self.setup_timeout + self.launch_timeout
    }
}
