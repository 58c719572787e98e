//! Provisioning on AWS. Offers: the `aws` catalog in the configured regions, for the instance
//! families dstack supports, with the zones where each type is offered
//! (`DescribeInstanceTypeOfferings`). Creating and terminating instances are not implemented
//! yet and say so with `ErrorKind::Unsupported`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::LocationType;
use dstack_catalog::Catalog;
use dstack_catalog::offer::catalog_offers;
use dstack_core::backend::Capabilities;
use dstack_core::config::BackendType;
use dstack_core::config::backends::AwsBackendConfig;
use dstack_core::error::Result;
use dstack_core::offers::{
    AcceleratorVendor, InstanceAvailability, InstanceOffer, InstanceOfferWithAvailability,
    Requirements,
};
use dstack_core::{BackendError, Compute};
use futures::future::join_all;

use crate::client::sdk_config;
use crate::configurator::DEFAULT_REGIONS;
use crate::error::from_sdk;

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
    endpoint_url: Option<String>,
}

impl AwsCompute {
    /// dstack's feature matrix for AWS.
    pub const CAPABILITIES: Capabilities = Capabilities {
        create_instance: true,
        run_job: false,
        group_provisioning: false,
        privileged: true,
        instance_volumes: true,
        multinode: true,
        placement_groups: true,
        reservations: true,
        gateways: true,
        private_gateways: true,
        volumes: true,
    };

    pub fn new(
        config: AwsBackendConfig,
        catalog: Arc<Catalog>,
        endpoint_url: Option<String>,
    ) -> Self {
        Self { config, catalog, endpoint_url }
    }

    fn regions(&self) -> Vec<String> {
        // An empty list means no regions for AWS, as in dstack.
        self.config
            .regions
            .clone()
            .unwrap_or_else(|| DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect())
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
        let sdk = sdk_config(&self.config.creds, region, self.endpoint_url.as_deref()).await;
        let client = aws_sdk_ec2::Client::new(&sdk);
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

#[async_trait]
impl Compute for AwsCompute {
    fn backend_type(&self) -> BackendType {
        BackendType::Aws
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let regions = self.regions();
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

    async fn terminate_instance(
        &self,
        _id: &str,
        _region: &str,
        _data: Option<&str>,
    ) -> Result<()> {
        Err(BackendError::unsupported(BackendType::Aws, "terminating instances yet"))
    }
}
