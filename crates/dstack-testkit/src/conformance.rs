//! What every backend must do, picked by the capabilities it declares (opendal's behaviour
//! tests): a declared capability means its tests run; an undeclared one means its calls must
//! answer a typed `Unsupported`. VM backends (`create_instance`) get the instance lifecycle,
//! container backends (`run_job`) the job lifecycle on [`crate::fixtures::job_configuration`];
//! each answers the other's calls `Unsupported`. A backend's test calls [`run`] against the backend's
//! emulator or fake; each check panics with a message naming the broken rule.
//!
//! ```ignore
//! let report = conformance::run(&*registry.get(BackendType::Aws)?, &fixtures).await;
//! ```

use std::time::Duration;

use dstack_core::backend::SshKeyPair;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::container::JobConfiguration;
use dstack_core::offers::{
    BackendData, InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData,
    Requirements,
};
use dstack_core::{BackendRecord, Compute, Configurator, ErrorKind};
use serde_json::Value;

/// How often the lifecycle test asks for the instance's address before giving up.
const UPDATE_ATTEMPTS: u32 = 50;
const UPDATE_INTERVAL: Duration = Duration::from_millis(200);

/// What the suite needs of a backend's test.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub project: String,
    /// A config the emulator or fake accepts.
    pub config: BackendConfigWithCreds,
    /// Requirements some of its offers meet (the first is created when instances are
    /// declared).
    pub requirements: Requirements,
    pub instance: InstanceConfiguration,
    pub keys: SshKeyPair,
    /// An instance the provider never issued, and its region.
    pub unknown_instance: (String, String),
}

/// What the suite saw, for the backend's own further checks.
#[derive(Debug)]
pub struct Report {
    pub record: BackendRecord,
    pub offers: Vec<InstanceOfferWithAvailability>,
    /// The instance the lifecycle test created (and terminated), when instances are declared.
    pub provisioned: Option<ProvisioningData>,
}

/// Runs every check the configurator's capabilities call for. Pass the configurator the
/// registry hands out (instrumented), as the server uses it.
pub async fn run(configurator: &dyn Configurator, fixtures: &Fixtures) -> Report {
    let backend = configurator.backend_type();
    let record = record_round_trip(configurator, fixtures).await;
    let compute = configurator.compute(&record).await.expect("the compute is built");
    let offers = offers_match(&*compute, backend, &fixtures.requirements).await;
    let capabilities = configurator.capabilities();
    let provisioned = if capabilities.create_instance {
        let offer = offers.first().expect("an offer meets the fixture's requirements");
        let data =
            create_update_terminate(&*compute, backend, offer, &fixtures.instance, &fixtures.keys)
                .await;
        let (id, region) = &fixtures.unknown_instance;
        terminate_unknown_instance(&*compute, id, region).await;
        Some(data)
    } else if capabilities.run_job {
        let offer = offers.first().expect("an offer meets the fixture's requirements");
        let job = crate::fixtures::job_configuration(&fixtures.project, &fixtures.requirements);
        let data = run_update_terminate(&*compute, backend, offer, &job, &fixtures.keys).await;
        let (id, region) = &fixtures.unknown_instance;
        terminate_unknown_instance(&*compute, id, region).await;
        let create = compute.create_instance(offer, &fixtures.instance).await.map(drop);
        unsupported(create, backend, "a container backend creates no instances");
        Some(data)
    } else {
        instances_are_unsupported(&*compute, backend, offers.first(), fixtures).await;
        None
    };
    if !capabilities.run_job
        && let Some(offer) = offers.first()
    {
        let job = crate::fixtures::job_configuration(&fixtures.project, &fixtures.requirements);
        let run = compute.run_job(offer, &job, &fixtures.keys).await.map(drop);
        unsupported(run, backend, "running a job is unsupported");
    }
    Report { record, offers, provisioned }
}

/// The stored record keeps every secret out of its `config`, reads back as the config, and
/// is stable: storing what was read back gives the same record.
pub async fn record_round_trip(
    configurator: &dyn Configurator,
    fixtures: &Fixtures,
) -> BackendRecord {
    let config = &fixtures.config;
    let record = configurator
        .create_backend(&fixtures.project, config.clone())
        .await
        .expect("the record is created");
    // Secrets as they appear inside JSON text (a kubeconfig has newlines and quotes).
    let in_json = |secret: &String| {
        let quoted = serde_json::to_string(secret).expect("a string serializes");
        quoted[1..quoted.len() - 1].to_owned()
    };
    for secret in secrets(config).iter().map(in_json) {
        assert!(
            !record.config.contains(&secret),
            "a secret is in the record's config: {}",
            record.config
        );
    }
    let back = configurator.config_with_creds(&record).expect("the record reads back");
    assert_eq!(back.backend_type(), configurator.backend_type(), "read back as another type");
    for secret in secrets(config).iter().map(in_json) {
        let full = serde_json::to_string(&back).expect("a config serializes");
        assert!(full.contains(&secret), "a secret was lost in the record");
    }
    assert_eq!(
        configurator.config_without_creds(&record).expect("the view without creds"),
        back.without_creds(),
        "the view without creds is the config without its secrets"
    );
    let again = configurator
        .create_backend(&fixtures.project, back)
        .await
        .expect("the read-back config is stored again");
    assert_eq!(again, record, "storing the read-back config changes the record");
    record
}

/// The strings of a config that its view without creds leaves out (type tags aside).
fn secrets(config: &BackendConfigWithCreds) -> Vec<String> {
    fn leaves(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
            Value::Object(map) => {
                map.iter().filter(|(k, _)| *k != "type").for_each(|(_, v)| leaves(v, out));
            }
            _ => {}
        }
    }
    fn removed(full: &Value, visible: &Value, out: &mut Vec<String>) {
        match (full, visible) {
            (Value::Object(full), Value::Object(visible)) => {
                for (key, value) in full {
                    match visible.get(key) {
                        Some(seen) => removed(value, seen, out),
                        None => leaves(value, out),
                    }
                }
            }
            (Value::Array(full), Value::Array(visible)) => {
                for (i, value) in full.iter().enumerate() {
                    match visible.get(i) {
                        Some(seen) => removed(value, seen, out),
                        None => leaves(value, out),
                    }
                }
            }
            _ => {}
        }
    }
    let full = serde_json::to_value(config).expect("a config serializes");
    let mut out = Vec::new();
    removed(&full, &config.without_creds(), &mut out);
    out
}

/// Offers are this backend's, priced, within `max_price`, spot as asked, and have a region.
pub async fn offers_match(
    compute: &dyn Compute,
    backend: BackendType,
    requirements: &Requirements,
) -> Vec<InstanceOfferWithAvailability> {
    let offers = compute.offers(requirements).await.expect("offers are listed");
    for offer in &offers {
        let name = &offer.offer.instance.name;
        assert_eq!(offer.offer.backend, backend, "{name}: another backend's offer");
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
    backend: BackendType,
    offer: &InstanceOfferWithAvailability,
    config: &InstanceConfiguration,
    keys: &SshKeyPair,
) -> ProvisioningData {
    let mut data = compute.create_instance(offer, config).await.expect("the instance is created");
    assert_eq!(data.backend, backend);
    assert!(!data.instance_id.is_empty(), "no instance ID");
    assert_eq!(data.region, offer.offer.region, "created elsewhere than offered");
    assert_eq!(data.instance_type, offer.offer.instance, "another instance type");
    if let (Some(zones), Some(zone)) = (&offer.availability_zones, &data.availability_zone) {
        assert!(zones.contains(zone), "zone {zone} is not among the offer's {zones:?}");
    }
    for _ in 0..UPDATE_ATTEMPTS {
        compute.update_provisioning_data(&mut data, keys).await.expect("provisioning data updates");
        if data.hostname.is_some() {
            break;
        }
        tokio::time::sleep(UPDATE_INTERVAL).await;
    }
    assert!(data.hostname.is_some(), "no address after {UPDATE_ATTEMPTS} updates");
    for round in ["the instance terminates", "terminating a terminated instance succeeds"] {
        compute
            .terminate_instance(&data.instance_id, &data.region, &data.backend_data)
            .await
            .expect(round);
    }
    data
}

/// The container lifecycle: `run_job` returns at once with the container's ID, in the
/// offer's region, as the offer's instance type, dockerized `false` (the container is the
/// instance); `update_provisioning_data` fills in its address; `terminate_instance`
/// succeeds, and again for the container that is gone.
pub async fn run_update_terminate(
    compute: &dyn Compute,
    backend: BackendType,
    offer: &InstanceOfferWithAvailability,
    job: &JobConfiguration,
    keys: &SshKeyPair,
) -> ProvisioningData {
    let mut data = compute.run_job(offer, job, keys).await.expect("the job runs");
    assert_eq!(data.backend, backend);
    assert!(!data.instance_id.is_empty(), "no container ID");
    assert_eq!(data.region, offer.offer.region, "run elsewhere than offered");
    assert_eq!(data.instance_type, offer.offer.instance, "another instance type");
    assert!(!data.dockerized, "a job's container runs no containers of its own");
    for _ in 0..UPDATE_ATTEMPTS {
        compute.update_provisioning_data(&mut data, keys).await.expect("provisioning data updates");
        if data.hostname.is_some() {
            break;
        }
        tokio::time::sleep(UPDATE_INTERVAL).await;
    }
    assert!(data.hostname.is_some(), "no address after {UPDATE_ATTEMPTS} updates");
    assert!(data.ssh_port.is_some(), "no SSH port for the runner");
    for round in ["the container terminates", "terminating a terminated container succeeds"] {
        compute
            .terminate_instance(&data.instance_id, &data.region, &data.backend_data)
            .await
            .expect(round);
    }
    data
}

/// Terminating an instance that never existed is success, not an error.
pub async fn terminate_unknown_instance(compute: &dyn Compute, instance_id: &str, region: &str) {
    compute
        .terminate_instance(instance_id, region, &BackendData::none())
        .await
        .expect("terminating an unknown instance succeeds");
}

/// A backend that does not declare instances answers every instance call with a typed
/// `Unsupported` naming it — never with a fake instance.
async fn instances_are_unsupported(
    compute: &dyn Compute,
    backend: BackendType,
    offer: Option<&InstanceOfferWithAvailability>,
    fixtures: &Fixtures,
) {
    if let Some(offer) = offer {
        let create = compute.create_instance(offer, &fixtures.instance).await.map(drop);
        unsupported(create, backend, "create is unsupported");
    }
    let (id, region) = &fixtures.unknown_instance;
    let terminate = compute.terminate_instance(id, region, &BackendData::none()).await;
    unsupported(terminate, backend, "terminate is unsupported");
}

/// `result` is a typed `Unsupported` naming `backend`.
fn unsupported(result: dstack_core::error::Result<()>, backend: BackendType, call: &str) {
    let err = result.expect_err(call);
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{call}: {err}");
    assert_eq!(err.backend(), Some(backend), "{call}: the error names the backend: {err}");
}
