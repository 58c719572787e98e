//! `config.yml`: its models ([`ServerConfig`] and everything under it) and the loader that
//! turns its text into a checked, resolved config or a list of located errors ([`load`]).

pub mod backends;
pub mod encryption;
pub mod files;
pub mod load;
pub mod permissions;
pub mod schema;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use backends::{BackendConfigWithCreds, BackendFileConfig, BackendType};
pub use encryption::{EncryptionConfig, EncryptionKeyConfig};
pub use load::{ConfigReport, LoadedConfig, LoadedProject, load_file, load_str};
pub use permissions::DefaultPermissions;

/// The dstack server's `config.yml` (`$DSTACK_SERVER_DIR/config.yml`, by default
/// `~/.dstack/server/config.yml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "dstack server config.yml")]
pub struct ServerConfig {
    /// Projects to create or update at start-up. For each project listed, its backends are
    /// made to match this list: missing ones are created, changed ones updated, unlisted ones
    /// deleted. Projects not listed are left alone.
    pub projects: Vec<ProjectConfig>,
    /// Encryption of secrets stored in the database.
    pub encryption: Option<EncryptionConfig>,
    /// Server-wide default permissions.
    pub default_permissions: Option<DefaultPermissions>,
    /// Server plugins to enable, by name.
    pub plugins: Option<Vec<String>>,
}

/// A project and its backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The project name: 1 to 50 letters, digits, `-` or `_`.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9-_]{1,50}$"))]
    pub name: String,
    /// The project's backends, each chosen by `type`.
    pub backends: Option<Vec<BackendFileConfig>>,
}

/// Whether `name` is a valid project name (`^[a-zA-Z0-9-_]{1,50}$`).
pub fn is_valid_project_name(name: &str) -> bool {
    (1..=50).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
