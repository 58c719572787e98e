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

/// Runs the body reader of the route at `path` on `bytes`, exactly as its handler does before
/// it touches any state, and returns what the reader refused. This is the entry point of
/// `fuzz/`'s `api_bodies` target: no body may make a reader panic or overflow the stack.
pub fn read_body(path: &str, bytes: &[u8]) -> Result<(), ApiError> {
    use extract::{json_value, parse_body};
    let route = path.rsplit_once("/api/").map_or(path, |(_, route)| route);
    let last = route.rsplit('/').next().unwrap_or_default();
    match (route, last) {
        // Routes that read no body.
        ("server/get_info" | "users/get_my_user" | "users/list" | "backends/list_types", _) => {
            Ok(())
        }
        (_, "get" | "config_info" | "get_yaml") => Ok(()),
        ("users/get_user", _) => parse_body::<users::GetUserRequest>(bytes).map(drop),
        ("users/create", _) => parse_body::<users::CreateUserRequest>(bytes).map(drop),
        ("projects/list", _) => parse_body::<projects::ListProjectsRequest>(bytes)?.check(),
        ("projects/create", _) => parse_body::<projects::CreateProjectRequest>(bytes).map(drop),
        (_, "add_members") => parse_body::<projects::AddMembersRequest>(bytes).map(drop),
        (_, "create" | "update") => {
            backends::ConfigInput::Json(json_value(bytes)?).read().map(drop)
        }
        (_, "create_yaml" | "update_yaml") => {
            let request = parse_body::<backends::YamlRequest>(bytes)?;
            backends::ConfigInput::Yaml(request.config_yaml).read().map(drop)
        }
        (_, "delete") => parse_body::<backends::DeleteRequest>(bytes)?.check(),
        (_, "get_plan") => runs::read_plan(&json_value(bytes)?, Some(false)).map(drop),
        (_, "list") => runs::read_plan(&json_value(bytes)?, None).map(drop),
        _ => Err(ApiError::NotFound),
    }
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
    use super::{ApiError, read_body};

    #[test]
    fn every_body_route_has_its_reader() {
        let refused = |path: &str, body: &str| match read_body(path, body.as_bytes()) {
            Err(ApiError::Validation(_) | ApiError::Client(_)) => true,
            Ok(()) => false,
            Err(other) => panic!("{path}: {other:?}"),
        };
        assert!(refused("/api/project/main/gpus/list", "{}"), "run_spec is required");
        assert!(!refused("/api/project/main/gpus/list", r#"{"run_spec": {}}"#));
        assert!(refused(
            "/api/project/main/runs/get_plan",
            r#"{"run_spec": {}, "max_offers": -1}"#
        ));
        assert!(refused("/api/projects/list", r#"{"limit": 2001}"#));
        assert!(!refused("/api/users/list", "garbage"), "reads no body");
        assert!(refused("/api/project/main/backends/create_yaml", r#"{"config_yaml": "[1"}"#));
        assert!(refused("/api/project/main/backends/delete", r#"{"backends_names": ["x"]}"#));
        assert!(refused("/api/project/main/backends/create", r#"{"type": "lambda"}"#));
        assert!(!refused("/api/projects/main/add_members", r#"{"members": []}"#));
    }

    #[test]
    fn version_comparison() {
        assert!(super::is_newer("0.99.0", "0.22.5"));
        assert!(super::is_newer("0.22.10", "0.22.5"));
        assert!(!super::is_newer("0.10.0", "0.22.5"));
        assert!(!super::is_newer("0.22.5", "0.22.5"));
        assert!(!super::is_newer("latest", "0.22.5"));
    }
}
