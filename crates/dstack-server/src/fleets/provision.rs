//! A pending instance: offers in dstack's order, `create_instance` on each until one is
//! accepted (dstack moves to the next offer on any backend error), then provisioning.
//!
//! Before each call the offer is written to the row (`pending_offer`): if the server stops
//! during the call, the next attempt tries exactly that offer first with the same instance
//! configuration, so that a backend with idempotent creates (AWS client tokens, Lambda's
//! name lookup) hands back the VM it made instead of making a second one.

use dstack_core::offers::{InstanceConfiguration, InstanceOfferWithAvailability};
use dstack_core::resources::Requirements;
use serde_json::Value;

use super::Step;
use super::cluster::{self, Role};
use super::lifecycle::{Reason, Transition};
use crate::offers::{Placement, project_offers};
use crate::state::AppState;
use crate::store::{InstanceRow, InstanceUpdate, Project, instance_status};

/// dstack's messages when nothing could be created.
const NO_OFFERS_FOUND: &str = "No offers found";
const ALL_OFFERS_FAILED: &str = "All offers failed";

/// What the instance was created with, read back from its row.
struct Asked {
    configuration: InstanceConfiguration,
    requirements: Requirements,
    placement: Placement,
}

fn asked(row: &InstanceRow) -> Result<Asked, String> {
    let configuration =
        serde_json::from_str(&row.instance_configuration).map_err(|e| e.to_string())?;
    let requirements = serde_json::from_str(&row.requirements).map_err(|e| e.to_string())?;
    let profile: Value = serde_json::from_str(&row.profile).map_err(|e| e.to_string())?;
    let placement =
        Placement::from_settings(|key| profile.get(key).filter(|v| !v.is_null()).cloned());
    Ok(Asked { configuration, requirements, placement })
}

/// The offers to try: available ones of backends that create instances, the interrupted
/// attempt's offer first, at most `limit`.
async fn offers_to_try(
    state: &AppState,
    project: &Project,
    asked: &Asked,
    interrupted: Option<InstanceOfferWithAvailability>,
    limit: usize,
) -> crate::error::Result<Vec<InstanceOfferWithAvailability>> {
    let mut offers = project_offers(state, project, &asked.requirements, &asked.placement).await?;
    offers.retain(|o| {
        o.availability.is_available()
            && state.registry.get(o.offer.backend).is_ok_and(|c| c.capabilities().create_instance)
    });
    if let Some(first) = interrupted {
        offers.retain(|o| !same_offer(o, &first));
        offers.insert(0, first);
    }
    offers.truncate(limit);
    Ok(offers)
}

fn same_offer(a: &InstanceOfferWithAvailability, b: &InstanceOfferWithAvailability) -> bool {
    a.offer.backend == b.offer.backend
        && a.offer.region == b.offer.region
        && a.offer.instance.name == b.offer.instance.name
}

/// Tries the offers; `update` ends provisioning (with the backend's data) or terminated
/// (no offers). The row is saved before each backend call.
pub async fn provision(step: &Step<'_>, row: &InstanceRow, update: &mut InstanceUpdate) -> bool {
    let asked = match asked(row) {
        Ok(asked) => asked,
        Err(err) => {
            let message =
                format!("Error to parse profile, requirements or instance_configuration: {err}");
            step.transition(row, update, Transition::to_terminated(Reason::Error, Some(message)));
            return true;
        }
    };
    let Some(project) = step.project(row).await else { return false };
    let role = match asked.requirements.multinode {
        Some(true) => match cluster::role(step, row).await {
            Some(Role::Wait) | None => return false,
            Some(role) => Some(role),
        },
        _ => None,
    };
    let interrupted = row.pending_offer.as_deref().and_then(|o| serde_json::from_str(o).ok());
    let limit = step.state.settings.fleets.max_offers_tried;
    let found = offers_to_try(step.state, &project, &asked, interrupted, limit).await;
    let offers = match found.map(|mut offers| {
        if let Some(role) = &role {
            cluster::follow(&mut offers, role);
        }
        offers
    }) {
        Ok(offers) => offers,
        Err(err) => {
            tracing::warn!(instance = %row.name, "cannot list offers, trying later: {err}");
            return false;
        }
    };
    if offers.is_empty() {
        let transition = Transition::to_terminated(Reason::NoOffers, Some(NO_OFFERS_FOUND.into()));
        step.transition(row, update, transition);
        return true;
    }
    for offer in offers {
        let (backend, region, name) =
            (offer.offer.backend, offer.offer.region.clone(), offer.offer.instance.name.clone());
        let mut configuration = asked.configuration.clone();
        match &role {
            Some(Role::Master) => match cluster::group_for(step, row, &project, &offer).await {
                Ok(group) => configuration.placement_group = group,
                Err(err) => {
                    tracing::info!(instance = %row.name, "no placement group on {backend} {region}, next offer: {err}");
                    continue;
                }
            },
            Some(Role::Member { group, .. }) => configuration.placement_group = group.clone(),
            _ => {}
        }
        update.pending_offer = serde_json::to_string(&offer).ok();
        if !step.save(row, update).await {
            return false;
        }
        let compute = match step.compute(&project, backend).await {
            Ok(compute) => compute,
            Err(err) => {
                tracing::warn!(instance = %row.name, "backend {backend} is not usable: {err}");
                continue;
            }
        };
        match compute.create_instance(&offer, &configuration).await {
            Ok(data) => {
                if matches!(role, Some(Role::Master)) {
                    cluster::release_unused(step, row, configuration.placement_group.as_deref())
                        .await;
                }
                update.pending_offer = None;
                update.backend = Some(backend.to_string());
                update.region = Some(region);
                update.offer = serde_json::to_string(&offer).ok();
                update.job_provisioning_data = serde_json::to_string(&data).ok();
                update.started_at = Some(crate::store::now_micros());
                let to = Transition::to(instance_status::PROVISIONING);
                step.transition(row, update, to);
                return true;
            }
            Err(err) => {
                tracing::info!(
                    instance = %row.name,
                    "{backend} {region} {name} refused the instance, trying the next offer: {err}"
                );
            }
        }
    }
    update.pending_offer = None;
    let transition = Transition::to_terminated(Reason::NoOffers, Some(ALL_OFFERS_FAILED.into()));
    step.transition(row, update, transition);
    true
}
