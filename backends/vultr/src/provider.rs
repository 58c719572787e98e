//! gpuhunt 0.1.34's online `vultr` provider, with the backend's key and regions: the plans
//! (`GET /plans-metal?per_page=500`, `GET /plans?type=all&per_page=500`), and where VDM GPU
//! plans can be deployed (`GET /regions?per_page=500` when no regions are configured, then
//! `GET /regions/{r}/availability?type=vdm` per region, five at a time).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::RestClient;
use dstack_catalog::{CatalogError, CatalogItem, OnlineProvider, QueryFilter};
use dstack_core::error::Result;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{encode, list, read};
use crate::plans::{PROVIDER, items};

/// gpuhunt's worker count for the availability calls.
const AVAILABILITY_WORKERS: usize = 5;

/// Vultr's plans as catalog items.
#[derive(Debug, Clone)]
pub struct VultrProvider {
    client: RestClient,
    /// The configured regions; `None` or empty: all of Vultr's.
    regions: Option<Vec<String>>,
    /// gpuhunt asks for VDM availability only with a key.
    with_key: bool,
}

impl VultrProvider {
    pub fn new(client: RestClient, regions: Option<Vec<String>>, with_key: bool) -> Self {
        Self { client, regions, with_key }
    }

    /// Every item, cheapest first (gpuhunt's `VultrProvider.get`). A failed plan listing
    /// fails; failed availability calls leave VDM plans without locations, as in gpuhunt.
    pub async fn fetch(&self) -> Result<Vec<CatalogItem>> {
        let metal = list(&self.client, "/plans-metal?per_page=500", "plans_metal").await?;
        let plans = list(&self.client, "/plans?type=all&per_page=500", "plans").await?;
        let vdm = if self.with_key {
            Some(self.vdm_locations().await.unwrap_or_else(|err| {
                tracing::warn!("Failed to fetch Vultr VDM availability: {err}");
                HashMap::new()
            }))
        } else {
            None
        };
        let mut items = items(metal, plans, vdm.as_ref());
        items.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(items)
    }

    /// VDM plan → the regions where it is available now, in region order.
    async fn vdm_locations(&self) -> Result<HashMap<String, Vec<String>>> {
        let regions = match self.regions.as_ref().filter(|r| !r.is_empty()) {
            Some(regions) => regions.clone(),
            None => {
                #[derive(Deserialize)]
                struct Region {
                    id: String,
                }
                let found = list(&self.client, "/regions?per_page=500", "regions").await?;
                let found: Vec<Region> = read(serde_json::Value::Array(found), "regions")?;
                found.into_iter().map(|r| r.id).collect()
            }
        };
        #[derive(Deserialize)]
        struct Availability {
            available_plans: Vec<String>,
        }
        let workers = Arc::new(Semaphore::new(AVAILABILITY_WORKERS));
        let mut calls = JoinSet::new();
        for (index, region) in regions.iter().enumerate() {
            let (client, workers) = (self.client.clone(), workers.clone());
            let path = format!("/regions/{}/availability?type=vdm", encode(region));
            calls.spawn(async move {
                let _worker = workers.acquire_owned().await;
                (index, client.get::<Availability>(&path).await)
            });
        }
        let mut answers: Vec<Option<Vec<String>>> = vec![None; regions.len()];
        while let Some(done) = calls.join_next().await {
            let (index, answer) = done.map_err(|e| {
                dstack_core::BackendError::new(dstack_core::ErrorKind::Unexpected, e.to_string())
            })?;
            answers[index] = Some(answer?.available_plans);
        }
        let mut locations: HashMap<String, Vec<String>> = HashMap::new();
        for (region, plans) in regions.iter().zip(answers) {
            for plan in plans.unwrap_or_default() {
                locations.entry(plan).or_default().push(region.clone());
            }
        }
        Ok(locations)
    }
}

#[async_trait]
impl OnlineProvider for VultrProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn items(
        &self,
        _filter: &QueryFilter,
    ) -> std::result::Result<Vec<CatalogItem>, CatalogError> {
        self.fetch().await.map_err(|err| CatalogError::Provider(err.to_string()))
    }
}
