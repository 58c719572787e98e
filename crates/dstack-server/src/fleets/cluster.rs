//! Cluster fleets (`placement: cluster`), as dstack provisions them: one instance, the
//! master (the lowest-numbered one still alive), is provisioned first, in a placement group
//! where its backend has them; the others wait for its provisioning data and then go to the
//! same backend, region and zone, into the same group.

use dstack_core::config::BackendType;
use dstack_core::offers::{InstanceOfferWithAvailability, ProvisioningData};
use dstack_core::placement::PlacementGroup;
use dstack_core::provisioning::unique_placement_group_name;

use super::Step;
use super::lifecycle::fleet_name;
use crate::store::{InstanceRow, PlacementGroupRow, Project, instance_status};

/// What an instance of a cluster fleet does now.
#[derive(Debug)]
pub enum Role {
    /// It is the master: provisioned first, in a placement group.
    Master,
    /// The master has no provisioning data yet: wait.
    Wait,
    /// The master is provisioned: follow it.
    Member { backend: BackendType, region: String, zone: Option<String>, group: Option<String> },
}

/// The instance's role in its cluster fleet; `None` when the fleet cannot be read now.
pub async fn role(step: &Step<'_>, row: &InstanceRow) -> Option<Role> {
    let siblings = match step.state.store.fleet_instances(&row.fleet_id).await {
        Ok(siblings) => siblings,
        Err(err) => {
            tracing::warn!(instance = %row.name, "cannot read the fleet's instances: {err}");
            return None;
        }
    };
    let alive = |i: &&InstanceRow| {
        i.status != instance_status::TERMINATING && i.status != instance_status::TERMINATED
    };
    let master = siblings.iter().filter(alive).min_by_key(|i| i.instance_num)?;
    if master.id == row.id {
        return Some(Role::Master);
    }
    let data = master.job_provisioning_data.as_deref();
    let Some(data) = data.and_then(|d| serde_json::from_str::<ProvisioningData>(d).ok()) else {
        return Some(Role::Wait);
    };
    let groups = step.state.store.fleet_placement_groups(&row.fleet_id).await.ok()?;
    let group = groups
        .iter()
        .find(|g| g.group.backend() == data.backend && g.group.region() == data.region)
        .map(|g| g.group.name.clone());
    Some(Role::Member {
        backend: data.backend,
        region: data.region,
        zone: data.availability_zone,
        group,
    })
}

/// A member's offers: the master's backend and region, and its zone where it has one.
pub fn follow(offers: &mut Vec<InstanceOfferWithAvailability>, role: &Role) {
    let Role::Member { backend, region, zone, .. } = role else { return };
    offers.retain(|o| o.offer.backend == *backend && o.offer.region == *region);
    if let Some(zone) = zone {
        offers.retain_mut(|o| match &mut o.availability_zones {
            Some(zones) if zones.contains(zone) => {
                *zones = vec![zone.clone()];
                true
            }
            Some(_) => false,
            None => true,
        });
    }
}

/// The group the master's instance goes into on `offer`: one of the fleet's that the backend
/// finds suitable, or a new one. `None` when the backend has no placement groups; `Err` (the
/// offer is skipped, as dstack skips it) when one cannot be created.
pub async fn group_for(
    step: &Step<'_>,
    row: &InstanceRow,
    project: &Project,
    offer: &InstanceOfferWithAvailability,
) -> Result<Option<String>, String> {
    let backend = offer.offer.backend;
    let declared =
        step.state.registry.get(backend).is_ok_and(|c| c.capabilities().placement_groups);
    if !declared {
        return Ok(None);
    }
    let compute = step.compute(project, backend).await.map_err(|e| e.to_string())?;
    let groups =
        step.state.store.fleet_placement_groups(&row.fleet_id).await.map_err(|e| e.to_string())?;
    if let Some(found) =
        groups.iter().find(|g| compute.is_suitable_placement_group(&g.group, offer))
    {
        return Ok(Some(found.group.name.clone()));
    }
    let name = unique_placement_group_name(&project.name, fleet_name(row));
    let group = PlacementGroup::cluster(&name, &project.name, backend, &offer.offer.region);
    let data = compute.create_placement_group(&group, offer).await.map_err(|e| e.to_string())?;
    step.state
        .store
        .insert_placement_group(&project.id, &row.fleet_id, &group, &data)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(instance = %row.name, "Created placement group {name} ({backend}, {})", offer.offer.region);
    Ok(Some(name))
}

/// Once the master is provisioned in `used`: the fleet's other groups are not needed.
pub async fn release_unused(step: &Step<'_>, row: &InstanceRow, used: Option<&str>) {
    let Ok(groups) = step.state.store.fleet_placement_groups(&row.fleet_id).await else { return };
    for group in groups.iter().filter(|g| Some(g.group.name.as_str()) != used) {
        if let Err(err) = step.state.store.release_placement_group(&group.id).await {
            tracing::warn!(
                "cannot schedule placement group {} for deletion: {err}",
                group.group.name
            );
        }
    }
}

/// Deletes one scheduled group in the cloud; true when it is gone (or cannot be deleted by
/// anyone: logged), false when it is still in use (tried again later).
pub async fn delete(state: &crate::state::AppState, group: &PlacementGroupRow) -> bool {
    let backend = group.group.backend();
    let compute = match crate::computes::project_compute(state, &group.project_id, backend).await {
        Ok(compute) => compute,
        Err(err) => {
            tracing::error!(
                "placement group {} cannot be deleted ({err}); please delete it manually",
                group.group.name
            );
            return true;
        }
    };
    match compute.delete_placement_group(&group.group, &group.data).await {
        Ok(()) => {
            tracing::info!("Deleted placement group {}", group.group.name);
            true
        }
        Err(err) if err.kind() == dstack_core::ErrorKind::PlacementGroupInUse => false,
        Err(err) => {
            tracing::error!(
                "placement group {} cannot be deleted ({err}); please delete it manually",
                group.group.name
            );
            true
        }
    }
}
