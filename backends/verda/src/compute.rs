//! Provisioning on Verda, as dstack 0.22.5 does it.
//!
//! - Offers: [`crate::offers`], cached for 180 s like dstack's `ComputeWithAllOffersCached`.
//! - Create: one SSH key per public key (`<name>-<i>.key`), one startup script that starts
//!   dstack's shim (`<name>.sh`), then the instance (the image dstack picks, the fitted OS
//!   volume, on-demand or spot as offered). Whatever was created before a failure is deleted.
//! - Update: the IP once Verda says `running`. Terminate: delete the instance permanently,
//!   then its script and keys; "provisioning" instances cannot be deleted yet.

use std::sync::Arc;

use async_trait::async_trait;
use dstack_backend_kit::Cached;
use dstack_catalog::Catalog;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, CpuArchitecture, InstanceConfiguration, InstanceOfferWithAvailability,
    ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, shim_commands, unique_instance_name};
use dstack_core::{BackendError, Compute, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::client::{self, Deploy, OsVolume};
use crate::offers::{Listed, all_offers, matching};
use crate::session::Session;

/// Ubuntu 22.04 + CUDA 12.0 + Docker: for V100 and A6000 (Verda refuses newer images there).
const IMAGE_OLD_GPUS: &str = "2088da25-bb0d-41cc-a191-dccae45d96fd";
/// Ubuntu 24.04 + CUDA 13.0 Open + Docker: everything else.
const IMAGE_DEFAULT: &str = "2404f580-1300-1111-82b3-f199fb9b701b";

/// What the backend keeps with an instance (dstack's `VerdaInstanceBackendData`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct VerdaInstanceBackendData {
    startup_script_id: Option<String>,
    ssh_key_ids: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct VerdaCompute {
    backend: BackendType,
    session: Session,
    regions: Option<Vec<String>>,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    offers: Cached<Vec<Listed>>,
}

impl VerdaCompute {
    pub(crate) fn new(
        backend: BackendType,
        session: Session,
        regions: Option<Vec<String>>,
        catalog: Arc<Catalog>,
        agent: AgentSettings,
    ) -> Self {
        Self { backend, session, regions, catalog, agent, offers: Cached::offers() }
    }

    /// Creates the keys, the script and the instance, noting each created resource in `made`.
    async fn provision(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
        name: &str,
        made: &mut VerdaInstanceBackendData,
    ) -> Result<ProvisioningData> {
        let keys = made.ssh_key_ids.get_or_insert_with(Vec::new);
        for (index, key) in config.ssh_keys.iter().enumerate() {
            let key_name = format!("{name}-{index}.key");
            keys.push(client::create_ssh_key(&self.session, &key_name, key.public.trim()).await?);
        }
        let resources = &offer.offer.instance.resources;
        let arch = match resources.cpu_arch {
            Some(CpuArchitecture::Arm) => "arm64",
            _ => "amd64",
        };
        let script = startup_script(&self.agent, arch);
        let script_id =
            client::create_script(&self.session, &format!("{name}.sh"), &script).await?;
        made.startup_script_id = Some(script_id.clone());
        let request = Deploy {
            instance_type: &offer.offer.instance.name,
            image: image_for(offer),
            ssh_key_ids: made.ssh_key_ids.as_deref().unwrap_or_default(),
            startup_script_id: Some(&script_id),
            hostname: name,
            description: name,
            location_code: &offer.offer.region,
            os_volume: OsVolume {
                name: "OS volume",
                size: (resources.disk.size_mib as f64 / 1024.0).round() as u64,
            },
            volumes: [],
            existing_volumes: [],
            is_spot: resources.spot,
            coupon: None,
            pricing: "FIXED_PRICE",
        };
        let instance_id = client::deploy(&self.session, &request).await?;
        // The SDK reads the new instance back for its location; the instance exists whatever
        // that read says, so a failed read keeps the offer's region instead of failing.
        let region = match client::instance(&self.session, &instance_id).await {
            Ok(instance) => instance.location.unwrap_or_else(|| offer.offer.region.clone()),
            Err(err) => {
                tracing::warn!("reading Verda instance {instance_id} back failed: {err}");
                offer.offer.region.clone()
            }
        };
        Ok(ProvisioningData {
            backend: offer.offer.backend,
            instance_type: offer.offer.instance.clone(),
            instance_id,
            hostname: None,
            internal_ip: None,
            region,
            availability_zone: None,
            price: offer.offer.price,
            username: "root".to_owned(),
            ssh_port: Some(22),
            dockerized: true,
            backend_data: BackendData::of(&*made)?,
            ssh_proxy: None,
        })
    }

    /// Deletes what a failed create made: the script, then the keys. Failures are logged,
    /// and the create's own error is what is reported.
    async fn clean_up(&self, made: &VerdaInstanceBackendData) {
        if let Some(script) = &made.startup_script_id
            && let Err(err) = client::delete_script(&self.session, script).await
        {
            tracing::error!(
                "Failed to cleanup startup script {script} after provisioning failure: {err}"
            );
        }
        if let Some(keys) = &made.ssh_key_ids
            && let Err(err) = client::delete_ssh_keys(&self.session, keys).await
        {
            tracing::error!(
                "Failed to cleanup ssh keys {keys:?} after provisioning failure: {err}"
            );
        }
    }
}

/// dstack's `_get_vm_image_id`: the older CUDA image for V100 and A6000.
fn image_for(offer: &InstanceOfferWithAvailability) -> &'static str {
    match offer.offer.instance.resources.gpus.first() {
        Some(gpu) if gpu.name == "V100" || gpu.name == "A6000" => IMAGE_OLD_GPUS,
        _ => IMAGE_DEFAULT,
    }
}

/// dstack's shim commands joined with ` && `, which Verda runs as a startup script.
fn startup_script(agent: &AgentSettings, arch: &str) -> String {
    shim_commands(&agent.downloads(arch), false).join(" && ")
}

#[async_trait]
impl Compute for VerdaCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let regions = self.regions.as_deref();
        let listed = self
            .offers
            .get(|| all_offers(&self.catalog, self.backend, regions, &self.session))
            .await?;
        Ok(matching(&listed, self.backend, requirements))
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let name = unique_instance_name(config);
        let mut made = VerdaInstanceBackendData::default();
        match self.provision(offer, config, &name, &mut made).await {
            Ok(data) => Ok(data),
            Err(err) => {
                self.clean_up(&made).await;
                Err(err)
            }
        }
    }

    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let instance = match client::instance(&self.session, &data.instance_id).await {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(failed("Verda instance not found".to_owned()));
            }
            other => other?,
        };
        match instance.status.as_str() {
            "ordered" | "provisioning" => Ok(()),
            "running" => {
                data.hostname = instance.ip;
                Ok(())
            }
            other => Err(failed(format!("Unexpected Verda instance status: '{other}'"))),
        }
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        let data: VerdaInstanceBackendData = backend_data.get()?.unwrap_or_default();
        match client::delete_instance(&self.session, instance_id).await {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {
                tracing::debug!("Skipping instance {instance_id} termination. Instance not found.");
            }
            Err(err) if err.kind() == ErrorKind::NotYetTerminated => {
                return Err(BackendError::new(
                    ErrorKind::NotYetTerminated,
                    "Waiting for Verda instance to leave provisioning state. \
                     Verda forbids terminating provisioning instances",
                ));
            }
            Err(err) => return Err(err),
        }
        if let Some(script) = &data.startup_script_id {
            client::delete_script(&self.session, script).await?;
        }
        if let Some(keys) = &data.ssh_key_ids {
            client::delete_ssh_keys(&self.session, keys).await?;
        }
        Ok(())
    }
}

fn failed(message: String) -> BackendError {
    BackendError::new(ErrorKind::ProvisioningFailed, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_startup_script_is_the_shim_commands() {
        let script = startup_script(&AgentSettings::default(), "amd64");
        assert!(script.starts_with("/bin/sh -c 'grep -q nvidia"), "{script}");
        assert!(script.contains(" && ufw allow ssh && "));
        assert!(script.contains("dstack-shim-linux-amd64"));
        assert!(script.ends_with("sleep 3; done' &"));
        assert!(!script.contains("#cloud-config"));
    }
}
