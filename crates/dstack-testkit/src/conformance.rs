//! What every backend's [`Compute`] must do, as plain async functions over `&dyn Compute`.
//! A backend's tests call them against the backend's emulator or fake; each panics with a
//! message naming the broken rule.
//!
//! ```ignore
//! let compute = configurator.backend(&record).await?.compute();
//! let offer = conformance::offers_match(&*compute, &requirements).await.remove(0);
//! conformance::create_update_terminate(&*compute, &offer, &instance_config).await;
//! ```
//!
//! A backend whose instances are not implemented yet runs [`create_is_unsupported`] instead.

use std::time::Duration;

use dstack_core::offers::{
    InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData, Requirements,
};
use dstack_core::{Compute, ErrorKind};

/// How often [`create_update_terminate`] asks for the instance's address before giving up.
const UPDATE_ATTEMPTS: u32 = 50;
const UPDATE_INTERVAL: Duration = Duration::from_millis(200);

/// Offers are this backend's, priced, within `max_price`, spot as asked, and have zones only
/// if they are available somewhere. Returns them for the next steps.
pub async fn offers_match(
    compute: &dyn Compute,
    requirements: &Requirements,
) -> Vec<InstanceOfferWithAvailability> {
    let offers = compute.offers(requirements).await.expect("offers are listed");
    for offer in &offers {
        let name = &offer.offer.instance.name;
        assert_eq!(offer.offer.backend, compute.backend_type(), "{name}: another backend's offer");
        assert!(offer.offer.price >= 0.0, "{name}: negative price");
        if let Some(max) = requirements.max_price {
            assert!(offer.offer.price <= max, "{name}: above max_price");
        }
        if let Some(spot) = requirements.spot {
            assert_eq!(offer.offer.instance.resources.spot, spot, "{name}: spot not as asked");
        }
        assert!(!offer.offer.region.is_empty(), "{name}: no region");
    }
    offers
}

/// The instance lifecycle: `create_instance` returns at once with the ID, region and zone;
/// `update_provisioning_data` fills in an address; `terminate_instance` succeeds, and again
/// for the instance that is gone. Returns the provisioning data for backend-specific checks.
pub async fn create_update_terminate(
    compute: &dyn Compute,
    offer: &InstanceOfferWithAvailability,
    config: &InstanceConfiguration,
) -> ProvisioningData {
    let mut data = compute.create_instance(offer, config).await.expect("the instance is created");
    assert_eq!(data.backend, compute.backend_type());
    assert!(!data.instance_id.is_empty(), "no instance ID");
    assert_eq!(data.region, offer.offer.region, "created elsewhere than offered");
    assert_eq!(data.instance_type, offer.offer.instance, "another instance type");
    if let (Some(zones), Some(zone)) = (&offer.availability_zones, &data.availability_zone) {
        assert!(zones.contains(zone), "zone {zone} is not among the offer's {zones:?}");
    }
    for _ in 0..UPDATE_ATTEMPTS {
        compute.update_provisioning_data(&mut data).await.expect("provisioning data updates");
        if data.hostname.is_some() {
            break;
        }
        tokio::time::sleep(UPDATE_INTERVAL).await;
    }
    assert!(data.hostname.is_some(), "no address after {UPDATE_ATTEMPTS} updates");
    let backend_data = data.backend_data.as_deref();
    compute
        .terminate_instance(&data.instance_id, &data.region, backend_data)
        .await
        .expect("the instance terminates");
    compute
        .terminate_instance(&data.instance_id, &data.region, backend_data)
        .await
        .expect("terminating a terminated instance succeeds");
    data
}

/// Terminating an instance that never existed is success, not an error.
pub async fn terminate_unknown_instance(compute: &dyn Compute, instance_id: &str, region: &str) {
    compute
        .terminate_instance(instance_id, region, None)
        .await
        .expect("terminating an unknown instance succeeds");
}

/// A backend whose instance creation is not implemented (yet) says so with a typed
/// `Unsupported` error naming the backend, never with a fake instance.
pub async fn create_is_unsupported(
    compute: &dyn Compute,
    offer: &InstanceOfferWithAvailability,
    config: &InstanceConfiguration,
) {
    let err = compute.create_instance(offer, config).await.expect_err("create is unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let backend = compute.backend_type().to_string();
    assert!(err.message().contains(&backend), "the error names the backend: {err}");
}
