//! Provisioning on one configured backend.

use async_trait::async_trait;

use crate::container::JobConfiguration;
use crate::error::{BackendError, Result};
use crate::offers::{
    BackendData, InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData,
    Requirements,
};
use crate::placement::{PlacementGroup, PlacementGroupProvisioningData};
use crate::secret::Secret;

/// The project's SSH key pair. Backends whose images cannot take user data log in with it to
/// start dstack's agent (Lambda, Hot Aisle, JarvisLabs).
#[derive(Debug, Clone, PartialEq)]
pub struct SshKeyPair {
    /// OpenSSH public key.
    pub public: String,
    /// OpenSSH private key.
    pub private: Secret,
}

/// The operations of a backend. Only `offers` is required: the others answer a typed
/// `Unsupported` until a backend implements them, and the registry never calls one its
/// [`super::Capabilities`] do not declare. Errors need not name the backend or operation:
/// the registry's wrapper adds both.
#[async_trait]
pub trait Compute: Send + Sync + std::fmt::Debug {
    /// Offers matching `requirements`, with their availability.
    async fn offers(
        &self,
        requirements: &Requirements,
    ) -> Result<Vec<InstanceOfferWithAvailability>>;

    /// Drops or changes offers after they are listed, for rules that need the whole list or
    /// the requirements (JarvisLabs' multinode regions, Kubernetes' resource requests).
    /// The registry applies it to every listing.
    fn filter_offers(
        &self,
        requirements: &Requirements,
        offers: Vec<InstanceOfferWithAvailability>,
    ) -> Vec<InstanceOfferWithAvailability> {
        let _ = requirements;
        offers
    }

    /// Starts an instance for `offer`. Returns as soon as the provider accepted the request;
    /// [`Compute::update_provisioning_data`] fills in what is known later (the IP). On failure
    /// nothing may be left running. With `config.placement_group` set (only on backends that
    /// declare `placement_groups`), the instance is launched into that group.
    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let _ = (offer, config);
        Err(BackendError::unsupported_operation("creating instances"))
    }

    /// Runs `job` as a container for `offer` (container-based backends, which declare
    /// `run_job`): dstack's `ComputeWithRunJob.run_job`. Returns as soon as the provider
    /// accepted the container; [`Compute::update_provisioning_data`] fills in its address,
    /// and [`Compute::terminate_instance`] removes it by the returned `instance_id`. The
    /// container authorizes the project key (`keys.public`) and the job's extra keys. On
    /// failure nothing may be left running; a call repeated after an interrupted one must
    /// not start a second container.
    async fn run_job(
        &self,
        offer: &InstanceOfferWithAvailability,
        job: &JobConfiguration,
        keys: &SshKeyPair,
    ) -> Result<ProvisioningData> {
        let _ = (offer, job, keys);
        Err(BackendError::unsupported_operation("running jobs"))
    }

    /// Refreshes `data` (hostname, IPs) while the instance starts; backends that start the
    /// agent over SSH use `keys`. `ErrorKind::ProvisioningFailed` means the instance will not
    /// come up: stop waiting and terminate it.
    async fn update_provisioning_data(
        &self,
        data: &mut ProvisioningData,
        keys: &SshKeyPair,
    ) -> Result<()> {
        let _ = (data, keys);
        Err(BackendError::unsupported_operation("updating instances"))
    }

    /// Terminates an instance. Idempotent: an instance that no longer exists is success.
    /// `ErrorKind::NotYetTerminated` means "call again later".
    async fn terminate_instance(
        &self,
        instance_id: &str,
        region: &str,
        backend_data: &BackendData,
    ) -> Result<()> {
        let _ = (instance_id, region, backend_data);
        Err(BackendError::unsupported_operation("terminating instances"))
    }

    /// Creates `group` in its region, for a cluster whose first instance will be
    /// `master_offer` (dstack's `create_placement_group`). An offer the group cannot hold
    /// (AWS: `t2`/`t3` in a cluster group) is `ErrorKind::Unsupported`: skip the offer.
    /// Names are unique per creation, so a create repeated after its answer was lost (the
    /// group exists already) is success.
    async fn create_placement_group(
        &self,
        group: &PlacementGroup,
        master_offer: &InstanceOfferWithAvailability,
    ) -> Result<PlacementGroupProvisioningData> {
        let _ = (group, master_offer);
        Err(BackendError::unsupported_operation("creating placement groups"))
    }

    /// Deletes `group`. Idempotent: a group that no longer exists is success.
    /// `ErrorKind::PlacementGroupInUse` means instances are still in it: call again later.
    async fn delete_placement_group(
        &self,
        group: &PlacementGroup,
        data: &PlacementGroupProvisioningData,
    ) -> Result<()> {
        let _ = (group, data);
        Err(BackendError::unsupported_operation("deleting placement groups"))
    }

    /// Whether an instance for `offer` can be launched into `group` (AWS: the same region).
    /// Answers at once, without calling the provider. `false` unless a backend implements it.
    fn is_suitable_placement_group(
        &self,
        group: &PlacementGroup,
        offer: &InstanceOfferWithAvailability,
    ) -> bool {
        let _ = (group, offer);
        false
    }
}
