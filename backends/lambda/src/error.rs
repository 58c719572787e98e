//! Lambda API failures as `BackendError`s, in one place.

use dstack_core::{BackendError, ErrorKind};
use serde::Deserialize;

/// Lambda's error body: `{"error": {"code": "...", "message": "...", "suggestion": "..."}}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

/// Passes a successful response through; maps a failed one.
pub async fn from_response(response: reqwest::Response) -> Result<reqwest::Response, BackendError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<ErrorBody>(&body).ok().map(|b| b.error);
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(BackendError::invalid_credentials(&[&["creds", "api_key"]], None));
    }
    let message = detail
        .as_ref()
        .and_then(|d| d.message.clone().or_else(|| d.code.clone()))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let kind = match status.as_u16() {
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Unexpected,
    };
    Err(BackendError::new(kind, format!("Lambda API error ({status}): {message}"))
        .for_backend(dstack_core::config::BackendType::Lambda))
}

/// A request that did not get an answer (DNS, connection, timeout).
pub fn from_transport(err: reqwest::Error) -> BackendError {
    // The error's text includes the URL but never the Authorization header.
    BackendError::new(ErrorKind::Transient, format!("Lambda API unreachable: {err}"))
        .for_backend(dstack_core::config::BackendType::Lambda)
}
