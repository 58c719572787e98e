//! What one instance's processing works with: the server's state, the lock it holds, and
//! the writes and log lines every step makes alike.

use std::sync::Arc;

use dstack_core::Compute;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;

use super::lifecycle::{Transition, fleet_name};
use crate::state::AppState;
use crate::store::{EventTarget, InstanceRow, InstanceUpdate, NewEvent, Project};

/// One instance's processing by the server `owner` (the id its locks carry).
#[derive(Debug)]
pub struct Step<'a> {
    pub state: &'a AppState,
    pub owner: &'a str,
}

impl Step<'_> {
    /// Applies `transition` and logs it at info, as dstack records the event.
    pub fn transition(
        &self,
        row: &InstanceRow,
        update: &mut InstanceUpdate,
        transition: Transition,
    ) {
        let said = transition.apply(row, update);
        tracing::info!(fleet = fleet_name(row), instance = %row.name, "{said}");
        if self.state.settings.events_ttl.is_some() {
            let target = EventTarget::instance(&row.project_id, &row.fleet_id, &row.id, &row.name);
            update.events.push(NewEvent::new(&said, None, vec![target]));
        }
    }

    /// Writes progress while keeping the lock; false (logged) when the lock was lost.
    pub async fn save(&self, row: &InstanceRow, update: &InstanceUpdate) -> bool {
        match self.state.store.save_instance(&row.id, self.owner, update).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(instance = %row.name, "the instance's lock was lost; another server has it");
                false
            }
            Err(err) => {
                tracing::warn!(instance = %row.name, "cannot save the instance: {err}");
                false
            }
        }
    }

    /// The instance's project; `None` (logged) when it is gone or unreadable.
    pub async fn project(&self, row: &InstanceRow) -> Option<Project> {
        match self.state.store.project_by_id(&row.project_id).await {
            Ok(Some(project)) => Some(project),
            Ok(None) => {
                tracing::warn!(instance = %row.name, "the instance's project is deleted");
                None
            }
            Err(err) => {
                tracing::warn!(instance = %row.name, "cannot read the instance's project: {err}");
                None
            }
        }
    }

    pub async fn compute(
        &self,
        project: &Project,
        backend: BackendType,
    ) -> crate::error::Result<Arc<dyn Compute>> {
        crate::computes::project_compute(self.state, &project.id, backend).await
    }

    /// The project's SSH key pair: what instances accept and backends log in with.
    pub fn keys(project: &Project) -> SshKeyPair {
        SshKeyPair {
            public: project.ssh_public_key.clone(),
            private: project.ssh_private_key.clone(),
        }
    }
}
