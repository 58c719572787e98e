//! Built backends, kept per (project, type) with the record they were built from:
//! a plan reuses them (and their SDK clients, credentials caches and connection pools)
//! instead of rebuilding every backend for every request. A changed or deleted record is
//! never served from the cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dstack_core::config::BackendType;
use dstack_core::{BackendRecord, Compute, Registry};

type Key = (String, BackendType);

/// Per key: the record a compute was built from (its secrets stay `Secret`s), and the compute.
type Built = HashMap<Key, (BackendRecord, Arc<dyn Compute>)>;

/// The cache; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Computes {
    built: Arc<RwLock<Built>>,
}

impl Computes {
    /// The compute of the project's backend built from `record`, built now if the cache has
    /// none for this record.
    pub async fn get(
        &self,
        registry: &Registry,
        project_id: &str,
        backend_type: BackendType,
        record: &BackendRecord,
    ) -> dstack_core::error::Result<Arc<dyn Compute>> {
        let key = (project_id.to_owned(), backend_type);
        if let Some((built_from, compute)) = self.read().get(&key)
            && built_from == record
        {
            return Ok(compute.clone());
        }
        let compute = registry.get(backend_type)?.compute(record).await?;
        self.write().insert(key, (record.clone(), compute.clone()));
        Ok(compute)
    }

    /// Drops what was built for the project's backends of `backend_types`: called when their
    /// records are written or deleted.
    pub fn forget(&self, project_id: &str, backend_types: &[BackendType]) {
        self.write().retain(|(project, t), _| project != project_id || !backend_types.contains(t));
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Built> {
        self.built.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Built> {
        self.built.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The compute of the project's configured backend of `backend_type`, built from its stored
/// record (or reused): what provisioning and termination call.
pub async fn project_compute(
    state: &crate::state::AppState,
    project_id: &str,
    backend_type: BackendType,
) -> crate::error::Result<Arc<dyn Compute>> {
    let Some(row) = state.store.backend(project_id, backend_type.as_str()).await? else {
        return Err(crate::error::ServerError::Refused(format!(
            "Backend {backend_type} is not configured in the project"
        )));
    };
    let record = crate::configure::record(&row)?;
    Ok(state.computes.get(&state.registry, project_id, backend_type, &record).await?)
}
