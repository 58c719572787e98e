//! The fleet calls' rules, between the API and the store: reading a spec, planning (offers,
//! the current fleet, create or update), applying (a new fleet with its pending instances, or
//! an in-place update), deleting.

use dstack_core::fleets::{FleetSpec, FleetSpecError, check_can_update, plan_action};
use dstack_core::offers::{InstanceConfiguration, InstanceOfferWithAvailability, SshKey};
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::api::fleet_models;
use crate::offers::{Placement, project_offers};
use crate::state::AppState;
use crate::store::{
    EventTarget, FleetRow, NewEvent, NewInstance, Project, User, fleet_status, new_id, now_micros,
};

/// How many offers a plan lists (dstack's fleet plans show the first 50).
const PLAN_OFFERS: usize = 50;

/// A spec from a request body, with FastAPI's 422 (`loc` under `at`) or dstack's 400.
pub fn read_spec(value: &Value, at: &[&str]) -> Result<FleetSpec, ApiError> {
    FleetSpec::from_json(value).map_err(|err| spec_error(err, at))
}

pub fn spec_error(err: FleetSpecError, at: &[&str]) -> ApiError {
    match err {
        FleetSpecError::Invalid(errors) => {
            ApiError::Validation(errors.iter().map(|e| e.to_json(at)).collect())
        }
        other => ApiError::client(other.to_string()),
    }
}

/// The spec as the server keeps it: validated, with dstack's defaults set.
fn effective(spec: &FleetSpec) -> Result<FleetSpec, ApiError> {
    let effective = spec.effective();
    effective.validate().map_err(|e| spec_error(e, &[]))?;
    Ok(effective)
}

/// The fleet as dstack's `Fleet`, with its live instances.
pub async fn fleet_json(
    state: &AppState,
    project_name: &str,
    row: &FleetRow,
) -> Result<Value, ApiError> {
    let instances =
        if row.deleted { Vec::new() } else { state.store.fleet_instances(&row.id).await? };
    Ok(fleet_models::fleet(row, project_name, &instances))
}

/// The offers a cloud fleet would get: its requirements and placement, from backends that
/// create instances (unless it asks for no nodes now).
async fn offers(
    state: &AppState,
    project: &Project,
    spec: &FleetSpec,
) -> Result<Vec<InstanceOfferWithAvailability>, ApiError> {
    let requirements = spec.requirements().requirements;
    let profile = spec.instance_profile_json();
    let placement =
        Placement::from_settings(|key| profile.get(key).filter(|v| !v.is_null()).cloned());
    let mut offers = project_offers(state, project, &requirements, &placement).await?;
    if spec.nodes().is_none_or(|n| n.target != 0) {
        offers.retain(|o| {
            state.registry.get(o.offer.backend).is_ok_and(|c| c.capabilities().create_instance)
        });
    }
    Ok(offers)
}

/// dstack's `FleetPlan`.
pub async fn plan(
    state: &AppState,
    me: &User,
    project: &Project,
    spec: &FleetSpec,
) -> Result<Value, ApiError> {
    let effective = effective(spec)?;
    let current = match effective.name() {
        Some(name) => state.store.fleet_by_name(&project.id, name).await?,
        None => None,
    };
    let current_spec = current.as_ref().and_then(|f| stored_spec(f).ok());
    let action = plan_action(current_spec.as_ref(), &effective);
    let current_resource = match &current {
        Some(row) => fleet_json(state, &project.name, row).await?,
        None => Value::Null,
    };
    let mut offers =
        if effective.is_ssh() { Vec::new() } else { offers(state, project, &effective).await? };
    let total_offers = offers.len();
    let max_offer_price = offers.iter().map(|o| o.offer.price).reduce(f64::max);
    offers.truncate(PLAN_OFFERS);
    Ok(json!({
        "project_name": project.name,
        "user": me.name,
        "spec": spec.to_json(),
        "effective_spec": effective.to_json(),
        "current_resource": current_resource,
        "offers": offers,
        "total_offers": total_offers,
        "max_offer_price": max_offer_price,
        "action": action.as_str(),
    }))
}

fn stored_spec(row: &FleetRow) -> Result<FleetSpec, ApiError> {
    let value: Value = serde_json::from_str(&row.spec)
        .map_err(|e| ApiError::Internal(format!("fleet {}'s stored spec: {e}", row.name)))?;
    FleetSpec::from_json(&value)
        .map_err(|e| ApiError::Internal(format!("fleet {}'s stored spec: {e}", row.name)))
}

/// What `apply` is given besides the spec.
#[derive(Debug)]
pub struct ApplyRequest {
    /// The fleet the client planned against (`plan.current_resource`).
    pub current_id: Option<String>,
    pub current_spec: Option<FleetSpec>,
    pub force: bool,
}

/// Creates the fleet, or updates it in place; answers dstack's `Fleet`.
pub async fn apply(
    state: &AppState,
    me: &User,
    project: &Project,
    spec: &FleetSpec,
    request: ApplyRequest,
) -> Result<Value, ApiError> {
    let mut effective = effective(spec)?;
    if effective.is_ssh() {
        return Err(spec_error(FleetSpecError::SshFleetsUnsupported, &[]));
    }
    if let Some(name) = effective.name().map(str::to_owned)
        && let Some(row) = state.store.fleet_by_name(&project.id, &name).await?
    {
        return update(state, project, &row, &effective, request).await;
    }
    let name = match effective.name() {
        Some(name) => name.to_owned(),
        None => free_name(state, project).await?,
    };
    effective.set_name(&name);
    let fleet = FleetRow {
        id: new_id(),
        project_id: project.id.clone(),
        name: name.clone(),
        status: fleet_status::ACTIVE.to_owned(),
        spec: effective.to_json().to_string(),
        created_at: now_micros(),
        deleted: false,
    };
    let nodes = effective.nodes().map_or(0, |n| n.target);
    let instances: Vec<NewInstance> = (0..nodes)
        .map(|num| new_instance(me, project, &fleet, &effective, i64::from(num)))
        .collect();
    let mut events = Vec::new();
    if state.settings.events_ttl.is_some() {
        let fleet_target = EventTarget::fleet(&project.id, &fleet.id, &fleet.name);
        events.push(NewEvent::new(
            "Fleet created. Status: ACTIVE",
            Some(&me.id),
            vec![fleet_target],
        ));
        for instance in &instances {
            let target =
                EventTarget::instance(&project.id, &fleet.id, &instance.id, &instance.name);
            let message = "Instance created on fleet submission. Status: PENDING";
            events.push(NewEvent::new(message, None, vec![target]));
        }
    }
    match state.store.insert_fleet(&fleet, &instances, &events).await {
        Err(crate::store::StoreError::Exists) => return Err(ApiError::resource_exists()),
        other => other?,
    }
    tracing::info!(fleet = %name, project = %project.name, "Fleet created. Status: ACTIVE");
    for instance in &instances {
        tracing::info!(
            fleet = %name,
            instance = %instance.name,
            "Instance created on fleet submission. Status: PENDING"
        );
    }
    state.background.wake();
    fleet_json(state, &project.name, &fleet).await
}

/// dstack's `_update_fleet` for cloud fleets: the spec is replaced; instances are not touched.
async fn update(
    state: &AppState,
    project: &Project,
    row: &FleetRow,
    effective: &FleetSpec,
    request: ApplyRequest,
) -> Result<Value, ApiError> {
    let stored = stored_spec(row)?;
    if !request.force {
        let unchanged = request.current_id.as_deref() == Some(row.id.as_str())
            && request.current_spec.as_ref().is_some_and(|s| s.effective().same_as(&stored));
        if !unchanged {
            return Err(ApiError::client(
                "Failed to apply plan. Resource has been changed. Try again or use force apply.",
            ));
        }
    }
    check_can_update(&stored, effective).map_err(|e| spec_error(e, &[]))?;
    state.store.update_fleet_spec(&row.id, &effective.to_json().to_string()).await?;
    let updated = FleetRow { spec: effective.to_json().to_string(), ..row.clone() };
    fleet_json(state, &project.name, &updated).await
}

/// A new pending instance `num` of the fleet, with what provisioning will ask for.
fn new_instance(
    me: &User,
    project: &Project,
    fleet: &FleetRow,
    spec: &FleetSpec,
    num: i64,
) -> NewInstance {
    let name = format!("{}-{num}", fleet.name);
    let id = new_id();
    let configuration = InstanceConfiguration {
        project_name: project.name.clone(),
        instance_name: name.clone(),
        instance_id: id.clone(),
        ssh_keys: vec![SshKey { public: project.ssh_public_key.trim().to_owned() }],
        user: me.name.clone(),
        reservation: spec.instance_reservation(),
        placement_group: None,
        tags: spec.configuration.tags.clone(),
    };
    let termination = spec.termination();
    NewInstance {
        id,
        project_id: project.id.clone(),
        fleet_id: fleet.id.clone(),
        name,
        instance_num: num,
        created_at: fleet.created_at,
        profile: spec.instance_profile_json().to_string(),
        requirements: spec.requirements().to_json().to_string(),
        instance_configuration: serde_json::to_string(&configuration).unwrap_or_default(),
        termination_policy: termination.policy.as_str().to_owned(),
        termination_idle_time: termination.idle_time,
    }
}

/// A fleet name like dstack's (`<adjective>-<animal>`) that no live fleet of the project has.
async fn free_name(state: &AppState, project: &Project) -> Result<String, ApiError> {
    const ADJECTIVES: &[&str] = &[
        "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lively", "lucky",
        "nimble", "proud", "quick", "quiet", "shiny", "smart", "swift", "witty", "bold", "bright",
    ];
    const ANIMALS: &[&str] = &[
        "badger", "beaver", "cat", "crab", "dolphin", "eagle", "falcon", "fox", "heron", "koala",
        "lemur", "lynx", "otter", "owl", "panda", "puma", "raven", "seal", "tiger", "wolf",
    ];
    use rand::seq::IndexedRandom;
    let mut attempt = 0;
    loop {
        // The generator is not `Send`: it is dropped before the lookup awaits.
        let base = {
            let mut rng = rand::rng();
            format!(
                "{}-{}",
                ADJECTIVES.choose(&mut rng).unwrap_or(&"new"),
                ANIMALS.choose(&mut rng).unwrap_or(&"fleet")
            )
        };
        let name = if attempt < 10 { base } else { format!("{base}-{attempt}") };
        if state.store.fleet_by_name(&project.id, &name).await?.is_none() {
            return Ok(name);
        }
        attempt += 1;
    }
}

/// Asks for the fleets' instances to be terminated and the fleets retired; unknown names
/// are ignored, as in dstack.
pub async fn delete(
    state: &AppState,
    me: &User,
    project: &Project,
    names: &[String],
) -> Result<(), ApiError> {
    for name in names {
        if let Some(row) = state.store.fleet_by_name(&project.id, name).await? {
            let mut events = Vec::new();
            if state.settings.events_ttl.is_some() {
                let target = EventTarget::fleet(&project.id, &row.id, &row.name);
                let message =
                    format!("Fleet status changed {} -> TERMINATING", row.status.to_uppercase());
                events.push(NewEvent::new(&message, Some(&me.id), vec![target]));
            }
            state.store.terminate_fleet(&row.id, &events).await?;
            tracing::info!(fleet = %name, "Fleet status changed ACTIVE -> TERMINATING");
        }
    }
    state.background.wake();
    Ok(())
}

/// Asks for some instances of a fleet to be terminated; unknown numbers are ignored.
pub async fn delete_instances(
    state: &AppState,
    project: &Project,
    name: &str,
    nums: &[i64],
) -> Result<(), ApiError> {
    if let Some(row) = state.store.fleet_by_name(&project.id, name).await? {
        state.store.terminate_instances(&row.id, nums).await?;
        state.background.wake();
    }
    Ok(())
}
