//! `/api/project/{p}/runs/get_plan` (what `dstack offer` asks) and
//! `/api/project/{p}/gpus/list` (`dstack offer --group-by`).
//!
//! Only plans for offers are served here: runs themselves come with a later issue. The
//! answers have dstack's shapes (`RunPlan`, `ListGpusResponse`) so that the real CLI reads them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use dstack_catalog::accelerators;
use dstack_core::config::load::from_json;
use dstack_core::offers::{CpuArchitecture, InstanceOfferWithAvailability};
use dstack_core::resources::{Requirements, ResourcesSpec};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::extract::{Authed, JsonBody};
use super::job_command;
use super::route::{Answer, Api, Auth, Request, Route, object};
use super::{Access, project_for};
use crate::offers::{Placement, project_offers};
use crate::state::AppState;
use crate::store::User;

pub fn routes(api: &mut Api) {
    api.add(
        Route::post(
            "/api/project/{project_name}/runs/get_plan",
            "The offers a run would get (dry run)",
            Auth::Project,
        )
        .request(Request::RunPlan)
        .answer(Answer::Json(super::openapi::run_plan_answer))
        .client_errors(),
        get_plan,
    )
    .add(
        Route::post(
            "/api/project/{project_name}/gpus/list",
            "GPUs on offer, grouped",
            Auth::Project,
        )
        .request(Request::GpuList)
        .answer(Answer::Json(|| {
            object(json!({"gpus": {"type": "array", "items": {"type": "object"}}}), &["gpus"])
        }))
        .client_errors(),
        list_gpus,
    );
}

/// The parts of a request's `run_spec` that decide offers.
pub(crate) struct Asked {
    run_spec: Map<String, Value>,
    /// The configuration's resources with dstack's model defaults (the effective run spec's).
    configured: ResourcesSpec,
    /// What the job asks of offers: `configured` with the CPU architecture its image needs.
    requirements: Requirements,
    /// Which backends, regions and instance types offers may come from.
    placement: Placement,
}

/// `default_spot` applies when no spot policy is given: on-demand for plans, either for the
/// GPU list (the CLI shows `auto` there).
fn asked(body: &Value, default_spot: Option<bool>) -> Result<Asked, ApiError> {
    let invalid = |msg: &str, loc: Value| {
        ApiError::Validation(vec![
            json!({"type": "value_error", "loc": loc, "msg": msg, "input": body}),
        ])
    };
    let run_spec = body["run_spec"]
        .as_object()
        .cloned()
        .ok_or_else(|| invalid("Field required", json!(["body", "run_spec"])))?;
    let configuration = run_spec.get("configuration").cloned().unwrap_or(Value::Null);
    let profile = run_spec.get("profile").cloned().unwrap_or(Value::Null);
    let resources_json = configuration.get("resources").cloned().unwrap_or_else(|| json!({}));
    let resources: ResourcesSpec = from_json(&resources_json).map_err(|errors| {
        ApiError::Validation(
            errors
                .iter()
                .map(|e| {
                    let mut loc = vec![json!("body"), json!("run_spec"), json!("configuration"), json!("resources")];
                    loc.extend(e.path.split('.').filter(|s| !s.is_empty()).map(|s| json!(s)));
                    json!({"type": "value_error", "loc": loc, "msg": e.message, "input": resources_json})
                })
                .collect(),
        )
    })?;
    let setting = |key: &str| {
        let from_configuration = configuration.get(key).filter(|v| !v.is_null());
        from_configuration.or_else(|| profile.get(key).filter(|v| !v.is_null())).cloned()
    };
    let spot = match setting("spot_policy").as_ref().and_then(Value::as_str) {
        Some("spot") => Some(true),
        Some("on-demand") => Some(false),
        Some("auto") => None,
        _ => default_spot,
    };
    let max_price = setting("max_price").and_then(|v| v.as_f64());
    let configured = effective_resources(resources);
    let placement = Placement::from_settings(setting);
    Ok(Asked {
        run_spec,
        placement,
        requirements: Requirements {
            resources: job_resources(&configured, &configuration),
            max_price,
            spot,
            reservation: setting("reservation").and_then(|v| v.as_str().map(str::to_owned)),
            multinode: Some(false),
        },
        configured,
    })
}

/// dstack's job requirements: an unset CPU architecture is x86 for dstack's own images (they
/// have no ARM build), unset for the offers-only image. A custom image's architectures are in
/// its registry, which this server does not read yet, so there it stays unset (any).
fn job_resources(configured: &ResourcesSpec, configuration: &Value) -> ResourcesSpec {
    let mut resources = configured.clone();
    if resources.cpu.arch.is_none() && configuration.get("image").is_none_or(Value::is_null) {
        resources.cpu.arch = Some(CpuArchitecture::X86);
    }
    resources
}

/// dstack fills the GPU vendor from the GPU names when it is not given.
fn effective_resources(mut resources: ResourcesSpec) -> ResourcesSpec {
    if let Some(gpu) = resources.gpu.as_mut()
        && gpu.vendor.is_none()
        && let Some(names) = &gpu.name
    {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut vendors: Vec<_> =
            accelerators::find(Some(&names), None).map(|a| a.vendor).collect();
        vendors.dedup();
        if vendors.len() == 1 {
            gpu.vendor = Some(vendors[0]);
        }
    }
    resources
}

/// `configuration` with the defaults dstack's model adds (`nodes`, `groups` for tasks).
fn with_defaults(run_spec: &Map<String, Value>) -> Map<String, Value> {
    let mut run_spec = run_spec.clone();
    if let Some(Value::Object(configuration)) = run_spec.get("configuration")
        && configuration.get("type").and_then(Value::as_str) == Some("task")
    {
        let mut filled = Map::new();
        filled.insert("nodes".into(), configuration.get("nodes").cloned().unwrap_or(json!(1)));
        filled.insert("groups".into(), configuration.get("groups").cloned().unwrap_or(Value::Null));
        for (k, v) in configuration {
            filled.entry(k.clone()).or_insert_with(|| v.clone());
        }
        run_spec.insert("configuration".into(), Value::Object(filled));
    }
    run_spec
}

fn effective_run_spec(
    run_spec: &Map<String, Value>,
    configured: &ResourcesSpec,
    user: &User,
) -> Value {
    let mut effective = run_spec.clone();
    let fill = |map: &mut Map<String, Value>, key: &str, value: Value| {
        if map.get(key).is_none_or(Value::is_null) {
            map.insert(key.to_owned(), value);
        }
    };
    fill(&mut effective, "repo_id", json!("none"));
    fill(&mut effective, "repo_data", json!({"repo_type": "virtual"}));
    fill(&mut effective, "ssh_key_pub", json!(user.ssh_public_key));
    if let Some(Value::Object(configuration)) = effective.get_mut("configuration") {
        fill(configuration, "priority", json!(0));
        configuration.insert("resources".into(), json!(configured));
    }
    Value::Object(effective)
}

/// The plan's job, as dstack describes a dry run's first job.
fn job_spec(run_spec: &Map<String, Value>, requirements: &Requirements) -> Result<Value, ApiError> {
    let configuration = run_spec.get("configuration").cloned().unwrap_or(Value::Null);
    let get = |key: &str, default: Value| {
        configuration.get(key).filter(|v| !v.is_null()).cloned().unwrap_or(default)
    };
    let run_name = run_spec.get("run_name").and_then(Value::as_str).unwrap_or("dry-run");
    let empty = Map::new();
    let configuration_map = configuration.as_object().unwrap_or(&empty);
    let is_dev_environment = configuration["type"] == json!("dev-environment");
    Ok(json!({
        "replica_num": 0,
        "job_num": 0,
        "job_name": format!("{run_name}-0-0"),
        "jobs_per_replica": 1,
        "replica_group": "0",
        "app_specs": [],
        "user": configuration_map.get("user").and_then(Value::as_str).map(unix_user),
        "commands": job_command::commands(configuration_map, run_name)?,
        "env": get("env", json!({})),
        "home_dir": get("home_dir", json!("/root")),
        "image_name": job_command::image_name(configuration_map),
        "privileged": configuration_map.get("docker") == Some(&json!(true))
            || get("privileged", json!(false)) == json!(true),
        "single_branch": get("single_branch", json!(!is_dev_environment)),
        "max_duration": null,
        "stop_duration": 300,
        "utilization_policy": null,
        "registry_auth": null,
        "requirements": {
            "resources": requirements.resources,
            "max_price": requirements.max_price,
            "spot": requirements.spot,
            "reservation": requirements.reservation,
            "multinode": false,
            "backend_options": null,
        },
        "retry": null,
        "volumes": [],
        "ssh_key": null,
        "working_dir": null,
        "repo_data": {"repo_type": "virtual"},
        "repo_code_hash": null,
        "repo_dir": "/workflow",
        "repo_exists_action": null,
        "file_archives": [],
        "service_port": null,
        "probes": [],
        "node_group_index": 0,
        "node_group_name": "0",
        "node_group_job_index": 0,
    }))
}

/// dstack's `UnixUser.parse`: `user[:group]`, each a name or a numeric id.
fn unix_user(spec: &str) -> Value {
    let (user, group) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    let id = |s: &str| s.parse::<u64>().ok();
    json!({
        "uid": id(user),
        "gid": group.and_then(id),
        "username": if id(user).is_none() { Some(user) } else { None },
        "groupname": group.filter(|g| id(g).is_none()),
    })
}

/// dstack's model check of a task: something to run (`commands`, or an image's own).
fn check_task(body: &Value) -> Result<(), ApiError> {
    let configuration = &body["run_spec"]["configuration"];
    let is_task = configuration["type"] == json!("task");
    let has_commands = configuration["commands"].as_array().is_some_and(|c| !c.is_empty());
    let has_image = configuration["image"].as_str().is_some();
    if is_task && !has_commands && !has_image && configuration["groups"].is_null() {
        return Err(ApiError::Validation(vec![json!({
            "type": "value_error",
            "loc": ["body", "run_spec", "configuration", "task"],
            "msg": "Value error, Either `commands` or `image` must be set",
            "input": configuration,
        })]));
    }
    Ok(())
}

/// What a plan (`default_spot` on-demand) or GPU list (`None`) body asks for.
pub(crate) fn read_plan(body: &Value, default_spot: Option<bool>) -> Result<Asked, ApiError> {
    check_shapes(body, default_spot.is_none())?;
    check_task(body)?;
    asked(body, default_spot)
}

/// Checks the shapes of a plan or GPU list body against the schema `/openapi.json` publishes
/// for it (dstack's pydantic models refuse the same with 422).
fn check_shapes(body: &Value, group_by: bool) -> Result<(), ApiError> {
    static PLAN: OnceLock<jsonschema::Validator> = OnceLock::new();
    static GPUS: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = if group_by { &GPUS } else { &PLAN }.get_or_init(|| {
        jsonschema::draft202012::new(&super::openapi::run_plan_request(group_by))
            .expect("the run plan schema is valid")
    });
    let errors: Vec<Value> = validator
        .iter_errors(body)
        .map(|error| {
            let mut loc = vec![json!("body")];
            let path = error.instance_path().as_str().to_owned();
            loc.extend(path.split('/').filter(|s| !s.is_empty()).map(|s| json!(s)));
            json!({"type": "value_error", "loc": loc, "msg": error.to_string(), "input": error.instance()})
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// The request body, the project (for its members), what was asked, and the matching offers.
async fn offers_for(
    state: &AppState,
    me: &User,
    project_name: &str,
    body: Value,
    default_spot: Option<bool>,
) -> Result<(Value, crate::store::Project, Asked, Vec<InstanceOfferWithAvailability>), ApiError> {
    let project = project_for(state, me, project_name, Access::Read).await?;
    let asked = read_plan(&body, default_spot)?;
    let offers = project_offers(state, &project, &asked.requirements, &asked.placement).await?;
    Ok((body, project, asked, offers))
}

async fn get_plan(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let (body, project, asked, mut offers) =
        offers_for(&state, &me, &project_name, body, Some(false)).await?;
    let total_offers = offers.len();
    if let Some(max) = body["max_offers"].as_u64() {
        offers.truncate(max as usize);
    }
    let max_price = offers.iter().map(|o| o.offer.price).reduce(f64::max);
    let run_spec = with_defaults(&asked.run_spec);
    Ok(Json(json!({
        "project_name": project.name,
        "user": me.name,
        "run_spec": run_spec,
        "effective_run_spec": effective_run_spec(&run_spec, &asked.configured, &me),
        "job_plans": [{
            "job_spec": job_spec(&run_spec, &asked.requirements)?,
            "offers": offers,
            "total_offers": total_offers,
            "max_price": max_price,
        }],
        "current_resource": null,
        "action": "create",
    })))
}

async fn list_gpus(
    State(state): State<AppState>,
    Authed(me): Authed,
    Path(project_name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let (body, _, _, offers) = offers_for(&state, &me, &project_name, body, None).await?;
    let group_by: Vec<String> = body["group_by"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    for by in &group_by {
        if !["backend", "region", "count"].contains(&by.as_str()) {
            return Err(ApiError::client(format!("Invalid group_by value: {by}")));
        }
    }
    if group_by.iter().any(|g| g == "region") && !group_by.iter().any(|g| g == "backend") {
        return Err(ApiError::client(
            "Cannot group by 'region' without also grouping by 'backend'",
        ));
    }
    Ok(Json(json!({"gpus": gpu_groups(&offers, &group_by)})))
}

/// GPU name, memory, vendor, and the grouped-by backend, region and count (empty or 0 when
/// not grouped by them).
type GroupKey = (String, u64, String, String, String, u32);

/// dstack's `GpuGroup`s: offers with GPUs grouped by GPU model (name, memory, vendor) and
/// the requested fields.
fn gpu_groups(offers: &[InstanceOfferWithAvailability], group_by: &[String]) -> Vec<Value> {
    let by = |field: &str| group_by.iter().any(|g| g == field);
    let mut groups: BTreeMap<GroupKey, Vec<&InstanceOfferWithAvailability>> = BTreeMap::new();
    for offer in offers {
        let resources = &offer.offer.instance.resources;
        let Some(gpu) = resources.gpus.first() else { continue };
        let key = (
            gpu.name.clone(),
            gpu.memory_mib,
            json!(gpu.vendor).as_str().unwrap_or_default().to_owned(),
            if by("backend") { offer.offer.backend.as_str().to_owned() } else { String::new() },
            if by("region") { offer.offer.region.clone() } else { String::new() },
            if by("count") { resources.gpus.len() as u32 } else { 0 },
        );
        groups.entry(key).or_default().push(offer);
    }
    let mut out: Vec<(f64, Value)> = groups
        .into_iter()
        .map(|((name, memory_mib, vendor, backend, region, _), group)| {
            let sorted_unique = |mut values: Vec<String>| {
                values.sort();
                values.dedup();
                values
            };
            let counts: Vec<usize> = group.iter().map(|o| o.offer.instance.resources.gpus.len()).collect();
            let per_gpu: Vec<f64> = group
                .iter()
                .map(|o| o.offer.price / o.offer.instance.resources.gpus.len() as f64)
                .collect();
            let prices: Vec<f64> = group.iter().map(|o| o.offer.price).collect();
            let range = |v: &[f64]| {
                json!({"min": v.iter().copied().fold(f64::INFINITY, f64::min), "max": v.iter().copied().fold(f64::NEG_INFINITY, f64::max)})
            };
            let mut entry = Map::new();
            entry.insert("name".into(), json!(name));
            entry.insert("memory_mib".into(), json!(memory_mib));
            entry.insert("vendor".into(), json!(vendor));
            entry.insert(
                "availability".into(),
                json!(sorted_unique(group.iter().map(|o| json!(o.availability).as_str().unwrap_or_default().to_owned()).collect())),
            );
            entry.insert(
                "spot".into(),
                json!(sorted_unique(group.iter().map(|o| if o.offer.instance.resources.spot { "spot" } else { "on-demand" }.to_owned()).collect())),
            );
            entry.insert(
                "count".into(),
                json!({"min": counts.iter().min(), "max": counts.iter().max()}),
            );
            entry.insert("price".into(), range(&per_gpu));
            entry.insert("offer_price".into(), range(&prices));
            if backend.is_empty() {
                entry.insert("backends".into(), json!(sorted_unique(group.iter().map(|o| o.offer.backend.as_str().to_owned()).collect())));
            } else {
                entry.insert("backend".into(), json!(backend));
            }
            if region.is_empty() {
                if by("backend") {
                    entry.insert("regions".into(), json!(sorted_unique(group.iter().map(|o| o.offer.region.clone()).collect())));
                }
            } else {
                entry.insert("region".into(), json!(region));
            }
            (per_gpu.iter().copied().fold(f64::INFINITY, f64::min), Value::Object(entry))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dstack's merged profile: the configuration's value where set, else the profile's.
    #[test]
    fn the_configuration_wins_over_the_profile() {
        let body = json!({"run_spec": {
            "configuration": {"type": "task", "commands": ["x"], "backends": ["vultr"], "regions": null},
            "profile": {"backends": ["aws"], "regions": ["EWR"], "instance_types": ["VC2-1C-1GB"]}
        }});
        let placement = asked(&body, None).unwrap().placement;
        assert_eq!(placement.backends, Some(vec![dstack_core::config::BackendType::Vultr]));
        assert_eq!(placement.regions, Some(vec!["ewr".to_owned()]));
        assert_eq!(placement.instance_types, Some(vec!["vc2-1c-1gb".to_owned()]));
    }
}
