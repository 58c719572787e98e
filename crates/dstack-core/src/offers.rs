//! Offers and instances: what a backend can provision, what a job requires, and what a
//! provisioned instance looks like. Shapes follow dstack's models (`core/models/instances.py`,
//! `core/models/resources.py`) so they serialize the way its API does.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::BackendType;
pub use crate::resources::{Range, Requirements};

/// GPU vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcceleratorVendor {
    Nvidia,
    Amd,
    Google,
    Intel,
    Tenstorrent,
}

/// One GPU of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Gpu {
    /// Model name as dstack writes it: `A100`, `H100`, `MI300X`.
    pub name: String,
    pub memory_mib: u64,
    pub vendor: AcceleratorVendor,
}

/// The root disk of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Disk {
    /// 0 when unknown.
    pub size_mib: u64,
}

/// CPU architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CpuArchitecture {
    X86,
    Arm,
}

/// The resources of an instance type, in dstack's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    pub cpus: u32,
    pub memory_mib: u64,
    pub gpus: Vec<Gpu>,
    pub spot: bool,
    pub disk: Disk,
    pub cpu_arch: Option<CpuArchitecture>,
    /// Always empty; kept because older clients send it back.
    #[serde(default)]
    pub description: String,
}

/// An instance type of a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceType {
    pub name: String,
    pub resources: Resources,
}

/// Whether an offer can be provisioned now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceAvailability {
    Unknown,
    Available,
    NotAvailable,
    NoQuota,
    NoBalance,
    Idle,
    Busy,
}

impl InstanceAvailability {
    /// dstack's `is_available`: offers that may be tried.
    pub fn is_available(self) -> bool {
        matches!(self, Self::Unknown | Self::Available | Self::Idle)
    }
}

/// What runs jobs on an instance: dstack's shim (VM backends) or its runner directly
/// (container backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceRuntime {
    Shim,
    Runner,
}

/// Something a backend can provision: an instance type in a region at a price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceOffer {
    pub backend: BackendType,
    pub instance: InstanceType,
    pub region: String,
    /// Price per hour in USD.
    pub price: f64,
    /// Provider-specific data (the catalog's `provider_data`).
    #[serde(default)]
    pub backend_data: serde_json::Map<String, serde_json::Value>,
}

/// An offer with what the backend knows of its availability (dstack's model and order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceOfferWithAvailability {
    #[serde(flatten)]
    pub offer: InstanceOffer,
    pub availability: InstanceAvailability,
    /// Availability zones where the type is offered, when the provider has zones.
    pub availability_zones: Option<Vec<String>>,
    pub instance_runtime: InstanceRuntime,
    pub blocks: u32,
    pub total_blocks: u32,
}

impl InstanceOffer {
    pub fn with_availability(
        self,
        availability: InstanceAvailability,
    ) -> InstanceOfferWithAvailability {
        InstanceOfferWithAvailability {
            offer: self,
            availability,
            availability_zones: None,
            instance_runtime: InstanceRuntime::Shim,
            blocks: 1,
            total_blocks: 1,
        }
    }
}

/// An SSH public key to install on an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SshKey {
    pub public: String,
}

/// What to create: an instance for a project, with its keys and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceConfiguration {
    pub project_name: String,
    /// Name for the instance; unique within the project.
    pub instance_name: String,
    /// dstack's internal ID of the instance, put in the tags.
    pub instance_id: String,
    pub ssh_keys: Vec<SshKey>,
    pub user: String,
    pub reservation: Option<String>,
    /// The name of the placement group to launch the instance into (the `name` of a
    /// [`crate::placement::PlacementGroup`] this backend created), or `None`.
    ///
    /// A field here, not a third argument of `create_instance` as in dstack: every backend's
    /// `create_instance` keeps its signature, and the backends that cannot place instances
    /// need not know of it (the registry refuses to create an instance in a placement group
    /// on a backend whose capabilities do not declare `placement_groups`). The name is all
    /// a provider needs (AWS's `Placement.GroupName`). dstack's `InstanceConfiguration` has no
    /// such field: it is left out of the JSON when `None`, so what is stored reads the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_group: Option<String>,
    /// Tags to put on every created resource, besides the backend's configured tags.
    pub tags: Option<indexmap::IndexMap<String, String>>,
}

/// A provisioned (or provisioning) instance: what dstack needs to reach and later terminate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProvisioningData {
    pub backend: BackendType,
    pub instance_type: InstanceType,
    /// The provider's ID of the instance.
    pub instance_id: String,
    /// Public hostname or IP, once known.
    pub hostname: Option<String>,
    pub internal_ip: Option<String>,
    pub region: String,
    pub availability_zone: Option<String>,
    pub price: f64,
    pub username: String,
    pub ssh_port: Option<u16>,
    /// Whether jobs run in containers on the instance (VM backends) or the instance is the
    /// container (container backends).
    pub dockerized: bool,
    /// Backend-specific data kept with the instance, for update and terminate.
    pub backend_data: BackendData,
    /// The jump host through which `hostname` is reached, when it is not reachable directly
    /// (Kubernetes' jump pod). dstack's `ssh_proxy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_proxy: Option<SshProxy>,
}

/// An SSH jump host (dstack's `SSHConnectionParams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SshProxy {
    pub hostname: String,
    pub username: String,
    pub port: u16,
}

/// What a backend keeps with an instance for later calls (a spot request ID, a volume):
/// stored as JSON text, as dstack stores it, and read and written through the backend's own
/// type with [`BackendData::of`] and [`BackendData::get`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct BackendData(Option<String>);

impl BackendData {
    /// No data.
    pub fn none() -> Self {
        Self(None)
    }

    /// The data of a backend's own type.
    pub fn of<T: Serialize>(value: &T) -> crate::error::Result<Self> {
        serde_json::to_string(value).map(|text| Self(Some(text))).map_err(|e| {
            crate::error::BackendError::new(
                crate::error::ErrorKind::Unexpected,
                format!("the instance's backend data cannot be written: {e}"),
            )
        })
    }

    /// Reads the data as the backend's type; `None` when there is none.
    pub fn get<T: serde::de::DeserializeOwned>(&self) -> crate::error::Result<Option<T>> {
        let Some(text) = &self.0 else { return Ok(None) };
        serde_json::from_str(text).map(Some).map_err(|e| {
            crate::error::BackendError::new(
                crate::error::ErrorKind::Unexpected,
                format!("the instance's backend data is unreadable: {e}"),
            )
        })
    }

    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }
}
