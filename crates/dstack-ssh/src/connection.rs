//! One authenticated SSH connection to an instance, and the commands run over it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dstack_core::Secret;
use dstack_core::ssh::SshSettings;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate, decode_secret_key};
use russh::{ChannelMsg, Disconnect};
use tokio::net::TcpStream;

use crate::error::SshError;
use crate::http::{AnswerReader, HttpAnswer, get_request};

/// How much of a command's stdout and stderr is kept (the end of each).
const OUTPUT_LIMIT: usize = 64 * 1024;

/// Where to log in: host, port and user, shown as `user@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl Target {
    pub fn new(host: impl Into<String>, port: u16, user: impl Into<String>) -> Self {
        Self { host: host.into(), port, user: user.into() }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Which host keys to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Any key: an instance created moments ago has a key nobody can know yet (dstack's
    /// `StrictHostKeyChecking=no`). The key seen is returned by [`Connection::host_key`].
    AcceptFirst,
    /// Only the key with this SHA-256 fingerprint (`SHA256:...`), seen on first use.
    Known(String),
}

/// What a command printed and how it ended; stdout and stderr keep their last 64 KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit_status: Option<u32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

/// An authenticated connection. Commands run on channels of it, one after another or at once.
pub struct Connection {
    handle: Handle<HostKeyCheck>,
    target: Target,
    host_key: String,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `target` (its host and port replaced by `settings.instance_host` and
    /// `settings.instance_port` when set) and logs
    /// in with `key`. Unreachable hosts and refused keys are tried again
    /// `settings.connect_attempts` times, `settings.retry_interval` apart: an instance that
    /// is booting opens its port and installs its keys a little later.
    pub async fn open(
        target: &Target,
        key: &Secret,
        policy: &HostKeyPolicy,
        settings: &SshSettings,
    ) -> Result<Connection, SshError> {
        let target = Target {
            host: settings.host(&target.host).to_owned(),
            port: settings.port(target.port),
            user: target.user.clone(),
        };
        let key = decode_secret_key(key.expose(), None)
            .map_err(|_| SshError::Key("not an unencrypted OpenSSH or PEM private key".into()))?;
        let key = Arc::new(key);
        let attempts = settings.connect_attempts.max(1);
        let mut attempt = 1;
        loop {
            match Self::open_once(&target, &key, policy, settings.connect_timeout).await {
                Ok(connection) => return Ok(connection),
                Err(err) if attempt < attempts && is_boot_failure(&err) => {
                    tracing::debug!(%target, attempt, error = %err, "SSH login failed, retrying");
                    tokio::time::sleep(settings.retry_interval).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn open_once(
        target: &Target,
        key: &Arc<russh::keys::PrivateKey>,
        policy: &HostKeyPolicy,
        timeout: Duration,
    ) -> Result<Connection, SshError> {
        let seen = Arc::new(Mutex::new(None));
        let check = HostKeyCheck { policy: policy.clone(), seen: seen.clone() };
        let login = async {
            let stream = TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| unreachable(target, e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let config = Arc::new(client::Config::default());
            let mut handle = client::connect_stream(config, stream, check)
                .await
                .map_err(|e| handshake_error(target, policy, &seen, e))?;
            let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
            let login = PrivateKeyWithHashAlg::new(key.clone(), hash);
            let result = handle
                .authenticate_publickey(target.user.clone(), login)
                .await
                .map_err(|e| handshake_error(target, policy, &seen, e))?;
            if !result.success() {
                return Err(SshError::KeyRefused { target: target.to_string() });
            }
            Ok(handle)
        };
        let handle = tokio::time::timeout(timeout, login).await.map_err(|_| {
            unreachable(target, format!("no SSH login within {}s", timeout.as_secs()))
        })??;
        let host_key = seen.lock().expect("the host key lock").clone().unwrap_or_default();
        Ok(Connection { handle, target: target.clone(), host_key })
    }

    /// The SHA-256 fingerprint of the host key the server presented.
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs `command` (a shell command line) and waits for it to end, at most `timeout`.
    /// A non-zero exit status is in the output, not an error; see [`Connection::check`].
    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<Output, SshError> {
        let run = async {
            let mut channel =
                self.handle.channel_open_session().await.map_err(|e| self.broke(e))?;
            channel.exec(true, command).await.map_err(|e| self.broke(e))?;
            let (mut stdout, mut stderr, mut exit_status) = (Vec::new(), Vec::new(), None);
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => keep_tail(&mut stdout, &data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => keep_tail(&mut stderr, &data),
                    ChannelMsg::ExitStatus { exit_status: status } => exit_status = Some(status),
                    _ => {}
                }
            }
            Ok(Output {
                exit_status,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            })
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| SshError::Timeout { target: self.target.to_string(), after: timeout })?
    }

    /// Runs `command` like [`Connection::exec`]; a non-zero exit status is
    /// [`SshError::CommandFailed`] with the end of its stderr.
    pub async fn check(&self, command: &str, timeout: Duration) -> Result<Output, SshError> {
        let output = self.exec(command, timeout).await?;
        if output.success() {
            return Ok(output);
        }
        let stderr = output.stderr.trim();
        let start = stderr.len().saturating_sub(1000);
        let start = (start..stderr.len()).find(|i| stderr.is_char_boundary(*i)).unwrap_or(0);
        Err(SshError::CommandFailed {
            target: self.target.to_string(),
            exit_status: output.exit_status,
            stderr: stderr[start..].to_owned(),
        })
    }

    /// `GET path` from `host:port` as the instance sees it (its `localhost` included),
    /// through a `direct-tcpip` channel of this connection — what `ssh -L` forwards — with
    /// `Connection: close`. Opening the channel, sending and reading the answer (status,
    /// headers, a body of at most 1 MiB by `Content-Length`, chunks or to the end) take at
    /// most `timeout`. Any status is an answer. [`SshError::TunnelRefused`]: the server
    /// would not open the channel (nothing listens at `host:port`, or forwarding is off);
    /// [`SshError::HttpTimeout`]: no whole answer in time; [`SshError::Http`]: a request
    /// that cannot be sent (a path not absolute, a line break) or an answer that is not HTTP.
    pub async fn http_get(
        &self,
        host: &str,
        port: u16,
        path: &str,
        timeout: Duration,
    ) -> Result<HttpAnswer, SshError> {
        let to = format!("{host}:{port}");
        let http_error = |reason: String| SshError::Http {
            target: self.target.to_string(),
            to: to.clone(),
            reason,
        };
        let request = get_request(host, port, path).map_err(http_error)?;
        let exchange = async {
            let mut channel = self
                .handle
                .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
                .await
                .map_err(|e| match e {
                    russh::Error::ChannelOpenFailure(reason) => SshError::TunnelRefused {
                        target: self.target.to_string(),
                        to: to.clone(),
                        reason: refusal(&reason).to_owned(),
                    },
                    e => self.broke(e),
                })?;
            channel.data(request.as_slice()).await.map_err(|e| self.broke(e))?;
            let mut reader = AnswerReader::default();
            loop {
                let ended = match channel.wait().await {
                    Some(ChannelMsg::Data { data }) => {
                        reader.push(&data).map_err(http_error)?;
                        false
                    }
                    Some(ChannelMsg::Eof | ChannelMsg::Close) | None => true,
                    Some(_) => continue,
                };
                if let Some(answer) = reader.answer(ended).map_err(http_error)? {
                    let _ = channel.close().await;
                    return Ok(answer);
                }
            }
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| SshError::HttpTimeout {
            target: self.target.to_string(),
            to: to.clone(),
            after: timeout,
        })?
    }

    /// Says goodbye to the server; dropping the connection closes it too.
    pub async fn close(self) {
        let _ = self.handle.disconnect(Disconnect::ByApplication, "", "en").await;
    }

    fn broke(&self, err: russh::Error) -> SshError {
        SshError::Protocol { target: self.target.to_string(), reason: err.to_string() }
    }
}

/// Why the server would not open a tunnel, in words.
fn refusal(reason: &russh::ChannelOpenFailure) -> &'static str {
    match reason {
        russh::ChannelOpenFailure::ConnectFailed => "connect failed (nothing listens there)",
        russh::ChannelOpenFailure::AdministrativelyProhibited => {
            "administratively prohibited (forwarding is disabled)"
        }
        russh::ChannelOpenFailure::UnknownChannelType => "the server does not forward ports",
        russh::ChannelOpenFailure::ResourceShortage => "resource shortage",
        russh::ChannelOpenFailure::Other { .. } => "refused",
    }
}

/// Failures an instance that is still booting gives.
fn is_boot_failure(err: &SshError) -> bool {
    matches!(err, SshError::Unreachable { .. } | SshError::KeyRefused { .. })
}

fn unreachable(target: &Target, reason: String) -> SshError {
    SshError::Unreachable { target: target.to_string(), reason }
}

fn handshake_error(
    target: &Target,
    policy: &HostKeyPolicy,
    seen: &Mutex<Option<String>>,
    err: russh::Error,
) -> SshError {
    match (err, policy) {
        (russh::Error::UnknownKey, HostKeyPolicy::Known(expected)) => SshError::HostKeyChanged {
            target: target.to_string(),
            expected: expected.clone(),
            seen: seen.lock().expect("the host key lock").clone().unwrap_or_default(),
        },
        (
            err @ (russh::Error::IO(_)
            | russh::Error::HUP
            | russh::Error::Disconnect
            | russh::Error::ConnectionTimeout),
            _,
        ) => unreachable(target, err.to_string()),
        (err, _) => SshError::Protocol { target: target.to_string(), reason: err.to_string() },
    }
}

fn keep_tail(buffer: &mut Vec<u8>, data: &[u8]) {
    buffer.extend_from_slice(data);
    if buffer.len() > OUTPUT_LIMIT {
        buffer.drain(..buffer.len() - OUTPUT_LIMIT);
    }
}

/// russh's callback for the server's key: records its fingerprint and applies the policy.
struct HostKeyCheck {
    policy: HostKeyPolicy,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256)
            }
        }
        .to_string();
        let trusted = match &self.policy {
            HostKeyPolicy::AcceptFirst => true,
            HostKeyPolicy::Known(expected) => *expected == fingerprint,
        };
        *self.seen.lock().expect("the host key lock") = Some(fingerprint);
        Ok(trusted)
    }
}
