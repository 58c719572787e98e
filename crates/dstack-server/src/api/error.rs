//! Errors of the HTTP API, answered with dstack's exact bodies and status codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dstack_core::{BackendError, ErrorKind};
use serde_json::{Value, json};

use crate::store::StoreError;

/// One entry of dstack's `{"detail": [...]}` client-error body.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub msg: String,
    pub code: &'static str,
    pub fields: Option<Vec<String>>,
}

/// An API failure.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no `Authorization: Bearer` header.
    NotAuthenticated,
    /// 403: a token nobody has.
    InvalidToken,
    /// 403: not allowed (role, or not a member).
    AccessDenied,
    /// 403 with dstack's reason (its `ForbiddenError("...")`).
    Forbidden(std::borrow::Cow<'static, str>),
    /// 404: the project in the path does not exist.
    NotFound,
    /// 400: dstack's `ServerClientError`, one entry per field path.
    Client(Vec<Detail>),
    /// 422: request validation, FastAPI's shape.
    Validation(Vec<Value>),
    /// 413: the request body is over the server's limit.
    BodyTooLarge { limit: usize },
    /// 408: the request body did not arrive in time.
    BodyTimeout { seconds: u64 },
    /// 500: our fault; the message is logged, not shown.
    Internal(String),
}

impl ApiError {
    /// A 400 with code `error`.
    pub fn client(msg: impl Into<String>) -> Self {
        ApiError::Client(vec![Detail { msg: msg.into(), code: "error", fields: None }])
    }

    pub fn with_code(msg: impl Into<String>, code: &'static str) -> Self {
        ApiError::Client(vec![Detail { msg: msg.into(), code, fields: None }])
    }

    pub fn resource_exists() -> Self {
        Self::with_code("Resource exists", "resource_exists")
    }

    pub fn resource_not_exists() -> Self {
        Self::with_code("Resource not found", "resource_not_exists")
    }
}

impl From<BackendError> for ApiError {
    fn from(err: BackendError) -> Self {
        if matches!(err.kind(), ErrorKind::Unexpected) {
            return ApiError::Internal(err.to_string());
        }
        // dstack answers "Backend not available" for types it cannot configure; the reason
        // (which feature to enable) is in our message, so keep ours.
        let code = err.kind().api_code();
        let msg = err.message().to_owned();
        if err.fields().is_empty() {
            return ApiError::Client(vec![Detail { msg, code, fields: None }]);
        }
        ApiError::Client(
            err.fields()
                .iter()
                .map(|f| Detail { msg: msg.clone(), code, fields: Some(f.clone()) })
                .collect(),
        )
    }
}

/// The domain's errors as dstack answers them.
impl From<crate::error::ServerError> for ApiError {
    fn from(err: crate::error::ServerError) -> Self {
        use crate::error::ServerError;
        match err {
            ServerError::Exists => ApiError::resource_exists(),
            ServerError::NotExists => ApiError::resource_not_exists(),
            ServerError::Refused(msg) => ApiError::client(msg),
            ServerError::Backend(err) => err.into(),
            ServerError::Store(err) => err.into(),
            ServerError::Internal(msg) => ApiError::Internal(msg),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Client(details) => {
                let msgs: Vec<&str> = details.iter().map(|d| d.msg.as_str()).collect();
                f.write_str(&msgs.join("; "))
            }
            ApiError::Internal(msg) => f.write_str(msg),
            other => write!(f, "{other:?}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::NotAuthenticated => {
                (StatusCode::UNAUTHORIZED, json!({"detail": "Not authenticated"}))
            }
            ApiError::InvalidToken => {
                (StatusCode::FORBIDDEN, json!({"detail": {"msg": "Invalid token", "code": null}}))
            }
            ApiError::AccessDenied => {
                (StatusCode::FORBIDDEN, json!({"detail": {"msg": "Access denied", "code": null}}))
            }
            ApiError::Forbidden(msg) => {
                (StatusCode::FORBIDDEN, json!({"detail": {"msg": msg, "code": null}}))
            }
            ApiError::NotFound => {
                (StatusCode::NOT_FOUND, json!({"detail": {"msg": "Not found", "code": null}}))
            }
            ApiError::Client(details) => {
                let detail: Vec<Value> = details
                    .into_iter()
                    .map(|d| match d.fields {
                        Some(fields) => json!({"msg": d.msg, "code": d.code, "fields": fields}),
                        None => json!({"msg": d.msg, "code": d.code}),
                    })
                    .collect();
                (StatusCode::BAD_REQUEST, json!({"detail": detail}))
            }
            ApiError::Validation(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": errors}))
            }
            ApiError::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"detail": format!("Request body too large: the limit is {limit} bytes")}),
            ),
            ApiError::BodyTimeout { seconds } => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"detail": format!("Request body not received within {seconds}s")}),
            ),
            ApiError::Internal(msg) => {
                tracing::error!("internal error: {msg}");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({"detail": "Internal Server Error"}))
            }
        };
        (status, axum::Json(body)).into_response()
    }
}
