//! The kit's generic parts with a small definition: rules and checks in order, the record,
//! capability gates, timeouts and error context.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::config::backends::LambdaBackendConfig;
use crate::config::{BackendConfigWithCreds, BackendType};
use crate::error::{BackendError, ErrorKind, Result};
use crate::offers::{
    BackendData, InstanceConfiguration, InstanceOfferWithAvailability, ProvisioningData,
    Requirements,
};
use crate::placement::{PlacementGroup, PlacementGroupProvisioningData};

/// A Lambda definition whose checks and offers are scripted.
#[derive(Debug, Default)]
struct Scripted {
    checks: Arc<AtomicUsize>,
    /// Calls that reached the compute.
    compute_calls: Arc<AtomicUsize>,
    slow_offers: bool,
    /// The type it registers as; Lambda when unset (only the registry's bookkeeping looks).
    registers_as: Option<BackendType>,
    /// What it declares; offers only when unset.
    declares: Option<Capabilities>,
}

#[derive(Debug)]
struct ScriptedCompute {
    calls: Arc<AtomicUsize>,
    slow: bool,
}

#[async_trait]
impl Compute for ScriptedCompute {
    async fn offers(&self, _: &Requirements) -> Result<Vec<InstanceOfferWithAvailability>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.slow {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Err(BackendError::new(ErrorKind::RateLimited, "slow down"))
    }

    /// Implemented but not declared: the registry must not let a call through.
    async fn terminate_instance(&self, _: &str, _: &str, _: &BackendData) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn create_instance(
        &self,
        _: &InstanceOfferWithAvailability,
        _: &InstanceConfiguration,
    ) -> Result<ProvisioningData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(BackendError::new(ErrorKind::NoCapacity, "no capacity"))
    }

    async fn create_placement_group(
        &self,
        _: &PlacementGroup,
        _: &InstanceOfferWithAvailability,
    ) -> Result<PlacementGroupProvisioningData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.slow {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        Ok(PlacementGroupProvisioningData {
            backend: BackendType::Lambda,
            backend_data: BackendData::none(),
        })
    }

    async fn delete_placement_group(
        &self,
        _: &PlacementGroup,
        _: &PlacementGroupProvisioningData,
    ) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(BackendError::new(ErrorKind::PlacementGroupInUse, "in use"))
    }

    fn is_suitable_placement_group(
        &self,
        _: &PlacementGroup,
        _: &InstanceOfferWithAvailability,
    ) -> bool {
        true
    }
}

#[async_trait]
impl BackendDefinition for Scripted {
    type Config = LambdaBackendConfig;
    type Compute = ScriptedCompute;

    fn backend_type(&self) -> BackendType {
        self.registers_as.unwrap_or(BackendType::Lambda)
    }

    fn capabilities(&self) -> Capabilities {
        self.declares.unwrap_or(Capabilities::OFFERS_ONLY)
    }

    async fn check_credentials(&self, config: &Self::Config, _: &ValidationContext) -> Result<()> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if config.creds.api_key.expose().starts_with("good") {
            Ok(())
        } else {
            Err(BackendError::invalid_credentials(&[&["creds", "api_key"]], None))
        }
    }

    fn prepare(&self, mut config: Self::Config) -> Self::Config {
        config.regions.get_or_insert_with(|| vec!["us-east-1".to_owned()]);
        config
    }

    async fn compute(&self, _: Self::Config) -> Result<ScriptedCompute> {
        Ok(ScriptedCompute { calls: self.compute_calls.clone(), slow: self.slow_offers })
    }
}

fn lambda(key: &str) -> BackendConfigWithCreds {
    crate::config::load::from_json(
        &serde_json::json!({"type": "lambda", "creds": {"api_key": key}}),
    )
    .unwrap()
}

fn registry(definition: Scripted, timeouts: Timeouts) -> Registry {
    let mut registry = Registry::new();
    registry.set_timeouts(timeouts);
    registry.register(definition);
    registry
}

#[tokio::test]
async fn the_generic_configurator_checks_stores_and_reads_back() {
    let registry = registry(Scripted::default(), Timeouts::default());
    let configurator = registry.get(BackendType::Lambda).unwrap();
    let context = ValidationContext::default();
    configurator.validate_config(&lambda("good-1"), &context).await.unwrap();
    let refused = configurator.validate_config(&lambda("bad"), &context).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(refused.to_string(), "lambda check: Invalid credentials");

    let record = configurator.create_backend("main", lambda("good-1")).await.unwrap();
    assert_eq!(record.config, r#"{"type":"lambda","regions":["us-east-1"]}"#);
    assert!(!record.config.contains("good-1"), "the key stays out of the config");
    let back = configurator.config_with_creds(&record).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap()["creds"]["api_key"], "good-1");
    assert_eq!(configurator.capabilities(), Capabilities::OFFERS_ONLY);

    // Another type's config is refused, not misread.
    let aws = crate::config::load::from_json::<BackendConfigWithCreds>(
        &serde_json::json!({"type": "aws", "creds": {"type": "default"}}),
    )
    .unwrap();
    let err = configurator.validate_config(&aws, &context).await.unwrap_err();
    assert!(err.message().contains("got a `aws` config"), "{err}");
}

#[tokio::test]
async fn undeclared_operations_are_unsupported_without_reaching_the_backend() {
    let definition = Scripted::default();
    let calls = definition.compute_calls.clone();
    let registry = registry(definition, Timeouts::default());
    let configurator = registry.get(BackendType::Lambda).unwrap();
    let record = configurator.create_backend("main", lambda("good")).await.unwrap();
    let compute = configurator.compute(&record).await.unwrap();
    let before = calls.load(Ordering::SeqCst);
    let err =
        compute.terminate_instance("i-1", "us-east-1", &BackendData::none()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.message(), "Backend `lambda` does not support terminating instances");
    assert_eq!(
        err.to_string(),
        "lambda terminate instance: Backend `lambda` does not support terminating instances"
    );
    assert_eq!(calls.load(Ordering::SeqCst), before, "the undeclared call never reached it");

    // A declared operation's error is stamped with the backend and the operation.
    let err = compute.offers(&Requirements::default()).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), before + 1);
    assert_eq!((err.backend(), err.operation()), (Some(BackendType::Lambda), Some("offers")));
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[tokio::test(start_paused = true)]
async fn each_call_has_its_timeout() {
    let definition = Scripted { slow_offers: true, ..Scripted::default() };
    let timeouts = Timeouts { offers: Duration::from_secs(5), ..Timeouts::default() };
    let registry = registry(definition, timeouts);
    let configurator = registry.get(BackendType::Lambda).unwrap();
    let record = configurator.create_backend("main", lambda("good")).await.unwrap();
    let compute = configurator.compute(&record).await.unwrap();
    let err = compute.offers(&Requirements::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.to_string(), "lambda offers: no answer within 5s");
}

fn offer() -> InstanceOfferWithAvailability {
    serde_json::from_value(serde_json::json!({
        "backend": "lambda",
        "instance": {
            "name": "gpu_1x_a10",
            "resources": {
                "cpus": 30, "memory_mib": 204800, "gpus": [], "spot": false,
                "disk": {"size_mib": 0}, "cpu_arch": null,
            },
        },
        "region": "us-east-1",
        "price": 0.75,
        "availability": "available",
        "availability_zones": null,
        "instance_runtime": "shim",
        "blocks": 1,
        "total_blocks": 1,
    }))
    .unwrap()
}

fn instance_configuration(placement_group: Option<&str>) -> InstanceConfiguration {
    InstanceConfiguration {
        project_name: "main".to_owned(),
        instance_name: "fleet-0".to_owned(),
        instance_id: "id".to_owned(),
        ssh_keys: vec![],
        user: "admin".to_owned(),
        reservation: None,
        placement_group: placement_group.map(str::to_owned),
        tags: None,
    }
}

async fn compute_declaring(
    declares: Capabilities,
    slow: bool,
) -> (Arc<dyn Compute>, Arc<AtomicUsize>) {
    let definition =
        Scripted { declares: Some(declares), slow_offers: slow, ..Scripted::default() };
    let calls = definition.compute_calls.clone();
    let timeouts = Timeouts { placement_group: Duration::from_secs(7), ..Timeouts::default() };
    let registry = registry(definition, timeouts);
    let configurator = registry.get(BackendType::Lambda).unwrap();
    let record = configurator.create_backend("main", lambda("good")).await.unwrap();
    (configurator.compute(&record).await.unwrap(), calls)
}

#[tokio::test]
async fn placement_groups_are_unsupported_unless_declared() {
    let instances = Capabilities { create_instance: true, ..Capabilities::OFFERS_ONLY };
    let (compute, calls) = compute_declaring(instances, false).await;
    let group = PlacementGroup::cluster(
        "dstack-main-fleet-abcd1234",
        "main",
        BackendType::Lambda,
        "us-east-1",
    );
    let data = PlacementGroupProvisioningData {
        backend: BackendType::Lambda,
        backend_data: BackendData::none(),
    };
    let err = compute.create_placement_group(&group, &offer()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(
        err.to_string(),
        "lambda create placement group: Backend `lambda` does not support placement groups"
    );
    let err = compute.delete_placement_group(&group, &data).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Unsupported, Some("delete placement group"))
    );
    assert!(!compute.is_suitable_placement_group(&group, &offer()));
    // An instance is not created in a group on a backend that cannot place it.
    let config = instance_configuration(Some(&group.name));
    let err = compute.create_instance(&offer(), &config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(
        err.to_string(),
        "lambda create instance: Backend `lambda` does not support placement groups"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no undeclared call reached the backend");
    // Without a group, the create reaches it.
    let err = compute.create_instance(&offer(), &instance_configuration(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn declared_placement_groups_reach_the_backend_within_their_timeout() {
    let declares =
        Capabilities { create_instance: true, placement_groups: true, ..Capabilities::OFFERS_ONLY };
    let group = PlacementGroup::cluster(
        "dstack-main-fleet-abcd1234",
        "main",
        BackendType::Lambda,
        "us-east-1",
    );
    let (compute, calls) = compute_declaring(declares, false).await;
    let data = compute.create_placement_group(&group, &offer()).await.unwrap();
    assert!(compute.is_suitable_placement_group(&group, &offer()));
    let err = compute.delete_placement_group(&group, &data).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlacementGroupInUse);
    assert_eq!(
        err.to_string(),
        "lambda delete placement group (dstack-main-fleet-abcd1234 in us-east-1): in use"
    );
    let config = instance_configuration(Some(&group.name));
    let err = compute.create_instance(&offer(), &config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    let (slow, _) = compute_declaring(declares, true).await;
    let err = slow.create_placement_group(&group, &offer()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        err.to_string(),
        "lambda create placement group (dstack-main-fleet-abcd1234 in us-east-1): no answer within 7s"
    );
}

#[test]
fn the_registry_names_missing_features() {
    let mut registry = Registry::new();
    registry.register(Scripted::default());
    assert_eq!(registry.available_types(), [BackendType::Lambda]);
    let err = registry.get(BackendType::Gcp).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAvailable);
    assert!(err.message().contains("--features gcp"));
    registry.declare_features(&["lambda"]);
    let err = registry.get(BackendType::Gcp).unwrap_err();
    assert!(err.message().contains("not supported by this version"), "{}", err.message());
}

#[test]
fn available_types_follow_dstacks_list_order() {
    let mut registry = Registry::new();
    for t in [BackendType::Seeweb, BackendType::Lambda, BackendType::Slurm, BackendType::Aws] {
        registry.register(Scripted { registers_as: Some(t), ..Scripted::default() });
    }
    // dstack lists `slurm` before `seeweb` (its configurator import order).
    assert_eq!(
        registry.available_types(),
        [BackendType::Aws, BackendType::Lambda, BackendType::Slurm, BackendType::Seeweb]
    );
}

#[test]
fn the_types_new_in_0_22_5_are_not_supported_yet() {
    let mut registry = Registry::new();
    registry.declare_features(&["aws", "lambda"]);
    for t in [BackendType::Daytona, BackendType::Lium, BackendType::Seeweb] {
        let err = registry.get(t).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAvailable);
        assert_eq!(
            err.message(),
            format!("Backend `{t}` is not supported by this version of dstack-server yet")
        );
    }
}
