//! Provisioning on DigitalOcean or AMD Developer Cloud (dstack's `BaseDigitalOceanCompute`).
//!
//! - Offers: the sizes of the backend's own API (gpuhunt's online provider), in the configured
//!   regions, all available; kept for 180 s as dstack's `ComputeWithAllOffersCached` keeps them.
//! - Create: the configured project's ID, the project's SSH key (get or create), then the
//!   droplet with dstack's image and user data. Update: the public IPv4 once the droplet is
//!   active. Terminate: delete the droplet; one that is gone is success.

use async_trait::async_trait;
use dstack_backend_kit::{Cached, RestClient};
use dstack_catalog::CatalogItem;
use dstack_catalog::offer::{default_configurable_disk, items_offers};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::config::backends::DigitalOceanBackendConfig;
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, InstanceAvailability, InstanceConfiguration, InstanceOfferWithAvailability,
    ProvisioningData, Requirements,
};
use dstack_core::provisioning::{AgentSettings, unique_instance_name};
use dstack_core::{BackendError, Compute, ErrorKind};

use crate::client::{self, NewDroplet};
use crate::images;
use crate::sizes::DigitalOceanProvider;

/// The compute of one configured DigitalOcean or AMD Developer Cloud backend.
#[derive(Debug)]
pub struct DigitalOceanCompute {
    backend: BackendType,
    config: DigitalOceanBackendConfig,
    client: RestClient,
    provider: DigitalOceanProvider,
    agent: AgentSettings,
    /// Every size in every region, unfiltered: filtered per request.
    items: Cached<Vec<CatalogItem>>,
}

impl DigitalOceanCompute {
    pub(crate) fn new(
        backend: BackendType,
        config: DigitalOceanBackendConfig,
        client: RestClient,
        agent: AgentSettings,
    ) -> Self {
        let provider = DigitalOceanProvider::new(client.clone());
        Self { backend, config, client, provider, agent, items: Cached::offers() }
    }

    /// The configured project's ID (`None` without one): dstack looks it up at every create.
    async fn project_id(&self) -> Result<Option<String>> {
        let Some(name) = self.config.project_name.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        match client::project_id(&self.client, name).await? {
            Some(id) => Ok(Some(id)),
            None => Err(BackendError::new(
                ErrorKind::InvalidConfig,
                format!("Project {name} does not exist"),
            )),
        }
    }
}

/// A droplet ID is a number: anything else names no droplet.
fn is_droplet_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

#[async_trait]
impl Compute for DigitalOceanCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let items = self.items.get(|| self.provider.fetch()).await?;
        // `regions` is used as given, as dstack uses it: `[]` offers nothing.
        let offers = items_offers(
            items.iter(),
            self.backend,
            self.config.regions.as_deref(),
            requirements,
            &default_configurable_disk(),
        );
        Ok(offers
            .into_iter()
            .map(|offer| offer.with_availability(InstanceAvailability::Available))
            .collect())
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let name = unique_instance_name(config);
        // Before the key, so that a missing project leaves nothing behind (dstack registers
        // the key first).
        let project_id = self.project_id().await?;
        let mut ssh_keys = Vec::new();
        if let Some(key) = config.ssh_keys.first() {
            let key_name = format!("dstack-{}", config.project_name);
            ssh_keys
                .push(client::get_or_create_ssh_key(&self.client, &key_name, &key.public).await?);
        }
        let resources = &offer.offer.instance.resources;
        let image = images::for_instance(resources);
        let authorized_keys: Vec<String> =
            config.ssh_keys.iter().map(|k| k.public.clone()).collect();
        // DigitalOcean's droplets are x86.
        let user_data =
            images::droplet_user_data(image, &authorized_keys, &self.agent.downloads("amd64"));
        let droplet = NewDroplet {
            name: &name,
            region: &offer.offer.region,
            size: &offer.offer.instance.name,
            image: image.slug,
            ssh_keys,
            backups: false,
            ipv6: false,
            monitoring: false,
            tags: Vec::new(),
            user_data: &user_data,
            project_id: project_id.as_deref(),
        };
        let id = client::create_droplet(&self.client, &droplet).await?;
        Ok(ProvisioningData {
            backend: offer.offer.backend,
            instance_type: offer.offer.instance.clone(),
            instance_id: id.to_string(),
            hostname: None,
            internal_ip: None,
            region: offer.offer.region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: "root".to_owned(),
            ssh_port: Some(22),
            dockerized: true,
            backend_data: BackendData::none(),
            ssh_proxy: None,
        })
    }

    /// The first public IPv4 once the droplet is `active`; a droplet that is gone, archived
    /// or off will not come up.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        _keys: &SshKeyPair,
    ) -> Result<()> {
        let id = &data.instance_id;
        let failed = |what: String| BackendError::new(ErrorKind::ProvisioningFailed, what);
        if !is_droplet_id(id) {
            return Err(failed(format!("{id} is not a droplet ID")));
        }
        let Some(droplet) = client::droplet(&self.client, id).await? else {
            return Err(failed(format!("Droplet {id} no longer exists")));
        };
        match droplet.status.as_str() {
            "active" => {
                if let Some(ip) = droplet.public_ipv4() {
                    data.hostname = Some(ip.to_owned());
                }
                Ok(())
            }
            "archive" | "off" => {
                Err(failed(format!("Droplet {} is {} while starting", droplet.id, droplet.status)))
            }
            // `new`: still starting.
            _ => Ok(()),
        }
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        _region: &str,
        _backend_data: &BackendData,
    ) -> Result<()> {
        if !is_droplet_id(instance_id) {
            tracing::debug!("{instance_id} is not a droplet ID: nothing to delete");
            return Ok(());
        }
        client::delete_droplet(&self.client, instance_id).await
    }
}
