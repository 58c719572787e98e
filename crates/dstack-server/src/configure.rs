//! Configuring a project's backends: the one path for the API and for config.yml. A config
//! goes through its backend's `Configurator` (credential check, bounded by a timeout), and is
//! stored with every secret encrypted.

use dstack_core::backend::ValidationContext;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{BackendError, BackendRecord, ErrorKind, Secret};

use crate::api::error::ApiError;
use crate::state::AppState;
use crate::store::{BackendRow, BackendWrite, Project, StoreError};

/// Whether the call creates a backend (none of its type may exist) or updates one (it must).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Checks `config` with the cloud and stores it in `project`. The write is conditional on
/// what was read: a create loses to a concurrent create (`resource_exists`), an update to a
/// concurrent delete (`resource_not_exists`).
pub async fn configure(
    state: &AppState,
    project: &Project,
    config: &BackendConfigWithCreds,
    mode: Mode,
) -> Result<(), ApiError> {
    let backend_type = config.backend_type();
    let configurator = state.registry.get(backend_type)?.clone();
    let existing = state.store.backend(&project.id, backend_type.as_str()).await?;
    let existing_id = match (mode, existing) {
        (Mode::Create, Some(_)) => return Err(ApiError::resource_exists()),
        (Mode::Update, None) => return Err(ApiError::resource_not_exists()),
        (Mode::Create, None) => None,
        (Mode::Update, Some(row)) => Some(row.id),
    };
    let context = ValidationContext { default_creds_enabled: state.settings.default_creds_enabled };
    let timeout = state.settings.backend_check_timeout;
    let record = tokio::time::timeout(timeout, async {
        configurator.validate_config(config, &context).await?;
        configurator.create_backend(&project.name, config.clone()).await
    })
    .await
    .unwrap_or_else(|_| {
        Err(BackendError::new(
            ErrorKind::Transient,
            format!("the credential check did not finish within {}s", timeout.as_secs()),
        ))
    })?;
    let source_view = config.without_creds().to_string();
    let source = serde_json::to_string(config)
        .map_err(|e| ApiError::Internal(format!("cannot serialize a backend config: {e}")))?;
    let write =
        BackendWrite { record: &record, source_view: &source_view, source: &Secret::new(source) };
    let stored = match &existing_id {
        None => state.store.insert_backend(&project.id, backend_type.as_str(), &write).await,
        Some(id) => state.store.update_backend(id, &write).await,
    };
    match stored {
        Err(StoreError::Exists) => Err(ApiError::resource_exists()),
        Err(StoreError::Gone) => Err(ApiError::resource_not_exists()),
        other => Ok(other?),
    }
}

/// The config of a stored backend, with creds, as its configurator reads it back.
pub fn config_with_creds(
    state: &AppState,
    row: &BackendRow,
) -> Result<BackendConfigWithCreds, ApiError> {
    let backend_type: BackendType = row.backend_type.parse().map_err(|_| {
        ApiError::Internal(format!("unknown stored backend type {}", row.backend_type))
    })?;
    let configurator = state.registry.get(backend_type)?;
    let auth = row.auth.clone().map_err(|e| {
        ApiError::client(format!("Failed to decrypt creds for {} backend: {e}", row.backend_type))
    })?;
    let record = BackendRecord { config: row.config.clone(), auth };
    Ok(configurator.config_with_creds(&record)?)
}

/// The config the user gave for a stored backend (with creds), if it can be read: what
/// config.yml entries are compared with to skip unchanged ones.
pub fn source_config(row: &BackendRow) -> Option<BackendConfigWithCreds> {
    let source = row.source.as_ref()?.as_ref().ok()?;
    let value: serde_json::Value = serde_json::from_str(source.expose()).ok()?;
    dstack_core::config::load::from_json(&value).ok()
}
