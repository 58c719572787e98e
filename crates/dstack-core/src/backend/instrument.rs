//! The wrapper the registry puts around every backend: each call runs within its timeout and
//! in a tracing span, an operation the backend's capabilities do not declare answers a typed
//! `Unsupported` without reaching the backend, and every error names the backend, the
//! operation and the resource it concerns.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tracing::Instrument as _;

use super::{BackendRecord, Capabilities, Compute, Configurator, SshKeyPair, ValidationContext};
use crate::config::{BackendConfigWithCreds, BackendType};
use crate::container::JobConfiguration;
use crate::error::{BackendError, ErrorKind, Result};
use crate::offers::{
    BackendData, InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData,
    Requirements,
};
use crate::placement::{PlacementGroup, PlacementGroupProvisioningData};

/// How long each kind of backend call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Checking a config with the cloud, and creating the stored record.
    pub check: Duration,
    /// Listing offers.
    pub offers: Duration,
    /// Creating an instance (some backends try zone after zone). A create that takes longer
    /// is logged, never cancelled: cancelling it half-way could leave an instance running that
    /// nobody knows of.
    pub create: Duration,
    /// One refresh of an instance's provisioning data. Backends that start the agent over SSH
    /// may run setup commands in it (JarvisLabs installs packages for up to 240 s): the
    /// default exceeds `SshSettings::default().longest_start()`.
    pub update: Duration,
    /// Terminating an instance.
    pub terminate: Duration,
    /// Creating or deleting a placement group (one provider call, with its retries). A create
    /// cut short may leave an empty group behind: it costs nothing, and is what the cut
    /// saves a fleet's worker from waiting on.
    pub placement_group: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            check: Duration::from_secs(10),
            offers: Duration::from_secs(30),
            create: Duration::from_secs(300),
            update: Duration::from_secs(360),
            terminate: Duration::from_secs(120),
            placement_group: Duration::from_secs(60),
        }
    }
}

/// What a call that ran out of time answers.
fn timed_out(limit: Duration) -> BackendError {
    BackendError::new(ErrorKind::Transient, format!("no answer within {}s", limit.as_secs()))
}

/// Runs one backend call: in a span, within `limit` (`None`: never cancelled), its error
/// stamped with where it came from.
async fn call<T>(
    backend: BackendType,
    operation: &'static str,
    resource: Option<String>,
    limit: Option<Duration>,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::info_span!("backend", %backend, operation, resource = resource.as_deref());
    let started = Instant::now();
    let result = match limit {
        Some(limit) => match tokio::time::timeout(limit, future).instrument(span.clone()).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(limit)),
        },
        None => future.instrument(span.clone()).await,
    };
    let _entered = span.enter();
    match &result {
        Ok(_) => tracing::debug!(seconds = started.elapsed().as_secs_f32(), "done"),
        Err(err) => tracing::debug!(seconds = started.elapsed().as_secs_f32(), "failed: {err}"),
    }
    result.map_err(|err| err.in_context(backend, operation, resource))
}

/// A configurator, instrumented.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn Configurator>,
    timeouts: Timeouts,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Configurator>, timeouts: Timeouts) -> Self {
        Self { inner, timeouts }
    }
}

#[async_trait]
impl Configurator for Instrumented {
    fn backend_type(&self) -> BackendType {
        self.inner.backend_type()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn validate_config(
        &self,
        config: &BackendConfigWithCreds,
        context: &ValidationContext,
    ) -> Result<()> {
        let limit = self.timeouts.check;
        let check = async {
            match tokio::time::timeout(limit, self.inner.validate_config(config, context)).await {
                Ok(result) => result,
                // dstack's users know this check as "the credential check".
                Err(_) => Err(BackendError::new(
                    ErrorKind::Transient,
                    format!("the credential check did not finish within {}s", limit.as_secs()),
                )),
            }
        };
        call(self.backend_type(), "check", None, None, check).await
    }

    async fn create_backend(
        &self,
        project_name: &str,
        config: BackendConfigWithCreds,
    ) -> Result<BackendRecord> {
        let create = self.inner.create_backend(project_name, config);
        call(self.backend_type(), "create backend", None, Some(self.timeouts.check), create).await
    }

    fn config_with_creds(&self, record: &BackendRecord) -> Result<BackendConfigWithCreds> {
        self.inner
            .config_with_creds(record)
            .map_err(|err| err.in_context(self.backend_type(), "read config", None))
    }

    fn config_without_creds(&self, record: &BackendRecord) -> Result<serde_json::Value> {
        self.inner
            .config_without_creds(record)
            .map_err(|err| err.in_context(self.backend_type(), "read config", None))
    }

    async fn compute(&self, record: &BackendRecord) -> Result<Arc<dyn Compute>> {
        let build = self.inner.compute(record);
        let inner =
            call(self.backend_type(), "build", None, Some(self.timeouts.check), build).await?;
        Ok(Arc::new(InstrumentedCompute {
            backend: self.backend_type(),
            capabilities: self.capabilities(),
            inner,
            timeouts: self.timeouts,
        }))
    }
}

/// A compute, instrumented.
#[derive(Debug)]
struct InstrumentedCompute {
    backend: BackendType,
    capabilities: Capabilities,
    inner: Arc<dyn Compute>,
    timeouts: Timeouts,
}

impl InstrumentedCompute {
    /// Instances are created, refreshed and terminated only by backends that declare it.
    fn require_instances(&self, operation: &'static str, what: &str) -> Result<()> {
        if self.capabilities.create_instance {
            Ok(())
        } else {
            Err(BackendError::unsupported(self.backend, what).in_context(
                self.backend,
                operation,
                None,
            ))
        }
    }

    /// Jobs run as containers only on backends that declare it.
    fn require_jobs(&self, operation: &'static str) -> Result<()> {
        if self.capabilities.run_job {
            Ok(())
        } else {
            Err(BackendError::unsupported(self.backend, "running jobs").in_context(
                self.backend,
                operation,
                None,
            ))
        }
    }

    /// What is refreshed and terminated: an instance (VM backends) or a job's container.
    fn require_instances_or_jobs(&self, operation: &'static str, what: &str) -> Result<()> {
        match self.capabilities.run_job {
            true => Ok(()),
            false => self.require_instances(operation, what),
        }
    }

    /// Placement groups are created, used and deleted only by backends that declare them.
    fn require_placement_groups(&self, operation: &'static str, what: &str) -> Result<()> {
        if self.capabilities.placement_groups {
            Ok(())
        } else {
            Err(BackendError::unsupported(self.backend, what).in_context(
                self.backend,
                operation,
                None,
            ))
        }
    }
}

#[async_trait]
impl Compute for InstrumentedCompute {
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>> {
        let list = self.inner.offers(requirements);
        let offers = call(self.backend, "offers", None, Some(self.timeouts.offers), list).await?;
        Ok(self.inner.filter_offers(requirements, offers))
    }

    fn filter_offers(
        &self,
        requirements: &Requirements,
        offers: Vec<InstanceOfferWithAvailability>,
    ) -> Vec<InstanceOfferWithAvailability> {
        self.inner.filter_offers(requirements, offers)
    }

    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        const OPERATION: &str = "create instance";
        self.require_instances(OPERATION, "creating instances")?;
        if config.placement_group.is_some() {
            self.require_placement_groups(OPERATION, "placement groups")?;
        }
        let resource = format!("{} in {}", offer.offer.instance.name, offer.offer.region);
        let limit = self.timeouts.create;
        let started = Instant::now();
        let create = self.inner.create_instance(offer, config);
        let result = call(self.backend, OPERATION, Some(resource.clone()), None, create).await;
        if started.elapsed() > limit {
            tracing::warn!(
                backend = %self.backend,
                "creating {resource} took {:.0}s, over the {}s it should take",
                started.elapsed().as_secs_f32(),
                limit.as_secs()
            );
        }
        result
    }

    /// Like creating an instance, never cancelled: a cut could leave a container running.
    async fn run_job(
        &self,
        offer: &InstanceOfferWithAvailability,
        job: &JobConfiguration,
        keys: &SshKeyPair,
    ) -> Result<ProvisioningData> {
        const OPERATION: &str = "run job";
        self.require_jobs(OPERATION)?;
        let resource = format!("{} in {}", job.job_name, offer.offer.region);
        let run = self.inner.run_job(offer, job, keys);
        call(self.backend, OPERATION, Some(resource), None, run).await
    }

    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        const OPERATION: &str = "update instance";
        self.require_instances_or_jobs(OPERATION, "updating instances")?;
        let resource = Some(data.instance_id.clone());
        let update = self.inner.update_provisioning_data(data, keys);
        call(self.backend, OPERATION, resource, Some(self.timeouts.update), update).await
    }

    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        const OPERATION: &str = "terminate instance";
        self.require_instances_or_jobs(OPERATION, "terminating instances")?;
        let terminate = self.inner.terminate_instance(instance_id, region, backend_data);
        let resource = Some(instance_id.to_owned());
        call(self.backend, OPERATION, resource, Some(self.timeouts.terminate), terminate).await
    }

    async fn create_placement_group(
        &self,
        group: &PlacementGroup,
        master_offer: &InstanceOfferWithAvailability,
    ) -> Result<PlacementGroupProvisioningData> {
        const OPERATION: &str = "create placement group";
        self.require_placement_groups(OPERATION, "placement groups")?;
        let resource = Some(format!("{} in {}", group.name, group.region()));
        let create = self.inner.create_placement_group(group, master_offer);
        call(self.backend, OPERATION, resource, Some(self.timeouts.placement_group), create).await
    }

    async fn delete_placement_group(
        &self,
        group: &PlacementGroup,
        data: &PlacementGroupProvisioningData,
    ) -> Result<()> {
        const OPERATION: &str = "delete placement group";
        self.require_placement_groups(OPERATION, "placement groups")?;
        let resource = Some(format!("{} in {}", group.name, group.region()));
        let delete = self.inner.delete_placement_group(group, data);
        call(self.backend, OPERATION, resource, Some(self.timeouts.placement_group), delete).await
    }

    /// `false` without reaching a backend that does not declare placement groups.
    fn is_suitable_placement_group(
        &self,
        group: &PlacementGroup,
        offer: &InstanceOfferWithAvailability,
    ) -> bool {
        self.capabilities.placement_groups && self.inner.is_suitable_placement_group(group, offer)
    }
}
