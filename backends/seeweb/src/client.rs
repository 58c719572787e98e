//! The HTTP side of Seeweb's ECS API: the token header, and how dstack reads answers — an
//! error body's `message` / `error` / `detail`, and a 2xx answer whose `status` is not `ok`.

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use reqwest::StatusCode;
use serde_json::{Map, Value};

/// Seeweb's ECS API, as dstack and gpuhunt call it.
pub const DEFAULT_API_URL: &str = "https://api.seeweb.it/ecs/v2";

/// The config field a refused token concerns.
pub(crate) const CREDENTIAL_FIELDS: &[&[&str]] = &[&["creds", "api_token"]];

/// Words of Seeweb's create errors that dstack reads as "no capacity" (the next offer is tried).
const CAPACITY_MARKERS: &[&str] =
    &["not available", "no capacity", "lack of resources", "not activatable", "no host"];

/// The clients of one API token: `rest` for every call, `creating` for `POST /servers`
/// (whose errors may mean "no capacity").
#[derive(Debug, Clone)]
pub struct SeewebClient {
    pub(crate) rest: RestClient,
    pub(crate) creating: RestClient,
}

impl SeewebClient {
    /// Requests carry `X-APITOKEN: <token>`, as dstack and gpuhunt send it.
    pub fn new(base_url: &str, token: &Secret, http: &HttpSettings) -> Self {
        let rest = RestClient::new(
            BackendType::Seeweb,
            base_url,
            Auth::Header("X-APITOKEN", token.clone()),
            http,
        )
        .with_credential_fields(CREDENTIAL_FIELDS)
        .with_error_body(error_body);
        let creating = rest.clone().with_error_body(create_error_body);
        Self { rest, creating }
    }
}

/// dstack's `_response_message`: the body's `message`, `error` or `detail` (the first that is
/// set), else the body's text, else "Seeweb API returned HTTP <code>".
fn response_message(status: u16, body: &str) -> String {
    if let Ok(Value::Object(data)) = serde_json::from_str::<Value>(body)
        && let Some(message) = field_message(&data)
    {
        return message;
    }
    let text = body.trim();
    if text.is_empty() { format!("Seeweb API returned HTTP {status}") } else { text.to_owned() }
}

fn field_message(data: &Map<String, Value>) -> Option<String> {
    ["message", "error", "detail"]
        .iter()
        .filter_map(|field| data.get(*field))
        .find(|value| truthy(value))
        .map(py_str)
}

fn error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    Some(ProviderError::message(response_message(status.as_u16(), body)))
}

/// On `POST /servers`, a message with one of dstack's capacity words is "no capacity".
fn create_error_body(status: StatusCode, body: &str) -> Option<ProviderError> {
    let message = response_message(status.as_u16(), body);
    let refused = matches!(status.as_u16(), 401 | 403);
    let kind = (!refused && is_capacity_error(&message)).then_some(ErrorKind::NoCapacity);
    Some(ProviderError { message, kind })
}

pub(crate) fn is_capacity_error(message: &str) -> bool {
    let normalized = message.to_lowercase();
    CAPACITY_MARKERS.iter().any(|marker| normalized.contains(marker))
}

/// dstack's `_response_data` for a 2xx answer: a JSON object whose `status` (missing counts as
/// `ok`) is `ok` or `success`, case-insensitively; otherwise the body's message is the error
/// (dstack's text alone), "no capacity" where `capacity` and the message says so.
pub(crate) fn checked(answer: Value, capacity: bool) -> Result<Map<String, Value>> {
    let Value::Object(data) = answer else {
        return Err(unexpected("Seeweb API returned an invalid response"));
    };
    let status = data.get("status").map_or_else(|| "ok".to_owned(), py_str).to_lowercase();
    if status == "ok" || status == "success" {
        return Ok(data);
    }
    let message = field_message(&data).unwrap_or_else(|| Value::Object(data.clone()).to_string());
    let kind = if capacity && is_capacity_error(&message) {
        ErrorKind::NoCapacity
    } else {
        ErrorKind::Unexpected
    };
    Err(BackendError::new(kind, message).for_backend(BackendType::Seeweb))
}

pub(crate) fn unexpected(message: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, message).for_backend(BackendType::Seeweb)
}

/// Python's truth value of a JSON value (`if value:`).
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Python's `str()` of a JSON value, as far as dstack's and gpuhunt's parsing can tell apart.
pub(crate) fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_are_read_as_dstack_reads_them() {
        assert!(checked(json!({"regions": []}), false).is_ok(), "a missing status is ok");
        assert!(checked(json!({"status": "SUCCESS"}), false).is_ok());
        let err = checked(json!({"status": "KO", "message": "boom"}), false).unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::Unexpected, "boom"));
        let err = checked(json!({"status": null}), false).unwrap_err();
        assert_eq!(err.message(), r#"{"status":null}"#, "None is not ok");
        let err = checked(json!({"status": "error", "message": "Plan is not available"}), true)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoCapacity);
        assert_eq!(
            checked(json!([]), false).unwrap_err().message(),
            "Seeweb API returned an invalid response"
        );
        assert_eq!(response_message(500, r#"{"message": "", "detail": "d"}"#), "d");
        assert_eq!(response_message(502, "  "), "Seeweb API returned HTTP 502");
        assert_eq!(response_message(500, "gateway down\n"), "gateway down");
        let capacity = create_error_body(StatusCode::BAD_REQUEST, r#"{"error": "No host left"}"#);
        assert_eq!(capacity.unwrap().kind, Some(ErrorKind::NoCapacity));
        assert_eq!(create_error_body(StatusCode::BAD_REQUEST, "invalid image").unwrap().kind, None);
    }
}
