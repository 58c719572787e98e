//! Provisioning on AWS.
//!
//! - Offers: the `aws` catalog in the configured regions, for the instance families dstack
//!   supports, with the zones where each type is offered (`DescribeInstanceTypeOfferings`).
//! - Create: the region's VPC and eligible subnets ([`crate::network`]), the AMI
//!   ([`crate::images`]), the project's security group and key pair ([`crate::security`]),
//!   then `RunInstances` zone by zone until one has capacity.
//! - Update: the IPs once the instance runs. Terminate: idempotent.
//! - Placement groups ([`crate::placement`]): cluster groups in the group's region; an instance
//!   is launched into one with `Placement.GroupName` when its configuration names it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, CapacityReservationSpecification, CapacityReservationTarget,
    EbsBlockDevice, IamInstanceProfileSpecification, InstanceInterruptionBehavior,
    InstanceMarketOptionsRequest, InstanceNetworkInterfaceSpecification, InstanceStateName,
    InstanceType, LocationType, MarketType, Placement, ResourceType, SpotInstanceType,
    SpotMarketOptions, VolumeType,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dstack_catalog::Catalog;
use dstack_catalog::offer::catalog_offers;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::config::backends::{AwsBackendConfig, Tags};
use dstack_core::error::Result;
use dstack_core::offers::{
    AcceleratorVendor, BackendData, CpuArchitecture, InstanceAvailability, InstanceConfiguration,
    InstanceOffer, InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::placement::{PlacementGroup, PlacementGroupProvisioningData};
use dstack_core::provisioning::{
    AgentSettings, idempotency_token, instance_base_tags, merge_tags, project_base_tags,
    unique_instance_name, user_data,
};
use dstack_core::{BackendError, Compute, ErrorKind};
use futures::future::join_all;

use crate::client::AwsClients;
use crate::error::from_sdk;
use crate::images::{self, ImageQuery};
use crate::{network, placement, security, tags};

/// The instance families dstack offers on AWS (beyond them, only
/// `experimental_instance_types`).
const SUPPORTED_FAMILIES: &[&str] = &[
    "m7i.", "c7i.", "r7i.", "t3.", "t2.small", "c5.", "m5.", "p6-b300.", "p6-b200.", "p5.", "p5e.",
    "p5en.", "p4d.", "p4de.", "g7.", "g7e.", "g6.", "g6e.", "gr6.", "g5.", "g4dn.",
];

#[derive(Debug)]
pub struct AwsCompute {
    config: AwsBackendConfig,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    clients: AwsClients,
}

impl AwsCompute {
    pub(crate) fn new(
        config: AwsBackendConfig,
        catalog: Arc<Catalog>,
        agent: AgentSettings,
        clients: AwsClients,
    ) -> Self {
        Self { config, catalog, agent, clients }
    }

    /// The tags of the project's shared resources (security group, key pair, placement
    /// groups): dstack's, then the configured ones.
    fn shared_tags(&self, project_name: &str) -> Tags {
        tags::valid_only(merge_tags(
            project_base_tags(project_name),
            self.config.tags.as_ref(),
            None,
        ))
    }

    fn supported(&self, offer: &InstanceOffer) -> bool {
        let name = &offer.instance.name;
        let experimental = self.config.experimental_instance_types.as_ref();
        if experimental.is_some_and(|types| types.contains(name)) {
            return true;
        }
        SUPPORTED_FAMILIES.iter().any(|family| name.starts_with(family))
    }

    /// With custom images, only the kinds of instance that have an image can be offered.
    fn has_image_for(&self, offer: &InstanceOffer) -> bool {
        let Some(images) = &self.config.os_images else { return true };
        let gpus = &offer.instance.resources.gpus;
        if gpus.is_empty() {
            images.cpu.is_some()
        } else {
            gpus[0].vendor == AcceleratorVendor::Nvidia && images.nvidia.is_some()
        }
    }

    /// Instance type → zones where it is offered, in one region.
    async fn offerings(&self, region: &str) -> Result<HashMap<String, Vec<String>>> {
        let client = self.ec2(region).await;
        let mut pages = client
            .describe_instance_type_offerings()
            .location_type(LocationType::AvailabilityZone)
            .into_paginator()
            .items()
            .send();
        let mut zones: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| from_sdk("DescribeInstanceTypeOfferings", e))?;
            if let (Some(kind), Some(zone)) = (item.instance_type(), item.location()) {
                zones.entry(kind.as_str().to_owned()).or_default().push(zone.to_owned());
            }
        }
        for list in zones.values_mut() {
            list.sort();
        }
        Ok(zones)
    }
}

/// What `RunInstances` needs besides the subnet.
struct Launch<'a> {
    offer: &'a InstanceOfferWithAvailability,
    config: &'a InstanceConfiguration,
    image_id: &'a str,
    security_group: &'a str,
    key_name: Option<&'a str>,
    user_data: &'a str,
    tags: &'a Tags,
}

impl AwsCompute {
    async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.clients.ec2(region).await
    }

    /// One `RunInstances` in `subnet_id`; returns the instance ID. A spot instance's one-time
    /// request is cancelled at once (the instance stays); if that fails, the instance is
    /// terminated so that nothing is left behind.
    async fn launch(
        &self,
        client: &aws_sdk_ec2::Client,
        launch: &Launch<'_>,
        subnet_id: &str,
        zone: &str,
    ) -> Result<String> {
        let resources = &launch.offer.offer.instance.resources;
        let public = self.config.public_ips.unwrap_or(true);
        // One token per dstack instance and offer: a RunInstances retried, or repeated by a
        // server that stopped mid-call, gets the instance the first one started. The placement
        // group is not part of it: repeated with another group, AWS refuses the call
        // (`IdempotentParameterMismatch`) rather than starting a second instance.
        let token = idempotency_token(launch.config, &[zone, &launch.offer.offer.instance.name]);
        let mut request = client
            .run_instances()
            .client_token(token)
            .image_id(launch.image_id)
            .instance_type(InstanceType::from(launch.offer.offer.instance.name.as_str()))
            .min_count(1)
            .max_count(1)
            .user_data(BASE64.encode(launch.user_data))
            .set_key_name(launch.key_name.map(str::to_owned))
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(subnet_id)
                    .groups(launch.security_group)
                    .associate_public_ip_address(public)
                    .build(),
            )
            .tag_specifications(tags::specification(ResourceType::Instance, launch.tags))
            .tag_specifications(tags::specification(ResourceType::Volume, launch.tags));
        let disk_gib = (resources.disk.size_mib as f64 / 1024.0).round() as i32;
        if disk_gib > 0 {
            request = request.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/sda1")
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(disk_gib)
                            .volume_type(VolumeType::Gp2)
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(profile) = &self.config.iam_instance_profile {
            request = request.iam_instance_profile(
                IamInstanceProfileSpecification::builder().name(profile).build(),
            );
        }
        if resources.spot {
            request = request.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(group) = &launch.config.placement_group {
            request = request.placement(Placement::builder().group_name(group).build());
        }
        if let Some(reservation) = &launch.config.reservation {
            request = request.capacity_reservation_specification(
                CapacityReservationSpecification::builder()
                    .capacity_reservation_target(
                        CapacityReservationTarget::builder()
                            .capacity_reservation_id(reservation)
                            .build(),
                    )
                    .build(),
            );
        }
        let answer = request.send().await.map_err(|err| {
            if err.code() == Some("InvalidParameterValue") {
                BackendError::new(
                    ErrorKind::InvalidConfig,
                    format!("Invalid AWS request: {}", err.message().unwrap_or_default()),
                )
            } else {
                from_sdk("RunInstances", err)
            }
        })?;
        let instance = answer.instances().first().ok_or_else(|| {
            BackendError::new(ErrorKind::Unexpected, "AWS RunInstances returned no instance")
        })?;
        let id = instance.instance_id().unwrap_or_default().to_owned();
        if let Some(request_id) = instance.spot_instance_request_id().filter(|_| resources.spot) {
            let cancelled = client
                .cancel_spot_instance_requests()
                .spot_instance_request_ids(request_id)
                .send()
                .await;
            if let Err(err) = cancelled {
                tracing::warn!(
                    "cancelling spot request {request_id} failed ({err:?}); terminating {id}"
                );
                terminate(client, &id).await?;
                return Err(no_capacity("Failed to cancel the spot instance request"));
            }
        }
        Ok(id)
    }
}

/// Terminates an instance; one that does not exist (any more) is success.
async fn terminate(client: &aws_sdk_ec2::Client, instance_id: &str) -> Result<()> {
    match client.terminate_instances().instance_ids(instance_id).send().await {
        Err(err) if err.code() == Some("InvalidInstanceID.NotFound") => {
            tracing::debug!("instance {instance_id} not found: nothing to terminate");
            Ok(())
        }
        other => other.map(drop).map_err(|e| from_sdk("TerminateInstances", e)),
    }
}

fn no_capacity(message: &str) -> BackendError {
    BackendError::new(ErrorKind::NoCapacity, message)
}

#[async_trait]
impl Compute for AwsCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let regions = self.config.configured_regions();
        let offers: Vec<InstanceOffer> =
            catalog_offers(&self.catalog, BackendType::Aws, Some(&regions), requirements)
                .await
                .into_iter()
                .filter(|offer| self.supported(offer) && self.has_image_for(offer))
                .collect();
        let used: HashSet<&str> = offers.iter().map(|o| o.region.as_str()).collect();
        let lookups =
            used.iter().map(|region| async move { (*region, self.offerings(region).await) });
        let mut zones_by_region = HashMap::new();
        for (region, result) in join_all(lookups).await {
            zones_by_region.insert(region.to_owned(), result?);
        }
        Ok(offers
            .into_iter()
            .map(|offer| {
                let zones = zones_by_region
                    .get(&offer.region)
                    .and_then(|types| types.get(&offer.instance.name))
                    .cloned()
                    .unwrap_or_default();
                // Quotas are not known here: an offered type is "unknown", as in dstack.
                let availability = if zones.is_empty() {
                    InstanceAvailability::NotAvailable
                } else {
                    InstanceAvailability::Unknown
                };
                let mut offer = offer.with_availability(availability);
                offer.availability_zones = Some(zones);
                offer
            })
            .collect())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let region = &offer.offer.region;
        if offer.availability_zones.as_ref().is_some_and(Vec::is_empty) {
            return Err(no_capacity("No eligible availability zones"));
        }
        let client = self.ec2(region).await;
        let name = unique_instance_name(config);
        let instance_tags = tags::valid_only(merge_tags(
            instance_base_tags(&name, config),
            self.config.tags.as_ref(),
            config.tags.as_ref(),
        ));
        let shared_tags = self.shared_tags(&config.project_name);
        let network =
            network::resolve(&client, &self.config, region, offer.availability_zones.as_deref())
                .await?;
        let resources = &offer.offer.instance.resources;
        let base_image = self.agent.base_image_name();
        let gpu = !resources.gpus.is_empty();
        let image = ImageQuery::for_instance(gpu, self.config.os_images.as_ref(), &base_image)?;
        let image_id = images::find(&client, &image, region).await?;
        let security_group = security::ensure_security_group(
            &client,
            &config.project_name,
            &network.vpc_id,
            &shared_tags,
        )
        .await?;
        let key_name = match config.ssh_keys.first() {
            Some(key) => Some(
                security::ensure_key_pair(&client, &config.project_name, &key.public, &shared_tags)
                    .await?,
            ),
            None => None,
        };
        let authorized_keys: Vec<String> =
            config.ssh_keys.iter().map(|k| k.public.clone()).collect();
        let arch = match resources.cpu_arch {
            Some(CpuArchitecture::Arm) => "arm64",
            _ => "amd64",
        };
        let user_data = user_data(
            &authorized_keys,
            &self.agent.downloads(arch),
            // Custom images may lack ufw: rely on the security group instead.
            self.config.os_images.is_some(),
        );
        let launch = Launch {
            offer,
            config,
            image_id: &image_id,
            security_group: &security_group,
            key_name: key_name.as_deref(),
            user_data: &user_data,
            tags: &instance_tags,
        };
        let mut last_error = None;
        let mut tried = HashSet::new();
        for subnet in &network.subnets {
            if !tried.insert(subnet.zone.as_str()) {
                continue;
            }
            tracing::debug!("trying {} in {}", offer.offer.instance.name, subnet.zone);
            match self.launch(&client, &launch, &subnet.id, &subnet.zone).await {
                Ok(instance) => {
                    return Ok(ProvisioningData {
                        backend: BackendType::Aws,
                        instance_type: offer.offer.instance.clone(),
                        instance_id: instance,
                        hostname: None,
                        internal_ip: None,
                        region: region.clone(),
                        availability_zone: Some(subnet.zone.clone()),
                        price: offer.offer.price,
                        username: image.user.clone(),
                        ssh_port: None,
                        dockerized: true,
                        backend_data: BackendData::none(),
                        ssh_proxy: None,
                    });
                }
                Err(err) if err.kind().try_next_offer() || err.kind().is_temporary() => {
                    tracing::info!("no {} in {}: {err}", offer.offer.instance.name, subnet.zone);
                    last_error = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last_error.unwrap_or_else(|| no_capacity("No subnet in an eligible availability zone")))
    }

    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let client = self.ec2(&data.region).await;
        let answer = client.describe_instances().instance_ids(&data.instance_id).send().await;
        let answer = match answer {
            // Not visible yet (AWS is eventually consistent): wait for it.
            Err(err) if err.code() == Some("InvalidInstanceID.NotFound") => return Ok(()),
            other => other.map_err(|e| from_sdk("DescribeInstances", e))?,
        };
        let Some(instance) = answer.reservations().iter().flat_map(|r| r.instances()).next() else {
            return Ok(());
        };
        let state = instance.state().and_then(|s| s.name());
        match state {
            // Not reported yet, or starting: wait for it.
            None | Some(InstanceStateName::Pending) => return Ok(()),
            Some(InstanceStateName::Running) => {}
            other => {
                // Stopped or terminated while starting: it will not come up.
                let state = other.map_or("unknown", |s| s.as_str());
                return Err(BackendError::new(
                    ErrorKind::ProvisioningFailed,
                    format!("Failed to get instance IP address. Instance state is {state}."),
                ));
            }
        }
        let public = self.config.public_ips.unwrap_or(true);
        data.internal_ip = instance.private_ip_address().map(str::to_owned);
        data.hostname = if public {
            instance.public_ip_address().map(str::to_owned)
        } else {
            data.internal_ip.clone()
        };
        data.ssh_port = Some(22);
        Ok(())
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        _backend_data: &BackendData,
    ) -> Result<()> {
        terminate(&self.ec2(region).await, instance_id).await
    }

    async fn create_placement_group(
        &self,
        group: &PlacementGroup,
        master_offer: &InstanceOfferWithAvailability,
    ) -> Result<PlacementGroupProvisioningData> {
        if !placement::supports(group, &master_offer.offer) {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                format!(
                    "{} instances cannot be in a cluster placement group",
                    master_offer.offer.instance.name
                ),
            ));
        }
        let client = self.ec2(group.region()).await;
        placement::create(&client, group, &self.shared_tags(&group.project_name)).await?;
        Ok(PlacementGroupProvisioningData {
            backend: BackendType::Aws,
            backend_data: BackendData::none(),
        })
    }

    async fn delete_placement_group(
        &self,
        group: &PlacementGroup,
        _data: &PlacementGroupProvisioningData,
    ) -> Result<()> {
        placement::delete(&self.ec2(group.region()).await, &group.name).await
    }

    /// An AWS group in the offer's region that can hold the offer's type.
    fn is_suitable_placement_group(
        &self,
        group: &PlacementGroup,
        offer: &InstanceOfferWithAvailability,
    ) -> bool {
        group.backend() == BackendType::Aws
            && group.region() == offer.offer.region
            && placement::supports(group, &offer.offer)
    }
}
