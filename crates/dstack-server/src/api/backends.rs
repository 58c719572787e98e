//! `/api/backends/*` and `/api/project/{project}/backends/*`.

use axum::Json;
use axum::extract::{Path, State};
use dstack_core::config::load::{from_json, from_yaml};
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::yaml::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, JsonBody, RequestBody};
use super::models::BackendOut;
use super::route::{Answer, Api, Auth, Request, Route, object};
use super::{Access, project_for};
use crate::configure::{self, Mode};
use crate::state::AppState;
use crate::store::Project;

pub fn routes(api: &mut Api) {
    api.add(
        Route::post(
            "/api/backends/list_types",
            "Backend types this build can configure",
            Auth::None,
        )
        .answer(Answer::Json(|| json!({"type": "array", "items": {"type": "string"}}))),
        list_types,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/create",
            "Create a backend (project admins)",
            Auth::Project,
        )
        .request(Request::BackendConfig)
        .answer(Answer::BackendConfig)
        .client_errors(),
        create,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/update",
            "Update a backend (project admins)",
            Auth::Project,
        )
        .request(Request::BackendConfig)
        .answer(Answer::BackendConfig)
        .client_errors(),
        update,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/create_yaml",
            "Create a backend from YAML (project admins)",
            Auth::Project,
        )
        .body::<YamlRequest>()
        .client_errors(),
        create_yaml,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/update_yaml",
            "Update a backend from YAML (project admins)",
            Auth::Project,
        )
        .body::<YamlRequest>()
        .client_errors(),
        update_yaml,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/delete",
            "Delete backends (project admins)",
            Auth::Project,
        )
        .body::<DeleteRequest>(),
        delete,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/{backend_name}/config_info",
            "A backend's config with creds (project admins)",
            Auth::Project,
        )
        .answer(Answer::BackendConfig)
        .client_errors(),
        config_info,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/backends/{backend_name}/get_yaml",
            "A backend's config as YAML (project admins)",
            Auth::Project,
        )
        .answer(Answer::Json(|| {
            object(
                json!({"name": {"type": "string"}, "config_yaml": {"type": "string"}}),
                &["name", "config_yaml"],
            )
        }))
        .client_errors(),
        get_yaml,
    );
}

/// The backend types this build can configure.
async fn list_types(State(state): State<AppState>) -> Json<Vec<BackendType>> {
    Json(state.registry.available_types())
}

/// The backends of a project as everyone in it may see them: no credentials.
pub async fn views(state: &AppState, project: &Project) -> Result<Vec<BackendOut>, ApiError> {
    let mut out = Vec::new();
    for row in state.store.backends(&project.id).await? {
        let config = match configure::config_with_creds(state, &row) {
            Ok(config) => config.without_creds(),
            // Not compiled in, or its creds cannot be decrypted: show what was stored.
            Err(_) => serde_json::from_str(&row.config).unwrap_or(Value::Null),
        };
        out.push(BackendOut { name: row.backend_type.clone(), config });
    }
    Ok(out)
}

/// Our config errors as FastAPI-shaped 422 entries.
fn validation_errors(errors: &[Diagnostic], input: &Value) -> Vec<Value> {
    errors
        .iter()
        .map(|e| {
            let mut loc = vec![json!("body")];
            loc.extend(e.path.split('.').filter(|s| !s.is_empty()).map(|s| json!(s)));
            json!({"type": "value_error", "loc": loc, "msg": e.message, "input": input})
        })
        .collect()
}

/// A backend config as a request carries it: a JSON body (`create`, `update`) or YAML text
/// (`create_yaml`, `update_yaml`).
#[derive(Debug)]
pub enum ConfigInput {
    Json(Value),
    Yaml(String),
}

impl ConfigInput {
    pub fn read(&self) -> Result<BackendConfigWithCreds, ApiError> {
        match self {
            ConfigInput::Json(value) => from_json(value)
                .map_err(|errors| ApiError::Validation(validation_errors(&errors, value))),
            ConfigInput::Yaml(text) => config_from_yaml(text),
        }
    }
}

/// Creates or updates a backend of the project, for its admins. The config is read after
/// the access check, as dstack does: a caller who may not configure the project learns
/// nothing from it, and costs no parsing.
async fn save(
    state: &AppState,
    me: &crate::store::User,
    project_name: &str,
    input: ConfigInput,
    mode: Mode,
) -> Result<BackendConfigWithCreds, ApiError> {
    let project = project_for(state, me, project_name, Access::Admin).await?;
    let config = input.read()?;
    configure::configure(state, &project, &config, mode).await?;
    Ok(config)
}

async fn create(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<BackendConfigWithCreds>, ApiError> {
    let input = ConfigInput::Json(body);
    Ok(Json(save(&state, &me, &project_name, input, Mode::Create).await?))
}

async fn update(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<BackendConfigWithCreds>, ApiError> {
    let input = ConfigInput::Json(body);
    Ok(Json(save(&state, &me, &project_name, input, Mode::Update).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlRequest {
    pub config_yaml: String,
}

impl RequestBody for YamlRequest {
    const FIELDS: Fields = &[("config_yaml", true)];
}

/// Parses the YAML of `create_yaml` / `update_yaml`, with dstack's messages.
fn config_from_yaml(text: &str) -> Result<BackendConfigWithCreds, ApiError> {
    let parsed = match dstack_core::yaml::node::parse(text) {
        Ok(parsed) => parsed,
        // Past the limits of the tree builder: say so, dstack's text would hide why.
        Err(err) if err.message.contains("refusing to read") => {
            return Err(ApiError::client(format!("Error parsing YAML: {err}")));
        }
        Err(_) => return Err(ApiError::client("Error parsing YAML")),
    };
    from_yaml::<BackendConfigWithCreds>(text).map_err(|errors| {
        let tag = parsed
            .root
            .get("type")
            .and_then(|t| t.as_key())
            .filter(|t| BackendConfigWithCreds::TAGS.contains(&t.as_str()));
        let mut msg = format!(
            "{} validation error{} for BackendConfigWithCreds",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        for error in &errors {
            let path = match (&tag, error.path.as_str()) {
                (Some(tag), "") => tag.clone(),
                (Some(tag), path) => format!("{tag}.{path}"),
                (None, path) => path.to_owned(),
            };
            msg.push_str(&format!("\n{path}\n  {}", error.message));
        }
        ApiError::client(msg)
    })
}

async fn create_yaml(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    Body(request): Body<YamlRequest>,
) -> Result<Json<Value>, ApiError> {
    let input = ConfigInput::Yaml(request.config_yaml);
    save(&state, &me, &project_name, input, Mode::Create).await?;
    Ok(Json(Value::Null))
}

async fn update_yaml(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    Body(request): Body<YamlRequest>,
) -> Result<Json<Value>, ApiError> {
    let input = ConfigInput::Yaml(request.config_yaml);
    save(&state, &me, &project_name, input, Mode::Update).await?;
    Ok(Json(Value::Null))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Backend types, in dstack's spelling.
    #[schemars(with = "Vec<DstackBackendName>")]
    pub backends_names: Vec<String>,
}

/// A backend type as dstack's API names it (its `BackendType` enum).
#[derive(Debug, JsonSchema)]
#[schemars(transform = dstack_enum)]
pub struct DstackBackendName;

fn dstack_enum(schema: &mut schemars::Schema) {
    *schema = schemars::json_schema!({"type": "string", "enum": DSTACK_ENUM_ORDER});
}

impl RequestBody for DeleteRequest {
    const FIELDS: Fields = &[("backends_names", true)];
}

async fn delete(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    Body(request): Body<DeleteRequest>,
) -> Result<Json<Value>, ApiError> {
    let project = project_for(&state, &me, &project_name, Access::Admin).await?;
    request.check()?;
    let names: Vec<&str> = request.backends_names.iter().map(String::as_str).collect();
    configure::delete(&state, &project, &names).await?;
    Ok(Json(Value::Null))
}

impl DeleteRequest {
    /// Every name must be one of dstack's backend types (422 otherwise).
    pub fn check(&self) -> Result<(), ApiError> {
        let errors: Vec<Value> = self
            .backends_names
            .iter()
            .enumerate()
            .filter(|(_, name)| name.parse::<BackendType>().is_err())
            .map(|(i, name)| enum_error(json!(["body", "backends_names", i]), name))
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
    }
}

/// dstack's 422 for a value that is not a backend type.
fn enum_error(loc: Value, input: &str) -> Value {
    // dstack's enum order, with "or" before the last, as pydantic writes it.
    let names: Vec<String> = DSTACK_ENUM_ORDER.iter().map(|t| format!("'{t}'")).collect();
    let (last, rest) = names.split_last().expect("not empty");
    let expected = format!("{} or {last}", rest.join(", "));
    json!({
        "type": "enum",
        "loc": loc,
        "msg": format!("Input should be {expected}"),
        "input": input,
        "ctx": {"expected": expected},
    })
}

/// The order of dstack's `BackendType` enum (its declaration order).
pub const DSTACK_ENUM_ORDER: [&str; 23] = [
    "amddevcloud",
    "aws",
    "azure",
    "cloudrift",
    "crusoe",
    "cudo",
    "datacrunch",
    "digitalocean",
    "dstack",
    "gcp",
    "hotaisle",
    "jarvislabs",
    "kubernetes",
    "lambda",
    "remote",
    "nebius",
    "oci",
    "runpod",
    "tensordock",
    "vastai",
    "verda",
    "vultr",
    "slurm",
];

fn backend_type_in_path(name: &str) -> Result<BackendType, ApiError> {
    name.parse()
        .map_err(|_| ApiError::Validation(vec![enum_error(json!(["path", "backend_name"]), name)]))
}

/// The stored config (with creds) of the backend named in the path, for project admins.
async fn stored_config(
    state: &AppState,
    me: &crate::store::User,
    project_name: &str,
    backend_name: &str,
) -> Result<(BackendType, BackendConfigWithCreds), ApiError> {
    let backend_type = backend_type_in_path(backend_name)?;
    let project = project_for(state, me, project_name, Access::Admin).await?;
    let row = state
        .store
        .backend(&project.id, backend_type.as_str())
        .await?
        .ok_or_else(ApiError::resource_not_exists)?;
    Ok((backend_type, configure::config_with_creds(state, &row)?))
}

async fn config_info(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path((project_name, backend_name)): Path<(String, String)>,
) -> Result<Json<BackendConfigWithCreds>, ApiError> {
    let (_, config) = stored_config(&state, &me, &project_name, &backend_name).await?;
    Ok(Json(config))
}

async fn get_yaml(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path((project_name, backend_name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (backend_type, config) = stored_config(&state, &me, &project_name, &backend_name).await?;
    let value = serde_json::to_value(&config)
        .map_err(|e| ApiError::Internal(format!("cannot serialize a backend config: {e}")))?;
    Ok(Json(json!({"name": backend_type.as_str(), "config_yaml": crate::yaml_out::dump(&value)})))
}
