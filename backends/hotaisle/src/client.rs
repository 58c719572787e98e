//! Hot Aisle's API as dstack's `HotAisleAPIClient` calls it: `Authorization: Token <key>`,
//! a team's paths, and what each call's statuses mean to dstack.
//!
//! The kit's [`RestClient`] turns statuses into kinds; where dstack reads one status of one
//! call apart (a 403 of the credential check, a 409 of the key upload, a 400 of a release
//! without `force`), that call has a client whose error-body reader gives that status a kind
//! no other answer of the call gets, and the call reads the kind back.

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Hot Aisle's API, as dstack 0.22.5 and gpuhunt 0.1.34 call it.
pub const DEFAULT_API_URL: &str = "https://admin.hotaisle.app/api";

/// The config field a refused key concerns.
pub(crate) const CREDENTIAL_FIELDS: &[&[&str]] = &[&["creds", "api_key"]];

/// dstack's details of a refused credential check.
const INVALID_KEY: &str = "Invalid API key";
const NO_PERMISSIONS: &str = "Authenticated user does not have required permissions";

/// The clients of one API key and team.
#[derive(Debug, Clone)]
pub struct HotAisleClient {
    /// The team handle, as a path segment.
    team: String,
    rest: RestClient,
    /// `GET /user/`: a 403 is `InvalidConfig`, other refusals `Unexpected`.
    check: RestClient,
    /// `POST /user/ssh_keys/`: a 409 (the key is there) is `ResourceExists`.
    keys: RestClient,
    /// `POST .../virtual_machines/`: the described "no VM matches" and limits.
    creating: RestClient,
    /// `POST .../bare_metal/`: 403 and 404 are no capacity, as in dstack.
    reserving: RestClient,
    /// `DELETE .../bare_metal/{id}/` without `force`: a 400 is `InvalidConfig`.
    releasing: RestClient,
}

impl HotAisleClient {
    pub fn new(base_url: &str, api_key: &Secret, team: &str, http: &HttpSettings) -> Self {
        let token = Secret::new(format!("Token {}", api_key.expose()));
        let rest = RestClient::new(
            BackendType::Hotaisle,
            base_url,
            Auth::Header("Authorization", token),
            http,
        )
        .with_credential_fields(CREDENTIAL_FIELDS)
        .with_error_body(error_body);
        Self {
            team: segment(team),
            check: rest.clone().with_error_body(check_error_body),
            keys: rest.clone().with_error_body(key_error_body),
            creating: rest.clone().with_error_body(create_error_body),
            reserving: rest.clone().with_error_body(reserve_error_body),
            releasing: rest.clone().with_error_body(release_error_body),
            rest,
        }
    }

    fn team_path(&self, rest: &str) -> String {
        format!("/teams/{}/{rest}", self.team)
    }

    /// dstack's `validate_api_key`: `GET /user/`, then `team` among the user's teams.
    pub async fn check_team(&self, team: &str) -> Result<()> {
        let invalid = |fields: &[&[&str]], details: &str| {
            BackendError::invalid_credentials(fields, Some(details))
                .for_backend(BackendType::Hotaisle)
        };
        let user: Value = match self.check.get("/user/").await {
            Ok(user) => user,
            Err(err) if err.kind() == ErrorKind::InvalidCredentials => {
                return Err(invalid(CREDENTIAL_FIELDS, INVALID_KEY));
            }
            Err(err) if err.kind() == ErrorKind::InvalidConfig => {
                return Err(invalid(CREDENTIAL_FIELDS, NO_PERMISSIONS));
            }
            Err(err) => return Err(err),
        };
        let teams = match user.get("teams") {
            Some(Value::Array(teams)) => teams.as_slice(),
            Some(Value::Null) => &[],
            _ => return Err(unexpected("GET /user/: the answer lists no teams")),
        };
        if teams.is_empty() {
            return Err(invalid(
                CREDENTIAL_FIELDS,
                "Valid API key but no teams found for this user",
            ));
        }
        if !teams.iter().any(|t| t.get("handle").and_then(Value::as_str) == Some(team)) {
            return Err(invalid(&[&["team_handle"]], &format!("Team handle '{team}' not found")));
        }
        Ok(())
    }

    /// `GET /teams/{team}/<kind>/available/` (`virtual_machines` or `bare_metal`).
    pub async fn available(&self, kind: &str) -> Result<Value> {
        self.rest.get(&self.team_path(&format!("{kind}/available/"))).await
    }

    /// Registers the project key with the user (`POST /user/ssh_keys/`). `Some(fingerprint)`
    /// when this call registered it, `None` when it was there already (409).
    pub async fn upload_ssh_key(&self, public_key: &str) -> Result<Option<String>> {
        let body = json!({"authorized_key": public_key});
        match self.keys.post::<_, Value>("/user/ssh_keys/", &body).await {
            Ok(key) => Ok(key.get("fingerprint").and_then(Value::as_str).map(str::to_owned)),
            Err(err) if err.kind() == ErrorKind::ResourceExists => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `DELETE /user/ssh_keys/{fingerprint}/`; a key that is gone is success.
    pub async fn delete_ssh_key(&self, fingerprint: &str) -> Result<()> {
        let path = format!("/user/ssh_keys/{}/", segment(fingerprint));
        gone_is_success(self.rest.delete::<Value>(&path).await)
    }

    /// `POST /teams/{team}/virtual_machines/` with an offer's `vm_specs`.
    pub async fn create_vm(&self, specs: &Value) -> Result<Value> {
        self.creating.post(&self.team_path("virtual_machines/"), specs).await
    }

    /// The VM's `state` (`GET .../virtual_machines/{name}/state/`).
    pub async fn vm_state(&self, name: &str) -> Result<String> {
        let path = self.team_path(&format!("virtual_machines/{}/state/", segment(name)));
        let state: Value = self.rest.get(&path).await?;
        state
            .get("state")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| unexpected(format!("GET {path}: the answer has no state")))
    }

    /// `DELETE .../virtual_machines/{name}/?force=true`, even before the VM's minimum
    /// reservation time, as dstack deletes VMs; a VM that is gone is success.
    pub async fn delete_vm(&self, name: &str) -> Result<()> {
        let path = self.team_path(&format!("virtual_machines/{}/?force=true", segment(name)));
        gone_is_success(self.rest.delete::<Value>(&path).await)
    }

    /// `POST /teams/{team}/bare_metal/ {specs, description}`.
    pub async fn reserve(&self, specs: &Value, description: &str) -> Result<Value> {
        let body = json!({"specs": specs, "description": description});
        self.reserving.post(&self.team_path("bare_metal/"), &body).await
    }

    /// `GET /teams/{team}/bare_metal/{id}/`.
    pub async fn bare_metal(&self, id: &str) -> Result<Value> {
        self.rest.get(&self.team_path(&format!("bare_metal/{}/", segment(id)))).await
    }

    /// `DELETE /teams/{team}/bare_metal/{id}/`, with `force=true` when `force`; a server that
    /// is gone is success. Without `force`, Hot Aisle's 400 (the minimum reservation period
    /// has not ended) is dstack's error, with Hot Aisle's text.
    pub async fn release(&self, id: &str, force: bool) -> Result<()> {
        let path = self.team_path(&format!("bare_metal/{}/", segment(id)));
        if force {
            return gone_is_success(self.rest.delete::<Value>(&format!("{path}?force=true")).await);
        }
        match gone_is_success(self.releasing.delete::<Value>(&path).await) {
            Err(err) if err.kind() == ErrorKind::InvalidConfig => {
                let text = refusal_text(&path, err.message());
                Err(BackendError::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "Hot Aisle refused to release bare metal server {id} before its \
                         minimum reservation period ends: {text}"
                    ),
                )
                .for_backend(BackendType::Hotaisle))
            }
            other => other,
        }
    }
}

fn gone_is_success(result: Result<Value>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => {
            tracing::debug!("already gone: {err}");
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// What Hot Aisle said in the kit's message of a 400 to `DELETE path` (the kit writes
/// `DELETE <path>: 400 Bad Request: <text>`).
fn refusal_text<'a>(path: &str, message: &'a str) -> &'a str {
    let prefix = format!("DELETE {path}: {}: ", StatusCode::BAD_REQUEST);
    message.strip_prefix(&prefix).unwrap_or(message)
}

pub(crate) fn unexpected(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, message).for_backend(BackendType::Hotaisle)
}

/// `text` as one path segment: everything but RFC 3986's unreserved characters and `:`/`@`
/// percent-encoded (a fingerprint has `/` and `+`).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Hot Aisle's error bodies: a JSON string (its description), else the text as it is.
fn said(body: &str) -> Option<String> {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(Value::String(text)) => text,
        _ => body.to_owned(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn error_body(_status: StatusCode, body: &str) -> Option<ProviderError> {
    said(body).map(ProviderError::message)
}

/// With `kind`, whatever the body says.
fn with_kind(body: &str, kind: ErrorKind) -> Option<ProviderError> {
    Some(ProviderError { message: said(body).unwrap_or_default(), kind: Some(kind) })
}

/// Statuses the kit reads as they are: refused key, throttling, server errors.
fn kept(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 429) || status.is_server_error()
}

/// `GET /user/`: a 403 is dstack's "no permissions"; any other refusal is dstack's HTTP
/// error, not a config problem.
fn check_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    match status.as_u16() {
        403 => with_kind(body, ErrorKind::InvalidConfig),
        _ if kept(status) => error_body(status, body),
        _ => with_kind(body, ErrorKind::Unexpected),
    }
}

/// `POST /user/ssh_keys/`: 409 is "Conflict - key already registered".
fn key_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    match status.as_u16() {
        409 => with_kind(body, ErrorKind::ResourceExists),
        _ => error_body(status, body),
    }
}

/// `POST .../virtual_machines/`, as Hot Aisle describes its answers: 401 "Maximum VMs already
/// provisioned for this team", 402 "Insufficient balance", 404 "No available virtual machine
/// matching requested specifications". Each moves on to the next offer.
fn create_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    match status.as_u16() {
        401 | 402 => with_kind(body, ErrorKind::QuotaExceeded),
        404 => with_kind(body, ErrorKind::NoCapacity),
        _ => error_body(status, body),
    }
}

/// `POST .../bare_metal/`: dstack's 403 (the team's server limit, or no permission) and 404
/// (no server matches, e.g. another team took it) are no capacity; 402 is the balance.
fn reserve_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    match status.as_u16() {
        403 | 404 => with_kind(body, ErrorKind::NoCapacity),
        402 => with_kind(body, ErrorKind::QuotaExceeded),
        _ => error_body(status, body),
    }
}

/// `DELETE .../bare_metal/{id}/` without `force`: only a 400 is the minimum period.
fn release_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    match status.as_u16() {
        400 => with_kind(body, ErrorKind::InvalidConfig),
        403 | 404 => error_body(status, body),
        _ if kept(status) => error_body(status, body),
        _ => with_kind(body, ErrorKind::Unexpected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_bodies_read_as_hot_aisle_writes_them() {
        assert_eq!(segment("SHA256:ab/c+d="), "SHA256:ab%2Fc%2Bd%3D");
        assert_eq!(segment("my-team_1.x"), "my-team_1.x");
        assert_eq!(
            said(r#""minimum usage requirement""#).as_deref(),
            Some("minimum usage requirement")
        );
        assert_eq!(said("tenant limit exceeded\n").as_deref(), Some("tenant limit exceeded"));
        assert_eq!(said(" "), None);
        let kind = |read: fn(StatusCode, &str) -> Option<ProviderError>, status: u16| {
            read(StatusCode::from_u16(status).unwrap(), "x").and_then(|p| p.kind)
        };
        assert_eq!(kind(check_error_body, 403), Some(ErrorKind::InvalidConfig));
        assert_eq!(kind(check_error_body, 401), None, "the kit's invalid credentials");
        assert_eq!(kind(check_error_body, 404), Some(ErrorKind::Unexpected));
        assert_eq!(kind(key_error_body, 409), Some(ErrorKind::ResourceExists));
        assert_eq!(kind(create_error_body, 404), Some(ErrorKind::NoCapacity));
        assert_eq!(kind(reserve_error_body, 403), Some(ErrorKind::NoCapacity));
        assert_eq!(kind(release_error_body, 400), Some(ErrorKind::InvalidConfig));
        assert_eq!(kind(release_error_body, 409), Some(ErrorKind::Unexpected));
    }

    #[test]
    fn a_refusal_keeps_hot_aisles_text() {
        let path = "/teams/t/bare_metal/d-1/";
        let message = format!("DELETE {path}: 400 Bad Request: minimum usage requirement");
        assert_eq!(refusal_text(path, &message), "minimum usage requirement");
        assert_eq!(refusal_text(path, "other"), "other");
    }
}
