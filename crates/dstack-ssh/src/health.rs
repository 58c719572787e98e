//! Whether an instance is up, as the dstack server decides it: `GET /api/healthcheck` of
//! `dstack-shim`'s HTTP API (on the instance's `localhost` only), through an SSH tunnel with
//! the project key. dstack's `ShimClient.healthcheck` and `healthcheck_response_to_instance_check`.

use dstack_core::Secret;
use dstack_core::ssh::SshSettings;
use serde::Deserialize;

use crate::connection::{Connection, HostKeyPolicy, Target};
use crate::error::SshError;

/// Where the shim listens on the instance: its loopback only, as dstack's tunnel reaches it.
pub const SHIM_HOST: &str = "localhost";
/// The shim's healthcheck, which it keeps backward compatible for version negotiation.
pub const SHIM_HEALTHCHECK_PATH: &str = "/api/healthcheck";
/// What a shim answers as its `service`.
pub const SHIM_SERVICE: &str = "dstack-shim";

/// A shim that answered its healthcheck: the instance is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimHealth {
    /// The shim's version (`0.22.5`), what dstack negotiates its API on.
    pub version: String,
    /// The SHA-256 fingerprint of the instance's host key, for pinning.
    pub host_key: String,
}

/// Why an instance is not reachable. No variant carries a secret; the body of an error
/// answer is kept to its first 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShimUnreachable {
    /// No SSH login (the instance is booting, the key is refused, the host key changed), or
    /// the SSH conversation broke.
    #[error(transparent)]
    Ssh(SshError),
    /// Logged in, but nothing listens on the shim's port: the shim is not started yet, or
    /// has exited.
    #[error("dstack-shim is not listening on port {port} of {target}: {reason}")]
    NotListening { target: String, port: u16, reason: String },
    /// The shim did not answer in time (dstack's request timeout).
    #[error("dstack-shim on {target} did not answer its healthcheck within {after:?}")]
    Timeout { target: String, after: std::time::Duration },
    /// The healthcheck answered another status than 200.
    #[error("dstack-shim on {target} answered its healthcheck with status {status}: {body}")]
    Status { target: String, status: u16, body: String },
    /// The answer is not HTTP, or its body not the healthcheck's JSON.
    #[error("dstack-shim on {target} gave an unreadable healthcheck answer: {reason}")]
    Unreadable { target: String, reason: String },
    /// Another service answers on the shim's port (dstack's "unexpected service").
    #[error("unexpected service on {target}: {service} version: {version}")]
    OtherService { target: String, service: String, version: String },
}

/// The body of the shim's healthcheck (`HealthcheckResponse`); other fields are ignored.
#[derive(Deserialize)]
struct HealthcheckResponse {
    service: String,
    version: String,
}

/// Logs in to `target` with `key` (its port replaced by `settings.instance_port` when set,
/// connect attempts and timeouts from `settings`) and asks the shim on the instance's
/// `localhost:settings.shim_port` for its healthcheck, within
/// `settings.shim_request_timeout`. Reachable: a 200 whose JSON says
/// `"service": "dstack-shim"`.
pub async fn shim_healthcheck(
    target: &Target,
    key: &Secret,
    policy: HostKeyPolicy,
    settings: &SshSettings,
) -> Result<ShimHealth, ShimUnreachable> {
    let connection =
        Connection::open(target, key, &policy, settings).await.map_err(ShimUnreachable::Ssh)?;
    let answer = connection
        .http_get(
            SHIM_HOST,
            settings.shim_port,
            SHIM_HEALTHCHECK_PATH,
            settings.shim_request_timeout,
        )
        .await;
    let host_key = connection.host_key().to_owned();
    let shown = connection.target().to_string();
    connection.close().await;
    let answer = answer.map_err(|err| match err {
        SshError::TunnelRefused { reason, .. } => ShimUnreachable::NotListening {
            target: shown.clone(),
            port: settings.shim_port,
            reason,
        },
        SshError::HttpTimeout { after, .. } => {
            ShimUnreachable::Timeout { target: shown.clone(), after }
        }
        SshError::Http { reason, .. } => {
            ShimUnreachable::Unreadable { target: shown.clone(), reason }
        }
        err => ShimUnreachable::Ssh(err),
    })?;
    if answer.status != 200 {
        let body: String = answer.text().trim().chars().take(200).collect();
        return Err(ShimUnreachable::Status { target: shown, status: answer.status, body });
    }
    let response: HealthcheckResponse = serde_json::from_slice(&answer.body).map_err(|e| {
        ShimUnreachable::Unreadable { target: shown.clone(), reason: format!("not its JSON: {e}") }
    })?;
    if response.service != SHIM_SERVICE {
        return Err(ShimUnreachable::OtherService {
            target: shown,
            service: response.service,
            version: response.version,
        });
    }
    tracing::debug!(target = %shown, version = %response.version, "dstack-shim is healthy");
    Ok(ShimHealth { version: response.version, host_key })
}

impl ShimUnreachable {
    /// Whether asking again later may succeed: a booting instance or a starting shim. A
    /// changed host key, an unusable key or another service will not pass by waiting.
    pub fn is_retryable(&self) -> bool {
        match self {
            ShimUnreachable::Ssh(err) => err.is_retryable(),
            ShimUnreachable::NotListening { .. } | ShimUnreachable::Timeout { .. } => true,
            ShimUnreachable::Status { status, .. } => *status >= 500,
            ShimUnreachable::Unreadable { .. } | ShimUnreachable::OtherService { .. } => false,
        }
    }
}
