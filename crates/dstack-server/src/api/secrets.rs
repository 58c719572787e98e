//! `/api/project/{project}/secrets/*`: project secrets, for those who may manage them (global
//! admins, project admins, and managers when `default_permissions` allows). Values are
//! encrypted at rest and shown only by `get` and `create_or_update`, as in dstack.

use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::route::{Api, Auth, Route};
use super::{Access, project_for};
use crate::state::AppState;
use crate::store::{GlobalRole, Project, ProjectRole, SecretRow, User};

pub fn routes(api: &mut Api) {
    api.add(
        Route::post(
            "/api/project/{project_name}/secrets/list",
            "Secrets, without values",
            Auth::Project,
        )
        .answers::<Vec<SecretOut>>(),
        list,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/secrets/get",
            "A secret with its value",
            Auth::Project,
        )
        .body::<GetSecretRequest>()
        .answers::<SecretOut>()
        .client_errors(),
        get,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/secrets/create_or_update",
            "Set a secret",
            Auth::Project,
        )
        .body::<PutSecretRequest>()
        .answers::<SecretOut>()
        .client_errors(),
        create_or_update,
    )
    .add(
        Route::post("/api/project/{project_name}/secrets/delete", "Delete secrets", Auth::Project)
            .body::<DeleteSecretsRequest>()
            .client_errors(),
        delete,
    );
}

/// dstack's `Secret`: the value only where the caller asked for this one secret.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretOut {
    pub id: String,
    pub name: String,
    pub value: Option<String>,
}

impl SecretOut {
    fn new(row: &SecretRow, with_value: bool) -> Self {
        SecretOut {
            id: row.id.clone(),
            name: row.name.clone(),
            value: with_value.then(|| row.value.expose().to_owned()),
        }
    }
}

/// dstack's secret name rule and value bound.
const NAME_RULE: &str = "^[A-Za-z0-9-_]{1,200}$";
const MAX_VALUE_CHARS: usize = 5000;

/// The project, if the caller may manage its secrets: project managers pass the route's
/// check, then only those whose member permissions include secrets.
async fn project(state: &AppState, me: &User, name: &str) -> Result<Project, ApiError> {
    let project = project_for(state, me, name, Access::Manage).await?;
    if me.global_role == GlobalRole::Admin {
        return Ok(project);
    }
    let allowed = match state.store.member_role(&project.id, &me.id).await? {
        Some(ProjectRole::Admin) => true,
        Some(ProjectRole::Manager) => state.permissions().allow_managers_manage_secrets,
        _ => false,
    };
    if allowed { Ok(project) } else { Err(ApiError::AccessDenied) }
}

async fn list(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
) -> Result<Json<Vec<SecretOut>>, ApiError> {
    let project = project(&state, &me, &name).await?;
    let secrets = state.store.secrets(&project.id).await?;
    Ok(Json(secrets.iter().map(|s| SecretOut::new(s, false)).collect()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSecretRequest {
    pub name: String,
}

impl RequestBody for GetSecretRequest {
    const FIELDS: Fields = &[("name", true)];
}

async fn get(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<GetSecretRequest>,
) -> Result<Json<SecretOut>, ApiError> {
    let project = project(&state, &me, &name).await?;
    let secret = state.store.secret(&project.id, &request.name).await?;
    let secret = secret.ok_or_else(ApiError::resource_not_exists)?;
    Ok(Json(SecretOut::new(&secret, true)))
}

/// dstack's `CreateOrUpdateSecretRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecretRequest {
    pub name: String,
    // Read straight into a `Secret`, so that not even this request's `Debug` shows it. Its
    // schema is a plain string: the shared `Secret` definition is the backend config's,
    // widened to the scalars config files may hold.
    #[schemars(with = "String")]
    pub value: dstack_core::Secret,
}

impl RequestBody for PutSecretRequest {
    const FIELDS: Fields = &[("name", true), ("value", true)];
}

fn check_secret(name: &str, value: &str) -> Result<(), ApiError> {
    let name_ok = (1..=200).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        // dstack's message lacks the closing quote; kept for clients that match it.
        return Err(ApiError::client(format!("Secret name should match regex '{NAME_RULE}")));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(ApiError::client(format!(
            "Secret value length must not exceed {MAX_VALUE_CHARS}"
        )));
    }
    Ok(())
}

async fn create_or_update(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<PutSecretRequest>,
) -> Result<Json<SecretOut>, ApiError> {
    let project = project(&state, &me, &name).await?;
    check_secret(&request.name, request.value.expose())?;
    let secret = state.store.put_secret(&project.id, &request.name, &request.value).await?;
    Ok(Json(SecretOut::new(&secret, true)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSecretsRequest {
    pub secrets_names: Vec<String>,
}

impl RequestBody for DeleteSecretsRequest {
    const FIELDS: Fields = &[("secrets_names", true)];
}

async fn delete(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<DeleteSecretsRequest>,
) -> Result<Json<()>, ApiError> {
    let project = project(&state, &me, &name).await?;
    match state.store.delete_secrets(&project.id, &request.secrets_names).await? {
        Ok(()) => Ok(Json(())),
        Err(missing) => Err(ApiError::with_code(
            format!("Secrets not found: {}", missing.join(", ")),
            "resource_not_exists",
        )),
    }
}

/// The body reader of `secrets/<call>`, for `fuzz/`'s `api_bodies` target.
pub(super) fn read_body(call: &str, bytes: &[u8]) -> Result<(), ApiError> {
    use super::extract::parse_body;
    match call {
        "get" => parse_body::<GetSecretRequest>(bytes).map(drop),
        "create_or_update" => parse_body::<PutSecretRequest>(bytes).map(drop),
        _ => parse_body::<DeleteSecretsRequest>(bytes).map(drop),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_rules_are_dstacks() {
        assert!(super::check_secret("HF_TOKEN-1", "x").is_ok());
        assert!(super::check_secret("", "x").is_err());
        assert!(super::check_secret("a b", "x").is_err());
        assert!(super::check_secret(&"a".repeat(201), "x").is_err());
        assert!(super::check_secret("a", &"é".repeat(5000)).is_ok());
        assert!(super::check_secret("a", &"x".repeat(5001)).is_err());
    }
}
