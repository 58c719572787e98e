//! Offers on Lambda: the `lambdalabs` catalog, with availability from Lambda's API.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::RestClient;
use dstack_catalog::Catalog;
use dstack_catalog::offer::catalog_offers;
use dstack_core::Compute;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{InstanceAvailability, InstanceOfferWithAvailability, Requirements};

use crate::client::capacity;

#[derive(Debug)]
pub struct LambdaCompute {
    client: RestClient,
    regions: Option<Vec<String>>,
    catalog: Arc<Catalog>,
}

impl LambdaCompute {
    pub fn new(client: RestClient, regions: Option<Vec<String>>, catalog: Arc<Catalog>) -> Self {
        Self { client, regions, catalog }
    }
}

#[async_trait]
impl Compute for LambdaCompute {
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
        let capacity = capacity(&self.client).await?;
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
}
