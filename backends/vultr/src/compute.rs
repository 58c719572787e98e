//! Provisioning on Vultr.
//!
//! - Offers: gpuhunt's online provider with the backend's key ([`crate::provider`]), the plans
//!   dstack supports ([`crate::supported`]) in the configured regions, all available; the
//!   whole list is kept 180 s and filtered per request (dstack's `ComputeWithAllOffersCached`).
//! - Create: the region's `dstack-vpc-<region>` VPC (found or created), then the instance or
//!   bare-metal machine with dstack's user data and image. Update: the IPs once `active`;
//!   `failed` is final. Terminate: `DELETE`, and an instance already gone is success.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::{Cached, RestClient};
use dstack_catalog::CatalogItem;
use dstack_catalog::offer::{default_configurable_disk, items_offers};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, CpuArchitecture, InstanceAvailability, InstanceConfiguration,
    InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::provisioning::AgentSettings;
use dstack_core::{BackendError, Compute, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::client::{self, Kind};
use crate::launch;
use crate::provider::VultrProvider;
use crate::supported::supported;

/// What Vultr says when a plan cannot be deployed now (read as "try the next offer").
const NO_CAPACITY_HINTS: &[&str] =
    &["not available", "unavailable", "sold out", "out of stock", "insufficient", "capacity"];

/// dstack's backend data: `{"plan_type": "bare-metal" | "vm_instance"}`.
#[derive(Debug, Serialize, Deserialize)]
struct VultrData {
    plan_type: String,
}

fn plan_type(kind: Kind) -> &'static str {
    match kind {
        Kind::BareMetal => "bare-metal",
        Kind::Instance => "vm_instance",
    }
}

fn kind_of(data: &BackendData) -> Result<Option<Kind>> {
    Ok(data
        .get::<VultrData>()?
        .map(|d| if d.plan_type == "bare-metal" { Kind::BareMetal } else { Kind::Instance }))
}

#[derive(Debug)]
pub struct VultrCompute {
    client: RestClient,
    provider: VultrProvider,
    /// The configured regions; `None` or empty: all.
    regions: Option<Vec<String>>,
    agent: AgentSettings,
    /// Every supported item in the configured regions, unfiltered by requirements.
    items: Cached<Vec<CatalogItem>>,
}

impl VultrCompute {
    pub fn new(
        client: RestClient,
        regions: Option<Vec<String>>,
        with_key: bool,
        agent: AgentSettings,
    ) -> Self {
        let provider = VultrProvider::new(client.clone(), regions.clone(), with_key);
        Self { client, provider, regions, agent, items: Cached::offers() }
    }

    async fn all_items(&self) -> Result<Arc<Vec<CatalogItem>>> {
        let regions = self.regions.as_ref().filter(|r| !r.is_empty());
        self.items
            .get(|| async {
                let mut items = self.provider.fetch().await?;
                items.retain(|i| supported(i) && regions.is_none_or(|r| r.contains(&i.location)));
                Ok(items)
            })
            .await
    }

    /// The region's dstack VPC, and whether this call created it.
    async fn vpc(&self, region: &str) -> Result<(client::Vpc, bool)> {
        if let Some(vpc) = client::find_vpc(&self.client, region).await? {
            return Ok((vpc, false));
        }
        Ok((client::create_vpc(&self.client, region).await?, true))
    }

    /// After a create whose outcome is unknown: deletes whatever carries `label`.
    async fn sweep(&self, kind: Kind, label: &str) {
        match client::machines_labelled(&self.client, kind, label).await {
            Ok(found) => {
                for machine in found {
                    tracing::warn!("deleting {} ({label}) after a failed create", machine.id);
                    if let Err(err) = self.delete(kind, &machine.id).await {
                        tracing::error!("{} ({label}) may be left behind: {err}", machine.id);
                    }
                }
            }
            Err(err) => tracing::error!("cannot look for {label} after a failed create: {err}"),
        }
    }

    /// `DELETE`; a machine that does not exist is success.
    async fn delete(&self, kind: Kind, id: &str) -> Result<bool> {
        match client::delete_machine(&self.client, kind, id).await {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// A refused create that means "no capacity for this offer now".
fn capacity_error(err: BackendError) -> BackendError {
    let message = err.message().to_ascii_lowercase();
    if err.kind() == ErrorKind::InvalidConfig
        && NO_CAPACITY_HINTS.iter().any(|h| message.contains(h))
    {
        err.with_kind(ErrorKind::NoCapacity)
    } else {
        err
    }
}

#[async_trait]
impl Compute for VultrCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let items = self.all_items().await?;
        let disk = default_configurable_disk();
        Ok(items_offers(items.iter(), BackendType::Vultr, None, requirements, &disk)
            .into_iter()
            .map(|offer| offer.with_availability(InstanceAvailability::Available))
            .collect())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let region = &offer.offer.region;
        let plan = &offer.offer.instance.name;
        let label = launch::label(config);
        let (vpc, created_vpc) = self.vpc(region).await?;
        let subnet = launch::cidr(vpc.v4_subnet.as_deref(), vpc.v4_subnet_mask);
        let keys: Vec<String> = config.ssh_keys.iter().map(|k| k.public.clone()).collect();
        let arch = match offer.offer.instance.resources.cpu_arch {
            Some(CpuArchitecture::Arm) => "arm64",
            _ => "amd64",
        };
        let user_data =
            launch::vultr_user_data(&keys, &self.agent.downloads(arch), subnet.as_deref());
        let (kind, body) = launch::request(region, plan, &label, &user_data, &vpc.id);
        let instance_id = match client::launch(&self.client, kind, &body).await {
            Ok(id) => id,
            Err(err) => {
                if err.kind() == ErrorKind::Unexpected {
                    // The create may have been carried out (a 5xx or a lost answer).
                    self.sweep(kind, &label).await;
                }
                if created_vpc && let Err(e) = client::delete_vpc(&self.client, &vpc.id).await {
                    tracing::warn!("the VPC {} made for {label} is kept: {e}", vpc.id);
                }
                return Err(capacity_error(err));
            }
        };
        Ok(ProvisioningData {
            backend: BackendType::Vultr,
            instance_type: offer.offer.instance.clone(),
            instance_id,
            hostname: None,
            internal_ip: None,
            region: region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: "root".to_owned(),
            ssh_port: Some(22),
            dockerized: true,
            backend_data: BackendData::of(&VultrData { plan_type: plan_type(kind).to_owned() })?,
            ssh_proxy: None,
        })
    }

    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let kind =
            kind_of(&data.backend_data)?.unwrap_or_else(|| Kind::of_plan(&data.instance_type.name));
        let machine = match client::machine(&self.client, kind, &data.instance_id).await {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(BackendError::new(
                    ErrorKind::ProvisioningFailed,
                    format!("the Vultr machine {} no longer exists", data.instance_id),
                ));
            }
            other => other?,
        };
        match machine.status.as_str() {
            "active" => {
                // Vultr shows 0.0.0.0 until the address is assigned.
                let ip = machine.main_ip.filter(|ip| !ip.is_empty() && ip != "0.0.0.0");
                if let Some(ip) = ip {
                    data.hostname = Some(ip);
                    data.internal_ip = machine.internal_ip.filter(|ip| !ip.is_empty());
                }
                Ok(())
            }
            "failed" => {
                Err(BackendError::new(ErrorKind::ProvisioningFailed, "VM entered FAILED state"))
            }
            _ => Ok(()),
        }
    }

    /// Idempotent, unlike dstack's: a machine already gone is success. Without backend data,
    /// both kinds are tried.
    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        let kinds = match kind_of(backend_data)? {
            Some(kind) => vec![kind],
            None => vec![Kind::Instance, Kind::BareMetal],
        };
        for kind in kinds {
            if self.delete(kind, instance_id).await? {
                return Ok(());
            }
        }
        tracing::debug!("Vultr machine {instance_id} not found: nothing to terminate");
        Ok(())
    }
}
