//! `/api/users/*`: the caller, users by name, creating, changing, listing and deleting them,
//! and refreshing their credentials.

use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::listing::{Page, Paged};
use super::models::{UserOut, UserWithCreds};
use super::route::{Api, Auth, Route};
use crate::services::{self, ADMIN_USERNAME};
use crate::state::AppState;
use crate::store::{GlobalRole, User};

pub fn routes(api: &mut Api) {
    api.add(
        Route::post(
            "/api/users/get_my_user",
            "The calling user, with token and SSH key",
            Auth::Token,
        )
        .answers::<UserWithCreds>(),
        get_my_user,
    )
    .add(
        Route::post(
            "/api/users/get_user",
            "A user, with token and SSH key (admins, or the user)",
            Auth::Token,
        )
        .body::<GetUserRequest>()
        .answers::<UserWithCreds>()
        .client_errors(),
        get_user,
    )
    .add(
        Route::post("/api/users/create", "Create a user (global admins)", Auth::Token)
            .body::<CreateUserRequest>()
            .answers::<UserOut>()
            .client_errors(),
        create_user,
    )
    .add(
        Route::post(
            "/api/users/update",
            "Change a user's role, email or activity (global admins)",
            Auth::Token,
        )
        .body::<CreateUserRequest>()
        .answers::<UserOut>()
        .client_errors(),
        update_user,
    )
    .add(
        Route::post(
            "/api/users/refresh_token",
            "Give a user a new token; the old one stops working",
            Auth::Token,
        )
        .body::<UsernameRequest>()
        .answers::<UserWithCreds>()
        .client_errors(),
        refresh_token,
    )
    .add(
        Route::post("/api/users/refresh_ssh_key", "Give a user a new SSH key pair", Auth::Token)
            .body::<UsernameRequest>()
            .answers::<UserWithCreds>()
            .client_errors(),
        refresh_ssh_key,
    )
    .add(
        Route::post("/api/users/delete", "Delete users (global admins)", Auth::Token)
            .body::<DeleteUsersRequest>()
            .client_errors(),
        delete_users,
    )
    .add(
        Route::post("/api/users/list", "Users (all for admins, else the caller)", Auth::Token)
            .body::<ListUsersRequest>()
            .answers::<UserList>(),
        list_users,
    );
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

/// A user the caller may see with credentials: admins see everyone, others themselves.
/// Anyone else is "not found", as in dstack, so that names cannot be probed.
async fn visible_user(state: &AppState, me: &User, username: &str) -> Result<User, ApiError> {
    if me.global_role != GlobalRole::Admin && me.name != username {
        return Err(ApiError::resource_not_exists());
    }
    state.store.user_by_name(username).await?.ok_or_else(ApiError::resource_not_exists)
}

pub async fn get_user(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<GetUserRequest>,
) -> Result<Json<UserWithCreds>, ApiError> {
    let user = visible_user(&state, &me, &request.username).await?;
    Ok(Json(UserWithCreds::new(&user, &state)))
}

/// dstack's `CreateUserRequest`, which is also its `UpdateUserRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
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
    let user = services::create_user(
        &state.store,
        services::NewUser {
            name: &request.username,
            role: request.global_role,
            email: request.email,
            active: request.active.unwrap_or(true),
        },
        token,
    )
    .await?;
    Ok(Json(UserOut::new(&user, &state)))
}

async fn update_user(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<CreateUserRequest>,
) -> Result<Json<UserOut>, ApiError> {
    require_global_admin(&me)?;
    let user = state
        .store
        .update_user(
            &request.username,
            request.global_role,
            request.email.as_deref(),
            request.active.unwrap_or(true),
        )
        .await?
        .ok_or_else(ApiError::resource_not_exists)?;
    Ok(Json(UserOut::new(&user, &state)))
}

/// dstack's `RefreshTokenRequest`, used by both refresh calls.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsernameRequest {
    pub username: String,
}

impl RequestBody for UsernameRequest {
    const FIELDS: Fields = &[("username", true)];
}

/// The user a refresh is for: oneself, or anyone for admins (403 otherwise, as in dstack).
async fn refreshable(state: &AppState, me: &User, username: &str) -> Result<User, ApiError> {
    if me.global_role != GlobalRole::Admin && me.name != username {
        return Err(ApiError::AccessDenied);
    }
    state.store.user_by_name(username).await?.ok_or_else(ApiError::resource_not_exists)
}

/// The old token stops working at once on this server, and on others sharing the database
/// within their login cache's bound (10 s).
async fn refresh_token(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<UsernameRequest>,
) -> Result<Json<UserWithCreds>, ApiError> {
    let mut user = refreshable(&state, &me, &request.username).await?;
    user.token = dstack_core::Secret::new(uuid::Uuid::new_v4().to_string());
    state.store.set_user_token(&user.id, &user.token).await?;
    Ok(Json(UserWithCreds::new(&user, &state)))
}

async fn refresh_ssh_key(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<UsernameRequest>,
) -> Result<Json<UserWithCreds>, ApiError> {
    let mut user = refreshable(&state, &me, &request.username).await?;
    let (public, private) = crate::ssh::generate_key_pair(&user.name);
    state.store.set_user_ssh_key(&user.id, &public, &private).await?;
    (user.ssh_public_key, user.ssh_private_key) = (public, private);
    Ok(Json(UserWithCreds::new(&user, &state)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteUsersRequest {
    pub users: Vec<String>,
}

impl RequestBody for DeleteUsersRequest {
    const FIELDS: Fields = &[("users", true)];
}

async fn delete_users(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<DeleteUsersRequest>,
) -> Result<Json<()>, ApiError> {
    require_global_admin(&me)?;
    if request.users.iter().any(|u| u == ADMIN_USERNAME) {
        return Err(ApiError::client(format!("User '{ADMIN_USERNAME}' cannot be deleted")));
    }
    let mut names = request.users;
    names.sort();
    names.dedup();
    match state.store.delete_users(&names).await {
        Err(crate::store::StoreError::Gone) => {
            Err(ApiError::client("Failed to delete non-existent users"))
        }
        other => Ok(Json(other?)),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUsersRequest {
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

impl RequestBody for ListUsersRequest {
    const FIELDS: Fields = &[
        ("return_total_count", false),
        ("name_pattern", false),
        ("prev_created_at", false),
        ("prev_id", false),
        ("limit", false),
        ("ascending", false),
    ];
    const BODY_OPTIONAL: bool = true;
}

impl ListUsersRequest {
    /// pydantic's checks of the fields (422s).
    pub fn check(&self) -> Result<(), ApiError> {
        self.page().check()
    }

    fn page(&self) -> Page<'_> {
        Page {
            name_pattern: self.name_pattern.as_deref(),
            prev_created_at: self.prev_created_at.as_deref(),
            prev_id: self.prev_id.as_deref(),
            limit: self.limit,
            ascending: self.ascending == Some(true),
        }
    }
}

/// A bare list, or with `return_total_count` the total before paging too.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum UserList {
    Users(Vec<UserOut>),
    Counted { total_count: usize, users: Vec<UserOut> },
}

impl Paged for User {
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

pub async fn list_users(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListUsersRequest>,
) -> Result<Json<UserList>, ApiError> {
    request.check()?;
    let page = request.page();
    // Without admin rights a user sees only themself, as in dstack.
    let users =
        if me.global_role == GlobalRole::Admin { state.store.users().await? } else { vec![me] };
    let (total_count, users) = page.select(users);
    let users = users.iter().map(|u| UserOut::new(u, &state)).collect();
    Ok(Json(if request.return_total_count == Some(true) {
        UserList::Counted { total_count, users }
    } else {
        UserList::Users(users)
    }))
}

pub fn require_global_admin(user: &User) -> Result<(), ApiError> {
    if user.global_role == GlobalRole::Admin { Ok(()) } else { Err(ApiError::AccessDenied) }
}
