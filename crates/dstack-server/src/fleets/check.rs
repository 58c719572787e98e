//! A provisioning or idle instance: the backend's provisioning data until the hostname is
//! known, then dstack-shim's healthcheck through SSH with the project key — reachable means
//! idle; not reachable within the backend's provisioning timeout means terminate.

use std::time::Duration;

use dstack_core::ErrorKind;
use dstack_core::offers::ProvisioningData;
use dstack_ssh::{HostKeyPolicy, Target};

use super::Step;
use super::lifecycle::{Reason, Transition};
use crate::store::{InstanceRow, InstanceUpdate, instance_status, now_micros};

/// How long an idle instance may stay unreachable before it is terminated (dstack's 20 min).
const UNREACHABLE_DEADLINE: Duration = Duration::from_secs(20 * 60);

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// dstack's idle timeout: an idle instance of a fleet that has more than `nodes.min` alive,
/// idle (no jobs yet: since it was created) longer than its `idle_duration`, is terminated.
/// True when it was.
async fn idle_timeout(step: &Step<'_>, row: &InstanceRow, update: &mut InstanceUpdate) -> bool {
    if row.status != instance_status::IDLE || row.termination_policy != "destroy-after-idle" {
        return false;
    }
    let idle = (now_micros() - row.created_at) / 1_000_000;
    if idle <= row.termination_idle_time {
        return false;
    }
    let store = &step.state.store;
    let Ok(Some(fleet)) = store.fleet_by_id(&row.project_id, &row.fleet_id).await else {
        return false;
    };
    let spec = serde_json::from_str(&fleet.spec).ok();
    let min = spec.and_then(|s| dstack_core::fleets::FleetSpec::from_json(&s).ok());
    let min = min.and_then(|s| s.nodes()).map_or(0, |n| i64::from(n.min));
    let Ok(siblings) = store.fleet_instances(&row.fleet_id).await else { return false };
    let alive = siblings
        .iter()
        .filter(|i| {
            i.status != instance_status::TERMINATING && i.status != instance_status::TERMINATED
        })
        .count();
    if i64::try_from(alive).unwrap_or(i64::MAX) <= min {
        return false;
    }
    // dstack prints `timedelta.seconds`: the seconds within the last day.
    let message = format!("Instance idle for {}s", idle % 86_400);
    step.transition(row, update, Transition::to_terminating(Reason::IdleTimeout, Some(message)));
    true
}

pub async fn check(step: &Step<'_>, row: &InstanceRow, update: &mut InstanceUpdate) {
    if idle_timeout(step, row, update).await {
        return;
    }
    let parsed = row.job_provisioning_data.as_deref().map(serde_json::from_str::<ProvisioningData>);
    let mut data = match parsed {
        Some(Ok(data)) => data,
        _ => {
            let message = "The instance's provisioning data cannot be read".to_owned();
            step.transition(row, update, Transition::to_terminating(Reason::Error, Some(message)));
            return;
        }
    };
    let now = now_micros();
    let settings = &step.state.settings.fleets;
    let timeout = settings.provisioning_timeout(data.backend, &data.instance_type.name);
    let overdue = now > row.started_at.unwrap_or(row.created_at) + micros(timeout);
    let provisioning = row.status == instance_status::PROVISIONING;
    let Some(project) = step.project(row).await else { return };
    if data.hostname.is_none() {
        if overdue {
            let message = "Backend did not complete provisioning in time".to_owned();
            let transition = Transition::to_terminating(Reason::ProvisioningTimeout, Some(message));
            step.transition(row, update, transition);
            return;
        }
        let compute = match step.compute(&project, data.backend).await {
            Ok(compute) => compute,
            Err(err) => {
                tracing::warn!(instance = %row.name, "backend {} is not usable: {err}", data.backend);
                let message = "Backend not available".to_owned();
                step.transition(
                    row,
                    update,
                    Transition::to_terminating(Reason::Error, Some(message)),
                );
                return;
            }
        };
        match compute.update_provisioning_data(&mut data, &Step::keys(&project)).await {
            Ok(()) => update.job_provisioning_data = serde_json::to_string(&data).ok(),
            Err(err) if err.kind() == ErrorKind::ProvisioningFailed => {
                tracing::warn!(instance = %row.name, "{err}");
                let message = "Error while waiting for instance to become running".to_owned();
                step.transition(
                    row,
                    update,
                    Transition::to_terminating(Reason::Error, Some(message)),
                );
                return;
            }
            Err(err) => {
                tracing::info!(instance = %row.name, "provisioning data not updated, trying again: {err}");
                return;
            }
        }
    }
    let Some(hostname) = data.hostname.clone() else { return };
    if !data.dockerized {
        // A container backend runs the job itself: no shim to check.
        step.transition(row, update, Transition::to(instance_status::BUSY));
        return;
    }
    let target = Target::new(hostname, data.ssh_port.unwrap_or(22), data.username.clone());
    let health = dstack_ssh::shim_healthcheck(
        &target,
        &project.ssh_private_key,
        HostKeyPolicy::AcceptFirst,
        &settings.ssh,
    )
    .await;
    match health {
        Ok(health) => {
            update.termination_deadline = None;
            if provisioning {
                tracing::debug!(instance = %row.name, "dstack-shim {} answers", health.version);
                step.transition(row, update, Transition::to(instance_status::IDLE));
            }
        }
        Err(why) if provisioning => {
            tracing::debug!(instance = %row.name, "dstack-shim not reachable yet: {why}");
            if overdue {
                let message = "Instance did not become reachable in time".to_owned();
                let transition =
                    Transition::to_terminating(Reason::ProvisioningTimeout, Some(message));
                step.transition(row, update, transition);
            }
        }
        Err(why) => {
            tracing::info!(instance = %row.name, "instance not reachable: {why}");
            let deadline =
                *update.termination_deadline.get_or_insert(now + micros(UNREACHABLE_DEADLINE));
            if now > deadline {
                step.transition(row, update, Transition::to_terminating(Reason::Unreachable, None));
            }
        }
    }
}
