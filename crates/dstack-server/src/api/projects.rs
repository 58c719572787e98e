//! `/api/projects/*`: listing, creating, reading, changing and deleting projects (their
//! members are in `members.rs`).

use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::listing::{Page, Paged};
use super::models::ProjectOut;
use super::route::{Api, Auth, Route};
use super::{Access, backends, project_for};
use crate::services;
use crate::state::AppState;
use crate::store::{GlobalRole, ListedProject, Project, ProjectRole};

pub fn routes(api: &mut Api) {
    api.add(
        Route::post("/api/projects/list", "Projects the caller can see", Auth::Token)
            .body::<ListProjectsRequest>()
            .answers::<ProjectList>(),
        list_projects,
    )
    .add(
        Route::post(
            "/api/projects/list_only_no_fleets",
            "The caller's projects without active fleets, oldest first",
            Auth::Token,
        )
        .answers::<Vec<ProjectOut>>(),
        list_only_no_fleets,
    )
    .add(
        Route::post("/api/projects/create", "Create a project", Auth::Token)
            .body::<CreateProjectRequest>()
            .answers::<ProjectOut>()
            .client_errors(),
        create_project,
    )
    .add(
        Route::post("/api/projects/delete", "Delete projects (their admins)", Auth::Token)
            .body::<DeleteProjectsRequest>()
            .client_errors(),
        delete_projects,
    )
    .add(
        Route::post(
            "/api/projects/{project_name}/get",
            "A project with backends and members",
            Auth::Project,
        )
        .answers::<ProjectOut>(),
        get_project,
    )
    .add(
        Route::post(
            "/api/projects/{project_name}/update",
            "Make a project public or private (project admins)",
            Auth::Project,
        )
        .body::<UpdateProjectRequest>()
        .answers::<ProjectOut>()
        .client_errors(),
        update_project,
    );
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
    #[schemars(regex(pattern = r"^[a-zA-Z0-9-_]*$"))]
    pub name_pattern: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub prev_created_at: Option<String>,
    #[schemars(extend("format" = "uuid"))]
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

impl ListProjectsRequest {
    pub fn page(&self) -> Page<'_> {
        Page {
            name_pattern: self.name_pattern.as_deref(),
            prev_created_at: self.prev_created_at.as_deref(),
            prev_id: self.prev_id.as_deref(),
            limit: self.limit,
            ascending: self.ascending == Some(true),
        }
    }

    /// pydantic's checks of the fields (422s).
    pub fn check(&self) -> Result<(), ApiError> {
        self.page().check()
    }
}

/// A bare list, or with `return_total_count` the total before paging too.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ProjectList {
    Projects(Vec<ProjectOut>),
    Counted { total_count: usize, projects: Vec<ProjectOut> },
}

impl Paged for ListedProject {
    fn created_at(&self) -> i64 {
        self.created_at
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

async fn list_projects(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListProjectsRequest>,
) -> Result<Json<ProjectList>, ApiError> {
    request.check()?;
    let page = request.page();
    let include_not_joined = request.include_not_joined.unwrap_or(true);
    // `username`: the projects that user owns or has joined, with their membership.
    let (viewer, only_joined) = match &request.username {
        Some(name) => {
            let user = state.store.user_by_name(name).await?;
            let user = user.ok_or_else(ApiError::resource_not_exists)?;
            if me.global_role != GlobalRole::Admin && me.id != user.id {
                return Err(ApiError::AccessDenied);
            }
            (user, true)
        }
        None => (me.clone(), false),
    };
    let listing = state.store.project_listing(&viewer.id).await?;
    let visible = listing
        .iter()
        .filter(|p| {
            if only_joined {
                return p.role.is_some() || p.owner.id == viewer.id;
            }
            me.global_role == GlobalRole::Admin
                || p.role.is_some()
                || (include_not_joined && p.is_public)
        })
        .cloned();
    let (total_count, projects) = page.select(visible);
    let projects = projects.iter().map(|p| ProjectOut::listed(p, &state)).collect();
    Ok(Json(if request.return_total_count == Some(true) {
        ProjectList::Counted { total_count, projects }
    } else {
        ProjectList::Projects(projects)
    }))
}

/// No project has fleets yet (fleets come with a later issue): the caller's projects, oldest
/// first, as dstack lists them.
async fn list_only_no_fleets(
    State(state): State<AppState>,
    Authed(me): Authed,
) -> Result<Json<Vec<ProjectOut>>, ApiError> {
    let listing = state.store.project_listing(&me.id).await?;
    let mine: Vec<ListedProject> = listing.iter().filter(|p| p.role.is_some()).cloned().collect();
    let oldest_first = Page { ascending: true, ..Page::default() };
    Ok(Json(oldest_first.apply(mine).iter().map(|p| ProjectOut::listed(p, &state)).collect()))
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
pub struct DeleteProjectsRequest {
    pub projects_names: Vec<String>,
}

impl RequestBody for DeleteProjectsRequest {
    const FIELDS: Fields = &[("projects_names", true)];
}

/// Global admins delete any project, others only projects they administer (403 otherwise,
/// also for projects they cannot see, as in dstack); all or none.
async fn delete_projects(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<DeleteProjectsRequest>,
) -> Result<Json<()>, ApiError> {
    let mut names = request.projects_names;
    names.sort();
    names.dedup();
    let mut ids = Vec::with_capacity(names.len());
    for name in &names {
        let project = state.store.project_by_name(name).await?;
        if me.global_role != GlobalRole::Admin {
            let role = match &project {
                Some(p) => state.store.member_role(&p.id, &me.id).await?,
                None => None,
            };
            if role != Some(ProjectRole::Admin) {
                return Err(ApiError::AccessDenied);
            }
        }
        match project {
            Some(project) => ids.push(project.id),
            None => return Err(ApiError::client("Failed to delete non-existent projects")),
        }
    }
    match state.store.delete_projects(&ids).await {
        Err(crate::store::StoreError::Gone) => {
            Err(ApiError::client("Failed to delete non-existent projects"))
        }
        other => Ok(Json(other?)),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    pub is_public: Option<bool>,
    pub templates_repo: Option<String>,
    pub reset_templates_repo: Option<bool>,
}

impl RequestBody for UpdateProjectRequest {
    const FIELDS: Fields =
        &[("is_public", false), ("templates_repo", false), ("reset_templates_repo", false)];
    const BODY_OPTIONAL: bool = true;
}

async fn update_project(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<UpdateProjectRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    let mut project = project_for(&state, &me, &name, Access::Admin).await?;
    if let Some(is_public) = request.is_public {
        project.is_public = is_public;
    }
    if request.reset_templates_repo == Some(true) {
        project.templates_repo = None;
    } else if let Some(repo) = request.templates_repo {
        project.templates_repo = Some(repo);
    }
    state
        .store
        .update_project(&project.id, project.is_public, project.templates_repo.as_deref())
        .await?;
    Ok(Json(project_view(&state, &project).await?))
}
