//! Provisioning on Lambda: offers from the `lambdalabs` catalog with availability from
//! Lambda's API. Creating and terminating instances are not implemented yet and say so with
//! `ErrorKind::Unsupported`.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_catalog::Catalog;
use dstack_catalog::offer::catalog_offers;
use dstack_core::backend::Capabilities;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{InstanceAvailability, InstanceOfferWithAvailability, Requirements};
use dstack_core::{BackendError, Compute};

use crate::client::LambdaClient;

#[derive(Debug)]
pub struct LambdaCompute {
    client: LambdaClient,
    regions: Option<Vec<String>>,
    catalog: Arc<Catalog>,
}

impl LambdaCompute {
    /// dstack's feature matrix for Lambda (VM-based).
    pub const CAPABILITIES: Capabilities = Capabilities {
        create_instance: true,
        run_job: false,
        group_provisioning: false,
        privileged: true,
        instance_volumes: true,
        multinode: false,
        placement_groups: false,
        reservations: false,
        gateways: false,
        private_gateways: false,
        volumes: false,
    };

    pub fn new(client: LambdaClient, regions: Option<Vec<String>>, catalog: Arc<Catalog>) -> Self {
        Self { client, regions, catalog }
    }
}

#[async_trait]
impl Compute for LambdaCompute {
    fn backend_type(&self) -> BackendType {
        BackendType::Lambda
    }

    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        // `regions: []` means all regions for Lambda, as in dstack.
        let regions = self.regions.as_deref().filter(|r| !r.is_empty());
        let offers =
            catalog_offers(&self.catalog, BackendType::Lambda, regions, requirements).await;
        if offers.is_empty() {
            return Ok(Vec::new());
        }
        let capacity = self.client.capacity().await?;
        Ok(offers
            .into_iter()
            .map(|offer| {
                let available = capacity
                    .get(&offer.instance.name)
                    .is_some_and(|regions| regions.contains(&offer.region));
                offer.with_availability(if available {
                    InstanceAvailability::Available
                } else {
                    InstanceAvailability::NotAvailable
                })
            })
            .collect())
    }

    async fn terminate_instance(
        &self,
        _id: &str,
        _region: &str,
        _data: Option<&str>,
    ) -> Result<()> {
        Err(BackendError::unsupported(BackendType::Lambda, "terminating instances yet"))
    }
}
