//! Provisioning on Hot Aisle, as dstack 0.22.5's `HotAisleCompute` does it.
//!
//! - Offers: gpuhunt's online provider (the team's available VMs and bare-metal servers),
//!   MI300X only, bare metal only with `bare_metal: true`, in the configured regions; all
//!   available; kept 180 s.
//! - Create: the project key registered with the user, then a VM from the offer's `vm_specs`
//!   or a server reserved with its `bare_metal_specs`. A create that fails leaves nothing.
//! - Update: once the VM is `running` (or the server's OS `installed`), dstack-shim is started
//!   over SSH as `hotaisle`; the hostname is set only after the launcher ran.
//! - Terminate: the VM deleted with `force`; the server released with `force` unless
//!   `DSTACK_FF_HOTAISLE_BARE_METAL_NO_FORCE_RELEASE` (on by default) says otherwise.

use async_trait::async_trait;
use dstack_backend_kit::Cached;
use dstack_catalog::CatalogItem;
use dstack_catalog::offer::{default_configurable_disk, items_offers};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::config::backends::HotAisleBackendConfig;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, InstanceAvailability, InstanceConfiguration, InstanceOffer,
    InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, Compute, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::HotAisleClient;
use crate::provider::HotAisleProvider;

/// The GPUs dstack offers on Hot Aisle.
pub const SUPPORTED_GPUS: &[&str] = &["MI300X"];
/// The login user of Hot Aisle's images.
pub const USER: &str = "hotaisle";
const SSH_PORT: u16 = 22;

/// What is kept with an instance (dstack's `HotAisleInstanceBackendData`, same JSON): the
/// address the create answered, and whether it is a bare-metal reservation (then the
/// instance ID is the deployment ID, else the VM name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceData {
    pub ip_address: String,
    #[serde(default)]
    pub bare_metal: bool,
}

/// What an offer carries for its create (dstack's `HotAisleOfferBackendData`).
#[derive(Debug, Clone, PartialEq)]
enum Specs {
    Vm(Value),
    BareMetal(Value),
}

impl Specs {
    fn of(offer: &InstanceOffer) -> Option<Specs> {
        let data = &offer.backend_data;
        let set = |key: &str| data.get(key).filter(|v| !v.is_null()).cloned();
        set("bare_metal_specs").map(Specs::BareMetal).or_else(|| set("vm_specs").map(Specs::Vm))
    }
}

/// dstack's `_supported_instances`: GPUs, all of them supported.
fn supported(offer: &InstanceOffer) -> bool {
    let gpus = &offer.instance.resources.gpus;
    !gpus.is_empty() && gpus.iter().all(|gpu| SUPPORTED_GPUS.contains(&gpu.name.as_str()))
}

/// The compute of one configured Hot Aisle backend.
#[derive(Debug)]
pub struct HotAisleCompute {
    config: HotAisleBackendConfig,
    client: HotAisleClient,
    provider: HotAisleProvider,
    agent: AgentSettings,
    ssh: SshSettings,
    /// Release bare metal without `force` (dstack's feature flag, read at registration).
    no_force_release: bool,
    /// Every item of both listings, unfiltered: filtered per request.
    items: Cached<Vec<CatalogItem>>,
}

impl HotAisleCompute {
    pub(crate) fn new(
        config: HotAisleBackendConfig,
        client: HotAisleClient,
        agent: AgentSettings,
        ssh: SshSettings,
        no_force_release: bool,
    ) -> Self {
        let provider = HotAisleProvider::new(client.clone());
        let items = Cached::offers();
        Self { config, client, provider, agent, ssh, no_force_release, items }
    }

    /// The VM's name and address.
    async fn create_vm(&self, specs: &Value) -> Result<(String, String)> {
        let vm = self.client.create_vm(specs).await?;
        let Some(name) = text(&vm, "name") else {
            return Err(unreadable("the created VM has no name"));
        };
        match text(&vm, "ip_address") {
            Some(ip) => Ok((name, ip)),
            None => {
                self.undo(self.client.delete_vm(&name).await, &format!("VM {name}"));
                Err(unreadable(&format!("the created VM {name} has no IP address")))
            }
        }
    }

    /// The reservation's deployment ID and the server's address.
    async fn reserve(&self, specs: &Value, description: &str) -> Result<(String, String)> {
        let server = self.client.reserve(specs, description).await?;
        let Some(id) = text(&server, "deployment_id") else {
            return Err(unreadable("the reservation has no deployment_id"));
        };
        match text(&server, "ip_address") {
            Some(ip) => Ok((id, ip)),
            None => {
                // Never handed to dstack: released now, prepaid or not.
                self.undo(self.client.release(&id, true).await, &format!("server {id}"));
                Err(unreadable(&format!("the reserved server {id} has no IP address")))
            }
        }
    }

    fn undo(&self, result: Result<()>, what: &str) {
        if let Err(err) = result {
            tracing::warn!("Hot Aisle {what} of a failed create is left: {err}");
        }
    }

    /// Where SSH reaches the instance, once it is up: `None` while it is not.
    async fn ssh_address(&self, data: &ProvisioningData) -> Result<Option<(String, u16)>> {
        let stored: InstanceData = data.backend_data.get()?.ok_or_else(|| {
            BackendError::new(ErrorKind::Unexpected, "the instance has no Hot Aisle backend data")
        })?;
        let id = &data.instance_id;
        let gone = |what: String| BackendError::new(ErrorKind::ProvisioningFailed, what);
        if !stored.bare_metal {
            return match self.client.vm_state(id).await {
                Ok(state) if state == "running" => Ok(Some((stored.ip_address, SSH_PORT))),
                Ok(_) => Ok(None),
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    Err(gone(format!("Hot Aisle virtual machine {id} no longer exists")))
                }
                Err(err) => Err(err),
            };
        }
        let server = match self.client.bare_metal(id).await {
            Ok(server) => server,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(gone(format!("Hot Aisle bare metal server {id} no longer exists")));
            }
            Err(err) => return Err(err),
        };
        match server.pointer("/os_status/os_install_status").and_then(Value::as_str) {
            Some("failed") => {
                Err(gone("Hot Aisle bare metal server OS installation failed".to_owned()))
            }
            Some("installed") => {
                // The server's `ip_address` is private: SSH is exposed at `ssh_access`.
                let access = server.get("ssh_access");
                let host = access.and_then(|a| text(a, "ip_address"));
                let port = access
                    .and_then(|a| a.get("port"))
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0);
                Ok(Some((host.unwrap_or(stored.ip_address), port.unwrap_or(SSH_PORT))))
            }
            _ => Ok(None),
        }
    }
}

/// A non-empty string field.
fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unreadable(what: &str) -> BackendError {
    BackendError::new(ErrorKind::Unexpected, format!("Hot Aisle answered, but {what}"))
}

#[async_trait]
impl Compute for HotAisleCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let items = self.items.get(|| self.provider.fetch()).await?;
        // `regions: []` is all regions, as in dstack (`regions or None`).
        let regions = self.config.regions.as_deref().filter(|r| !r.is_empty());
        let disk = default_configurable_disk();
        let bare_metal = self.config.allow_bare_metal();
        let offers =
            items_offers(items.iter(), BackendType::Hotaisle, regions, requirements, &disk);
        Ok(offers
            .into_iter()
            .filter(supported)
            .filter(|offer| bare_metal || !matches!(Specs::of(offer), Some(Specs::BareMetal(_))))
            .map(|offer| offer.with_availability(InstanceAvailability::Available))
            .collect())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let offer = &offer.offer;
        // Before the key, so that an offer without specs leaves nothing behind.
        let Some(specs) = Specs::of(offer) else {
            return Err(BackendError::new(
                ErrorKind::Unexpected,
                format!("the offer {} carries no Hot Aisle specs", offer.instance.name),
            ));
        };
        let Some(key) = config.ssh_keys.first() else {
            return Err(BackendError::new(ErrorKind::InvalidConfig, "the instance has no SSH key"));
        };
        // Before the instance, so that it takes the key.
        let registered = self.client.upload_ssh_key(&key.public).await?;
        let created = match &specs {
            Specs::BareMetal(specs) => self.reserve(specs, &config.instance_name).await,
            Specs::Vm(specs) => self.create_vm(specs).await,
        };
        let (instance_id, ip_address) = match created {
            Ok(created) => created,
            Err(err) => {
                if let Some(fingerprint) = registered {
                    let deleted = self.client.delete_ssh_key(&fingerprint).await;
                    self.undo(deleted, &format!("SSH key {fingerprint}"));
                }
                return Err(err);
            }
        };
        let bare_metal = matches!(specs, Specs::BareMetal(_));
        Ok(ProvisioningData {
            backend: BackendType::Hotaisle,
            instance_type: offer.instance.clone(),
            instance_id,
            hostname: None,
            internal_ip: None,
            region: offer.region.clone(),
            availability_zone: None,
            price: offer.price,
            username: USER.to_owned(),
            ssh_port: Some(SSH_PORT),
            dockerized: true,
            backend_data: BackendData::of(&InstanceData { ip_address, bare_metal })?,
            ssh_proxy: None,
        })
    }

    /// Waits for the VM to run (or the server's OS to be installed), then starts the shim
    /// over SSH; only once the launcher ran are the hostname and SSH port set. An instance
    /// not reachable yet is asked again at the next call.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        if data.hostname.is_some() {
            return Ok(());
        }
        let Some((host, port)) = self.ssh_address(data).await? else { return Ok(()) };
        let target = dstack_ssh::Target::new(host.clone(), port, USER);
        // Hot Aisle's machines are x86.
        let commands = shim_commands(&self.agent.downloads("amd64"), false);
        if dstack_ssh::start_shim_when_reachable(&target, keys, None, &commands, &self.ssh).await? {
            data.hostname = Some(host);
            data.ssh_port = Some(port);
        }
        Ok(())
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        let stored: Option<InstanceData> = backend_data.get()?;
        if stored.is_some_and(|data| data.bare_metal) {
            return self.client.release(instance_id, !self.no_force_release).await;
        }
        self.client.delete_vm(instance_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_data_is_dstacks() {
        let data = InstanceData { ip_address: "10.0.0.1".into(), bare_metal: false };
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"ip_address":"10.0.0.1","bare_metal":false}"#
        );
        let old: InstanceData =
            serde_json::from_str(r#"{"ip_address":"10.0.0.2","extra":1}"#).unwrap();
        assert!(!old.bare_metal, "bare_metal defaults to false, extras are ignored");
    }
}
