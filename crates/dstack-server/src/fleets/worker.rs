//! The background worker: claims due instances (row locks, see `store::instances`), runs
//! each one's step on its own task, at most [`WORKERS`] at a time, keeps its locks alive
//! while it works, and retires fleets whose instances are all gone. A hint (after an apply
//! or a delete) wakes it at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::Step;
use super::lifecycle::{Reason, Transition};
use crate::state::AppState;
use crate::store::{
    Claim, EventTarget, InstanceRow, InstanceUpdate, NewEvent, instance_status, now_micros,
};

/// Instances processed at once (dstack's instance pipeline has 20 workers).
const WORKERS: usize = 20;
/// How often the worker looks for due rows when nothing wakes it.
const TICK: Duration = Duration::from_millis(500);
/// How often placement groups no fleet needs are deleted (a cheap query when there are
/// none; dstack's pipeline looks every 15 s).
const PLACEMENT_GROUPS_INTERVAL: Duration = Duration::from_secs(2);
/// How often old events are dropped (dstack: every 7 minutes).
const EVENTS_CLEANUP_INTERVAL: Duration = Duration::from_secs(7 * 60);

/// Wakes the worker: cheap to clone, shared by the API handlers.
#[derive(Debug, Clone, Default)]
pub struct Hint(Arc<Notify>);

impl Hint {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Starts the worker (unless background processing is off) as server `owner`.
pub fn start(state: AppState) {
    if !state.settings.fleets.background {
        tracing::info!("Background processing is disabled: instances are not provisioned");
        return;
    }
    let owner = uuid::Uuid::new_v4().to_string();
    tokio::spawn(keep_locks(state.clone(), owner.clone()));
    tokio::spawn(run(state, owner));
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Extends this server's locks well before they expire.
async fn keep_locks(state: AppState, owner: String) {
    let timeout = state.settings.fleets.lock_timeout;
    loop {
        tokio::time::sleep(timeout / 3).await;
        if let Err(err) = state.store.extend_locks(&owner, micros(timeout)).await {
            tracing::warn!("cannot extend the instance locks: {err}");
        }
    }
}

async fn run(state: AppState, owner: String) {
    if state.store.db.kind == crate::db::DbKind::Sqlite {
        // One server per SQLite database: locks left are a stopped server's.
        if let Err(err) = state.store.release_all_locks().await {
            tracing::warn!("cannot release stale instance locks: {err}");
        }
    }
    let permits = Arc::new(Semaphore::new(WORKERS));
    let mut last_cleanup = std::time::Instant::now() - EVENTS_CLEANUP_INTERVAL;
    let mut last_groups = std::time::Instant::now();
    let settings = state.settings.fleets.clone();
    loop {
        let free = permits.available_permits();
        if free > 0 {
            let now = now_micros();
            let claim = Claim {
                owner: &owner,
                lock_micros: micros(settings.lock_timeout),
                due_before: now - micros(settings.interval),
                idle_due_before: now - 2 * micros(settings.interval),
                limit: free as i64,
            };
            match state.store.claim_instances(&claim).await {
                Ok(rows) => {
                    for row in rows {
                        let Ok(permit) = permits.clone().acquire_owned().await else { return };
                        let (state, owner) = (state.clone(), owner.clone());
                        tokio::spawn(async move {
                            process(&state, &owner, row).await;
                            drop(permit);
                        });
                    }
                }
                Err(err) => tracing::warn!("cannot claim instances: {err}"),
            }
        }
        retire_fleets(&state).await;
        if last_groups.elapsed() >= PLACEMENT_GROUPS_INTERVAL {
            last_groups = std::time::Instant::now();
            delete_placement_groups(&state).await;
        }
        if last_cleanup.elapsed() >= EVENTS_CLEANUP_INTERVAL {
            last_cleanup = std::time::Instant::now();
            forget_old_events(&state).await;
        }
        tokio::select! {
            _ = state.background.0.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Fleets being deleted whose last instance is gone: terminated, with their event.
async fn retire_fleets(state: &AppState) {
    let message = "Fleet status changed TERMINATING -> TERMINATED";
    let event = |project_id: &str, id: &str, name: &str| {
        let targets = vec![EventTarget::fleet(project_id, id, name)];
        state.settings.events_ttl.is_some().then(|| NewEvent::new(message, None, targets))
    };
    let retired = match state.store.retire_terminated_fleets(event).await {
        Ok(retired) => retired,
        Err(err) => return tracing::warn!("cannot retire fleets: {err}"),
    };
    for (_, id, name) in &retired {
        tracing::info!(fleet = %name, "{message}");
        if let Err(err) = state.store.release_placement_groups(id).await {
            tracing::warn!(fleet = %name, "cannot schedule its placement groups for deletion: {err}");
        }
    }
}

/// Deletes the placement groups no fleet needs any more; one still in use is tried again.
async fn delete_placement_groups(state: &AppState) {
    let groups = match state.store.placement_groups_to_delete().await {
        Ok(groups) => groups,
        Err(err) => return tracing::warn!("cannot list placement groups to delete: {err}"),
    };
    for group in groups {
        if super::cluster::delete(state, &group).await
            && let Err(err) = state.store.mark_placement_group_deleted(&group.id).await
        {
            tracing::warn!("cannot record placement group {} deleted: {err}", group.group.name);
        }
    }
}

/// Drops events older than `DSTACK_SERVER_EVENTS_TTL_SECONDS`.
async fn forget_old_events(state: &AppState) {
    let Some(ttl) = state.settings.events_ttl else { return };
    if let Err(err) = state.store.delete_events_before(now_micros() - micros(ttl)).await {
        tracing::warn!("cannot drop old events: {err}");
    }
}

/// One instance's step, by its status, then its row written and released.
async fn process(state: &AppState, owner: &str, row: InstanceRow) {
    let step = Step { state, owner };
    let mut update = InstanceUpdate::of(&row);
    if row.termination_requested {
        update.termination_seen = true;
        if row.status != instance_status::TERMINATING {
            let transition = Transition::to_terminating(Reason::TerminatedByUser, None);
            step.transition(&row, &mut update, transition);
        }
    }
    match update.status.as_str() {
        instance_status::PENDING => {
            super::provision::provision(&step, &row, &mut update).await;
        }
        instance_status::PROVISIONING | instance_status::IDLE => {
            super::check::check(&step, &row, &mut update).await;
        }
        instance_status::TERMINATING => super::terminate::terminate(&step, &row, &mut update).await,
        _ => {}
    }
    match state.store.release_instance(&row.id, owner, &update).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(instance = %row.name, "the instance's lock was lost before its result was written")
        }
        Err(err) => tracing::warn!(instance = %row.name, "cannot write the instance: {err}"),
    }
}
