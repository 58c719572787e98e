//! `/api/users/public_keys/*`: the SSH public keys a user adds to their own account (dstack's
//! web UI lists, adds and deletes them on the user's page).

use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use schemars::generate::SchemaGenerator;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::models::timestamp;
use super::route::{Api, Auth, Route};
use crate::error::ServerError;
use crate::ssh::parse_public_key;
use crate::state::AppState;
use crate::store::PublicKeyRow;

pub fn routes(api: &mut Api) {
    api.add(
        Route::post("/api/users/public_keys/list", "The caller's SSH public keys", Auth::Token)
            .answers::<Vec<PublicKeyInfo>>(),
        list,
    )
    .add(
        Route::post("/api/users/public_keys/add", "Add an SSH public key", Auth::Token)
            .body::<AddPublicKeyRequest>()
            .answers::<PublicKeyInfo>()
            .client_errors(),
        add,
    )
    .add(
        Route::post("/api/users/public_keys/delete", "Delete SSH public keys", Auth::Token)
            .body::<DeletePublicKeysRequest>(),
        delete,
    );
}

/// dstack's `PublicKeyInfo`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PublicKeyInfo {
    pub id: String,
    pub added_at: String,
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub fingerprint: String,
}

impl From<PublicKeyRow> for PublicKeyInfo {
    fn from(row: PublicKeyRow) -> Self {
        PublicKeyInfo {
            id: row.id,
            added_at: timestamp(row.created_at),
            name: row.name,
            key_type: row.key_type,
            fingerprint: row.fingerprint,
        }
    }
}

/// dstack keeps key names in a 100-character column.
const MAX_NAME_CHARS: usize = 100;

async fn list(
    State(state): State<AppState>,
    Authed(me): Authed,
) -> Result<Json<Vec<PublicKeyInfo>>, ApiError> {
    let keys = state.store.public_keys(&me.id).await?;
    Ok(Json(keys.into_iter().map(PublicKeyInfo::from).collect()))
}

/// dstack's `AddPublicKeyRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPublicKeyRequest {
    /// The key in OpenSSH's format: `<type> <base64> [comment]`.
    pub key: String,
    /// Defaults to the key's comment, else the MD5 of the key in hex.
    #[serde(default)]
    pub name: Option<String>,
}

impl RequestBody for AddPublicKeyRequest {
    const FIELDS: Fields = &[("key", true), ("name", false)];
}

async fn add(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<AddPublicKeyRequest>,
) -> Result<Json<PublicKeyInfo>, ApiError> {
    let key = parse_public_key(&request.key).map_err(|e| ApiError::client(e.to_string()))?;
    let name = request.name.filter(|n| !n.is_empty()).unwrap_or_else(|| key.default_name.clone());
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::client(format!(
            "The key name (the key's comment when no name is given) must not exceed \
             {MAX_NAME_CHARS} characters"
        )));
    }
    // A key the user has already (same fingerprint) is dstack's `resource_exists`.
    let row = state.store.add_public_key(&me.id, &key, &name).await.map_err(ServerError::from)?;
    Ok(Json(row.into()))
}

/// dstack's `DeletePublicKeysRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePublicKeysRequest {
    #[schemars(schema_with = "uuid_list")]
    pub ids: Vec<String>,
}

impl RequestBody for DeletePublicKeysRequest {
    const FIELDS: Fields = &[("ids", true)];
}

fn uuid_list(_: &mut SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "string", "format": "uuid"}})
}

impl DeletePublicKeysRequest {
    /// The ids in their stored form (lowercase, hyphenated); pydantic's 422 for one that is
    /// not a UUID.
    fn ids(&self) -> Result<Vec<String>, ApiError> {
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for (index, id) in self.ids.iter().enumerate() {
            match uuid::Uuid::try_parse(id) {
                Ok(uuid) => ids.push(uuid.hyphenated().to_string()),
                Err(err) => errors.push(json!({
                    "type": "uuid_parsing",
                    "loc": ["body", "ids", index],
                    "msg": format!("Input should be a valid UUID, {err}"),
                    "input": id,
                })),
            }
        }
        if errors.is_empty() { Ok(ids) } else { Err(ApiError::Validation(errors)) }
    }
}

async fn delete(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<DeletePublicKeysRequest>,
) -> Result<Json<()>, ApiError> {
    let ids = request.ids()?;
    state.store.delete_public_keys(&me.id, &ids).await?;
    Ok(Json(()))
}

/// The body reader of `users/public_keys/<call>`, for `fuzz/`'s `api_bodies` target.
pub(super) fn read_body(call: &str, bytes: &[u8]) -> Result<(), ApiError> {
    use super::extract::parse_body;
    match call {
        "add" => parse_body::<AddPublicKeyRequest>(bytes).map(drop),
        "delete" => parse_body::<DeletePublicKeysRequest>(bytes)?.ids().map(drop),
        _ => Ok(()),
    }
}
