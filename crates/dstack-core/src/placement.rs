//! Placement groups: instances of a cluster fleet placed close together (AWS's cluster
//! placement groups). Shapes follow dstack's `core/models/placement.py`, so that the stored
//! JSON reads the same.
//!
//! The server creates a group on a cluster fleet's master instance
//! ([`crate::Compute::create_placement_group`]), launches instances into it by its name
//! ([`crate::offers::InstanceConfiguration::placement_group`]), keeps using it for offers the
//! backend finds suitable ([`crate::Compute::is_suitable_placement_group`]) and deletes it
//! when the fleet no longer needs it ([`crate::Compute::delete_placement_group`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::BackendType;
use crate::offers::BackendData;

/// How a group places its instances. dstack knows one strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlacementStrategy {
    /// Close together, for low-latency networking between them.
    Cluster,
}

/// Where a group is and how it places instances (dstack's `PlacementGroupConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlacementGroupConfiguration {
    pub backend: BackendType,
    pub region: String,
    pub placement_strategy: PlacementStrategy,
}

/// A placement group of a project (dstack's `PlacementGroup`, without its provisioning data,
/// which the calls that need it take on their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlacementGroup {
    /// The name in the cloud: unique, chosen by the server
    /// ([`crate::provisioning::unique_placement_group_name`]).
    pub name: String,
    pub project_name: String,
    pub configuration: PlacementGroupConfiguration,
}

impl PlacementGroup {
    /// A cluster group of `project_name` on `backend` in `region`: what dstack's server creates.
    pub fn cluster(
        name: impl Into<String>,
        project_name: impl Into<String>,
        backend: BackendType,
        region: impl Into<String>,
    ) -> Self {
        PlacementGroup {
            name: name.into(),
            project_name: project_name.into(),
            configuration: PlacementGroupConfiguration {
                backend,
                region: region.into(),
                placement_strategy: PlacementStrategy::Cluster,
            },
        }
    }

    pub fn backend(&self) -> BackendType {
        self.configuration.backend
    }

    pub fn region(&self) -> &str {
        &self.configuration.region
    }

    pub fn strategy(&self) -> PlacementStrategy {
        self.configuration.placement_strategy
    }
}

/// What a backend returns for a group it created, kept for its deletion (dstack's
/// `PlacementGroupProvisioningData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlacementGroupProvisioningData {
    /// The backend that created it (dstack: may differ from the configuration's backend for
    /// backends that proxy others).
    pub backend: BackendType,
    /// Backend-specific data for later calls; none for AWS.
    #[serde(default)]
    pub backend_data: BackendData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_serialize_as_dstack_stores_them() {
        let group = PlacementGroup::cluster(
            "dstack-main-fleet-abcd1234",
            "main",
            BackendType::Aws,
            "us-east-1",
        );
        assert_eq!(
            serde_json::to_value(&group).unwrap(),
            serde_json::json!({
                "name": "dstack-main-fleet-abcd1234",
                "project_name": "main",
                "configuration": {
                    "backend": "aws",
                    "region": "us-east-1",
                    "placement_strategy": "cluster",
                },
            })
        );
        assert_eq!((group.backend(), group.region()), (BackendType::Aws, "us-east-1"));
        assert_eq!(group.strategy(), PlacementStrategy::Cluster);
        // dstack writes `backend_data: null`, or leaves it out.
        let data: PlacementGroupProvisioningData =
            serde_json::from_str(r#"{"backend": "aws"}"#).unwrap();
        assert!(data.backend_data.is_none());
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            serde_json::json!({"backend": "aws", "backend_data": null})
        );
    }
}
