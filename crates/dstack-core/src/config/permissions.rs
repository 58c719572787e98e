//! The `default_permissions` section.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Server-wide permissions of users who are not global admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultPermissions {
    /// Whether regular users may create projects (and manage the ones they create).
    #[serde(default = "yes")]
    pub allow_non_admins_create_projects: bool,
    /// Whether project members with the `user` role may add and delete SSH fleets.
    #[serde(default = "yes")]
    pub allow_non_admins_manage_ssh_fleets: bool,
    /// Whether project managers may manage project secrets.
    #[serde(default)]
    pub allow_managers_manage_secrets: bool,
}

fn yes() -> bool {
    true
}

impl Default for DefaultPermissions {
    fn default() -> Self {
        Self {
            allow_non_admins_create_projects: true,
            allow_non_admins_manage_ssh_fleets: true,
            allow_managers_manage_secrets: false,
        }
    }
}
