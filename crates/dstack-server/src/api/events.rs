//! `/api/events/list`: dstack's events (this server records those of fleets and instances),
//! with dstack's filters, visibility (a member's projects; everything for admins) and paging.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{Authed, Body, Fields, RequestBody};
use super::models::{parse_timestamp, timestamp};
use super::route::{Answer, Api, Auth, Route};
use crate::state::AppState;
use crate::store::{EventRow, GlobalRole, StoredTarget, User};

pub fn routes(api: &mut Api) {
    api.add(
        Route::post("/api/events/list", "Events of fleets and instances", Auth::Token)
            .body::<ListEventsRequest>()
            .answer(Answer::Json(|| json!({"type": "array", "items": {"type": "object"}})))
            .client_errors(),
        list,
    );
}

/// A UUID, as a string.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct Id(#[schemars(extend("format" = "uuid"))] String);

/// A list filter of dstack's: 1 to 16 UUIDs.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct IdFilter(#[schemars(length(min = 1, max = 16))] Vec<Id>);

/// The `actors` filter: 1 to 16 user ids, `null` for the server.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct ActorFilter(#[schemars(length(min = 1, max = 16))] Vec<Option<Id>>);

/// dstack's `EventTargetType` filter: 1 to 16 of them.
#[derive(JsonSchema)]
#[allow(dead_code)] // a schema only
struct TypeFilter(#[schemars(length(min = 1, max = 16))] Vec<TargetType>);

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
enum TargetType {
    Project,
    User,
    Fleet,
    Instance,
    Run,
    Job,
    Volume,
    Gateway,
    GatewayReplica,
    Secret,
    Preset,
}

/// dstack's `ListEventsRequest`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEventsRequest {
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_projects: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_users: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_fleets: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_instances: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_runs: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_jobs: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_volumes: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_gateways: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_gateway_replicas: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_secrets: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub target_presets: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub within_projects: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub within_fleets: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub within_runs: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<IdFilter>")]
    pub within_gateways: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<TypeFilter>")]
    pub include_target_types: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(with = "Option<ActorFilter>")]
    pub actors: Option<Vec<Option<String>>>,
    #[serde(default)]
    pub prev_recorded_at: Option<String>,
    #[serde(default)]
    pub prev_id: Option<String>,
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: i64,
    #[serde(default)]
    pub ascending: bool,
}

fn default_limit() -> i64 {
    100
}

impl RequestBody for ListEventsRequest {
    const FIELDS: Fields = &[
        ("target_projects", false),
        ("target_users", false),
        ("target_fleets", false),
        ("target_instances", false),
        ("target_runs", false),
        ("target_jobs", false),
        ("target_volumes", false),
        ("target_gateways", false),
        ("target_gateway_replicas", false),
        ("target_secrets", false),
        ("target_presets", false),
        ("within_projects", false),
        ("within_fleets", false),
        ("within_runs", false),
        ("within_gateways", false),
        ("include_target_types", false),
        ("actors", false),
        ("prev_recorded_at", false),
        ("prev_id", false),
        ("limit", false),
        ("ascending", false),
    ];
    const BODY_OPTIONAL: bool = true;
}

/// The target type each `target_*` filter matches.
const TARGET_FILTERS: [(&str, &str); 11] = [
    ("target_projects", "project"),
    ("target_users", "user"),
    ("target_fleets", "fleet"),
    ("target_instances", "instance"),
    ("target_runs", "run"),
    ("target_jobs", "job"),
    ("target_volumes", "volume"),
    ("target_gateways", "gateway"),
    ("target_gateway_replicas", "gateway_replica"),
    ("target_secrets", "secret"),
    ("target_presets", "preset"),
];

/// dstack's `EventTargetType` values.
const TARGET_TYPES: [&str; 11] = [
    "project",
    "user",
    "fleet",
    "instance",
    "run",
    "job",
    "volume",
    "gateway",
    "gateway_replica",
    "secret",
    "preset",
];

impl ListEventsRequest {
    fn targets(&self) -> [Option<&Vec<String>>; 11] {
        [
            self.target_projects.as_ref(),
            self.target_users.as_ref(),
            self.target_fleets.as_ref(),
            self.target_instances.as_ref(),
            self.target_runs.as_ref(),
            self.target_jobs.as_ref(),
            self.target_volumes.as_ref(),
            self.target_gateways.as_ref(),
            self.target_gateway_replicas.as_ref(),
            self.target_secrets.as_ref(),
            self.target_presets.as_ref(),
        ]
    }

    fn withins(&self) -> [(&'static str, Option<&Vec<String>>); 4] {
        [
            ("within_projects", self.within_projects.as_ref()),
            ("within_fleets", self.within_fleets.as_ref()),
            ("within_runs", self.within_runs.as_ref()),
            ("within_gateways", self.within_gateways.as_ref()),
        ]
    }

    /// pydantic's checks: list lengths 1..16, ids that are UUIDs, known target types, the
    /// limit, and at most one `target_*` and one `within_*` filter.
    pub fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        let lists = TARGET_FILTERS
            .iter()
            .map(|(name, _)| *name)
            .zip(self.targets())
            .chain(self.withins())
            .chain([("include_target_types", self.include_target_types.as_ref())]);
        for (name, list) in lists {
            let Some(list) = list else { continue };
            length(&mut errors, name, list.len(), json!(list));
            let ids = name != "include_target_types";
            for (i, item) in list.iter().enumerate() {
                if ids && uuid::Uuid::parse_str(item).is_err() {
                    errors.push(json!({"type": "uuid_parsing", "loc": ["body", name, i], "msg": "Input should be a valid UUID", "input": item}));
                } else if !ids && !TARGET_TYPES.contains(&item.as_str()) {
                    let allowed: Vec<String> =
                        TARGET_TYPES.iter().map(|t| format!("'{t}'")).collect();
                    let msg =
                        format!("Input should be {} or {}", allowed[..10].join(", "), allowed[10]);
                    errors.push(json!({"type": "enum", "loc": ["body", name, i], "msg": msg, "input": item}));
                }
            }
        }
        if let Some(actors) = &self.actors {
            length(&mut errors, "actors", actors.len(), json!(actors));
            for (i, actor) in actors.iter().enumerate() {
                if let Some(actor) = actor
                    && uuid::Uuid::parse_str(actor).is_err()
                {
                    errors.push(json!({"type": "uuid_parsing", "loc": ["body", "actors", i], "msg": "Input should be a valid UUID", "input": actor}));
                }
            }
        }
        if !(1..=100).contains(&self.limit) {
            let (kind, msg) = if self.limit < 1 {
                ("greater_than_equal", "Input should be greater than or equal to 1")
            } else {
                ("less_than_equal", "Input should be less than or equal to 100")
            };
            errors.push(
                json!({"type": kind, "loc": ["body", "limit"], "msg": msg, "input": self.limit}),
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let set_targets: Vec<&str> = TARGET_FILTERS
            .iter()
            .zip(self.targets())
            .filter(|(_, list)| list.is_some())
            .map(|((name, _), _)| *name)
            .collect();
        let set_withins: Vec<&str> =
            self.withins().into_iter().filter(|(_, l)| l.is_some()).map(|(n, _)| n).collect();
        for (set, kind) in [(set_targets, "target"), (set_withins, "within")] {
            if set.len() > 1 {
                let msg = format!(
                    "Value error, At most one {kind}_* filter can be set at a time. Got {}",
                    set.join(", ")
                );
                return Err(ApiError::Validation(vec![
                    json!({"type": "value_error", "loc": ["body"], "msg": msg, "input": {}}),
                ]));
            }
        }
        Ok(())
    }

    /// Whether `event` passes the filters.
    fn keeps(&self, event: &EventRow) -> bool {
        let has = |f: &dyn Fn(&StoredTarget) -> bool| event.targets.iter().any(f);
        for ((_, kind), list) in TARGET_FILTERS.iter().zip(self.targets()) {
            if let Some(ids) = list
                && !has(&|t| t.kind == *kind && ids.contains(&t.id))
            {
                return false;
            }
        }
        if let Some(ids) = &self.within_projects
            && !has(&|t| t.project_id.as_ref().is_some_and(|p| ids.contains(p)))
        {
            return false;
        }
        if let Some(ids) = &self.within_fleets
            && !has(&|t| t.fleet_id.as_ref().is_some_and(|f| ids.contains(f)))
        {
            return false;
        }
        if self.within_runs.is_some() || self.within_gateways.is_some() {
            return false; // this server records no run or gateway events
        }
        if let Some(types) = &self.include_target_types
            && !has(&|t| types.contains(&t.kind))
        {
            return false;
        }
        if let Some(actors) = &self.actors
            && !actors.contains(&event.actor_user_id)
        {
            return false;
        }
        true
    }
}

fn length(errors: &mut Vec<Value>, name: &str, len: usize, input: Value) {
    let (kind, msg) = match len {
        0 => ("too_short", "List should have at least 1 item after validation, not 0".to_owned()),
        n if n > 16 => {
            ("too_long", format!("List should have at most 16 items after validation, not {n}"))
        }
        _ => return,
    };
    errors.push(json!({"type": kind, "loc": ["body", name], "msg": msg, "input": input}));
}

async fn list(
    State(state): State<AppState>,
    Authed(me): Authed,
    Body(request): Body<ListEventsRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    request.check()?;
    let projects: HashMap<String, String> = visible_projects(&state, &me).await?;
    let ids: Vec<String> = projects.keys().cloned().collect();
    let mut events = state.store.events_of(&ids).await?;
    events.retain(|e| request.keeps(e));
    if !request.ascending {
        events.reverse();
    }
    if let Some(prev) = &request.prev_recorded_at {
        let prev = parse_timestamp(prev)
            .ok_or_else(|| ApiError::client(format!("Invalid prev_recorded_at: {prev}")))?;
        let prev_id = request.prev_id.as_deref();
        events.retain(|e| {
            let after = if request.ascending { e.recorded_at > prev } else { e.recorded_at < prev };
            let tie = e.recorded_at == prev
                && prev_id.is_some_and(|p| {
                    if request.ascending { e.id.as_str() > p } else { e.id.as_str() < p }
                });
            after || tie
        });
    }
    events.truncate(request.limit as usize);
    let mut users: HashMap<String, Option<String>> = HashMap::new();
    let mut answer = Vec::with_capacity(events.len());
    for event in &events {
        let actor = match &event.actor_user_id {
            Some(id) => match users.get(id) {
                Some(name) => name.clone(),
                None => {
                    let name = state.store.user_by_id(id).await?.map(|u| u.name);
                    users.insert(id.clone(), name.clone());
                    name
                }
            },
            None => None,
        };
        let targets: Vec<Value> = event
            .targets
            .iter()
            .map(|target| {
                let project_name = target.project_id.as_ref().and_then(|p| projects.get(p));
                json!({
                    "type": target.kind,
                    "project_id": target.project_id,
                    "project_name": project_name,
                    "is_project_deleted": target.project_id.as_ref().map(|_| project_name.is_none()),
                    "id": target.id,
                    "name": target.name,
                })
            })
            .collect();
        answer.push(json!({
            "id": event.id,
            "message": event.message,
            "recorded_at": timestamp(event.recorded_at),
            "actor_user_id": event.actor_user_id,
            "actor_user": actor,
            "is_actor_user_deleted": event.actor_user_id.as_ref().map(|_| actor.is_none()),
            "targets": targets,
        }));
    }
    Ok(Json(answer))
}

/// Project id → name of what the caller may see: every project for a global admin, else
/// those the caller is a member of.
async fn visible_projects(
    state: &AppState,
    me: &User,
) -> Result<HashMap<String, String>, ApiError> {
    if me.global_role == GlobalRole::Admin {
        let all = state.store.projects().await?;
        return Ok(all.into_iter().map(|p| (p.id, p.name)).collect());
    }
    let listing = state.store.project_listing(&me.id).await?;
    Ok(listing
        .iter()
        .filter(|p| p.role.is_some())
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect())
}

/// The body reader of `events/list`, for `fuzz/`'s `api_bodies` target.
pub(super) fn read_body(bytes: &[u8]) -> Result<(), ApiError> {
    super::extract::parse_body::<ListEventsRequest>(bytes)?.check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_as_dstack_checks_them() {
        let id = "6f1a8cbe-3c70-4bb8-9d5c-1a2b3c4d5e6f".to_owned();
        let two = ListEventsRequest {
            target_fleets: Some(vec![id.clone()]),
            target_instances: Some(vec![id.clone()]),
            limit: 100,
            ..Default::default()
        };
        let Err(ApiError::Validation(errors)) = two.check() else { panic!("refused") };
        assert_eq!(
            errors[0]["msg"],
            "Value error, At most one target_* filter can be set at a time. Got target_fleets, target_instances"
        );
        let empty =
            ListEventsRequest { within_fleets: Some(vec![]), limit: 100, ..Default::default() };
        let Err(ApiError::Validation(errors)) = empty.check() else { panic!("refused") };
        assert_eq!(errors[0]["type"], "too_short");
        let bad = ListEventsRequest {
            target_fleets: Some(vec!["x".into()]),
            limit: 0,
            ..Default::default()
        };
        let Err(ApiError::Validation(errors)) = bad.check() else { panic!("refused") };
        let kinds: Vec<&str> = errors.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["uuid_parsing", "greater_than_equal"]);
        let ok = ListEventsRequest {
            within_fleets: Some(vec![id.clone()]),
            limit: 5,
            ..Default::default()
        };
        assert!(ok.check().is_ok());

        let event = EventRow {
            id: "e".into(),
            message: "m".into(),
            recorded_at: 1,
            actor_user_id: None,
            targets: vec![StoredTarget {
                kind: "instance".into(),
                project_id: Some("p".into()),
                id: "i".into(),
                name: "f-0".into(),
                fleet_id: Some(id.clone()),
            }],
        };
        assert!(ok.keeps(&event), "an instance of the fleet is within it");
        let other =
            ListEventsRequest { target_fleets: Some(vec![id.clone()]), ..Default::default() };
        assert!(!other.keeps(&event), "an instance event does not target the fleet");
        let by_user =
            ListEventsRequest { actors: Some(vec![Some("u".into())]), ..Default::default() };
        assert!(!by_user.keeps(&event), "done by the server");
        let by_system = ListEventsRequest { actors: Some(vec![None]), ..Default::default() };
        assert!(by_system.keeps(&event));
    }
}
