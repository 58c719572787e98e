//! The Kubernetes compute: offers from the clusters' nodes, jobs run as pods behind the
//! project's jump pod, and their pods, services and secrets deleted on terminate.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use dstack_backend_kit::Cached;
use dstack_catalog::CatalogItem;
use dstack_catalog::offer::items_offers;
use dstack_core::backend::SshKeyPair;
use dstack_core::config::BackendType;
use dstack_core::container::{
    JobConfiguration, build_authorized_keys, normalize_public_key, runner_commands, stable_job_name,
};
use dstack_core::error::Result;
use dstack_core::offers::{
    BackendData, InstanceAvailability, InstanceOfferWithAvailability, InstanceRuntime,
    ProvisioningData, Requirements,
};
use dstack_core::provisioning::RUNNER_SSH_PORT;
use dstack_core::resources::{Memory, Range};
use dstack_core::ssh::SshSettings;
use dstack_core::{BackendError, Compute, ErrorKind};
use k8s_openapi::api::core::v1::{Node, Pod, Secret, Service};
use kube::Api;
use serde::{Deserialize, Serialize};

use crate::api::{self, namespaced};
use crate::clusters::{Cluster, LEGACY_REGION};
use crate::jump;
use crate::labels::{base_labels, with_tags};
use crate::manifests::{
    POD_USER, Placement, job_pod, job_service, jump_pod_name, registry_secret,
    registry_secret_name, service_name,
};
use crate::nodes::{NodeResources, allocated, node_resources};
use crate::placement::gpu_placement;
use crate::resources::{ResourceAmounts, gpu_resource};

/// Kubernetes label values (pod names are one) are at most 63 characters.
const POD_NAME_MAX_LENGTH: usize = 63;
/// How long a new job pod may take to be placed on a node before the offer is given up.
const SCHEDULING_TIMEOUT: Duration = Duration::from_secs(10);
const SCHEDULING_POLL: Duration = Duration::from_millis(500);
/// The region dstack gave instances before it had several clusters.
const DUMMY_REGION: &str = "-";

/// What a job's provisioning data keeps until the jump pod has let its keys in (dstack's
/// `KubernetesBackendData`; `user_ssh_public_key` for servers before dstack 0.21.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobData {
    pub jump_pod_name: String,
    pub jump_pod_service_name: String,
    #[serde(default)]
    pub user_ssh_public_key: String,
    #[serde(default)]
    pub extra_authorized_keys: Vec<String>,
}

/// The compute of one configured backend: its clusters by region.
#[derive(Debug)]
pub struct KubernetesCompute {
    clusters: BTreeMap<String, Cluster>,
    runner_url: String,
    ssh: SshSettings,
    nodes: Cached<Vec<NodeResources>>,
}

impl KubernetesCompute {
    pub fn new(clusters: Vec<Cluster>, runner_url: String, ssh: SshSettings) -> Self {
        let clusters = clusters.into_iter().map(|c| (c.region.clone(), c)).collect();
        Self { clusters, runner_url, ssh, nodes: Cached::offers() }
    }

    fn cluster(&self, region: &str) -> Result<&Cluster> {
        self.clusters.get(region).ok_or_else(|| {
            BackendError::new(ErrorKind::InvalidConfig, format!("Unknown region: '{region}'"))
        })
    }

    /// Every cluster's nodes with what they can still give; a cluster that does not answer
    /// is logged and left out, as dstack does.
    async fn fetch_nodes(&self) -> Result<Vec<NodeResources>> {
        let listings = self.clusters.values().map(|cluster| async move {
            let nodes: Api<Node> = Api::all(cluster.client.clone());
            let pods: Api<Pod> = Api::all(cluster.client.clone());
            let listed = async {
                let pods = pods.list(&Default::default()).await?.items;
                let nodes = nodes.list(&Default::default()).await?.items;
                Ok::<_, kube::Error>((nodes, pods))
            };
            match listed.await {
                Ok((nodes, pods)) => {
                    let allocated = allocated(&pods);
                    let usable = nodes.iter().filter_map(|node| {
                        let name = node.metadata.name.as_deref().unwrap_or_default();
                        node_resources(node, &cluster.region, allocated.get(name))
                    });
                    usable.collect()
                }
                Err(err) => {
                    tracing::warn!("Failed to get offers from cluster {cluster}: {err}");
                    Vec::new()
                }
            }
        });
        Ok(futures::future::join_all(listings).await.into_iter().flatten().collect())
    }

    /// Deletes what a job left: its service, pod and pull secret (each gone already is done).
    async fn delete_job(&self, cluster: &Cluster, pod: &str) -> Result<()> {
        let services: Api<Service> = namespaced(&cluster.client, &cluster.namespace);
        let pods: Api<Pod> = namespaced(&cluster.client, &cluster.namespace);
        let secrets: Api<Secret> = namespaced(&cluster.client, &cluster.namespace);
        let results = [
            ("pod service", api::delete(&services, &service_name(pod)).await),
            ("pod", api::delete(&pods, pod).await),
            ("registry auth secret", api::delete(&secrets, &registry_secret_name(pod)).await),
        ];
        let mut failed = false;
        for (what, result) in results {
            if let Err(err) = result {
                tracing::warn!("Failed to delete {what} in namespace {}: {err}", cluster.namespace);
                failed = true;
            }
        }
        match failed {
            false => Ok(()),
            true => Err(BackendError::new(
                ErrorKind::Transient,
                "Not all objects were deleted, check logs",
            )),
        }
    }

    /// Waits until the pod is placed on a node (its containers are being created) or ended.
    /// Not placed in time: `NoCapacity` with the scheduler's reason (the next offer).
    async fn await_scheduled(&self, pods: &Api<Pod>, name: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + SCHEDULING_TIMEOUT;
        loop {
            let pod = api::get(pods, name).await?;
            let status = pod.as_ref().and_then(|p| p.status.as_ref());
            let phase = status.and_then(|s| s.phase.clone());
            if let Some(phase @ ("Succeeded" | "Failed")) = phase.as_deref() {
                let reason = status.and_then(|s| s.message.clone()).unwrap_or_default();
                return Err(BackendError::new(
                    ErrorKind::ProvisioningFailed,
                    format!("Pod {name} already finished: {phase}: {reason}"),
                ));
            }
            let scheduled = status.is_some_and(|s| s.container_statuses.is_some())
                || phase.as_deref().is_some_and(|p| p != "Pending");
            if scheduled {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let condition = status.and_then(|s| s.conditions.as_ref()).and_then(|c| {
                    c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False")
                });
                let reason = condition.and_then(|c| c.reason.clone());
                let message = condition.and_then(|c| c.message.clone());
                return Err(BackendError::new(
                    ErrorKind::NoCapacity,
                    format!(
                        "Pod {name} was not scheduled: {}: {}",
                        reason.as_deref().unwrap_or("unknown reason"),
                        message.as_deref().unwrap_or("no message")
                    ),
                ));
            }
            tokio::time::sleep(SCHEDULING_POLL).await;
        }
    }

    /// Creates the job's pod (with its pull secret) and service; see [`Compute::run_job`].
    async fn start_job(
        &self,
        cluster: &Cluster,
        name: &str,
        job: &JobConfiguration,
        authorized_keys: &[String],
    ) -> Result<()> {
        let spec = &job.requirements.resources;
        let base =
            base_labels("job", name, &job.project_name, Some(&job.job_name), Some(&job.user));
        let labels = with_tags(base, job.tags.iter().flatten());
        let resource = gpu_resource(spec)?;
        let placement = match (ResourceAmounts::requests(spec).gpu, &spec.gpu) {
            (0, _) | (_, None) => Placement::default(),
            (_, Some(gpu)) => {
                let nodes: Api<Node> = Api::all(cluster.client.clone());
                let nodes = nodes.list(&Default::default()).await.map_err(api::error)?.items;
                gpu_placement(gpu, resource, &nodes)?
            }
        };
        if let Some(auth) = &job.registry_auth {
            let secrets: Api<Secret> = namespaced(&cluster.client, &cluster.namespace);
            let secret = registry_secret(&registry_secret_name(name), &labels, &job.image, auth);
            api::create(&secrets, &api::object(secret)?).await?;
        }
        let commands = runner_commands(authorized_keys, &self.runner_url, &[]);
        let pod = job_pod(name, &labels, job, &commands, spec, resource, &placement);
        let pods: Api<Pod> = namespaced(&cluster.client, &cluster.namespace);
        api::create(&pods, &api::object(pod)?).await?;
        self.await_scheduled(&pods, name).await?;
        let services: Api<Service> = namespaced(&cluster.client, &cluster.namespace);
        api::create(&services, &api::object(job_service(name, &labels))?).await
    }
}

/// A node as a catalog item, to be filtered by dstack's requirement rules.
fn catalog_item(node: &NodeResources) -> CatalogItem {
    let gpu = node.gpus.first();
    CatalogItem {
        provider: "kubernetes".to_owned(),
        instance_name: node.name.clone(),
        location: node.region.clone(),
        price: 0.0,
        cpu: node.cpus,
        memory: node.memory_mib as f64 / 1024.0,
        gpu_count: node.gpus.len() as u32,
        gpu_name: gpu.map(|g| g.name.clone()),
        gpu_memory: gpu.map(|g| g.memory_mib as f64 / 1024.0),
        spot: false,
        disk_size: Some(node.disk_mib as f64 / 1024.0),
        gpu_vendor: gpu.map(|g| g.vendor),
        flags: Vec::new(),
        cpu_arch: node.cpu_arch,
        provider_data: "{}".to_owned(),
    }
}

#[async_trait]
impl Compute for KubernetesCompute {
    /// One offer per node, cut to the requested lower bounds (what the job's pod requests),
    /// where that meets the requirements; available, free, run by dstack's runner.
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let nodes = self.nodes.get(|| self.fetch_nodes()).await?;
        let requests = ResourceAmounts::requests(&requirements.resources);
        let fitted: Vec<NodeResources> = nodes
            .iter()
            .map(|node| {
                let mut fitted = node.clone();
                requests.fit(
                    &mut fitted.cpus,
                    &mut fitted.memory_mib,
                    &mut fitted.disk_mib,
                    &mut fitted.gpus,
                );
                fitted
            })
            .collect();
        let items: Vec<CatalogItem> = fitted.iter().map(catalog_item).collect();
        let any_disk = Range::<Memory>::at_least(Memory(0.0));
        let offers = items_offers(&items, BackendType::Kubernetes, None, requirements, &any_disk);
        Ok(offers
            .into_iter()
            .map(|mut offer| {
                // A node's disk is what it has, even none (the catalog would pick a size).
                let node = fitted
                    .iter()
                    .find(|n| n.name == offer.instance.name && n.region == offer.region);
                if let Some(node) = node {
                    offer.instance.resources.disk.size_mib = node.disk_mib;
                }
                InstanceOfferWithAvailability {
                    instance_runtime: InstanceRuntime::Runner,
                    ..offer.with_availability(InstanceAvailability::Available)
                }
            })
            .collect())
    }

    /// The jump pod (once per project and cluster), then the job's pod and its service. The
    /// pod's name comes from the job's ID, so a repeated call finds an earlier call's pod
    /// instead of starting a second. A pod not placed within 10 s is removed again and the
    /// offer given up (`NoCapacity`).
    async fn run_job(
        &self,
        offer: &InstanceOfferWithAvailability,
        job: &JobConfiguration,
        keys: &SshKeyPair,
    ) -> Result<ProvisioningData> {
        let cluster = self.cluster(&offer.offer.region)?;
        let project_keys = build_authorized_keys(&keys.public, &[])?;
        let extra_keys: Vec<String> =
            job.extra_authorized_keys.iter().filter_map(|k| normalize_public_key(k)).collect();
        jump::ensure(cluster, &job.project_name, &project_keys).await?;
        let name = stable_job_name(job, POD_NAME_MAX_LENGTH);
        let authorized: Vec<String> = project_keys.iter().chain(&extra_keys).cloned().collect();
        if let Err(err) = self.start_job(cluster, &name, job, &authorized).await {
            if let Err(cleanup) = self.delete_job(cluster, &name).await {
                tracing::error!(
                    "Failed to clean up pod {name} after {err}: {cleanup}. Please delete it manually"
                );
            }
            return Err(err);
        }
        let jump_pod = jump_pod_name(&job.project_name);
        let data = JobData {
            jump_pod_service_name: service_name(&jump_pod),
            jump_pod_name: jump_pod,
            user_ssh_public_key: extra_keys.first().cloned().unwrap_or_default(),
            extra_authorized_keys: extra_keys,
        };
        Ok(ProvisioningData {
            backend: BackendType::Kubernetes,
            instance_type: offer.offer.instance.clone(),
            instance_id: name,
            hostname: None,
            internal_ip: None,
            region: offer.offer.region.clone(),
            availability_zone: None,
            price: offer.offer.price,
            username: POD_USER.to_owned(),
            ssh_port: Some(RUNNER_SSH_PORT),
            dockerized: false,
            backend_data: BackendData::of(&data)?,
            ssh_proxy: None,
        })
    }

    /// First the jump pod: running, the job's extra keys let in, its address recorded as
    /// the SSH proxy (then the backend data is dropped, as dstack does). Then the job's pod:
    /// once it has an IP, the hostname is its service's cluster IP, and the instance type
    /// becomes the node it runs on, sized as the pod requests.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        let cluster =
            self.cluster(&data.region).map_err(|e| e.with_kind(ErrorKind::ProvisioningFailed))?;
        if let Some(job) = data.backend_data.get::<JobData>()? {
            let mut extra = job.extra_authorized_keys;
            if extra.is_empty() && !job.user_ssh_public_key.is_empty() {
                extra.push(job.user_ssh_public_key);
            }
            let (pod, service) = (&job.jump_pod_name, &job.jump_pod_service_name);
            let Some(proxy) = jump::proxy(cluster, pod, service, &extra, keys, &self.ssh).await?
            else {
                return Ok(());
            };
            data.ssh_proxy = Some(proxy);
            data.backend_data = BackendData::none();
        }
        let pods: Api<Pod> = namespaced(&cluster.client, &cluster.namespace);
        let Some(pod) = api::get(&pods, &data.instance_id).await? else {
            return Err(BackendError::new(
                ErrorKind::ProvisioningFailed,
                format!("Pod {} is gone", data.instance_id),
            ));
        };
        let status = pod.status.clone().unwrap_or_default();
        if let Some(phase @ ("Succeeded" | "Failed")) = status.phase.as_deref() {
            return Err(BackendError::new(
                ErrorKind::ProvisioningFailed,
                format!("Pod {} finished: {phase}", data.instance_id),
            ));
        }
        let Some(pod_ip) = status.pod_ip.filter(|ip| !ip.is_empty()) else { return Ok(()) };
        let services: Api<Service> = namespaced(&cluster.client, &cluster.namespace);
        let service = api::get(&services, &service_name(&data.instance_id)).await?;
        let Some(cluster_ip) = service.and_then(|s| s.spec).and_then(|s| s.cluster_ip) else {
            return Ok(());
        };
        let spec = pod.spec.unwrap_or_default();
        if let Some(node_name) = &spec.node_name {
            let nodes: Api<Node> = Api::all(cluster.client.clone());
            if let Some(node) = api::get(&nodes, node_name).await?
                && let Some(mut node) = node_resources(&node, &cluster.region, None)
            {
                let requested = spec.containers.first().and_then(|c| c.resources.clone());
                let requests = requested.and_then(|r| r.requests).unwrap_or_default();
                let requests = ResourceAmounts::from_kubernetes(&requests);
                node.cpus = requests.cpu.unwrap_or(0);
                node.memory_mib = requests.memory_mib.unwrap_or(0);
                node.disk_mib = requests.disk_mib.unwrap_or(0);
                node.gpus.truncate(requests.gpu as usize);
                let resources = &mut data.instance_type.resources;
                data.instance_type.name = node.name;
                (resources.cpus, resources.memory_mib, resources.disk.size_mib) =
                    (node.cpus, node.memory_mib, node.disk_mib);
                resources.gpus = node.gpus;
                resources.cpu_arch = Some(node.cpu_arch);
            }
        }
        data.internal_ip = Some(pod_ip);
        data.hostname = Some(cluster_ip);
        Ok(())
    }

    /// Deletes the job's service, pod and pull secret; what is gone is done. The jump pod
    /// stays. An instance of the single cluster from before contexts (region `-`) is looked
    /// for in the legacy cluster.
    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        _: &BackendData,
    ) -> Result<()> {
        let cluster = match (self.clusters.get(region), region) {
            (Some(cluster), _) => cluster,
            (None, DUMMY_REGION) if self.clusters.contains_key(LEGACY_REGION) => {
                tracing::warn!(
                    "Terminating instance {instance_id} in unknown region {region}. Assuming it \
                     was created before multi-cluster support and is in the current context's cluster"
                );
                &self.clusters[LEGACY_REGION]
            }
            (None, _) => self.cluster(region)?,
        };
        self.delete_job(cluster, instance_id).await
    }
}
