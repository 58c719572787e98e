//! Request extractors: the authenticated user, and JSON bodies checked the way FastAPI and
//! pydantic check them (so the 422 answers match dstack's).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use dstack_core::yaml::node::MAX_DEPTH;
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
        let bytes = read_body(req, state).await?;
        parse_body(&bytes).map(Body)
    }
}

/// A required JSON body, its syntax checked (FastAPI's 422 for a missing or malformed one);
/// its fields are the handler's to check, after the access check.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        json_value(&bytes).map(JsonBody)
    }
}

/// The whole body, within the size limit (413) and the time limit (408).
async fn read_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, ApiError> {
    let limits = &state.settings.http;
    let read = axum::body::Bytes::from_request(req, state);
    match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::BodyTooLarge { limit: limits.max_body_bytes })
        }
        // The client broke off or sent a malformed body: its fault, not ours.
        Ok(Err(rejection)) => {
            Err(ApiError::client(format!("Cannot read the request body: {rejection}")))
        }
        Err(_) => Err(ApiError::BodyTimeout { seconds: limits.body_timeout.as_secs() }),
    }
}

/// The JSON of a required body, or FastAPI's 422 for a missing or malformed one.
pub fn json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![
            json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}),
        ]));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| json_invalid(bytes, &e))?;
    if json_depth(&value) > MAX_DEPTH {
        return Err(ApiError::Validation(vec![json!({
            "type": "json_invalid",
            "loc": ["body"],
            "msg": format!("JSON nested deeper than {MAX_DEPTH} levels"),
            "input": {},
        })]));
    }
    Ok(value)
}

/// How many arrays and objects nest in `value`, counted without recursion.
fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
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
    let mut read = value.clone();
    integral_floats_as_integers(&mut read);
    serde_json::from_value(read).map_err(|e| {
        ApiError::Validation(vec![json!({
            "type": "value_error",
            "loc": ["body"],
            "msg": e.to_string(),
            "input": value,
        })])
    })
}

/// pydantic reads `4.0` as the integer 4 (and JSON Schema calls it an integer): so do we.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
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
    // serde_json stops at 128 levels; we refuse past 64 anyway.
    if message.starts_with("recursion limit exceeded") {
        return ApiError::Validation(vec![json!({
            "type": "json_invalid",
            "loc": ["body", offset],
            "msg": format!("JSON nested deeper than {MAX_DEPTH} levels"),
            "input": {},
        })]);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn deep_json_is_refused_with_a_reason() {
        assert!(json_value(nested(MAX_DEPTH).as_bytes()).is_ok());
        for depth in [MAX_DEPTH + 1, 200, 100_000] {
            let Err(ApiError::Validation(errors)) = json_value(nested(depth).as_bytes()) else {
                panic!("depth {depth} accepted");
            };
            assert_eq!(errors[0]["msg"], format!("JSON nested deeper than {MAX_DEPTH} levels"));
        }
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    }
}
