//! Provisioning on JarvisLabs, as dstack 0.22.5 does it.
//!
//! - Offers: gpuhunt's online `jarvislabs` provider (`misc/server_meta`), kept 180 s, in the
//!   configured regions, with a configurable disk of at least 100 GB; multinode requirements
//!   keep the VPC regions only.
//! - Create: one JarvisLabs SSH key per public key, then the GPU or CPU VM on the region's
//!   host; a failure destroys what was made and deletes the keys.
//! - Update: the instance once running, then dstack's setup and the shim over SSH.
//! - Terminate: destroy on the region's host, then the instance's keys, each once.

use std::collections::BTreeSet;

use async_trait::async_trait;
use dstack_backend_kit::Cached;
use dstack_catalog::CatalogItem;
use dstack_catalog::offer::items_offers;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::config::backends::JarvisLabsBackendConfig;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, InstanceAvailability, InstanceConfiguration, InstanceOfferWithAvailability,
    ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, shim_commands, unique_instance_name_within};
use dstack_core::resources::{Memory, Range};
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, Compute, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::api::{CpuVm, GpuVm};
use crate::client::JarvisLabsClient;
use crate::instance::{self, CPU_DESTROY, DEFAULT_USERNAME, GPU_DESTROY, VPC_REGIONS};
use crate::provider::JarvisLabsProvider;

/// JarvisLabs' limit on instance names.
const MAX_INSTANCE_NAME_LEN: usize = 40;
/// The smallest VM disk JarvisLabs creates (GB); larger ones are set with `hdd`.
const MIN_DISK_GB: u64 = 100;
/// JarvisLabs' VMs listen for SSH on the usual port.
const SSH_PORT: u16 = 22;

/// What is kept with an instance: its SSH keys (dstack's `ssh_key_ids`, which dstack reads
/// with extra fields ignored), and the template and region it was created with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct JarvisLabsInstanceData {
    #[serde(default)]
    ssh_key_ids: Option<Vec<String>>,
    /// `vm` (GPU) or `vm/cpu`: the create path's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
}

/// The VM a create asks for.
enum Vm {
    Gpu(GpuVm),
    Cpu(CpuVm),
}

impl Vm {
    fn template(&self) -> &'static str {
        match self {
            Vm::Gpu(_) => "vm",
            Vm::Cpu(_) => "vm/cpu",
        }
    }

    fn destroy_endpoint(&self) -> &'static str {
        match self {
            Vm::Gpu(_) => GPU_DESTROY,
            Vm::Cpu(_) => CPU_DESTROY,
        }
    }
}

#[derive(Debug)]
pub struct JarvisLabsCompute {
    config: JarvisLabsBackendConfig,
    client: JarvisLabsClient,
    provider: JarvisLabsProvider,
    agent: AgentSettings,
    ssh: SshSettings,
    items: Cached<Vec<CatalogItem>>,
}

impl JarvisLabsCompute {
    pub(crate) fn new(
        config: JarvisLabsBackendConfig,
        client: JarvisLabsClient,
        agent: AgentSettings,
        ssh: SshSettings,
    ) -> Self {
        let provider = JarvisLabsProvider::new(client.main.clone());
        Self { config, client, provider, agent, ssh, items: Cached::offers() }
    }

    /// Deletes `key_ids`, each once. Best effort: the failure that led here is what the
    /// caller gets.
    async fn delete_keys_after_failure(&self, key_ids: &[String]) {
        for key_id in key_ids {
            if let Err(err) = self.client.delete_ssh_key(key_id).await {
                tracing::warn!("JarvisLabs SSH key {key_id} of a failed create is left: {err}");
            }
        }
    }

    /// After a create whose outcome is unknown (no answer, or no `machine_id` in it): the
    /// VMs carrying its unique name are destroyed.
    async fn destroy_named(&self, name: &str, vm: &Vm, region: &str) {
        let instances = match self.client.instances().await {
            Ok(instances) => instances,
            Err(err) => {
                tracing::warn!("cannot look for the JarvisLabs VM of failed create {name}: {err}");
                return;
            }
        };
        let named = |i: &serde_json::Map<String, serde_json::Value>| {
            ["name", "instance_name"]
                .iter()
                .any(|f| i.get(*f).and_then(|v| v.as_str()) == Some(name))
        };
        for found in instances.iter().filter(|i| named(i)) {
            let Some(id) = found.get("machine_id").filter(|id| !id.is_null()) else { continue };
            let id = crate::client::py_str(id);
            if let Err(err) = self.client.destroy(&id, region, vm.destroy_endpoint()).await {
                tracing::warn!("JarvisLabs VM {id} of failed create {name} is left: {err}");
            }
        }
    }

    /// One key per public key, named `<instance>-<i>.key` as dstack names them. On a
    /// failure the keys made so far are deleted — with the one being made, when its `POST`
    /// may have gone through.
    async fn create_keys(&self, name: &str, config: &InstanceConfiguration) -> Result<Vec<String>> {
        let mut created = Vec::new();
        for (index, key) in config.ssh_keys.iter().enumerate() {
            let (public, key_name) = (key.public.trim(), format!("{name}-{index}.key"));
            match self.client.create_ssh_key(public, &key_name).await {
                Ok(id) => created.push(id),
                Err(err) => {
                    if unknown_outcome(&err)
                        && let Ok(Some(id)) = self.client.find_ssh_key_id(public, &key_name).await
                    {
                        created.push(id);
                    }
                    self.delete_keys_after_failure(&created).await;
                    return Err(err);
                }
            }
        }
        Ok(created)
    }
}

/// Whether a failed request may have been carried out: a lost answer, or one that did not
/// say what it made. A refusal (capacity, a 4xx, credentials) made nothing.
fn unknown_outcome(err: &BackendError) -> bool {
    matches!(err.kind(), ErrorKind::Unexpected | ErrorKind::Transient)
}

/// The disk sizes JarvisLabs VMs can have (`hdd`, GB).
fn configurable_disk() -> Range<Memory> {
    Range::at_least(Memory(MIN_DISK_GB as f64))
}

/// dstack's `_get_disk_size_gb`: the offer's disk in GB, at least JarvisLabs' minimum.
fn disk_size_gb(offer: &InstanceOfferWithAvailability) -> u64 {
    let gb = (offer.offer.instance.resources.disk.size_mib as f64 / 1024.0).round_ties_even();
    (gb as u64).max(MIN_DISK_GB)
}

/// dstack's `_get_jarvislabs_gpu_type`: the create-time token gpuhunt kept (`A100-80GB`),
/// else the GPU's name.
fn gpu_type(offer: &InstanceOfferWithAvailability) -> String {
    let kept = offer.offer.backend_data.get("gpu_type").and_then(|t| t.as_str());
    match kept.filter(|t| !t.is_empty()) {
        Some(token) => token.to_owned(),
        None => {
            offer.offer.instance.resources.gpus.first().map(|g| g.name.clone()).unwrap_or_default()
        }
    }
}

/// A GPU VM for an offer with GPUs, a CPU VM otherwise, with dstack's sizes.
fn vm_for(offer: &InstanceOfferWithAvailability, name: &str) -> Vm {
    let resources = &offer.offer.instance.resources;
    let (storage, region, name) =
        (disk_size_gb(offer), offer.offer.region.clone(), name.to_owned());
    if resources.gpus.is_empty() {
        let ram_gb = (resources.memory_mib as f64 / 1024.0).round_ties_even() as u64;
        return Vm::Cpu(CpuVm { vcpus: resources.cpus, ram_gb, storage, region, name });
    }
    Vm::Gpu(GpuVm {
        gpu_type: gpu_type(offer),
        num_gpus: resources.gpus.len(),
        is_spot: resources.spot,
        storage,
        region,
        name,
    })
}

fn provisioning_failed(message: String) -> BackendError {
    BackendError::new(ErrorKind::ProvisioningFailed, message).for_backend(BackendType::Jarvislabs)
}

#[async_trait]
impl Compute for JarvisLabsCompute {
    /// Every offer is available: `server_meta` lists only what has free devices.
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let items = self.items.get(|| self.provider.fetch()).await?;
        // `regions: []` is all regions, as in dstack (`regions or None`).
        let regions = self.config.regions.as_deref().filter(|r| !r.is_empty());
        let offers = items_offers(
            items.iter(),
            BackendType::Jarvislabs,
            regions,
            requirements,
            &configurable_disk(),
        );
        Ok(offers
            .into_iter()
            .map(|o| o.with_availability(InstanceAvailability::Available))
            .collect())
    }

    /// dstack's post-filter: a multinode cluster needs routable private IPs, which only the
    /// VPC regions give.
    fn filter_offers(
        &self,
        requirements: &Requirements,
        offers: Vec<InstanceOfferWithAvailability>,
    ) -> Vec<InstanceOfferWithAvailability> {
        if requirements.multinode != Some(true) {
            return offers;
        }
        offers.into_iter().filter(|o| VPC_REGIONS.contains(&o.offer.region.as_str())).collect()
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let name = unique_instance_name_within(config, MAX_INSTANCE_NAME_LEN);
        let region = offer.offer.region.as_str();
        // A region without a known host is refused before anything is made.
        self.client.region(region)?;
        let vm = vm_for(offer, &name);
        let key_ids = self.create_keys(&name, config).await?;
        let created = match &vm {
            Vm::Gpu(body) => self.client.create_gpu_vm(body).await,
            Vm::Cpu(body) => self.client.create_cpu_vm(body).await,
        };
        let machine_id = match created {
            Ok(id) => id,
            Err(err) => {
                if unknown_outcome(&err) {
                    self.destroy_named(&name, &vm, region).await;
                }
                self.delete_keys_after_failure(&key_ids).await;
                return Err(err);
            }
        };
        let data = JarvisLabsInstanceData {
            ssh_key_ids: Some(key_ids.clone()),
            template: Some(vm.template().to_owned()),
            region: Some(region.to_owned()),
        };
        let backend_data = match BackendData::of(&data) {
            Ok(backend_data) => backend_data,
            Err(err) => {
                if let Err(left) =
                    self.client.destroy(&machine_id, region, vm.destroy_endpoint()).await
                {
                    tracing::warn!("JarvisLabs VM {machine_id} of a failed create is left: {left}");
                }
                self.delete_keys_after_failure(&key_ids).await;
                return Err(err);
            }
        };
        Ok(ProvisioningData {
            backend: BackendType::Jarvislabs,
            instance_type: offer.offer.instance.clone(),
            instance_id: machine_id,
            hostname: None,
            internal_ip: None,
            region: region.to_owned(),
            availability_zone: None,
            price: offer.offer.price,
            username: DEFAULT_USERNAME.to_owned(),
            ssh_port: Some(SSH_PORT),
            dockerized: true,
            backend_data,
            ssh_proxy: None,
        })
    }

    /// The instance once `running` with a public IP: dstack's setup, then the shim, over SSH
    /// as the user of its `ssh_str`. The hostname is set only once the launcher ran. An
    /// instance JarvisLabs does not list is looked up in its region's `misc/status`:
    /// `failed` there (or on the instance) means it will not come up.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        let Some(found) = self.client.get_instance(&data.instance_id).await? else {
            let status = self.client.instance_status(&data.instance_id, &data.region).await?;
            if let Some(status) = status
                && instance::status(&status) == "failed"
            {
                return Err(provisioning_failed(instance::failed_message(&status)));
            }
            return Ok(());
        };
        match instance::status(&found).as_str() {
            "failed" => return Err(provisioning_failed(instance::failed_message(&found))),
            "running" => {}
            _ => return Ok(()),
        }
        let Some(ip) =
            found.get("public_ip").and_then(|ip| ip.as_str()).filter(|ip| !ip.is_empty())
        else {
            return Ok(());
        };
        let user = instance::ssh_username(&found);
        let target = dstack_ssh::Target::new(ip, SSH_PORT, user.as_str());
        let commands = shim_commands(&self.agent.downloads("amd64"), false);
        let setup = instance::setup_command();
        if dstack_ssh::start_shim_when_reachable(&target, keys, Some(&setup), &commands, &self.ssh)
            .await?
        {
            data.hostname = Some(ip.to_owned());
            data.username = user;
            data.internal_ip = instance::internal_ip(&found);
        }
        Ok(())
    }

    /// dstack's order: the VM (looked up first; gone is done; one already `destroying` is
    /// left to finish), then the instance's keys. A key is deleted only while JarvisLabs
    /// still lists it, so a second terminate deletes nothing twice.
    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        let stored: JarvisLabsInstanceData = backend_data.get()?.unwrap_or_default();
        if let Some(found) = self.client.get_instance(instance_id).await?
            && instance::status(&found) != "destroying"
        {
            let at = instance::region(&found)
                .or_else(|| stored.region.clone())
                .unwrap_or_else(|| region.to_owned());
            self.client.destroy(instance_id, &at, instance::destroy_endpoint(&found)).await?;
        }
        let key_ids = stored.ssh_key_ids.unwrap_or_default();
        if key_ids.is_empty() {
            return Ok(());
        }
        let listed: BTreeSet<String> = self
            .client
            .ssh_keys()
            .await?
            .iter()
            .filter_map(|key| key.get("key_id").filter(|id| !id.is_null()))
            .map(crate::client::py_str)
            .collect();
        let mut deleted = BTreeSet::new();
        for key_id in key_ids {
            if listed.contains(&key_id) && deleted.insert(key_id.clone()) {
                self.client.delete_ssh_key(&key_id).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_data_reads_dstacks_and_keeps_more() {
        let dstack: JarvisLabsInstanceData =
            serde_json::from_str(r#"{"ssh_key_ids": ["k1", "k2"], "other": 1}"#).unwrap();
        assert_eq!(dstack.ssh_key_ids, Some(vec!["k1".into(), "k2".into()]));
        assert_eq!(dstack.template, None);
        let ours = JarvisLabsInstanceData {
            ssh_key_ids: Some(vec!["k1".into()]),
            template: Some("vm/cpu".into()),
            region: Some("india-noida-01".into()),
        };
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            r#"{"ssh_key_ids":["k1"],"template":"vm/cpu","region":"india-noida-01"}"#
        );
    }
}
