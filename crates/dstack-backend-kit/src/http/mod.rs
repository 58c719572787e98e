//! The HTTP client of REST clouds.

mod retry;
mod status;

use std::time::Duration;

use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use retry::retry_after;
pub use status::ProviderError;

/// Timeouts and retries of a backend's REST client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// One request, answer included.
    pub request_timeout: Duration,
    /// Attempts of one call, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles for each next one, with jitter.
    pub initial_backoff: Duration,
    /// The longest wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// How requests carry the credentials.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A header of its own (`X-API-Key: <key>`).
    Header(&'static str, Secret),
}

/// Reads a provider's error body into what the status alone cannot say: a message, and
/// sometimes a kind ("out of capacity" on a 400).
pub type ErrorBodyReader = fn(StatusCode, &str) -> Option<ProviderError>;

/// A REST client of one backend instance: one connection pool (keep-alive), timeouts, and
/// retries of temporary failures.
///
/// Retried: 429 (the provider refused before doing anything) and, for idempotent methods
/// (`GET`, `PUT`, `DELETE`, `HEAD`), 5xx answers and lost connections; for every method, a
/// connection that could not be made. A `POST` that may have reached the provider is never
/// sent twice: it could create a second instance.
#[derive(Debug, Clone)]
pub struct RestClient {
    backend: BackendType,
    base_url: String,
    http: reqwest::Client,
    auth: Auth,
    settings: HttpSettings,
    read_error_body: Option<ErrorBodyReader>,
    /// The config fields a refused credential concerns (`["creds", "api_key"]`).
    credential_fields: &'static [&'static [&'static str]],
}

impl RestClient {
    pub fn new(backend: BackendType, base_url: &str, auth: Auth, settings: &HttpSettings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .user_agent(concat!("dstack-server-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|err| {
                // Only a TLS backend that cannot start fails here.
                tracing::error!("cannot build the {backend} HTTP client ({err}); using defaults");
                reqwest::Client::new()
            });
        Self {
            backend,
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            auth,
            settings: *settings,
            read_error_body: None,
            credential_fields: &[&["creds"]],
        }
    }

    /// Reads the provider's error bodies with `reader`.
    pub fn with_error_body(mut self, reader: ErrorBodyReader) -> Self {
        self.read_error_body = Some(reader);
        self
    }

    /// The config fields that 401 and 403 answers point at.
    pub fn with_credential_fields(mut self, fields: &'static [&'static [&'static str]]) -> Self {
        self.credential_fields = fields;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::DELETE, path, None::<&()>).await
    }

    /// Sends the request, retrying what may pass, and reads the JSON answer (`null` for an
    /// empty body).
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        // The request line names the call in errors; the query string stays out (it may hold
        // a key).
        let shown = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let idempotent =
            matches!(method, Method::GET | Method::PUT | Method::DELETE | Method::HEAD);
        let mut attempt = 1;
        loop {
            let (error, retry) = match self.send_once(&method, path, body).await {
                Ok(answer) if answer.status.is_success() => {
                    let text = if answer.body.trim().is_empty() { "null" } else { &answer.body };
                    return serde_json::from_str(text).map_err(|e| {
                        self.error(
                            ErrorKind::Unexpected,
                            format!("{shown}: unreadable answer: {e}"),
                        )
                    });
                }
                Ok(answer) => {
                    let throttled = answer.status == StatusCode::TOO_MANY_REQUESTS;
                    let server_error = answer.status.is_server_error();
                    let mut error = self.status_error(&shown, answer.status, &answer.body);
                    if server_error && !idempotent {
                        error = unknown_outcome(error);
                    }
                    let retry = throttled || (server_error && idempotent);
                    (error, retry.then_some(answer.retry_after))
                }
                Err(err) => {
                    // Not sent at all (no connection): safe to send again, whatever the method.
                    let unsent = err.is_connect();
                    // Without the URL: it may carry a key in its query.
                    let text = format!("{shown}: {}", err.without_url());
                    let mut error = self.error(ErrorKind::Transient, text);
                    if !unsent && !idempotent {
                        error = unknown_outcome(error);
                    }
                    (error, (unsent || idempotent).then_some(None))
                }
            };
            match retry {
                Some(retry_after) if attempt < self.settings.max_attempts => {
                    let delay = retry::delay(&self.settings, attempt, retry_after);
                    tracing::debug!(
                        backend = %self.backend,
                        "{shown} failed ({error}); attempt {} in {delay:?}",
                        attempt + 1
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Some(_) if attempt > 1 => {
                    return Err(error.with_suffix(&format!("(after {attempt} attempts)")));
                }
                _ => return Err(error),
            }
        }
    }

    async fn send_once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
    ) -> std::result::Result<Answer, reqwest::Error> {
        let url = format!("{}/{}", self.base_url, path.trim_start_matches('/'));
        let mut request = self.http.request(method.clone(), url);
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Header(name, value) => request.header(*name, value.expose()),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.text().await?;
        Ok(Answer { status, body, retry_after })
    }

    fn error(&self, kind: ErrorKind, message: String) -> BackendError {
        BackendError::new(kind, message).for_backend(self.backend)
    }

    fn status_error(&self, shown: &str, status: StatusCode, body: &str) -> BackendError {
        let provider = self.read_error_body.and_then(|read| read(status, body));
        status::error(self.backend, shown, status, body, provider, self.credential_fields)
    }
}

/// A non-idempotent request that may have been carried out: not temporary (trying again could
/// do it twice), and said so.
fn unknown_outcome(error: BackendError) -> BackendError {
    let kind = error.kind();
    error
        .with_suffix("(the request may have been carried out)")
        .with_kind(if kind == ErrorKind::Transient { ErrorKind::Unexpected } else { kind })
}

/// An answer: status, body and `Retry-After`.
struct Answer {
    status: StatusCode,
    body: String,
    retry_after: Option<Duration>,
}
