//! The HTTP API of dstack 0.22.5: every call is a POST with a JSON body (or none), answered
//! with compact JSON in dstack's shapes; a few probes (`/healthcheck`, run metrics) are GETs.

mod absent;
pub mod backends;
mod client_version;
pub mod error;
mod events;
pub mod extract;
pub mod fleet_models;
mod fleets;
mod ide;
mod job_command;
mod listing;
mod members;
pub mod models;
pub mod openapi;
pub mod projects;
mod public_keys;
mod route;
pub mod runs;
mod secrets;
pub mod users;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use self::error::ApiError;
use self::route::{Answer, Auth, Route};
use crate::settings::DSTACK_VERSION;
use crate::state::AppState;
use crate::store::{GlobalRole, Project, ProjectRole, User};

/// Every route of the API, with its description.
pub(crate) fn table() -> route::Api {
    let mut api = route::Api::default();
    api.add(
        Route::post("/api/server/get_info", "Server version", Auth::None).answer(Answer::Json(
            || route::object(json!({"server_version": {"type": "string"}}), &["server_version"]),
        )),
        get_info,
    )
    .add(
        Route::get("/healthcheck", "Whether the server is up", Auth::None).answer(Answer::Json(
            || route::object(json!({"status": {"const": "running"}}), &["status"]),
        )),
        || async { Json(json!({"status": "running"})) },
    )
    .add(
        Route::post("/api/auth/list_providers", "OAuth providers (none)", Auth::None)
            .answer(Answer::Json(|| json!({"type": "array", "maxItems": 0}))),
        || async { Json(json!([])) },
    );
    users::routes(&mut api);
    public_keys::routes(&mut api);
    projects::routes(&mut api);
    members::routes(&mut api);
    backends::routes(&mut api);
    secrets::routes(&mut api);
    runs::routes(&mut api);
    fleets::routes(&mut api);
    events::routes(&mut api);
    absent::routes(&mut api);
    api
}

/// The API router.
pub fn router(state: AppState) -> Router {
    let (routes, _) = table().into_parts();
    routes
        .route("/openapi.json", get(openapi::document))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn(client_version::check))
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
        ("server/get_info" | "users/get_my_user" | "backends/list_types", _) => Ok(()),
        ("projects/list_only_no_fleets" | "auth/list_providers", _) => Ok(()),
        (_, "config_info" | "get_yaml") => Ok(()),
        (_, "get") if route.starts_with("projects/") => Ok(()),
        ("users/get_user", _) => parse_body::<users::GetUserRequest>(bytes).map(drop),
        ("users/create" | "users/update", _) => {
            parse_body::<users::CreateUserRequest>(bytes).map(drop)
        }
        ("users/refresh_token" | "users/refresh_ssh_key", _) => {
            parse_body::<users::UsernameRequest>(bytes).map(drop)
        }
        (_, call) if route.starts_with("users/public_keys/") => public_keys::read_body(call, bytes),
        ("users/delete", _) => parse_body::<users::DeleteUsersRequest>(bytes).map(drop),
        ("users/list", _) => parse_body::<users::ListUsersRequest>(bytes)?.check(),
        ("projects/list", _) => parse_body::<projects::ListProjectsRequest>(bytes)?.check(),
        ("projects/create", _) => parse_body::<projects::CreateProjectRequest>(bytes).map(drop),
        ("projects/delete", _) => parse_body::<projects::DeleteProjectsRequest>(bytes).map(drop),
        (_, "update") if route.starts_with("projects/") => {
            parse_body::<projects::UpdateProjectRequest>(bytes).map(drop)
        }
        ("events/list", _) => events::read_body(bytes),
        ("fleets/list", _) => fleets::read_body("all", bytes),
        ("instances/list", _) => fleets::read_body("instances", bytes),
        (_, call) if route.contains("/fleets/") => fleets::read_body(call, bytes),
        (_, "add_members" | "set_members") => {
            parse_body::<members::MembersRequest>(bytes).map(drop)
        }
        (_, "remove_members") => parse_body::<members::RemoveMembersRequest>(bytes).map(drop),
        (_, "get" | "create_or_update" | "delete") if route.contains("/secrets/") => {
            secrets::read_body(last, bytes)
        }
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

/// dstack answers an unknown `/api/` path from the web UI's catch-all `GET` route: 404 for
/// `GET` (a missing file), 405 for other methods; anything else is the web UI's (see
/// [`crate::ui`]).
async fn unknown_path(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
) -> Response {
    if request.uri().path().starts_with("/api/") {
        if matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
            return not_found().await;
        }
        method_not_allowed("GET, HEAD")
    } else {
        crate::ui::answer(&state.settings.ui_dir, request).await
    }
}

/// A known path with the wrong method: `GET` meets dstack's web UI (404, as dstack answers);
/// other methods get 405 with the methods the path takes.
async fn wrong_method(request: Request) -> Response {
    if matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return not_found().await;
    }
    let allowed = if is_get_route(request.uri().path()) { "GET, HEAD" } else { "POST" };
    method_not_allowed(allowed)
}

/// Whether `path` is one of the few GET routes (`/openapi.json`, `/healthcheck`, metrics).
fn is_get_route(path: &str) -> bool {
    static GET_ROUTES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let patterns = GET_ROUTES.get_or_init(|| {
        let (_, routes) = table().into_parts();
        let gets = routes.into_iter().filter(|r| r.method == route::Method::Get);
        gets.map(|r| r.path).chain(["/openapi.json"]).collect()
    });
    patterns.iter().any(|pattern| route::matches(pattern, path))
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
    /// Be a member (any role).
    Member,
    /// Manage members: project managers and admins.
    Manage,
    /// Manage members, or join it if it is public.
    ManageOrPublic,
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
        Access::Member => role.is_some(),
        Access::Manage => role >= Some(ProjectRole::Manager),
        Access::ManageOrPublic => role >= Some(ProjectRole::Manager) || project.is_public,
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
        assert!(!refused("/api/users/get_my_user", "garbage"), "reads no body");
        assert!(refused("/api/project/main/backends/create_yaml", r#"{"config_yaml": "[1"}"#));
        assert!(refused("/api/project/main/backends/delete", r#"{"backends_names": ["x"]}"#));
        assert!(refused("/api/project/main/backends/create", r#"{"type": "lambda"}"#));
        assert!(!refused("/api/projects/main/add_members", r#"{"members": []}"#));
        assert!(refused("/api/users/list", r#"{"limit": "x"}"#));
        assert!(refused("/api/users/delete", r#"{}"#));
        assert!(refused("/api/project/main/secrets/create_or_update", r#"{"name": "a"}"#));
        assert!(!refused("/api/project/main/secrets/delete", r#"{"secrets_names": []}"#));
        assert!(!refused("/api/projects/main/update", r#"{"is_public": true}"#));
    }
}
