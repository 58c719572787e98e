//! Request extractors: the authenticated user, and JSON bodies checked the way FastAPI and
//! pydantic check them (so the 422 answers match dstack's).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;
use crate::store::User;

/// The user of the request's `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Authed(pub User);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::NotAuthenticated)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::NotAuthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(ApiError::NotAuthenticated);
        }
        match state.store.user_by_token(token.trim()).await? {
            Some(user) if user.active => Ok(Authed(user)),
            _ => Err(ApiError::InvalidToken),
        }
    }
}

/// The fields of a request body: name and whether it is required. Order matters: pydantic
/// reports missing fields in declaration order, then unknown ones.
pub type Fields = &'static [(&'static str, bool)];

/// A request model: its fields, for FastAPI-shaped validation errors.
pub trait RequestBody: DeserializeOwned {
    const FIELDS: Fields;
    /// Whether an empty body is the same as `{}` (FastAPI: when every field is optional).
    const BODY_OPTIONAL: bool = false;
}

/// A JSON body validated like FastAPI validates a pydantic model.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: RequestBody> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::Internal(format!("cannot read request body: {e}")))?;
        parse_body(&bytes).map(Body)
    }
}

/// The JSON of a required body, or FastAPI's 422 for a missing or malformed one.
pub fn json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![
            json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}),
        ]));
    }
    serde_json::from_slice(bytes).map_err(|e| json_invalid(bytes, &e))
}

/// Parses and validates a body.
pub fn parse_body<T: RequestBody>(bytes: &[u8]) -> Result<T, ApiError> {
    if T::BODY_OPTIONAL && bytes.iter().all(u8::is_ascii_whitespace) {
        return from_value(json!({}));
    }
    let value = json_value(bytes)?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::Validation(vec![json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": value,
        })]));
    };
    let mut errors = Vec::new();
    for (name, required) in T::FIELDS {
        if *required && !object.contains_key(*name) {
            errors.push(json!({"type": "missing", "loc": ["body", name], "msg": "Field required", "input": value}));
        }
    }
    for (key, input) in object {
        if !T::FIELDS.iter().any(|(name, _)| name == key) {
            errors.push(json!({
                "type": "extra_forbidden",
                "loc": ["body", key],
                "msg": "Extra inputs are not permitted",
                "input": input,
            }));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    from_value(value)
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::Validation(vec![json!({
            "type": "value_error",
            "loc": ["body"],
            "msg": e.to_string(),
            "input": value,
        })])
    })
}

/// FastAPI's `json_invalid` error: Python's json module message and character offset.
fn json_invalid(bytes: &[u8], err: &serde_json::Error) -> ApiError {
    let text = String::from_utf8_lossy(bytes);
    let offset: usize = text
        .split_inclusive('\n')
        .take(err.line().saturating_sub(1))
        .map(|l| l.chars().count())
        .sum::<usize>()
        + err.column().saturating_sub(1);
    let message = err.to_string();
    let python = if message.starts_with("key must be a string") {
        "Expecting property name enclosed in double quotes"
    } else if message.starts_with("trailing characters") {
        "Extra data"
    } else if message.starts_with("expected `:`") {
        "Expecting ':' delimiter"
    } else if message.starts_with("expected `,` or `}`")
        || message.starts_with("expected `,` or `]`")
    {
        "Expecting ',' delimiter"
    } else {
        "Expecting value"
    };
    ApiError::Validation(vec![json!({
        "type": "json_invalid",
        "loc": ["body", offset],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": python},
    })])
}
