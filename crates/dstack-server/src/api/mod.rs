//! The HTTP API of dstack 0.22.5: every call is a POST with a JSON body (or none), answered
//! with compact JSON in dstack's shapes.

pub mod backends;
pub mod error;
pub mod extract;
pub mod models;
pub mod openapi;
pub mod projects;
pub mod runs;
pub mod users;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use self::error::ApiError;
use crate::settings::DSTACK_VERSION;
use crate::state::AppState;
use crate::store::{GlobalRole, Project, ProjectRole, User};

/// The API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/server/get_info", post(get_info))
        .merge(users::routes())
        .merge(projects::routes())
        .merge(backends::routes())
        .merge(runs::routes())
        .route("/openapi.json", get(openapi::document))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn(check_client_version))
        .layer(axum::extract::DefaultBodyLimit::max(state.settings.http.max_body_bytes))
        .with_state(state)
}

/// dstack refuses clients newer than the server.
async fn check_client_version(request: Request, next: Next) -> Response {
    let client =
        request.headers().get("x-api-version").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(client) = client
        && request.uri().path().starts_with("/api/")
        && is_newer(&client, DSTACK_VERSION)
    {
        return ApiError::client(format!(
            "The client/CLI version ({client}) is incompatible with the server version \
                 ({DSTACK_VERSION})."
        ))
        .into_response();
    }
    next.run(request).await
}

/// Compares dotted versions numerically (`0.22.10` > `0.22.5`); anything unparsable is not
/// newer.
fn is_newer(client: &str, server: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<u64>> {
        v.split('.')
            .map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok())
            .collect()
    }
    match (parts(client), parts(server)) {
        (Some(c), Some(s)) => c > s,
        _ => false,
    }
}

/// dstack answers an unknown `/api/` path with 405 from the web UI's catch-all `GET` route,
/// and anything else with 404.
async fn unknown_path(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        method_not_allowed("GET, HEAD")
    } else {
        not_found().await
    }
}

/// A known path with the wrong method: `GET` meets dstack's web UI (404, as dstack answers);
/// other methods get 405 with the methods the path takes.
async fn wrong_method(request: Request) -> Response {
    if matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return not_found().await;
    }
    let allowed = if request.uri().path() == "/openapi.json" { "GET, HEAD" } else { "POST" };
    method_not_allowed(allowed)
}

fn method_not_allowed(allowed: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(axum::http::header::ALLOW, allowed)],
        Json(json!({"detail": "Method Not Allowed"})),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))).into_response()
}

async fn get_info() -> Json<serde_json::Value> {
    Json(json!({"server_version": DSTACK_VERSION}))
}

/// What a caller needs to be allowed to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// See it: a member, or anyone if it is public.
    Read,
    /// Manage members: project managers and admins.
    Manage,
    /// Configure it (backends): project admins.
    Admin,
}

/// The project named in the path, if `user` may access it as asked. Global admins may do
/// everything. A missing project is a 404 before any role check, as in dstack.
pub async fn project_for(
    state: &AppState,
    user: &User,
    name: &str,
    access: Access,
) -> Result<Project, ApiError> {
    let project = state.store.project_by_name(name).await?.ok_or(ApiError::NotFound)?;
    if user.global_role == GlobalRole::Admin {
        return Ok(project);
    }
    let role = state.store.member_role(&project.id, &user.id).await?;
    let allowed = match access {
        Access::Read => role.is_some() || project.is_public,
        Access::Manage => role >= Some(ProjectRole::Manager),
        Access::Admin => role == Some(ProjectRole::Admin),
    };
    if allowed { Ok(project) } else { Err(ApiError::AccessDenied) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_comparison() {
        assert!(super::is_newer("0.99.0", "0.22.5"));
        assert!(super::is_newer("0.22.10", "0.22.5"));
        assert!(!super::is_newer("0.10.0", "0.22.5"));
        assert!(!super::is_newer("0.22.5", "0.22.5"));
        assert!(!super::is_newer("latest", "0.22.5"));
    }
}
