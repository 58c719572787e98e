//! What every request handler shares.

use std::sync::{Arc, RwLock};

use dstack_core::Registry;
use dstack_core::config::DefaultPermissions;

use crate::settings::Settings;
use crate::store::Store;

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    /// From config.yml's `default_permissions`; replaced when the config is re-applied.
    pub permissions: Arc<RwLock<DefaultPermissions>>,
    /// Backends built from their records, reused across requests.
    pub computes: crate::computes::Computes,
    /// Wakes the background worker after a change it should act on.
    pub background: crate::fleets::Hint,
}

impl AppState {
    pub fn permissions(&self) -> DefaultPermissions {
        self.permissions.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
