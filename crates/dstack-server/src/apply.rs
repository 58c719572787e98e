//! Applying config.yml (spec: backends.md §1.1–§1.3): create the projects it lists, and make
//! each listed project's backends match its list — create, update, skip unchanged, delete.
//!
//! Beyond dstack: backends are checked in parallel, each within the configured timeout, so
//! unreachable clouds cost seconds, not minutes; a failing backend is logged and skipped.

use std::collections::BTreeSet;

use dstack_core::config::{BackendType, LoadedConfig};
use tokio::task::JoinSet;

use crate::configure::{self, Mode};
use crate::services;
use crate::state::AppState;
use crate::store::User;

/// What applying did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub created: Vec<(String, BackendType)>,
    pub updated: Vec<(String, BackendType)>,
    pub unchanged: Vec<(String, BackendType)>,
    pub deleted: Vec<(String, BackendType)>,
    /// Backends skipped, with the reason (not compiled in, or its check failed).
    pub failed: Vec<(String, BackendType, String)>,
}

/// Applies a loaded config. Errors here are per backend and logged; only database failures
/// stop it.
pub async fn apply(
    state: &AppState,
    admin: &User,
    config: &LoadedConfig,
) -> crate::error::Result<Applied> {
    if let Some(permissions) = &config.default_permissions {
        *state.permissions.write().unwrap_or_else(|e| e.into_inner()) = permissions.clone();
    }
    let mut applied = Applied::default();
    let mut checks = JoinSet::new();
    let mut to_delete = Vec::new();
    for listed in &config.projects {
        let project = services::ensure_project(&state.store, admin, &listed.name).await?;
        let mut unlisted: BTreeSet<BackendType> =
            state.registry.available_types().into_iter().collect();
        for backend in listed.backends.iter().flatten() {
            let backend_type = backend.config.backend_type();
            unlisted.remove(&backend_type);
            if let Err(err) = state.registry.get(backend_type) {
                tracing::warn!(
                    "Backend {backend_type} not available and won't be configured: {}",
                    err.message()
                );
                applied.failed.push((listed.name.clone(), backend_type, err.message().to_owned()));
                continue;
            }
            let current = state.store.backend(&project.id, backend_type.as_str()).await?;
            let mode = match &current {
                None => Mode::Create,
                Some(row) if configure::source_config(row).as_ref() == Some(&backend.config) => {
                    applied.unchanged.push((listed.name.clone(), backend_type));
                    continue;
                }
                Some(_) => Mode::Update,
            };
            let (state, project, config) = (state.clone(), project.clone(), backend.config.clone());
            checks.spawn(async move {
                let result = configure::configure(&state, &project, &config, mode).await;
                (project.name, config.backend_type(), mode, result)
            });
        }
        for backend_type in unlisted {
            to_delete.push((project.clone(), backend_type));
        }
    }
    while let Some(joined) = checks.join_next().await {
        let Ok((project, backend_type, mode, result)) = joined else { continue };
        match result {
            Ok(()) => {
                tracing::info!("{} backend {backend_type} in project {project}", verb(mode));
                match mode {
                    Mode::Create => applied.created.push((project, backend_type)),
                    Mode::Update => applied.updated.push((project, backend_type)),
                }
            }
            Err(err) => {
                let action = if mode == Mode::Create { "create" } else { "update" };
                tracing::warn!(
                    "Failed to {action} backend {backend_type} in project {project}: {err}"
                );
                applied.failed.push((project, backend_type, err.to_string()));
            }
        }
    }
    for (project, backend_type) in to_delete {
        if configure::delete(state, &project, &[backend_type.as_str()]).await? > 0 {
            tracing::info!(
                "Deleted backend {backend_type} from project {} (not in config.yml)",
                project.name
            );
            applied.deleted.push((project.name.clone(), backend_type));
        }
    }
    for list in [&mut applied.created, &mut applied.updated, &mut applied.deleted] {
        list.sort();
    }
    applied.failed.sort();
    Ok(applied)
}

fn verb(mode: Mode) -> &'static str {
    match mode {
        Mode::Create => "Created",
        Mode::Update => "Updated",
    }
}

/// The config.yml dstack writes when there is none: the `main` project with its current
/// backends (with credentials, as dstack writes them) and an empty key list.
pub async fn default_config(state: &AppState, project_name: &str) -> crate::error::Result<String> {
    let mut backends = Vec::new();
    if let Some(project) = state.store.project_by_name(project_name).await? {
        for row in state.store.backends(&project.id).await? {
            if let Ok(config) = configure::config_with_creds(state, &row) {
                backends.push(serde_json::to_value(&config).unwrap_or_default());
            }
        }
    }
    let document = serde_json::json!({
        "projects": [{"name": project_name, "backends": backends}],
        "encryption": {"keys": []},
    });
    Ok(crate::yaml_out::dump(&document))
}
