//! Provisioning on one configured backend.

use async_trait::async_trait;

use crate::error::{BackendError, Result};
use crate::offers::{
    BackendData, InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData,
    Requirements,
};
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
    /// nothing may be left running.
    async fn create_instance(
        &self,
        offer: &InstanceOfferWithAvailability,
        config: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        let _ = (offer, config);
        Err(BackendError::unsupported_operation("creating instances"))
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
}
