//! `/api/projects/{project}/{add,set,remove}_members`, with dstack 0.22.5's rules: who may
//! change whom, self-join of public projects, self-leave, and never a project without an
//! admin. Each request is checked whole before one transaction writes it.

use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::models::ProjectOut;
use super::projects::project_view;
use super::route::{Api, Auth, Route};
use super::{Access, project_for};
use crate::state::AppState;
use crate::store::{GlobalRole, Member, ProjectRole, User};

pub fn routes(api: &mut Api) {
    api.add(
        Route::post(
            "/api/projects/{project_name}/add_members",
            "Add or change members (managers; anyone may join a public project as a user)",
            Auth::Project,
        )
        .body::<MembersRequest>()
        .answers::<ProjectOut>()
        .client_errors(),
        add_members,
    )
    .add(
        Route::post(
            "/api/projects/{project_name}/set_members",
            "Replace the members (managers)",
            Auth::Project,
        )
        .body::<MembersRequest>()
        .answers::<ProjectOut>()
        .client_errors(),
        set_members,
    )
    .add(
        Route::post(
            "/api/projects/{project_name}/remove_members",
            "Remove members (managers; any member may leave)",
            Auth::Project,
        )
        .body::<RemoveMembersRequest>()
        .answers::<ProjectOut>()
        .client_errors(),
        remove_members,
    );
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberSetting {
    /// A user name or email.
    pub username: String,
    pub project_role: ProjectRole,
}

/// dstack's `AddProjectMemberRequest` and `SetProjectMembersRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    pub members: Vec<MemberSetting>,
}

impl RequestBody for MembersRequest {
    const FIELDS: Fields = &[("members", true)];
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMembersRequest {
    pub usernames: Vec<String>,
}

impl RequestBody for RemoveMembersRequest {
    const FIELDS: Fields = &[("usernames", true)];
}

/// Whether `name` names `user` (by user name or email, as dstack matches members).
fn names(user: &User, name: &str) -> bool {
    user.name == name || user.email.as_deref() == Some(name)
}

/// The user a member setting names, by user name or email.
fn no_duplicates(members: &[MemberSetting]) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    if members.iter().all(|m| seen.insert(m.username.as_str())) {
        Ok(())
    } else {
        Err(ApiError::client("Cannot add same user multiple times"))
    }
}

async fn add_members(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<MembersRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    let project = project_for(&state, &me, &name, Access::ManageOrPublic).await?;
    no_duplicates(&request.members)?;
    let my_role = state.store.member_role(&project.id, &me.id).await?;
    let admin = me.global_role == GlobalRole::Admin;
    let self_join = matches!(&request.members[..], [only] if names(&me, &only.username))
        && project.is_public
        && my_role.is_none();
    if self_join {
        if request.members[0].project_role != ProjectRole::User {
            return Err(ApiError::Forbidden(
                "Access denied: can only join public projects as user role".into(),
            ));
        }
    } else if !admin {
        if my_role < Some(ProjectRole::Manager) {
            return Err(ApiError::Forbidden(
                "Access denied: insufficient permissions to add members".into(),
            ));
        }
        if my_role == Some(ProjectRole::Manager)
            && request.members.iter().any(|m| m.project_role == ProjectRole::Admin)
        {
            return Err(ApiError::Forbidden(
                "Access denied: only global admins can add project admins".into(),
            ));
        }
    }
    let mut roles = Vec::with_capacity(request.members.len());
    for member in &request.members {
        let user = state
            .store
            .user_by_name_or_email(&member.username)
            .await?
            .ok_or_else(|| ApiError::client(format!("User not found: {}", member.username)))?;
        roles.push((user.id, member.project_role));
    }
    state.store.set_members(&project.id, &roles).await?;
    Ok(Json(project_view(&state, &project).await?))
}

/// The project's admins as `(user name, role)` pairs, to compare before and after.
fn admins_of(members: &[Member]) -> std::collections::BTreeSet<String> {
    members.iter().filter(|m| m.role == ProjectRole::Admin).map(|m| m.user.name.clone()).collect()
}

async fn set_members(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<MembersRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    let project = project_for(&state, &me, &name, Access::Manage).await?;
    no_duplicates(&request.members)?;
    let current = state.store.members(&project.id).await?;
    let my_role = current.iter().find(|m| m.user.id == me.id).map(|m| m.role);
    if me.global_role != GlobalRole::Admin && my_role == Some(ProjectRole::Manager) {
        let wanted: std::collections::BTreeSet<String> = request
            .members
            .iter()
            .filter(|m| m.project_role == ProjectRole::Admin)
            .map(|m| m.username.clone())
            .collect();
        if wanted != admins_of(&current) {
            return Err(ApiError::Forbidden("Access denied: changing project admins".into()));
        }
    }
    // Unknown names are skipped, as dstack skips them; the order given is the new order.
    let mut roles = Vec::with_capacity(request.members.len());
    for member in &request.members {
        if let Some(user) = state.store.user_by_name_or_email(&member.username).await? {
            roles.push((user.id, member.project_role));
        }
    }
    state.store.replace_members(&project.id, &roles).await?;
    Ok(Json(project_view(&state, &project).await?))
}

async fn remove_members(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<RemoveMembersRequest>,
) -> Result<Json<ProjectOut>, ApiError> {
    let project = project_for(&state, &me, &name, Access::Member).await?;
    let current = state.store.members(&project.id).await?;
    let my_role = current.iter().find(|m| m.user.id == me.id).map(|m| m.role);
    let admin = me.global_role == GlobalRole::Admin;
    let self_leave =
        matches!(&request.usernames[..], [only] if names(&me, only)) && my_role.is_some();
    if !self_leave && !admin && my_role < Some(ProjectRole::Manager) {
        return Err(ApiError::Forbidden(
            "Access denied: insufficient permissions to remove members".into(),
        ));
    }
    let total_admins = current.iter().filter(|m| m.role == ProjectRole::Admin).count();
    let mut removed = Vec::with_capacity(request.usernames.len());
    let mut admin_removals = 0;
    for username in &request.usernames {
        let user = state
            .store
            .user_by_name_or_email(username)
            .await?
            .ok_or_else(|| ApiError::client(format!("User not found: {username}")))?;
        let member = current.iter().find(|m| m.user.id == user.id).ok_or_else(|| {
            ApiError::client(format!("User is not a member of this project: {username}"))
        })?;
        if member.role == ProjectRole::Admin {
            if self_leave && total_admins <= 1 {
                return Err(ApiError::client("Cannot leave project: you are the last admin"));
            }
            if !self_leave && !admin {
                return Err(ApiError::Forbidden(
                    format!(
                        "Access denied: only global admins can remove project admins (user: \
                         {username})"
                    )
                    .into(),
                ));
            }
            admin_removals += 1;
        }
        removed.push(user.id);
    }
    if !self_leave && admin_removals >= total_admins && total_admins > 0 {
        return Err(ApiError::client("Cannot remove all project admins"));
    }
    state.store.remove_members(&project.id, &removed).await?;
    Ok(Json(project_view(&state, &project).await?))
}
