//! What an SSH call to an instance can end in, and how backends report it.

use std::time::Duration;

use dstack_core::{BackendError, ErrorKind};

/// Why an SSH call failed. None of them carries a secret: the key is never printed, and a
/// failed command is named by its exit status and stderr, not by its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// Nothing answered, the port was closed, or the connection dropped before login: an
    /// instance that is still booting looks like this.
    #[error("{target} is not reachable over SSH: {reason}")]
    Unreachable { target: String, reason: String },
    /// The server refused the key (not installed yet while an instance boots, or wrong).
    #[error("{target} refused the SSH key")]
    KeyRefused { target: String },
    /// The server's host key is not the one pinned for it.
    #[error("{target} presented host key {seen}, not the expected {expected}")]
    HostKeyChanged { target: String, expected: String, seen: String },
    /// The command did not finish in time.
    #[error("a command on {target} did not finish within {}s", after.as_secs())]
    Timeout { target: String, after: Duration },
    /// The command ran and failed.
    #[error("a command on {target} failed ({}): {stderr}", status_text(*exit_status))]
    CommandFailed { target: String, exit_status: Option<u32>, stderr: String },
    /// The server would not open a tunnel (`direct-tcpip`, what `ssh -L` asks for) to `to`:
    /// nothing listens there (yet), or the server forbids forwarding.
    #[error("{target} refused a tunnel to {to}: {reason}")]
    TunnelRefused { target: String, to: String, reason: String },
    /// An HTTP request through a tunnel got no full answer in time.
    #[error("no HTTP answer from {to} through {target} within {after:?}")]
    HttpTimeout { target: String, to: String, after: Duration },
    /// An HTTP request through a tunnel cannot be sent as asked, or its answer is not HTTP
    /// (or larger than the limit).
    #[error("HTTP with {to} through {target} failed: {reason}")]
    Http { target: String, to: String, reason: String },
    /// The private key cannot be used.
    #[error("the SSH private key cannot be read: {0}")]
    Key(String),
    /// The SSH conversation broke in another way.
    #[error("SSH with {target} failed: {reason}")]
    Protocol { target: String, reason: String },
}

fn status_text(status: Option<u32>) -> String {
    status.map_or_else(|| "no exit status".to_owned(), |s| format!("exit status {s}"))
}

impl SshError {
    /// Whether trying again later may succeed: the instance may still be booting, or the
    /// service behind a tunnel still starting.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SshError::Unreachable { .. }
                | SshError::KeyRefused { .. }
                | SshError::Timeout { .. }
                | SshError::TunnelRefused { .. }
                | SshError::HttpTimeout { .. }
        )
    }
}

/// Retryable failures are transient; a changed host key, a failing command or an unreadable
/// key will not pass by waiting.
impl From<SshError> for BackendError {
    fn from(err: SshError) -> Self {
        let kind = if err.is_retryable() { ErrorKind::Transient } else { ErrorKind::Unexpected };
        BackendError::new(kind, err.to_string())
    }
}
