//! The HTTP API of dstack 0.22.5: every call is a POST with a JSON body (or none), answered
//! with compact JSON in dstack's shapes.

pub mod backends;
pub mod error;
pub mod extract;
pub mod models;
pub mod openapi;
pub mod runs;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use self::error::ApiError;
use self::extract::{Authed, Body, Fields, RequestBody};
use self::models::{ProjectOut, UserOut, UserWithCreds};
use crate::services;
use crate::settings::DSTACK_VERSION;
use crate::state::AppState;
use crate::store::{GlobalRole, Project, ProjectRole, User};

/// The API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/server/get_info", post(get_info))
        .route("/api/users/get_my_user", post(get_my_user))
        .route("/api/users/get_user", post(get_user))
        .route("/api/users/create", post(create_user))
        .route("/api/users/list", post(list_users))
        .route("/api/projects/list", post(list_projects))
        .route("/api/projects/create", post(create_project))
        .route("/api/projects/{project_name}/get", post(get_project))
        .route("/api/projects/{project_name}/add_members", post(add_members))
        .merge(backends::routes())
        .merge(runs::routes())
        .route("/openapi.json", get(openapi::document))
        .fallback(unknown_path)
        .method_not_allowed_fallback(not_found)
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

async fn unknown_path(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"detail": "Method Not Allowed"})))
            .into_response()
    } else {
        not_found().await
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))).into_response()
}

async fn get_info() -> Json<serde_json::Value> {
    Json(json!({"server_version": DSTACK_VERSION}))
}

async fn get_my_user(State(state): State<AppState>, Authed(user): Authed) -> Json<UserWithCreds> {
    Json(UserWithCreds::new(&user, &state))
}

#[derive(Debug, Deserialize)]
struct GetUserRequest {
    username: String,
}

impl RequestBody for GetUserRequest {
    const FIELDS: Fields = &[("username", true)];
}

async fn get_user(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<GetUserRequest>,
) -> Result<Json<UserWithCreds>, ApiError> {
    if me.global_role != GlobalRole::Admin && me.name != request.username {
        return Err(ApiError::AccessDenied);
    }
    let user = state.store.user_by_name(&request.username).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(UserWithCreds::new(&user, &state)))
}

#[derive(Debug, Deserialize)]
struct CreateUserRequest {
    username: String,
    global_role: GlobalRole,
    email: Option<String>,
    active: Option<bool>,
}

impl RequestBody for CreateUserRequest {
    const FIELDS: Fields =
        &[("username", true), ("global_role", true), ("email", false), ("active", false)];
}

async fn create_user(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<CreateUserRequest>,
) -> Result<Json<UserOut>, ApiError> {
    require_global_admin(&me)?;
    let token = dstack_core::Secret::new(uuid::Uuid::new_v4().to_string());
    let mut user = services::create_user(
        &state.store,
        &request.username,
        request.global_role,
        request.email,
        token,
    )
    .await?;
    user.active = request.active.unwrap_or(true);
    Ok(Json(UserOut::new(&user, &state)))
}

async fn list_users(
    State(state): State<AppState>,
    Authed(me): Authed,
) -> Result<Json<Vec<UserOut>>, ApiError> {
    // Without admin rights a user sees only themself, as in dstack.
    let users =
        if me.global_role == GlobalRole::Admin { state.store.users().await? } else { vec![me] };
    Ok(Json(users.iter().map(|u| UserOut::new(u, &state)).collect()))
}

fn require_global_admin(user: &User) -> Result<(), ApiError> {
    if user.global_role == GlobalRole::Admin { Ok(()) } else { Err(ApiError::AccessDenied) }
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

/// The full view of a project: owner, backends without creds, members.
pub async fn project_view(state: &AppState, project: &Project) -> Result<ProjectOut, ApiError> {
    let owner = state.store.user_by_id(&project.owner_id).await?.ok_or_else(|| {
        ApiError::Internal(format!("owner of project {} is missing", project.name))
    })?;
    let members = state.store.members(&project.id).await?;
    let backends = backends::views(state, project).await?;
    Ok(ProjectOut::new(project, &owner, backends, &members, state))
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // pagination fields are accepted as dstack accepts them
struct ListProjectsRequest {
    include_not_joined: Option<bool>,
    username: Option<String>,
    return_total_count: Option<bool>,
    name_pattern: Option<String>,
    prev_created_at: Option<String>,
    prev_id: Option<String>,
    limit: Option<usize>,
    ascending: Option<bool>,
}

impl RequestBody for ListProjectsRequest {
    const FIELDS: Fields = &[
        ("include_not_joined", false),
        ("username", false),
        ("return_total_count", false),
        ("name_pattern", false),
        ("prev_created_at", false),
        ("prev_id", false),
        ("limit", false),
        ("ascending", false),
    ];
    const BODY_OPTIONAL: bool = true;
}

async fn list_projects(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListProjectsRequest>,
) -> Result<Json<Vec<ProjectOut>>, ApiError> {
    let include_not_joined = request.include_not_joined.unwrap_or(true);
    let projects = state.store.project_listing(&me.id).await?;
    let ordered: Box<dyn Iterator<Item = &crate::store::ListedProject>> =
        if request.ascending == Some(true) {
            Box::new(projects.iter().rev())
        } else {
            Box::new(projects.iter())
        };
    let pattern = request.name_pattern.as_ref().map(|p| p.to_lowercase());
    let out = ordered
        .filter(|p| pattern.as_ref().is_none_or(|pat| p.name.to_lowercase().contains(pat)))
        .filter(|p| {
            me.global_role == GlobalRole::Admin
                || p.role.is_some()
                || (include_not_joined && p.is_public)
        })
        .take(request.limit.unwrap_or(2000))
        .map(|p| ProjectOut::listed(p, &state))
        .collect();
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
struct CreateProjectRequest {
    project_name: String,
    is_public: Option<bool>,
    templates_repo: Option<String>,
}

impl RequestBody for CreateProjectRequest {
    const FIELDS: Fields =
        &[("project_name", true), ("is_public", false), ("templates_repo", false)];
}

async fn create_project(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<CreateProjectRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    if me.global_role != GlobalRole::Admin && !state.permissions().allow_non_admins_create_projects
    {
        return Err(ApiError::AccessDenied);
    }
    let project = services::create_project(
        &state.store,
        &me,
        &request.project_name,
        request.is_public.unwrap_or(false),
        request.templates_repo,
    )
    .await?;
    Ok(Json(project_view(&state, &project).await?))
}

async fn get_project(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
) -> Result<Json<ProjectOut>, ApiError> {
    let project = project_for(&state, &me, &name, Access::Read).await?;
    Ok(Json(project_view(&state, &project).await?))
}

#[derive(Debug, Deserialize)]
struct MemberSetting {
    username: String,
    project_role: ProjectRole,
}

#[derive(Debug, Deserialize)]
struct AddMembersRequest {
    members: Vec<MemberSetting>,
}

impl RequestBody for AddMembersRequest {
    const FIELDS: Fields = &[("members", true)];
}

async fn add_members(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<AddMembersRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    let project = project_for(&state, &me, &name, Access::Manage).await?;
    let my_role = state.store.member_role(&project.id, &me.id).await?;
    // The whole request is checked before anything is written, and written all or none.
    let mut roles = Vec::with_capacity(request.members.len());
    for member in &request.members {
        // Only admins may hand out the admin role.
        if member.project_role == ProjectRole::Admin
            && me.global_role != GlobalRole::Admin
            && my_role != Some(ProjectRole::Admin)
        {
            return Err(ApiError::AccessDenied);
        }
    }
    for member in &request.members {
        let user = state
            .store
            .user_by_name(&member.username)
            .await?
            .ok_or_else(|| ApiError::client(format!("User {} not found", member.username)))?;
        roles.push((user.id, member.project_role));
    }
    state.store.set_members(&project.id, &roles).await?;
    Ok(Json(project_view(&state, &project).await?))
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
