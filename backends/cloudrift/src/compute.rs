//! Provisioning on CloudRift.
//!
//! - Offers: the `cloudrift` catalog in the configured regions, available where
//!   `instance-types/list` shows a free node of the variant in the datacenter; the whole list
//!   is kept for 180 s and filtered per request (dstack's `ComputeWithAllOffersCached`).
//! - Create: the VM image of the offer's GPU vendor ([`crate::images`]), then one
//!   `instances/rent` with the project's keys and the first-boot commands (wait for NTP, then
//!   start dstack's shim).
//! - Update: the host address and SSH port once the VM is ready ([`crate::ssh_port`]).
//! - Terminate: `instances/terminate`; an instance that is gone is success.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::Cached;
use dstack_catalog::offer::{default_configurable_disk, items_offers, provider_of};
use dstack_catalog::{Catalog, CatalogItem, QueryFilter};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, CpuArchitecture, InstanceAvailability, InstanceConfiguration,
    InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_core::{BackendError, Compute, ErrorKind};
use serde_json::Value;

use crate::client::{Rental, RiftClient};
use crate::images::vm_image_url;
use crate::ssh_port::vm_ssh_port;

/// The user CloudRift's VM images log in as.
const USERNAME: &str = "riftuser";

/// dstack's first command on CloudRift VMs: wait (at most a minute) for the clock to sync,
/// since a VM's clock jumping back breaks Docker's container lifecycle.
const NTP_SYNC: &str = "timeout 60 bash -c 'while ! timedatectl show -p NTPSynchronized --value | grep -q yes; do sleep 1; done' || true";

/// Every catalog item in the configured regions, and the `(variant, datacenter)` pairs with
/// a free node: what one round of calls gives, kept for all requests.
#[derive(Debug)]
struct AllOffers {
    items: Vec<Arc<CatalogItem>>,
    available: HashSet<(String, String)>,
}

#[derive(Debug)]
pub struct CloudRiftCompute {
    client: RiftClient,
    /// `None` (or empty) is every region, as in dstack.
    regions: Option<Vec<String>>,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    offers: Cached<AllOffers>,
}

impl CloudRiftCompute {
    pub(crate) fn new(
        client: RiftClient,
        regions: Option<Vec<String>>,
        catalog: Arc<Catalog>,
        agent: AgentSettings,
    ) -> Self {
        let regions = regions.filter(|r| !r.is_empty());
        Self { client, regions, catalog, agent, offers: Cached::offers() }
    }

    async fn all_offers(&self) -> Result<Arc<AllOffers>> {
        self.offers
            .get(|| async {
                let filter = QueryFilter {
                    provider: Some(vec![provider_of(BackendType::Cloudrift).to_owned()]),
                    ..QueryFilter::default()
                };
                let regions = self.regions.as_deref();
                let items = self.catalog.query(&filter).await;
                let items = items
                    .into_iter()
                    .filter(|item| regions.is_none_or(|r| r.contains(&item.location)))
                    .collect();
                Ok(AllOffers { items, available: self.client.available().await? })
            })
            .await
    }

    /// What the VM runs at first boot: dstack's NTP wait, then its shim commands.
    fn first_boot_commands(&self, arch: &str) -> String {
        let shim = shim_commands(&self.agent.downloads(arch), false).join(" && ");
        format!("{NTP_SYNC} && {shim}")
    }
}

fn no_capacity(message: String) -> BackendError {
    BackendError::new(ErrorKind::NoCapacity, message)
}

#[async_trait]
impl Compute for CloudRiftCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let all = self.all_offers().await?;
        let items = all.items.iter().map(|item| &**item);
        let disk = default_configurable_disk();
        let offers = items_offers(items, BackendType::Cloudrift, None, requirements, &disk);
        Ok(offers
            .into_iter()
            .map(|offer| {
                let key = (offer.instance.name.clone(), offer.region.clone());
                offer.with_availability(if all.available.contains(&key) {
                    InstanceAvailability::Available
                } else {
                    InstanceAvailability::NotAvailable
                })
            })
            .collect())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let (name, region) = (&offer.offer.instance.name, &offer.offer.region);
        let resources = &offer.offer.instance.resources;
        let arch = match resources.cpu_arch {
            Some(CpuArchitecture::Arm) => "arm64",
            _ => "amd64",
        };
        let commands = self.first_boot_commands(arch);
        let vendor = resources.gpus.first().map(|gpu| gpu.vendor);
        let groups = self.client.recipe_groups().await?;
        // dstack moves on to the next offer (another vendor may have an image).
        let image_url = vm_image_url(&groups, vendor)
            .ok_or_else(|| no_capacity("No suitable VM image found.".to_owned()))?;
        let ssh_keys: Vec<String> =
            config.ssh_keys.iter().map(|key| key.public.trim().to_owned()).collect();
        let rental = Rental {
            instance_type: name,
            region,
            ssh_keys: &ssh_keys,
            commands: &commands,
            image_url: &image_url,
        };
        let ids = self.client.rent(&rental).await.map_err(|err| match err.kind() {
            // CloudRift refused this rental (a node taken meanwhile, a type gone): the next
            // offer may do, as dstack tries it after any failure.
            ErrorKind::InvalidConfig | ErrorKind::NotFound => err.with_kind(ErrorKind::NoCapacity),
            _ => err,
        })?;
        let Some((id, extra)) = ids.split_first() else {
            return Err(no_capacity(format!(
                "Failed to create instance for offer {name} in region {region}."
            )));
        };
        for other in extra {
            tracing::warn!("CloudRift rented {other} besides {id}: terminating it");
            self.terminate_instance(other, region, &BackendData::none()).await?;
        }
        Ok(ProvisioningData {
            backend: BackendType::Cloudrift,
            instance_type: offer.offer.instance.clone(),
            instance_id: id.clone(),
            hostname: None,
            internal_ip: None,
            region: region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: USERNAME.to_owned(),
            // Known once the VM is ready.
            ssh_port: None,
            dockerized: true,
            backend_data: BackendData::none(),
            ssh_proxy: None,
        })
    }

    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let Some(instance) = self.client.instance(&data.instance_id).await? else {
            return Ok(());
        };
        let text = |key: &str| instance.get(key).and_then(Value::as_str).unwrap_or_default();
        // dstack waits on until its provisioning timeout; an instance CloudRift gave up on
        // will not come up.
        if matches!(text("status"), "Failed" | "Inactive") {
            let reason = instance
                .pointer("/failure/user_message")
                .and_then(Value::as_str)
                .unwrap_or("it was deactivated");
            return Err(BackendError::new(
                ErrorKind::ProvisioningFailed,
                format!("CloudRift instance {} is {}: {reason}", data.instance_id, text("status")),
            ));
        }
        if text("node_mode") != "VirtualMachine" {
            return Ok(());
        }
        let ready = instance.pointer("/virtual_machines/0/ready").and_then(Value::as_bool);
        if ready != Some(true) {
            return Ok(());
        }
        let hostname = instance.get("host_address").and_then(Value::as_str);
        if let (Some(hostname), Some(port)) = (hostname, vm_ssh_port(&instance)) {
            data.hostname = Some(hostname.to_owned());
            data.ssh_port = Some(port);
        }
        Ok(())
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        _backend_data: &BackendData,
    ) -> Result<()> {
        match self.client.terminate(instance_id).await {
            Ok(terminated) if terminated > 0 => return Ok(()),
            Ok(_) => {}
            // Refused (an ID CloudRift does not know?): whether it is gone is asked below.
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::InvalidConfig) => {
                tracing::debug!("terminating {instance_id}: {err}");
            }
            Err(err) => return Err(err),
        }
        let instance = self.client.instance(instance_id).await?;
        let status = instance.as_ref().and_then(|i| i.get("status")).and_then(Value::as_str);
        match status {
            None | Some("Inactive" | "Failed") => Ok(()),
            Some(status) => Err(BackendError::new(
                ErrorKind::NotYetTerminated,
                format!(
                    "Failed to terminate instance {instance_id} in region {region}. \
                     It is {status}."
                ),
            )),
        }
    }
}
