//! Configuring a project's backends: the one path for the API and for config.yml. A config
//! goes through its backend's `Configurator` (credential check, bounded by the registry's
//! timeout), and is stored with every secret encrypted; built backends of a changed record are
//! dropped from the cache.

use dstack_core::backend::ValidationContext;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{BackendRecord, Secret};

use crate::error::{Result, ServerError};
use crate::state::AppState;
use crate::store::{BackendRow, BackendWrite, Project};

/// Whether the call creates a backend (none of its type may exist) or updates one (it must).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Checks `config` with the cloud (within the registry's check timeout) and stores it in
/// `project`. The write is conditional on what was read: a create loses to a concurrent create
/// (`resource_exists`), an update to a concurrent delete (`resource_not_exists`).
pub async fn configure(
    state: &AppState,
    project: &Project,
    config: &BackendConfigWithCreds,
    mode: Mode,
) -> Result<()> {
    let backend_type = config.backend_type();
    let configurator = state.registry.get(backend_type)?;
    let existing = state.store.backend(&project.id, backend_type.as_str()).await?;
    let existing_id = match (mode, existing) {
        (Mode::Create, Some(_)) => return Err(ServerError::Exists),
        (Mode::Update, None) => return Err(ServerError::NotExists),
        (Mode::Create, None) => None,
        (Mode::Update, Some(row)) => Some(row.id),
    };
    let context = ValidationContext { default_creds_enabled: state.settings.default_creds_enabled };
    configurator.validate_config(config, &context).await?;
    let record = configurator.create_backend(&project.name, config.clone()).await?;
    let source_view = config.without_creds().to_string();
    let source = serde_json::to_string(config)
        .map_err(|e| ServerError::Internal(format!("cannot serialize a backend config: {e}")))?;
    let write =
        BackendWrite { record: &record, source_view: &source_view, source: &Secret::new(source) };
    match &existing_id {
        None => state.store.insert_backend(&project.id, backend_type.as_str(), &write).await?,
        Some(id) => state.store.update_backend(id, &write).await?,
    }
    state.computes.forget(&project.id, &[backend_type]);
    Ok(())
}

/// Deletes the named backends of a project.
pub async fn delete(state: &AppState, project: &Project, backend_types: &[&str]) -> Result<u64> {
    let deleted = state.store.delete_backends(&project.id, backend_types).await?;
    let types: Vec<BackendType> = backend_types.iter().filter_map(|t| t.parse().ok()).collect();
    state.computes.forget(&project.id, &types);
    Ok(deleted)
}

/// The stored record of a backend row, if its secrets can be decrypted.
pub fn record(row: &BackendRow) -> Result<BackendRecord> {
    let auth = row.auth.clone().map_err(|e| {
        ServerError::Refused(format!(
            "Failed to decrypt creds for {} backend: {e}",
            row.backend_type
        ))
    })?;
    Ok(BackendRecord { config: row.config.clone(), auth })
}

/// The type of a stored backend row.
pub fn backend_type(row: &BackendRow) -> Result<BackendType> {
    row.backend_type.parse().map_err(|_| {
        ServerError::Internal(format!("unknown stored backend type {}", row.backend_type))
    })
}

/// The config of a stored backend, with creds, as its configurator reads it back.
pub fn config_with_creds(state: &AppState, row: &BackendRow) -> Result<BackendConfigWithCreds> {
    let configurator = state.registry.get(backend_type(row)?)?;
    Ok(configurator.config_with_creds(&record(row)?)?)
}

/// The config the user gave for a stored backend (with creds), if it can be read: what
/// config.yml entries are compared with to skip unchanged ones.
pub fn source_config(row: &BackendRow) -> Option<BackendConfigWithCreds> {
    let source = row.source.as_ref()?.as_ref().ok()?;
    let value: serde_json::Value = serde_json::from_str(source.expose()).ok()?;
    dstack_core::config::load::from_json(&value).ok()
}
