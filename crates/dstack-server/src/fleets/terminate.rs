//! A terminating instance: the backend terminates it (idempotent), "not yet terminated" and
//! other failures are retried every 30 s for up to 15 min, as dstack does; then the instance
//! is terminated and leaves its fleet.

use std::time::Duration;

use dstack_core::ErrorKind;
use dstack_core::offers::ProvisioningData;

use super::Step;
use super::lifecycle::Transition;
use crate::store::{InstanceRow, InstanceUpdate, now_micros};

const RETRY_INTERVAL: Duration = Duration::from_secs(30);
const RETRY_FOR: Duration = Duration::from_secs(15 * 60);

pub async fn terminate(step: &Step<'_>, row: &InstanceRow, update: &mut InstanceUpdate) {
    let now = now_micros();
    let micros = |d: Duration| d.as_micros() as i64;
    if update.last_termination_retry_at.is_some_and(|last| now < last + micros(RETRY_INTERVAL)) {
        return;
    }
    let data = update
        .job_provisioning_data
        .as_deref()
        .and_then(|d| serde_json::from_str::<ProvisioningData>(d).ok());
    let Some(data) = data else {
        // Never created: nothing to terminate.
        step.transition(row, update, Transition::retired());
        return;
    };
    let Some(project) = step.project(row).await else {
        step.transition(row, update, Transition::retired());
        return;
    };
    let result = match step.compute(&project, data.backend).await {
        Ok(compute) => {
            compute.terminate_instance(&data.instance_id, &data.region, &data.backend_data).await
        }
        Err(err) => {
            tracing::error!(
                instance = %row.name,
                "backend {} is not available to terminate {}: {err}",
                data.backend,
                data.instance_id
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => step.transition(row, update, Transition::retired()),
        Err(err) => {
            let first = *update.first_termination_retry_at.get_or_insert(now);
            update.last_termination_retry_at = Some(now);
            if err.kind() == ErrorKind::NotYetTerminated {
                tracing::debug!(instance = %row.name, "not yet terminated: {err}");
            } else {
                tracing::warn!(instance = %row.name, "terminating failed, trying again: {err}");
            }
            if now + micros(RETRY_INTERVAL) >= first + micros(RETRY_FOR) {
                tracing::error!(
                    "Failed all attempts to terminate instance {}. Please terminate the \
                     instance manually to avoid unexpected charges.",
                    row.name
                );
                step.transition(row, update, Transition::retired());
            }
        }
    }
}
