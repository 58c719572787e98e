//! `/api/project/{project}/fleets/*`, `/api/fleets/list` and `/api/instances/list`: dstack's
//! fleets API. The rules are in `crate::fleets::service`; this module reads the bodies and
//! checks who may call.

use axum::Json;
use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, JsonBody, RequestBody};
use super::fleet_models;
use super::route::{Answer, Api, Auth, Request, Route};
use super::{Access, project_for};
use crate::fleets::service::{self, ApplyRequest};
use crate::state::AppState;
use crate::store::{Project, User};

fn fleet_answer() -> Value {
    json!({"type": "object", "required": ["id", "name", "project_name", "spec", "created_at", "status", "instances"]})
}

fn fleet_list_answer() -> Value {
    json!({"type": "array", "items": fleet_answer()})
}

fn plan_answer() -> Value {
    json!({"type": "object", "required": ["project_name", "user", "spec", "effective_spec", "offers", "total_offers", "action"]})
}

/// A `FleetSpec`: its configuration (dstack's `FleetConfiguration`) and profile, read by
/// `dstack_core::fleets` with pydantic's rules.
fn spec_schema() -> Value {
    json!({
        "type": "object",
        "required": ["configuration", "profile"],
        "properties": {
            "configuration": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"const": "fleet"}, "name": {"type": ["string", "null"]}},
            },
            "configuration_path": {"type": ["string", "null"]},
            "profile": {"type": "object"},
            "autocreated": {"type": "boolean"},
        },
    })
}

fn plan_request() -> Value {
    json!({"type": "object", "required": ["spec"], "properties": {"spec": spec_schema()}})
}

fn apply_request() -> Value {
    json!({
        "type": "object",
        "required": ["plan", "force"],
        "properties": {
            "plan": {"type": "object", "required": ["spec"], "properties": {
                "spec": spec_schema(), "current_resource": {"type": ["object", "null"]}}},
            "force": {"type": "boolean"},
        },
    })
}

pub fn routes(api: &mut Api) {
    const P: Auth = Auth::Project;
    api.add(
        Route::post("/api/project/{project_name}/fleets/get_plan", "Plan a fleet", P)
            .request(Request::Json { schema: plan_request, required: true })
            .answer(Answer::Json(plan_answer))
            .client_errors(),
        get_plan,
    )
    .add(
        Route::post("/api/project/{project_name}/fleets/apply", "Create or update a fleet", P)
            .request(Request::Json { schema: apply_request, required: true })
            .answer(Answer::Json(fleet_answer))
            .client_errors(),
        apply,
    )
    .add(
        Route::post("/api/project/{project_name}/fleets/get", "A fleet", P)
            .body::<GetFleetRequest>()
            .answer(Answer::Json(fleet_answer))
            .client_errors(),
        get,
    )
    .add(
        Route::post("/api/project/{project_name}/fleets/list", "The project's fleets", P)
            .body::<ListProjectFleetsRequest>()
            .answer(Answer::Json(fleet_list_answer)),
        list,
    )
    .add(
        Route::post("/api/project/{project_name}/fleets/delete", "Delete fleets", P)
            .body::<DeleteFleetsRequest>()
            .client_errors(),
        delete,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/fleets/delete_instances",
            "Delete some instances of a fleet",
            P,
        )
        .body::<DeleteInstancesRequest>()
        .client_errors(),
        delete_instances,
    )
    .add(
        Route::post("/api/fleets/list", "Fleets of the caller's projects", Auth::Token)
            .body::<ListFleetsRequest>()
            .answer(Answer::Json(fleet_list_answer)),
        list_all,
    )
    .add(
        Route::post("/api/instances/list", "Instances of the caller's projects", Auth::Token)
            .body::<ListInstancesRequest>()
            .answer(Answer::Json(|| json!({"type": "array", "items": {"type": "object"}}))),
        list_instances,
    );
}

async fn member_project(state: &AppState, me: &User, name: &str) -> Result<Project, ApiError> {
    project_for(state, me, name, Access::Member).await
}

async fn get_plan(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    let spec = service::read_spec(required(&body, "spec")?, &["body", "spec"])?;
    Ok(Json(service::plan(&state, &me, &project, &spec).await?))
}

fn required<'v>(body: &'v Value, field: &str) -> Result<&'v Value, ApiError> {
    body.get(field).ok_or_else(|| {
        ApiError::Validation(vec![
            json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": body}),
        ])
    })
}

async fn apply(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    let plan = required(&body, "plan")?;
    let spec = service::read_spec(required(plan, "spec")?, &["body", "plan", "spec"])?;
    let force = required(&body, "force")?.as_bool().unwrap_or(false);
    let current = plan.get("current_resource").filter(|c| !c.is_null());
    let current_spec = current
        .and_then(|c| c.get("spec"))
        .map(|s| service::read_spec(s, &["body", "plan", "current_resource", "spec"]))
        .transpose()?;
    let current_id = current.and_then(|c| c["id"].as_str()).map(str::to_owned);
    let request = ApplyRequest { current_id, current_spec, force };
    Ok(Json(service::apply(&state, &me, &project, &spec, request).await?))
}

/// dstack's `GetFleetRequest`: by id (deleted fleets too) or by name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFleetRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

impl RequestBody for GetFleetRequest {
    const FIELDS: Fields = &[("name", false), ("id", false)];
    const BODY_OPTIONAL: bool = true;
}

async fn get(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<GetFleetRequest>,
) -> Result<Json<Value>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    let row = match (&request.id, &request.name) {
        (Some(id), _) => state.store.fleet_by_id(&project.id, id).await?,
        (None, Some(name)) => state.store.fleet_by_name(&project.id, name).await?,
        (None, None) => return Err(ApiError::client("name or id must be specified")),
    };
    let row = row.ok_or_else(ApiError::resource_not_exists)?;
    Ok(Json(service::fleet_json(&state, &project.name, &row).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProjectFleetsRequest {
    /// Accepted; this server has no fleet imports, so there is nothing more to include.
    #[serde(default)]
    #[allow(dead_code)]
    pub include_imported: bool,
}

impl RequestBody for ListProjectFleetsRequest {
    const FIELDS: Fields = &[("include_imported", false)];
    const BODY_OPTIONAL: bool = true;
}

async fn list(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(_request): Body<ListProjectFleetsRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    let rows = state.store.fleets_of(std::slice::from_ref(&project.id), true).await?;
    let mut fleets = Vec::with_capacity(rows.len());
    for row in &rows {
        fleets.push(service::fleet_json(&state, &project.name, row).await?);
    }
    Ok(Json(fleets))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteFleetsRequest {
    pub names: Vec<String>,
}

impl RequestBody for DeleteFleetsRequest {
    const FIELDS: Fields = &[("names", true)];
}

async fn delete(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<DeleteFleetsRequest>,
) -> Result<Json<()>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    service::delete(&state, &me, &project, &request.names).await?;
    Ok(Json(()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInstancesRequest {
    pub name: String,
    pub instance_nums: Vec<i64>,
}

impl RequestBody for DeleteInstancesRequest {
    const FIELDS: Fields = &[("name", true), ("instance_nums", true)];
}

async fn delete_instances(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(name): Path<String>,
    Body(request): Body<DeleteInstancesRequest>,
) -> Result<Json<()>, ApiError> {
    let project = member_project(&state, &me, &name).await?;
    service::delete_instances(&state, &project, &request.name, &request.instance_nums).await?;
    Ok(Json(()))
}

/// dstack's `ListFleetsRequest` (paging fields accepted; the listing is not paged yet beyond
/// `limit`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFleetsRequest {
    #[serde(default)]
    pub project_name: Option<String>,
    #[serde(default)]
    pub only_active: bool,
    /// Accepted; this server has no fleet imports.
    #[serde(default)]
    #[allow(dead_code)]
    pub include_imported: bool,
    #[serde(default)]
    pub prev_created_at: Option<String>,
    #[serde(default)]
    pub prev_id: Option<String>,
    #[serde(default = "default_fleet_limit")]
    pub limit: usize,
    #[serde(default)]
    pub ascending: bool,
}

fn default_fleet_limit() -> usize {
    100
}

impl RequestBody for ListFleetsRequest {
    const FIELDS: Fields = &[
        ("project_name", false),
        ("only_active", false),
        ("include_imported", false),
        ("prev_created_at", false),
        ("prev_id", false),
        ("limit", false),
        ("ascending", false),
    ];
    const BODY_OPTIONAL: bool = true;
}

/// dstack's paging of listings sorted by `created_at` (newest first, or oldest first when
/// `ascending`) then id: the rows after the page that ended at `prev_created_at`/`prev_id`,
/// at most `limit`.
fn page<T>(
    mut rows: Vec<T>,
    key: impl Fn(&T) -> (i64, &str),
    prev_created_at: Option<&str>,
    prev_id: Option<&str>,
    ascending: bool,
    limit: usize,
) -> Result<Vec<T>, ApiError> {
    if ascending {
        rows.reverse();
    }
    if let Some(prev) = prev_created_at {
        let prev = super::models::parse_timestamp(prev)
            .ok_or_else(|| ApiError::client(format!("Invalid prev_created_at: {prev}")))?;
        rows.retain(|row| {
            let (created, id) = key(row);
            let after = if ascending { created > prev } else { created < prev };
            let tie =
                created == prev && prev_id.is_some_and(|p| if ascending { id < p } else { id > p });
            after || tie
        });
    }
    rows.truncate(limit);
    Ok(rows)
}

/// The caller's member projects (id, name), narrowed to `only` when given.
async fn my_projects(
    state: &AppState,
    me: &User,
    only: Option<&[String]>,
) -> Result<Vec<(String, String)>, ApiError> {
    let listing = state.store.project_listing(&me.id).await?;
    Ok(listing
        .iter()
        .filter(|p| p.role.is_some() && only.is_none_or(|names| names.contains(&p.name)))
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect())
}

async fn list_all(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListFleetsRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let only = request.project_name.clone().map(|n| vec![n]);
    let projects = my_projects(&state, &me, only.as_deref()).await?;
    let ids: Vec<String> = projects.iter().map(|(id, _)| id.clone()).collect();
    let rows = state.store.fleets_of(&ids, request.only_active).await?;
    let rows = page(
        rows,
        |r| (r.created_at, r.id.as_str()),
        request.prev_created_at.as_deref(),
        request.prev_id.as_deref(),
        request.ascending,
        request.limit,
    )?;
    let mut fleets = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some((_, project)) = projects.iter().find(|(id, _)| *id == row.project_id) else {
            continue;
        };
        fleets.push(service::fleet_json(&state, project, row).await?);
    }
    Ok(Json(fleets))
}

/// dstack's `ListInstancesRequest`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInstancesRequest {
    #[serde(default)]
    pub project_names: Option<Vec<String>>,
    #[serde(default)]
    pub fleet_ids: Option<Vec<String>>,
    #[serde(default)]
    pub only_active: bool,
    /// Accepted; this server has no fleet imports.
    #[serde(default)]
    #[allow(dead_code)]
    pub include_imported: bool,
    #[serde(default)]
    pub prev_created_at: Option<String>,
    #[serde(default)]
    pub prev_id: Option<String>,
    #[serde(default = "default_instance_limit")]
    pub limit: usize,
    #[serde(default)]
    pub ascending: bool,
}

fn default_instance_limit() -> usize {
    1000
}

impl RequestBody for ListInstancesRequest {
    const FIELDS: Fields = &[
        ("project_names", false),
        ("fleet_ids", false),
        ("only_active", false),
        ("include_imported", false),
        ("prev_created_at", false),
        ("prev_id", false),
        ("limit", false),
        ("ascending", false),
    ];
    const BODY_OPTIONAL: bool = true;
}

async fn list_instances(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListInstancesRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let projects = my_projects(&state, &me, request.project_names.as_deref()).await?;
    let ids: Vec<String> = projects.iter().map(|(id, _)| id.clone()).collect();
    let mut rows = state.store.instances_of(&ids, request.only_active).await?;
    if let Some(fleets) = &request.fleet_ids {
        rows.retain(|r| fleets.contains(&r.fleet_id));
    }
    let rows = page(
        rows,
        |r| (r.created_at, r.id.as_str()),
        request.prev_created_at.as_deref(),
        request.prev_id.as_deref(),
        request.ascending,
        request.limit,
    )?;
    let mut instances = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some((_, project)) = projects.iter().find(|(id, _)| *id == row.project_id) else {
            continue;
        };
        let fleet_name = crate::fleets::lifecycle::fleet_name(row);
        instances.push(fleet_models::instance(row, project, fleet_name));
    }
    Ok(Json(instances))
}

/// The body reader of `fleets/<call>` and the listings, for `fuzz/`'s `api_bodies` target.
pub(super) fn read_body(call: &str, bytes: &[u8]) -> Result<(), ApiError> {
    use super::extract::{json_value, parse_body};
    match call {
        "get_plan" => {
            let body = json_value(bytes)?;
            service::read_spec(required(&body, "spec")?, &["body", "spec"]).map(drop)
        }
        "apply" => {
            let body = json_value(bytes)?;
            let plan = required(&body, "plan")?;
            service::read_spec(required(plan, "spec")?, &["body", "plan", "spec"]).map(drop)
        }
        "get" => parse_body::<GetFleetRequest>(bytes).map(drop),
        "delete" => parse_body::<DeleteFleetsRequest>(bytes).map(drop),
        "delete_instances" => parse_body::<DeleteInstancesRequest>(bytes).map(drop),
        "instances" => parse_body::<ListInstancesRequest>(bytes).map(drop),
        "all" => parse_body::<ListFleetsRequest>(bytes).map(drop),
        _ => parse_body::<ListProjectFleetsRequest>(bytes).map(drop),
    }
}
