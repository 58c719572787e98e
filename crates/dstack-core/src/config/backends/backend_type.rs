//! [`BackendType`]: every backend type dstack 0.22.5 knows, its names, its status, and the
//! order dstack lists the configurable ones in.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every backend type dstack knows, including the ones that can no longer be configured.
/// Variants are in name order, which is the order of `Ord` (maps keyed by type iterate in it);
/// dstack's own orders are [`BackendType::DSTACK_ORDER`] and [`BackendType::LIST_ORDER`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendType {
    Amddevcloud,
    Aws,
    Azure,
    Cloudrift,
    Crusoe,
    Cudo,
    Datacrunch,
    Daytona,
    Digitalocean,
    Dstack,
    Gcp,
    Hotaisle,
    Jarvislabs,
    Kubernetes,
    Lambda,
    Lium,
    Nebius,
    Oci,
    Remote,
    Runpod,
    Seeweb,
    Slurm,
    Tensordock,
    Vastai,
    Verda,
    Vultr,
}

/// Where a backend type stands in dstack 0.22.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendStatus {
    Active,
    /// Still works, but a newer name or backend replaces it (`datacrunch` → `verda`).
    Deprecated {
        replacement: &'static str,
    },
    /// Parses for compatibility; cannot be configured.
    Removed,
    /// Not configurable by users (`dstack` for dstack Sky, `remote` for SSH fleets).
    Internal,
}

impl BackendType {
    /// Every type, in name order.
    pub const ALL: [BackendType; 26] = [
        BackendType::Amddevcloud,
        BackendType::Aws,
        BackendType::Azure,
        BackendType::Cloudrift,
        BackendType::Crusoe,
        BackendType::Cudo,
        BackendType::Datacrunch,
        BackendType::Daytona,
        BackendType::Digitalocean,
        BackendType::Dstack,
        BackendType::Gcp,
        BackendType::Hotaisle,
        BackendType::Jarvislabs,
        BackendType::Kubernetes,
        BackendType::Lambda,
        BackendType::Lium,
        BackendType::Nebius,
        BackendType::Oci,
        BackendType::Remote,
        BackendType::Runpod,
        BackendType::Seeweb,
        BackendType::Slurm,
        BackendType::Tensordock,
        BackendType::Vastai,
        BackendType::Verda,
        BackendType::Vultr,
    ];

    /// The order of dstack's `BackendType` enum (`remote` after `lium`, `slurm` last); docs
    /// that mirror dstack's list types in it.
    pub const DSTACK_ORDER: [BackendType; 26] = [
        BackendType::Amddevcloud,
        BackendType::Aws,
        BackendType::Azure,
        BackendType::Cloudrift,
        BackendType::Crusoe,
        BackendType::Cudo,
        BackendType::Datacrunch,
        BackendType::Daytona,
        BackendType::Digitalocean,
        BackendType::Dstack,
        BackendType::Gcp,
        BackendType::Hotaisle,
        BackendType::Jarvislabs,
        BackendType::Kubernetes,
        BackendType::Lambda,
        BackendType::Lium,
        BackendType::Remote,
        BackendType::Nebius,
        BackendType::Oci,
        BackendType::Runpod,
        BackendType::Seeweb,
        BackendType::Tensordock,
        BackendType::Vastai,
        BackendType::Verda,
        BackendType::Vultr,
        BackendType::Slurm,
    ];

    /// The configurable types in the order dstack's `POST /api/backends/list_types` answers:
    /// the order its configurators are imported in, so `slurm` comes before `seeweb`.
    pub const LIST_ORDER: [BackendType; 22] = [
        BackendType::Amddevcloud,
        BackendType::Aws,
        BackendType::Azure,
        BackendType::Cloudrift,
        BackendType::Crusoe,
        BackendType::Datacrunch,
        BackendType::Daytona,
        BackendType::Digitalocean,
        BackendType::Gcp,
        BackendType::Hotaisle,
        BackendType::Jarvislabs,
        BackendType::Kubernetes,
        BackendType::Lambda,
        BackendType::Lium,
        BackendType::Nebius,
        BackendType::Oci,
        BackendType::Runpod,
        BackendType::Slurm,
        BackendType::Seeweb,
        BackendType::Vastai,
        BackendType::Verda,
        BackendType::Vultr,
    ];

    /// The value of `type` in configs and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendType::Amddevcloud => "amddevcloud",
            BackendType::Aws => "aws",
            BackendType::Azure => "azure",
            BackendType::Cloudrift => "cloudrift",
            BackendType::Crusoe => "crusoe",
            BackendType::Cudo => "cudo",
            BackendType::Datacrunch => "datacrunch",
            BackendType::Daytona => "daytona",
            BackendType::Digitalocean => "digitalocean",
            BackendType::Dstack => "dstack",
            BackendType::Gcp => "gcp",
            BackendType::Hotaisle => "hotaisle",
            BackendType::Jarvislabs => "jarvislabs",
            BackendType::Kubernetes => "kubernetes",
            BackendType::Lambda => "lambda",
            BackendType::Lium => "lium",
            BackendType::Nebius => "nebius",
            BackendType::Oci => "oci",
            BackendType::Remote => "remote",
            BackendType::Runpod => "runpod",
            BackendType::Seeweb => "seeweb",
            BackendType::Slurm => "slurm",
            BackendType::Tensordock => "tensordock",
            BackendType::Vastai => "vastai",
            BackendType::Verda => "verda",
            BackendType::Vultr => "vultr",
        }
    }

    /// What dstack's database stores in `backends.type`: the Python enum member's name, which
    /// is the value in upper case (`AMDDEVCLOUD`, `DAYTONA`).
    pub fn db_name(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// The type whose [`BackendType::db_name`] is `name`.
    pub fn from_db_name(name: &str) -> Option<BackendType> {
        BackendType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// The provider's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            BackendType::Amddevcloud => "AMD Developer Cloud",
            BackendType::Aws => "Amazon Web Services",
            BackendType::Azure => "Microsoft Azure",
            BackendType::Cloudrift => "CloudRift",
            BackendType::Crusoe => "Crusoe",
            BackendType::Cudo => "Cudo",
            BackendType::Datacrunch => "DataCrunch",
            BackendType::Daytona => "Daytona",
            BackendType::Digitalocean => "DigitalOcean",
            BackendType::Dstack => "dstack Sky",
            BackendType::Gcp => "Google Cloud Platform",
            BackendType::Hotaisle => "Hot Aisle",
            BackendType::Jarvislabs => "JarvisLabs",
            BackendType::Kubernetes => "Kubernetes",
            BackendType::Lambda => "Lambda Cloud",
            BackendType::Lium => "Lium",
            BackendType::Nebius => "Nebius AI Cloud",
            BackendType::Oci => "Oracle Cloud Infrastructure",
            BackendType::Remote => "SSH fleets",
            BackendType::Runpod => "Runpod",
            BackendType::Seeweb => "Seeweb Cloud Server GPU",
            BackendType::Slurm => "Slurm",
            BackendType::Tensordock => "TensorDock",
            BackendType::Vastai => "Vast.ai",
            BackendType::Verda => "Verda (formerly DataCrunch)",
            BackendType::Vultr => "Vultr",
        }
    }

    pub fn status(self) -> BackendStatus {
        match self {
            BackendType::Datacrunch => BackendStatus::Deprecated { replacement: "verda" },
            BackendType::Cudo | BackendType::Tensordock => BackendStatus::Removed,
            BackendType::Dstack | BackendType::Remote => BackendStatus::Internal,
            _ => BackendStatus::Active,
        }
    }

    /// The Cargo feature of `dstack-server` that provides this backend, if any can. One crate
    /// may serve several types: `verda` also serves `datacrunch`, `digitalocean` also serves
    /// `amddevcloud`. A type whose feature the server does not declare yet (no crate exists)
    /// is "not supported by this version yet" ([`crate::error::BackendError::not_supported_yet`]).
    pub fn cargo_feature(self) -> Option<&'static str> {
        match self {
            BackendType::Datacrunch => Some("verda"),
            BackendType::Amddevcloud => Some("digitalocean"),
            BackendType::Cudo | BackendType::Tensordock => None,
            BackendType::Dstack | BackendType::Remote => None,
            other => Some(other.as_str()),
        }
    }

    /// Where this type stands in [`BackendType::LIST_ORDER`]; types dstack never lists sort
    /// after the others.
    pub fn list_position(self) -> usize {
        BackendType::LIST_ORDER
            .iter()
            .position(|t| *t == self)
            .unwrap_or(BackendType::LIST_ORDER.len())
    }
}

impl fmt::Display for BackendType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown backend type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend type `{0}`")]
pub struct UnknownBackendType(pub String);

impl FromStr for BackendType {
    type Err = UnknownBackendType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownBackendType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_type_names_round_trip() {
        for t in BackendType::ALL {
            assert_eq!(t.as_str().parse::<BackendType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(BackendType::from_db_name(&t.db_name()), Some(t));
        }
        assert!("awz".parse::<BackendType>().is_err());
        assert_eq!(BackendType::Daytona.db_name(), "DAYTONA");
        assert_eq!(BackendType::Amddevcloud.db_name(), "AMDDEVCLOUD");
    }

    #[test]
    fn all_is_in_name_order_and_the_other_orders_hold_the_same_types() {
        let mut sorted = BackendType::ALL;
        sorted.sort_by_key(|t| t.as_str());
        assert_eq!(sorted, BackendType::ALL);
        let mut dstack = BackendType::DSTACK_ORDER;
        dstack.sort();
        assert_eq!(dstack, BackendType::ALL);
        let listed: Vec<BackendType> = BackendType::ALL
            .into_iter()
            .filter(|t| !matches!(t.status(), BackendStatus::Removed | BackendStatus::Internal))
            .collect();
        let mut list = BackendType::LIST_ORDER.to_vec();
        list.sort();
        assert_eq!(list, listed);
    }

    #[test]
    fn list_order_is_dstacks_list_types_answer() {
        let names: Vec<&str> = BackendType::LIST_ORDER.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names.join(","),
            "amddevcloud,aws,azure,cloudrift,crusoe,datacrunch,daytona,digitalocean,gcp,\
             hotaisle,jarvislabs,kubernetes,lambda,lium,nebius,oci,runpod,slurm,seeweb,vastai,\
             verda,vultr"
        );
        assert!(BackendType::Slurm.list_position() < BackendType::Seeweb.list_position());
        assert_eq!(BackendType::Cudo.list_position(), 22);
    }

    #[test]
    fn the_new_types_are_active_and_have_their_own_feature() {
        for (t, name) in [
            (BackendType::Daytona, "Daytona"),
            (BackendType::Lium, "Lium"),
            (BackendType::Seeweb, "Seeweb Cloud Server GPU"),
        ] {
            assert_eq!(t.status(), BackendStatus::Active);
            assert_eq!(t.cargo_feature(), Some(t.as_str()));
            assert_eq!(t.display_name(), name);
        }
    }
}
