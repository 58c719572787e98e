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

/// Where a config keeps its secrets: `creds` for every backend but Kubernetes, whose secret is
/// its `kubeconfig` (dstack stores it in plain text; here it is encrypted like the others).
fn secret_field(backend_type: Option<&str>) -> &'static str {
    match backend_type {
        Some("kubernetes") => "kubeconfig",
        _ => "creds",
    }
}

impl BackendRecord {
    /// The record of a config: the config without its secret field (see [`secret_field`]),
    /// and that field's JSON as the secret part.
    pub fn split(config: &BackendConfigWithCreds) -> Result<Self> {
        let value = serde_json::to_value(config).map_err(|e| unreadable("config", e))?;
        let field = secret_field(value.get("type").and_then(|t| t.as_str()));
        let secret = value
            .get(field)
            .cloned()
            .ok_or_else(|| unreadable("config", format!("it has no `{field}`")))?;
        Ok(BackendRecord {
            config: config.without_creds().to_string(),
            auth: Secret::new(secret.to_string()),
        })
    }

    /// Reads back a record made by [`BackendRecord::split`].
    pub fn join(&self) -> Result<BackendConfigWithCreds> {
        let mut config: serde_json::Value =
            serde_json::from_str(&self.config).map_err(|e| unreadable("config", e))?;
        let field = secret_field(config.get("type").and_then(|t| t.as_str()));
        config[field] =
            serde_json::from_str(self.auth.expose()).map_err(|e| unreadable(field, e))?;
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
