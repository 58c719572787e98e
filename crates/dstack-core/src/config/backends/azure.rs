//! `type: azure` — Microsoft Azure.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Tags;
use crate::secret::Secret;

/// The Azure backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureBackendConfig {
    /// The Azure tenant ID.
    pub tenant_id: String,
    /// The Azure subscription ID.
    pub subscription_id: String,
    /// Resource group for the resources dstack creates. Omit to let dstack create
    /// `dstack-<project>`; if set, it must exist.
    pub resource_group: Option<String>,
    /// Azure locations to use. Omit to use all locations dstack supports.
    pub regions: Option<Vec<String>>,
    /// Existing network per location, as `networkResourceGroup/networkName`. Omit to let dstack
    /// create a network in each location.
    pub vpc_ids: Option<IndexMap<String, String>>,
    /// Existing subnet per location, as `networkResourceGroup/networkName/subnetName`.
    /// A location may appear in `vpc_ids` or `subnet_ids`, not both.
    pub subnet_ids: Option<IndexMap<String, String>>,
    /// Whether VMs get public IPs. Defaults to `true`; `false` requires `vpc_ids` or
    /// `subnet_ids` with outbound internet access.
    pub public_ips: Option<bool>,
    /// User-assigned managed identity for the VMs, as
    /// `managedIdentityResourceGroup/managedIdentityName`.
    pub vm_managed_identity: Option<String>,
    /// Tags added to every resource dstack creates. At most 25.
    pub tags: Option<Tags>,
    /// The credentials.
    pub creds: AzureCreds,
}

crate::tagged_union! {
    /// Azure credentials, chosen by `type`.
    pub enum AzureCreds as "credentials type" {
        /// A service principal's client ID and secret.
        Client(AzureClientCreds) = "client",
        /// Azure's default credential chain on the server host (environment, workload or
        /// managed identity, Azure CLI). Refused when `DSTACK_DEFAULT_CREDS_DISABLED` is set.
        Default = "default",
    }
}

/// A service principal's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureClientCreds {
    /// The application (client) ID.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The tenant of the service principal. Defaults to the backend's `tenant_id`.
    pub tenant_id: Option<String>,
}

impl super::ConfigRules for AzureBackendConfig {
    fn problems(&self) -> Vec<super::FieldNote> {
        super::common::tag_count_problems(self.tags.as_ref())
    }
}
