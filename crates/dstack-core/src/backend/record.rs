//! The stored form of a backend.

use std::fmt;

use crate::config::BackendConfigWithCreds;
use crate::error::{BackendError, ErrorKind, Result};
use crate::secret::Secret;

/// A backend as the server stores it: non-secret config JSON, and secret auth JSON that the
/// server encrypts before it reaches the database.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendRecord {
    pub config: String,
    pub auth: Secret,
}

impl BackendRecord {
    /// The record of a config whose secrets are all under `creds` (every backend so far):
    /// the config without credentials, and the credentials' JSON as the secret part.
    pub fn split(config: &BackendConfigWithCreds) -> Result<Self> {
        let creds = serde_json::to_value(config)
            .ok()
            .and_then(|v| v.get("creds").cloned())
            .ok_or_else(|| unreadable("config", "it has no `creds`"))?;
        Ok(BackendRecord {
            config: config.without_creds().to_string(),
            auth: Secret::new(creds.to_string()),
        })
    }

    /// Reads back a record made by [`BackendRecord::split`].
    pub fn join(&self) -> Result<BackendConfigWithCreds> {
        let mut config: serde_json::Value =
            serde_json::from_str(&self.config).map_err(|e| unreadable("config", e))?;
        config["creds"] =
            serde_json::from_str(self.auth.expose()).map_err(|e| unreadable("creds", e))?;
        crate::config::load::from_json(&config).map_err(|errors| {
            unreadable(
                "config",
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            )
        })
    }
}

fn unreadable(what: &str, err: impl fmt::Display) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, format!("stored backend {what} is unreadable: {err}"))
}
