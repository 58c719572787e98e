//! A Verda API session: OAuth2 client credentials (`POST /oauth2/token`) on top of the kit's
//! `RestClient`. The access token is kept until shortly before it expires, renewed with the
//! refresh token (falling back to the client credentials, as the `verda` SDK does), and
//! renewed once more when Verda refuses it with a 401. One renewal runs at a time.
//!
//! Verda answers creations (`POST /sshkeys`, `/scripts`, `/instances`) with the new ID as a
//! bare text body, which `RestClient` (JSON answers only) cannot read: [`Session::post_for_id`]
//! sends those itself, with the same rules (429 retried, a `POST` that may have reached Verda
//! never sent twice, no secret in errors).

use std::future::Future;
use std::time::{Duration, Instant};

use dstack_backend_kit::http::retry_after;
use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Verda's API, as the `verda` SDK's `VerdaClient` defaults it (dstack 0.22.5 uses it for
/// `verda` and `datacrunch` alike).
pub const DEFAULT_API_URL: &str = "https://api.verda.com/v1";

/// dstack points refused Verda credentials at `creds.api_key` (a field Verda's creds do not
/// have; kept as dstack has it).
pub(crate) const CREDENTIAL_FIELDS: &[&[&str]] = &[&["creds", "api_key"]];

const TOKEN_PATH: &str = "/oauth2/token";

/// A token is renewed this long before Verda says it expires.
const EARLY_RENEWAL: Duration = Duration::from_secs(30);

/// An access token and the client that carries it.
#[derive(Debug, Clone)]
struct Token {
    client: RestClient,
    access: Secret,
    expires_at: Instant,
    /// Which token this is, so that a refused one is dropped only once.
    generation: u64,
}

#[derive(Debug, Default)]
struct Tokens {
    current: Option<Token>,
    refresh: Option<Secret>,
    issued: u64,
}

/// The answer of `POST /oauth2/token`.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<f64>,
}

/// A failed creation.
#[derive(Debug)]
pub(crate) enum PostError {
    /// Verda refused it: its status and message.
    Refused { status: StatusCode, message: String },
    /// Anything else (credentials, throttling, no answer), said in full.
    Failed(BackendError),
}

/// One configured backend's API session.
#[derive(Debug)]
pub struct Session {
    backend: BackendType,
    base_url: String,
    client_id: String,
    client_secret: Secret,
    settings: HttpSettings,
    token_client: RestClient,
    raw: reqwest::Client,
    tokens: tokio::sync::Mutex<Tokens>,
}

/// Verda's error body: `{"code": "invalid_request", "message": "..."}`.
fn read_error(body: &str) -> Option<(Option<String>, Option<String>)> {
    #[derive(Deserialize)]
    struct Body {
        code: Option<String>,
        message: Option<String>,
    }
    let body: Body = serde_json::from_str(body).ok()?;
    Some((body.code, body.message))
}

/// The error-body hook of the REST clients: Verda's message, and the answers dstack reads by
/// their text.
fn error_body(_status: StatusCode, body: &str) -> Option<ProviderError> {
    let (code, message) = read_error(body)?;
    let kind = match (code.as_deref(), message.as_deref()) {
        (Some("unauthorized_request"), _) => Some(ErrorKind::InvalidCredentials),
        (_, Some("Invalid instance id" | "Can't discontinue a discontinued instance")) => {
            Some(ErrorKind::NotFound)
        }
        (_, Some("Can't discontinue a provisioning instance")) => Some(ErrorKind::NotYetTerminated),
        _ => None,
    };
    let message = message.or(code)?;
    Some(ProviderError { message, kind })
}

impl Session {
    pub fn new(
        backend: BackendType,
        base_url: &str,
        client_id: &str,
        client_secret: &Secret,
        settings: &HttpSettings,
    ) -> Self {
        let raw = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("dstack-server-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            backend,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.clone(),
            settings: *settings,
            token_client: Self::rest(backend, base_url, Auth::None, settings),
            raw,
            tokens: tokio::sync::Mutex::new(Tokens::default()),
        }
    }

    fn rest(
        backend: BackendType,
        base_url: &str,
        auth: Auth,
        settings: &HttpSettings,
    ) -> RestClient {
        RestClient::new(backend, base_url, auth, settings)
            .with_credential_fields(CREDENTIAL_FIELDS)
            .with_error_body(error_body)
    }

    /// The credential check: one client-credentials token request.
    pub async fn authenticate(&self) -> Result<()> {
        self.authorized().await.map(drop)
    }

    /// The current token, renewed when it expired or was dropped.
    async fn authorized(&self) -> Result<Token> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = &tokens.current
            && Instant::now() < token.expires_at
        {
            return Ok(token.clone());
        }
        let answer = self.grant(tokens.refresh.take()).await?;
        tokens.issued += 1;
        let lifetime = Duration::from_secs_f64(answer.expires_in.unwrap_or(3600.0).max(0.0));
        let access = Secret::new(answer.access_token);
        let token = Token {
            client: Self::rest(
                self.backend,
                &self.base_url,
                Auth::Bearer(access.clone()),
                &self.settings,
            ),
            access,
            expires_at: Instant::now() + lifetime.saturating_sub(EARLY_RENEWAL),
            generation: tokens.issued,
        };
        tokens.refresh = answer.refresh_token.map(Secret::new);
        tokens.current = Some(token.clone());
        Ok(token)
    }

    /// A new token: with the refresh token when there is one, else (or when that fails) with
    /// the client credentials.
    async fn grant(&self, refresh: Option<Secret>) -> Result<TokenAnswer> {
        if let Some(refresh) = refresh {
            let body = json!({"grant_type": "refresh_token", "refresh_token": refresh.expose()});
            match self.token_client.post(TOKEN_PATH, &body).await {
                Ok(answer) => return Ok(answer),
                Err(err) => tracing::debug!("Verda token refresh failed ({err}); authenticating"),
            }
        }
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
        });
        self.token_client.post(TOKEN_PATH, &body).await
    }

    /// Forgets token `generation` (refused by Verda), unless a newer one replaced it.
    async fn drop_token(&self, generation: u64) {
        let mut tokens = self.tokens.lock().await;
        if tokens.current.as_ref().is_some_and(|t| t.generation == generation) {
            tracing::debug!(backend = %self.backend, "Verda refused the access token; renewing it");
            tokens.current = None;
        }
    }

    /// Runs `call` with the current token's client; once more with a new token if Verda
    /// refuses the token.
    async fn with_client<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(RestClient) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.authorized().await?;
        match call(token.client.clone()).await {
            Err(err) if err.kind() == ErrorKind::InvalidCredentials => {
                self.drop_token(token.generation).await;
                call(self.authorized().await?.client).await
            }
            other => other,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.with_client(|client| async move { client.get(path).await }).await
    }

    /// A call with a JSON body (or none) whose answer is JSON or empty.
    pub async fn send<B, T>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T>
    where
        B: Serialize + ?Sized + Sync,
        T: DeserializeOwned,
    {
        self.with_client(|client| {
            let method = method.clone();
            async move { client.call(method, path, body).await }
        })
        .await
    }

    /// `POST path` answered by the new resource's ID (a bare text body; a JSON string is read
    /// too). 429 is retried; a refused token is renewed once.
    pub(crate) async fn post_for_id<B>(&self, path: &str, body: &B) -> Result<String, PostError>
    where
        B: Serialize + ?Sized + Sync,
    {
        let shown = format!("POST {}", path.split('?').next().unwrap_or(path));
        let fail = |kind: ErrorKind, message: String| {
            PostError::Failed(BackendError::new(kind, message).for_backend(self.backend))
        };
        let (mut attempt, mut renewed) = (1, false);
        loop {
            let token = self.authorized().await.map_err(PostError::Failed)?;
            let url = format!("{}/{}", self.base_url, path.trim_start_matches('/'));
            let sent =
                self.raw.post(url).bearer_auth(token.access.expose()).json(body).send().await;
            let (status, wait, text) = match sent {
                Ok(response) => {
                    let status = response.status();
                    let wait = retry_after(response.headers());
                    match response.text().await {
                        Ok(text) => (status, wait, text),
                        Err(err) => {
                            let text = format!(
                                "{shown}: {} (the request may have been carried out)",
                                err.without_url()
                            );
                            return Err(fail(ErrorKind::Unexpected, text));
                        }
                    }
                }
                Err(err) if err.is_connect() && attempt < self.settings.max_attempts => {
                    tokio::time::sleep(self.backoff(attempt, None)).await;
                    attempt += 1;
                    continue;
                }
                Err(err) if err.is_connect() => {
                    return Err(fail(
                        ErrorKind::Transient,
                        format!("{shown}: {}", err.without_url()),
                    ));
                }
                Err(err) => {
                    let text = format!(
                        "{shown}: {} (the request may have been carried out)",
                        err.without_url()
                    );
                    return Err(fail(ErrorKind::Unexpected, text));
                }
            };
            if status.is_success() {
                return read_id(&text).ok_or_else(|| {
                    fail(ErrorKind::Unexpected, format!("{shown}: the answer holds no ID"))
                });
            }
            let said = read_error(&text).and_then(|(code, message)| message.or(code));
            match status {
                StatusCode::UNAUTHORIZED if !renewed => {
                    self.drop_token(token.generation).await;
                    renewed = true;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let err = BackendError::invalid_credentials(CREDENTIAL_FIELDS, None);
                    return Err(PostError::Failed(err.for_backend(self.backend)));
                }
                StatusCode::TOO_MANY_REQUESTS if attempt < self.settings.max_attempts => {
                    tokio::time::sleep(self.backoff(attempt, wait)).await;
                    attempt += 1;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let text = format!(
                        "{shown}: {status}: {} (after {attempt} attempts)",
                        said.unwrap_or_default()
                    );
                    return Err(fail(ErrorKind::RateLimited, text));
                }
                _ => {
                    let message = said.unwrap_or_else(|| text.chars().take(200).collect());
                    return Err(PostError::Refused { status, message });
                }
            }
        }
    }

    /// The wait before attempt `attempt + 1`: what Verda asked for, else doubling backoff.
    fn backoff(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let doubled =
            self.settings.initial_backoff.saturating_mul(1 << attempt.min(16).saturating_sub(1));
        asked.unwrap_or(doubled).min(self.settings.max_backoff)
    }
}

/// The ID in a creation's answer: the bare body, or a JSON string.
fn read_id(text: &str) -> Option<String> {
    let text = text.trim();
    let id = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned());
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_bare_or_quoted_and_errors_by_their_text() {
        assert_eq!(read_id("abc-1\n").as_deref(), Some("abc-1"));
        assert_eq!(read_id("\"abc-1\"").as_deref(), Some("abc-1"));
        assert_eq!(read_id("  "), None);
        let kind = |body: &str| error_body(StatusCode::BAD_REQUEST, body).and_then(|p| p.kind);
        assert_eq!(
            kind(r#"{"code":"invalid_request","message":"Invalid instance id"}"#),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind(
                r#"{"code":"invalid_request","message":"Can't discontinue a provisioning instance"}"#
            ),
            Some(ErrorKind::NotYetTerminated)
        );
        assert_eq!(kind(r#"{"code":"unauthorized_request"}"#), Some(ErrorKind::InvalidCredentials));
        assert_eq!(kind(r#"{"code":"invalid_request","message":"Boom"}"#), None);
    }
}
