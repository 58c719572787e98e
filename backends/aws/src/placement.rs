//! Cluster placement groups, as dstack's AWS backend makes them: one per cluster fleet (and
//! region), named by the server, tagged like the project's other shared resources, and
//! deleted once no instance is in it.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::ResourceType;
use dstack_core::config::backends::Tags;
use dstack_core::error::Result;
use dstack_core::offers::InstanceOffer;
use dstack_core::placement::{PlacementGroup, PlacementStrategy};
use dstack_core::{BackendError, ErrorKind};

use crate::error::from_sdk;
use crate::tags;

/// The families that cannot be in a cluster group (dstack's `_offer_supports_placement_group`:
/// burstable instances).
const NOT_IN_CLUSTERS: &[&str] = &["t3.", "t2."];

/// Whether an instance of `offer` can be in `group`.
pub fn supports(group: &PlacementGroup, offer: &InstanceOffer) -> bool {
    group.strategy() != PlacementStrategy::Cluster
        || !NOT_IN_CLUSTERS.iter().any(|family| offer.instance.name.starts_with(family))
}

fn strategy(strategy: PlacementStrategy) -> aws_sdk_ec2::types::PlacementStrategy {
    match strategy {
        PlacementStrategy::Cluster => aws_sdk_ec2::types::PlacementStrategy::Cluster,
    }
}

/// Creates `group` with `resource_tags`. A group of that name already there is success: names
/// are unique per creation, so it is this group, made by an attempt whose answer was lost (the
/// SDK retries a call that timed out).
pub async fn create(client: &Client, group: &PlacementGroup, resource_tags: &Tags) -> Result<()> {
    tracing::debug!("creating placement group {}", group.name);
    let created = client
        .create_placement_group()
        .group_name(&group.name)
        .strategy(strategy(group.strategy()))
        .tag_specifications(tags::specification(ResourceType::PlacementGroup, resource_tags))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("InvalidPlacementGroup.Duplicate") => {
            tracing::debug!("placement group {} exists already", group.name);
            Ok(())
        }
        Err(err) => Err(from_sdk("CreatePlacementGroup", err)),
    }
}

/// Deletes the group `name`; one that does not exist (any more) is success, one with
/// instances in it is `PlacementGroupInUse`.
pub async fn delete(client: &Client, name: &str) -> Result<()> {
    match client.delete_placement_group().group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("InvalidPlacementGroup.Unknown") => {
            tracing::debug!("placement group {name} not found: nothing to delete");
            Ok(())
        }
        Err(err) if err.code() == Some("InvalidPlacementGroup.InUse") => Err(BackendError::new(
            ErrorKind::PlacementGroupInUse,
            format!("Placement group {name} is in use"),
        )),
        Err(err) => Err(from_sdk("DeletePlacementGroup", err)),
    }
}

#[cfg(test)]
mod tests {
    use dstack_core::config::BackendType;
    use dstack_core::offers::{Disk, InstanceType, Resources};

    use super::*;

    fn offer(name: &str) -> InstanceOffer {
        InstanceOffer {
            backend: BackendType::Aws,
            instance: InstanceType {
                name: name.to_owned(),
                resources: Resources {
                    cpus: 2,
                    memory_mib: 4096,
                    gpus: vec![],
                    spot: false,
                    disk: Disk { size_mib: 0 },
                    cpu_arch: None,
                    description: String::new(),
                },
            },
            region: "us-east-1".to_owned(),
            price: 0.1,
            backend_data: Default::default(),
        }
    }

    #[test]
    fn burstable_types_stay_out_of_clusters() {
        let group = PlacementGroup::cluster("pg", "main", BackendType::Aws, "us-east-1");
        assert!(supports(&group, &offer("p4d.24xlarge")));
        assert!(supports(&group, &offer("c5.2xlarge")));
        assert!(!supports(&group, &offer("t3.micro")));
        assert!(!supports(&group, &offer("t2.small")));
    }
}
