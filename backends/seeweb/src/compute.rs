//! Provisioning on Seeweb, as dstack 0.22.5 does it.
//!
//! - Offers: gpuhunt's online `seeweb` provider (`GET /plans`) in the configured regions, an
//!   offer available where `GET /plans/availables` lists its plan and region; kept per
//!   requirements for 180 s ([`crate::cache`]).
//! - Create: the plan's image, the project key (get-or-create), `POST /servers` with the
//!   startup script ([`crate::script`]); a failure leaves nothing behind.
//! - Update: the creating action, then the server's IPv4. Terminate: idempotent.

use std::collections::BTreeSet;

use async_trait::async_trait;
use dstack_catalog::offer::{default_configurable_disk, items_offers};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::config::backends::SeewebBackendConfig;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, CpuArchitecture, InstanceAvailability, InstanceConfiguration,
    InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, unique_instance_name};
use dstack_core::{BackendError, Compute, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::PlanAvailability;
use crate::cache::CachedByKey;
use crate::client::SeewebClient;
use crate::provider::SeewebProvider;
use crate::script::user_customize;

/// Images dstack picks, the first the plan allows.
const GPU_IMAGES: &[&str] = &["ubuntu-2204-uefi-nvidia-driver", "ubuntu-2204-nvidia-driver"];
const CPU_IMAGES: &[&str] = &["ubuntu-2204"];

/// Statuses of Seeweb's SDK (`ServerStatusEnum`, `ActionStatusEnum`), case-insensitively.
const FAILED_SERVER_STATUSES: &[&str] = &["fail", "deleted", "deleting"];

/// What is kept with an instance: the action that creates it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SeewebInstanceData {
    action_id: Option<i64>,
}

#[derive(Debug)]
pub struct SeewebCompute {
    config: SeewebBackendConfig,
    client: SeewebClient,
    provider: SeewebProvider,
    agent: AgentSettings,
    offers: CachedByKey<Vec<InstanceOfferWithAvailability>>,
}

impl SeewebCompute {
    pub(crate) fn new(
        config: SeewebBackendConfig,
        client: SeewebClient,
        agent: AgentSettings,
    ) -> Self {
        let provider = SeewebProvider::new(client.rest.clone());
        Self { config, client, provider, agent, offers: CachedByKey::default() }
    }

    /// dstack's `get_offers_by_requirements`.
    async fn fetch_offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let items = self.provider.plan_items().await?;
        // `regions: []` is all regions, as in dstack (`regions or None`).
        let regions = self.config.regions.as_deref().filter(|r| !r.is_empty());
        let disk = default_configurable_disk();
        let offers = items_offers(&items, BackendType::Seeweb, regions, requirements, &disk);
        // A plan may be offered in a region and sold out there.
        let creatable: BTreeSet<(String, String)> = self
            .client
            .available_plans()
            .await?
            .into_iter()
            .flat_map(|(plan, a)| a.regions.into_iter().map(move |r| (plan.clone(), r)))
            .collect();
        Ok(offers
            .into_iter()
            .map(|offer| {
                let pair = (offer.instance.name.clone(), offer.region.clone());
                offer.with_availability(if creatable.contains(&pair) {
                    InstanceAvailability::Available
                } else {
                    InstanceAvailability::NotAvailable
                })
            })
            .collect())
    }

    /// After a failed `POST /servers`: the server it may have made (found by its notes) and
    /// the key this create registered are deleted. Best effort: the create's error is what
    /// the caller gets.
    async fn clean_up(&self, name: &str, created_key: Option<&str>, error: &BackendError) {
        let refused_outright = matches!(
            error.kind(),
            ErrorKind::NoCapacity
                | ErrorKind::InvalidConfig
                | ErrorKind::InvalidCredentials
                | ErrorKind::RateLimited
        );
        if !refused_outright {
            match self.client.servers_with_notes(name).await {
                Ok(servers) => {
                    for server in servers {
                        if let Err(err) = self.client.delete_server(&server).await {
                            tracing::warn!(
                                "Seeweb server {server} of a failed create is left: {err}"
                            );
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!("cannot look for servers of failed create {name}: {err}")
                }
            }
        }
        if let Some(label) = created_key
            && let Err(err) = self.client.delete_ssh_key(label).await
        {
            tracing::warn!("Seeweb SSH key {label} of a failed create is left: {err}");
        }
    }
}

/// dstack's `_select_image`: the plan must be creatable in the region, with one of dstack's
/// images. A plan without one cannot be used: dstack's backend error moves it to the next
/// offer, which here is "no capacity".
fn select_image(
    availability: Option<&PlanAvailability>,
    plan: &str,
    region: &str,
    is_gpu: bool,
) -> Result<&'static str> {
    let no_capacity = |message: String| BackendError::new(ErrorKind::NoCapacity, message);
    let Some(availability) = availability.filter(|a| a.regions.contains(region)) else {
        return Err(no_capacity(format!("Seeweb plan {plan} is not available in region {region}")));
    };
    let preference = if is_gpu { GPU_IMAGES } else { CPU_IMAGES };
    preference
        .iter()
        .copied()
        .find(|image| availability.images.iter().any(|i| i == image))
        .ok_or_else(|| {
            let workload = if is_gpu { "GPU" } else { "CPU" };
            no_capacity(format!(
                "Seeweb plan {plan} has no supported {workload} image in region {region}"
            ))
        })
}

#[async_trait]
impl Compute for SeewebCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let key = serde_json::to_string(requirements).map_err(|e| {
            BackendError::new(ErrorKind::Unexpected, format!("requirements cannot be keyed: {e}"))
        })?;
        let offers = self.offers.slot(&key).get(|| self.fetch_offers(requirements)).await?;
        Ok(offers.as_ref().clone())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let name = unique_instance_name(config);
        let public_keys: Vec<String> =
            config.ssh_keys.iter().map(|k| k.public.trim().to_owned()).collect();
        let (plan, region) = (&offer.offer.instance.name, &offer.offer.region);
        let resources = &offer.offer.instance.resources;
        let is_gpu = !resources.gpus.is_empty();
        let plans = self.client.available_plans().await?;
        let image = select_image(plans.get(plan), plan, region, is_gpu)?;
        let arch = match resources.cpu_arch {
            Some(CpuArchitecture::Arm) => "arm64",
            _ => "amd64",
        };
        let script = user_customize(&public_keys, is_gpu, &self.agent.downloads(arch));
        let mut body = json!({
            "plan": plan,
            "image": image,
            "location": region,
            "notes": name,
            "user_customize": script,
        });
        // Seeweb injects the registered key too, before the script has run.
        let mut created_key = None;
        if let Some(first) = public_keys.first() {
            let (label, created) = self.client.get_or_create_ssh_key(first).await?;
            body["ssh_key"] = json!(label);
            created_key = created.then_some(label);
        }
        let server = match self.client.create_server(&body).await {
            Ok(server) => server,
            Err(err) => {
                self.clean_up(&name, created_key.as_deref(), &err).await;
                return Err(err);
            }
        };
        Ok(ProvisioningData {
            backend: BackendType::Seeweb,
            instance_type: offer.offer.instance.clone(),
            instance_id: server.name,
            hostname: None,
            internal_ip: None,
            region: region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: "root".to_owned(),
            ssh_port: Some(22),
            dockerized: true,
            backend_data: BackendData::of(&SeewebInstanceData { action_id: server.action_id })?,
            ssh_proxy: None,
        })
    }

    /// The creating action first (missing or unfinished: wait; `failed`: the instance will
    /// not come up), then the server (missing: wait; `fail` / `deleted` / `deleting`: it will
    /// not come up); its IPv4 is the hostname once the action has completed.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let stored: SeewebInstanceData = data.backend_data.get()?.unwrap_or_default();
        if let Some(action_id) = stored.action_id {
            let Some(action) = self.client.get_action(action_id).await? else { return Ok(()) };
            let status =
                action.get("status").and_then(|s| s.as_str()).unwrap_or_default().to_lowercase();
            if status == "failed" {
                return Err(BackendError::new(
                    ErrorKind::ProvisioningFailed,
                    format!("Seeweb action {action_id} entered status '{status}'"),
                ));
            }
            if status != "completed" {
                return Ok(());
            }
        }
        let Some(server) = self.client.get_server(&data.instance_id).await? else {
            // The server can lag briefly behind its completed action.
            return Ok(());
        };
        let status =
            server.get("status").and_then(|s| s.as_str()).unwrap_or_default().to_lowercase();
        if FAILED_SERVER_STATUSES.contains(&status.as_str()) {
            return Err(BackendError::new(
                ErrorKind::ProvisioningFailed,
                format!("Seeweb server {} entered status '{status}'", data.instance_id),
            ));
        }
        if let Some(ipv4) =
            server.get("ipv4").and_then(|ip| ip.as_str()).filter(|ip| !ip.is_empty())
        {
            data.hostname = Some(ipv4.to_owned());
        }
        Ok(())
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        _data: &BackendData,
    ) -> Result<()> {
        self.client.delete_server(instance_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_follow_dstacks_preference() {
        let plan = |images: &[&str]| PlanAvailability {
            regions: BTreeSet::from(["it-fr2".to_owned()]),
            images: images.iter().map(|i| (*i).to_owned()).collect(),
        };
        let both =
            plan(&["ubuntu-2204-nvidia-driver", "ubuntu-2204-uefi-nvidia-driver", "ubuntu-2204"]);
        assert_eq!(
            select_image(Some(&both), "P", "it-fr2", true).unwrap(),
            "ubuntu-2204-uefi-nvidia-driver"
        );
        assert_eq!(select_image(Some(&both), "P", "it-fr2", false).unwrap(), "ubuntu-2204");
        let err = select_image(Some(&both), "P", "it-mi2", true).unwrap_err();
        assert_eq!(
            (err.kind(), err.message()),
            (ErrorKind::NoCapacity, "Seeweb plan P is not available in region it-mi2")
        );
        let err = select_image(None, "P", "it-fr2", true).unwrap_err();
        assert_eq!(err.message(), "Seeweb plan P is not available in region it-fr2");
        let err = select_image(Some(&plan(&["debian-12"])), "P", "it-fr2", true).unwrap_err();
        assert_eq!(err.message(), "Seeweb plan P has no supported GPU image in region it-fr2");
    }
}
