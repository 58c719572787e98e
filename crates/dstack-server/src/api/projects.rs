//! `/api/projects/*`: listing, creating and reading projects, and their members.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::models::ProjectOut;
use super::{Access, backends, project_for};
use crate::services;
use crate::state::AppState;
use crate::store::{GlobalRole, Project, ProjectRole};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/projects/list", post(list_projects))
        .route("/api/projects/create", post(create_project))
        .route("/api/projects/{project_name}/get", post(get_project))
        .route("/api/projects/{project_name}/add_members", post(add_members))
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // pagination fields are accepted as dstack accepts them
pub struct ListProjectsRequest {
    pub include_not_joined: Option<bool>,
    pub username: Option<String>,
    pub return_total_count: Option<bool>,
    pub name_pattern: Option<String>,
    pub prev_created_at: Option<String>,
    pub prev_id: Option<String>,
    /// At most 2000, as in dstack.
    #[schemars(range(min = 0, max = 2000))]
    pub limit: Option<u16>,
    pub ascending: Option<bool>,
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

/// The most projects one listing returns (dstack's bound).
const MAX_LIMIT: u16 = 2000;

impl ListProjectsRequest {
    /// dstack's bound on `limit` (422 above it).
    pub fn check(&self) -> Result<(), ApiError> {
        match self.limit {
            Some(limit) if limit > MAX_LIMIT => {
                Err(ApiError::Validation(vec![serde_json::json!({
                    "type": "less_than_equal",
                    "loc": ["body", "limit"],
                    "msg": format!("Input should be less than or equal to {MAX_LIMIT}"),
                    "input": limit,
                })]))
            }
            _ => Ok(()),
        }
    }
}

async fn list_projects(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListProjectsRequest>,
) -> Result<Json<Vec<ProjectOut>>, ApiError> {
    request.check()?;
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
        .take(usize::from(request.limit.unwrap_or(MAX_LIMIT)))
        .map(|p| ProjectOut::listed(p, &state))
        .collect();
    Ok(Json(out))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    #[schemars(regex(pattern = r"^[a-zA-Z0-9-_]{1,50}$"))]
    pub project_name: String,
    pub is_public: Option<bool>,
    pub templates_repo: Option<String>,
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSetting {
    pub username: String,
    pub project_role: ProjectRole,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembersRequest {
    pub members: Vec<MemberSetting>,
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
