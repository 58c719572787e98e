//! Starting and running the server, in dstack's order: read config.yml (a refused config
//! stops start-up with the `config check` report), open the database, make sure the admin
//! user and the `main` project exist, apply config.yml or write the default one, then serve.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use dstack_core::Registry;
use dstack_core::config::{ConfigReport, LoadedConfig, load_file};

use crate::api;
use crate::apply;
use crate::db::{Db, DbError};
use crate::encryption::Keys;
use crate::services::{self, DEFAULT_PROJECT};
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::{Store, User};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(ConfigReport),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

impl From<crate::error::ServerError> for StartError {
    fn from(err: crate::error::ServerError) -> Self {
        StartError::Setup(err.to_string())
    }
}

/// A started server: its state, its admin, and the socket it listens on.
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    pub admin: User,
    pub listener: tokio::net::TcpListener,
    pub local_addr: SocketAddr,
}

/// Reads config.yml unless it is disabled or missing; `Ok(None)` when there is none to read.
pub fn read_config(settings: &Settings) -> Result<Option<LoadedConfig>, StartError> {
    let path = settings.config_path();
    if settings.config_disabled || !path.exists() {
        return Ok(None);
    }
    let config = load_file(&path).map_err(StartError::Config)?;
    for warning in &config.warnings {
        tracing::warn!("{}: {warning}", path.display());
    }
    Ok(Some(config))
}

/// The encryption keys of a config: its `encryption.keys`, or the identity key alone.
fn keys_of(config: Option<&LoadedConfig>) -> Keys {
    config
        .and_then(|c| c.encryption.as_ref())
        .map(|e| Keys::from_config(&e.keys))
        .unwrap_or_default()
}

/// Prepares everything and binds the socket; [`serve`] then answers requests.
pub async fn start(settings: Settings, mut registry: Registry) -> Result<Started, StartError> {
    registry.set_timeouts(crate::registry::timeouts(&settings));
    let config = read_config(&settings)?;
    let keys = keys_of(config.as_ref());
    let db = Db::open_with(&settings.database_url, settings.db_command_timeout).await?;
    let store = Store::new(db.clone(), Keys::default());
    store.check_keys(&keys).await.map_err(|err| StartError::Setup(err.to_string()))?;
    store.set_keys(keys);
    let state = AppState {
        store: store.clone(),
        registry: Arc::new(registry),
        settings: Arc::new(settings.clone()),
        permissions: Arc::new(RwLock::new(Default::default())),
        computes: Default::default(),
        background: Default::default(),
    };
    let token = settings.admin_token.clone();
    let admin = db
        .with_startup_lock(async || -> Result<User, StartError> {
            let admin = services::ensure_admin(&store, token.as_deref()).await?;
            services::ensure_project(&store, &admin, DEFAULT_PROJECT).await?;
            Ok(admin)
        })
        .await?;
    match &config {
        Some(config) => {
            apply::apply(&state, &admin, config).await?;
        }
        None if !settings.config_disabled => write_default_config(&state).await?,
        None => {}
    }
    let addr = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Listen { addr: addr.clone(), source })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
    Ok(Started { state, admin, listener, local_addr })
}

async fn write_default_config(state: &AppState) -> Result<(), StartError> {
    let path = state.settings.config_path();
    let text = apply::default_config(state, DEFAULT_PROJECT).await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::Setup(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, text)
        .map_err(|e| StartError::Setup(format!("cannot write {}: {e}", path.display())))?;
    tracing::info!("Wrote the default config to {}", path.display());
    Ok(())
}

/// Answers requests until `shutdown` completes; `kill -HUP` re-applies config.yml.
pub async fn serve(
    started: Started,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Started { state, admin, listener, .. } = started;
    tokio::spawn(reload_on_hangup(state.clone(), admin));
    crate::fleets::worker::start(state.clone());
    let limits = state.settings.http.clone();
    crate::ui::log_status(&state.settings.ui_dir);
    crate::http::serve(listener, api::router(state), &limits, shutdown).await
}

/// Re-reads and re-applies config.yml on SIGHUP. A refused file is reported and the running
/// state kept.
async fn reload_on_hangup(state: AppState, admin: User) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            reload(&state, &admin).await;
        }
    }
    #[cfg(not(unix))]
    let _ = (state, admin);
}

/// Re-applies config.yml now.
pub async fn reload(state: &AppState, admin: &User) {
    tracing::info!("Re-reading {}", state.settings.config_path().display());
    match read_config(&state.settings) {
        Ok(Some(config)) => {
            // New keys take over only if they decrypt everything stored; otherwise every
            // request would fail until the file is fixed.
            let keys = keys_of(Some(&config));
            if let Err(err) = state.store.check_keys(&keys).await {
                tracing::error!(
                    "config.yml refused, keeping the running keys and state: its encryption \
                     keys cannot decrypt what is stored: {err}"
                );
                return;
            }
            state.store.set_keys(keys);
            match apply::apply(state, admin, &config).await {
                Ok(applied) => tracing::info!("config.yml applied: {applied:?}"),
                Err(err) => tracing::error!("Failed to apply config.yml: {err}"),
            }
        }
        Ok(None) => tracing::warn!("config.yml is missing or disabled; nothing to apply"),
        Err(err) => tracing::error!("config.yml refused, keeping the running state:\n{err}"),
    }
}
