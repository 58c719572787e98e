//! `/api/users/*`: the caller, users by name, creating and listing them.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::models::{UserOut, UserWithCreds};
use crate::services;
use crate::state::AppState;
use crate::store::{GlobalRole, User};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users/get_my_user", post(get_my_user))
        .route("/api/users/get_user", post(get_user))
        .route("/api/users/create", post(create_user))
        .route("/api/users/list", post(list_users))
}

pub async fn get_my_user(
    State(state): State<AppState>,
    Authed(user): Authed,
) -> Json<UserWithCreds> {
    Json(UserWithCreds::new(&user, &state))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetUserRequest {
    pub username: String,
}

impl RequestBody for GetUserRequest {
    const FIELDS: Fields = &[("username", true)];
}

pub async fn get_user(
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schemars(length(min = 1, max = 50))]
    pub username: String,
    pub global_role: GlobalRole,
    pub email: Option<String>,
    pub active: Option<bool>,
}

impl RequestBody for CreateUserRequest {
    const FIELDS: Fields =
        &[("username", true), ("global_role", true), ("email", false), ("active", false)];
}

pub async fn create_user(
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

pub async fn list_users(
    State(state): State<AppState>,
    Authed(me): Authed,
) -> Result<Json<Vec<UserOut>>, ApiError> {
    // Without admin rights a user sees only themself, as in dstack.
    let users =
        if me.global_role == GlobalRole::Admin { state.store.users().await? } else { vec![me] };
    Ok(Json(users.iter().map(|u| UserOut::new(u, &state)).collect()))
}

pub fn require_global_admin(user: &User) -> Result<(), ApiError> {
    if user.global_role == GlobalRole::Admin { Ok(()) } else { Err(ApiError::AccessDenied) }
}
