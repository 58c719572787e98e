//! The backends a binary links, by type.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::instrument::Instrumented;
use super::{BackendDefinition, Capabilities, Configurator, Defined, Timeouts};
use crate::config::BackendType;
use crate::error::{BackendError, Result};

/// Maps backend types to their configurators: the server fills it with one `register` call
/// per backend crate compiled in. What it hands out is instrumented ([`super::instrument`]).
#[derive(Debug, Default, Clone)]
pub struct Registry {
    configurators: BTreeMap<BackendType, Arc<dyn Configurator>>,
    timeouts: Timeouts,
    /// The backend features the embedding binary declares, compiled in or not; `None` when
    /// unknown. Lets "not available" tell "rebuild with this feature" from "not supported".
    declared_features: Option<Vec<&'static str>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The limits every backend call runs within.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Declares which backend features the binary has (compiled in or not).
    pub fn declare_features(&mut self, features: &[&'static str]) {
        self.declared_features = Some(features.to_vec());
    }

    /// Registers a backend crate's definition for its type.
    pub fn register<D: BackendDefinition>(&mut self, definition: D) {
        self.register_configurator(Arc::new(Defined(definition)));
    }

    /// Registers a configurator written by hand (the test fakes).
    pub fn register_configurator(&mut self, configurator: Arc<dyn Configurator>) {
        self.configurators.insert(configurator.backend_type(), configurator);
    }

    /// The configurator of `backend_type`, instrumented, or a "not available" error naming
    /// the Cargo feature to enable.
    pub fn get(&self, backend_type: BackendType) -> Result<Arc<dyn Configurator>> {
        let configurator = self.configurators.get(&backend_type).ok_or_else(|| {
            let declared = match (&self.declared_features, backend_type.cargo_feature()) {
                (Some(features), Some(feature)) => features.contains(&feature),
                _ => true,
            };
            if declared {
                BackendError::not_available(backend_type)
            } else {
                BackendError::not_supported_yet(backend_type)
            }
        })?;
        Ok(Arc::new(Instrumented::new(configurator.clone(), self.timeouts)))
    }

    /// The types that can be configured, in the order of dstack's `list_types` answer
    /// ([`BackendType::LIST_ORDER`]: name order, except that `slurm` precedes `seeweb`).
    pub fn available_types(&self) -> Vec<BackendType> {
        let mut types: Vec<BackendType> = self.configurators.keys().copied().collect();
        types.sort_by_key(|t| (t.list_position(), *t));
        types
    }

    /// What each configurable type can do, as its definition declares it.
    pub fn capabilities(&self) -> Vec<(BackendType, Capabilities)> {
        self.configurators.iter().map(|(t, c)| (*t, c.capabilities())).collect()
    }
}
