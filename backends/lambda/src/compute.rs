//! Provisioning on Lambda, as dstack 0.22.5 does it.
//!
//! - Offers: the `lambdalabs` catalog, available where `GET /instance-types` has capacity.
//! - Create: the project key registered under dstack's name, then
//!   `POST /instance-operations/launch`. "insufficient-capacity" is `NoCapacity` (the server
//!   moves to the next offer). A failed launch leaves no instance and no key it added. The
//!   name is the same for every attempt of one dstack instance, and an instance of that name,
//!   type and region that is up already is taken instead of launching another: a create
//!   retried after the server stopped mid-call does not make a second VM.
//! - Update: Lambda's images take no user data, so once the instance is up the backend logs
//!   in over SSH, prepares Docker for GPUs and starts `dstack-shim`; the hostname is recorded
//!   only after that ran.
//! - Terminate: idempotent.

use async_trait::async_trait;
use dstack_backend_kit::RestClient;
use dstack_catalog::Catalog;
use dstack_catalog::offer::catalog_offers;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, CpuArchitecture, InstanceAvailability, InstanceConfiguration,
    InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, shim_commands, stable_instance_name};
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, Compute, ErrorKind};
use dstack_ssh::{Target, start_shim_when_reachable};
use std::sync::Arc;

use crate::client::{Launch, capacity, instance, instances_named, launch, terminate};
use crate::keys;

/// The login user of Lambda's images.
const USERNAME: &str = "ubuntu";

/// dstack's preparation of a Lambda instance before the shim: the NVIDIA container toolkit
/// for Docker, with the cgroupfs driver (NVIDIA/nvidia-container-toolkit#48). Idempotent
/// (`mkdir -p`, where dstack's `mkdir` fails on a second run), since it runs again at each
/// check until the launcher has run.
pub const SETUP: &str = concat!(
    "mkdir -p /home/ubuntu/.dstack",
    " && sudo apt-get update",
    " && sudo apt-get install -y --no-install-recommends nvidia-container-toolkit",
    " && sudo install -d -m 0755 /etc/docker",
    r#" && echo '{"exec-opts":["native.cgroupdriver=cgroupfs"]}' | sudo tee /etc/docker/daemon.json"#,
    " && sudo nvidia-ctk runtime configure --runtime=docker",
    " && sudo systemctl restart docker.service",
);

/// Statuses of an instance that will not come up.
const GONE: &[&str] = &["terminating", "terminated", "preempted"];

#[derive(Debug)]
pub struct LambdaCompute {
    client: RestClient,
    regions: Option<Vec<String>>,
    catalog: Arc<Catalog>,
    agent: AgentSettings,
    ssh: SshSettings,
    /// One key registration and launch at a time: a failed create removes the key it added,
    /// which must not pull it from under another create of this backend.
    creating: tokio::sync::Mutex<()>,
}

impl LambdaCompute {
    pub(crate) fn new(
        client: RestClient,
        regions: Option<Vec<String>>,
        catalog: Arc<Catalog>,
        agent: AgentSettings,
        ssh: SshSettings,
    ) -> Self {
        Self { client, regions, catalog, agent, ssh, creating: tokio::sync::Mutex::new(()) }
    }

    /// After a failed launch: an instance it may have started (a lost answer; found by its
    /// name) is terminated, and the key this create added is deleted. Best effort: the
    /// launch's error is what the caller gets.
    async fn clean_up(&self, name: &str, added_key: Option<&str>, error: &BackendError) {
        let refused_outright = matches!(
            error.kind(),
            ErrorKind::NoCapacity
                | ErrorKind::QuotaExceeded
                | ErrorKind::InvalidConfig
                | ErrorKind::InvalidCredentials
                | ErrorKind::RateLimited
        );
        if !refused_outright {
            match instances_named(&self.client, name).await {
                Ok(found) => {
                    for instance in found {
                        if let Err(err) = self.terminate(&instance.id).await {
                            tracing::warn!(
                                "Lambda instance {} of a failed launch is left: {err}",
                                instance.id
                            );
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!("cannot look for instances of failed launch {name}: {err}")
                }
            }
        }
        if let Some(id) = added_key
            && let Err(err) = crate::client::delete_ssh_key(&self.client, id).await
        {
            tracing::warn!("Lambda SSH key {id} of a failed launch is left: {err}");
        }
    }

    /// Terminates `id`; an instance Lambda does not know, or one already going, is done.
    async fn terminate(&self, id: &str) -> Result<()> {
        match terminate(&self.client, id).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            // Lambda refuses to terminate an instance twice: look at what it is now.
            Err(err) if err.kind() == ErrorKind::InvalidConfig => {
                match instance(&self.client, id).await? {
                    None => Ok(()),
                    Some(found) if GONE.contains(&found.status.as_str()) => Ok(()),
                    Some(_) => Err(err),
                }
            }
            Err(err) => Err(err),
        }
    }
}

fn arch(data: &ProvisioningData) -> &'static str {
    match data.instance_type.resources.cpu_arch {
        Some(CpuArchitecture::Arm) => "arm64",
        _ => "amd64",
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

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let name = stable_instance_name(config);
        let public_key = keys::project_key(&config.ssh_keys)?;
        let (instance_type, region) = (&offer.offer.instance.name, &offer.offer.region);
        let _one_at_a_time = self.creating.lock().await;
        let key = keys::register(&self.client, public_key).await?;
        if let Some(id) = self.launched_before(&name, instance_type, region).await? {
            tracing::info!("Lambda instance {id} ({name}) was launched by an earlier attempt");
            return Ok(self.provisioning_data(offer, id));
        }
        let request = Launch {
            region_name: region,
            instance_type_name: instance_type,
            ssh_key_names: [&key.name],
            file_system_names: [],
            quantity: 1,
            name: &name,
        };
        let launched = launch(&self.client, &request).await.and_then(|id| {
            id.ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Unexpected,
                    "Lambda's launch answer has no instance id",
                )
                .for_backend(BackendType::Lambda)
            })
        });
        let instance_id = match launched {
            Ok(id) => id,
            Err(err) => {
                self.clean_up(&name, key.added.as_deref(), &err).await;
                return Err(err);
            }
        };
        Ok(self.provisioning_data(offer, instance_id))
    }

    /// Booting (or not listed yet): wait. Terminated or preempted: it will not come up. Up
    /// with an IP: [`SETUP`] and the shim launcher over SSH, then the hostname.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        let Some(found) = instance(&self.client, &data.instance_id).await? else { return Ok(()) };
        if GONE.contains(&found.status.as_str()) {
            return Err(BackendError::new(
                ErrorKind::ProvisioningFailed,
                format!("Lambda instance {} is {}", data.instance_id, found.status),
            ));
        }
        let ip = found.ip.filter(|ip| !ip.is_empty());
        let (true, Some(ip)) = (found.status != "booting", ip) else { return Ok(()) };
        let commands = shim_commands(&self.agent.downloads(arch(data)), false);
        let target = Target::new(ip.clone(), data.ssh_port.unwrap_or(22), data.username.clone());
        if start_shim_when_reachable(&target, keys, Some(SETUP), &commands, &self.ssh).await? {
            data.hostname = Some(ip);
        }
        Ok(())
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        _data: &BackendData,
    ) -> Result<()> {
        self.terminate(instance_id).await
    }
}

impl LambdaCompute {
    /// An instance of this name, type and region that an earlier attempt launched and that
    /// is not going away.
    async fn launched_before(
        &self,
        name: &str,
        instance_type: &str,
        region: &str,
    ) -> Result<Option<String>> {
        let named = |n: &Option<crate::client::Named>, want: &str| {
            n.as_ref().is_some_and(|n| n.name == want)
        };
        Ok(instances_named(&self.client, name).await?.into_iter().find_map(|i| {
            let usable = !GONE.contains(&i.status.as_str())
                && named(&i.instance_type, instance_type)
                && named(&i.region, region);
            usable.then_some(i.id)
        }))
    }

    fn provisioning_data(
        &self,
        offer: &InstanceOfferWithAvailability,
        instance_id: String,
    ) -> ProvisioningData {
        ProvisioningData {
            backend: BackendType::Lambda,
            instance_type: offer.offer.instance.clone(),
            instance_id,
            hostname: None,
            internal_ip: None,
            region: offer.offer.region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: USERNAME.to_owned(),
            ssh_port: Some(22),
            dockerized: true,
            backend_data: BackendData::none(),
            ssh_proxy: None,
        }
    }
}
