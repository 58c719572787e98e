//! The AWS backend with the real AWS SDK against moto. `cargo xtask test` starts moto and
//! sets `DSTACK_TEST_MOTO_URL`; without it the moto tests say so and pass.

use std::sync::Arc;

use dstack_backend_aws::{AwsConfigurator, DEFAULT_REGIONS};
use dstack_catalog::{Catalog, Source};
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendConfigWithCreds;
use dstack_core::config::load::from_yaml;
use dstack_core::resources::Requirements;
use dstack_core::{Configurator, ErrorKind};

fn moto() -> Option<String> {
    let url = std::env::var("DSTACK_TEST_MOTO_URL").ok();
    if url.is_none() {
        eprintln!("DSTACK_TEST_MOTO_URL is not set: skipping (run `cargo xtask test`)");
    }
    url
}

const CATALOG: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data
p4d.24xlarge,us-east-1,32.7726,96,1152.0,8,A100,40.0,False,,nvidia,,x86,{}
g5.xlarge,eu-west-1,1.123,4,16.0,1,A10G,24.0,False,,nvidia,,x86,{}
x1.32xlarge,us-east-1,13.338,128,1952.0,0,,,False,,,,x86,{}
c5.2xlarge,us-east-1,0.34,8,16.0,0,,,False,,,,x86,{}
";

fn catalog() -> (tempfile::TempDir, Arc<Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("aws.csv"), CATALOG).unwrap();
    let catalog = Arc::new(Catalog::new(Source::PlainDirectory(dir.path().to_owned()), None));
    (dir, catalog)
}

fn aws(yaml: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: aws\n{yaml}")).unwrap()
}

const KEYS: &str = "creds: {type: access_key, access_key: AKIAIOSFODNN7EXAMPLE, secret_key: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY}\n";

#[tokio::test]
async fn unreachable_api_means_invalid_credentials_on_both_keys() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let configurator =
        AwsConfigurator::new(catalog().1).with_endpoint_url(format!("http://{closed}"));
    let err =
        configurator.validate_config(&aws(KEYS), &ValidationContext::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds", "access_key"], ["creds", "secret_key"]]);
    assert!(!err.to_string().contains("wJalr"), "no secret in errors");
}

#[tokio::test]
async fn default_credentials_can_be_forbidden() {
    let configurator = AwsConfigurator::new(catalog().1);
    let context = ValidationContext { default_creds_enabled: false };
    let err =
        configurator.validate_config(&aws("creds: {type: default}\n"), &context).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds"]]);
}

#[tokio::test]
async fn credentials_check_and_record_against_moto() {
    let Some(url) = moto() else { return };
    let configurator = AwsConfigurator::new(catalog().1).with_endpoint_url(&url);
    let config = aws(KEYS);
    configurator.validate_config(&config, &ValidationContext::default()).await.unwrap();
    let record = configurator.create_backend("main", config).await.unwrap();
    assert!(!record.config.contains("wJalr") && !record.config.contains("AKIA"));
    let stored: serde_json::Value = serde_json::from_str(&record.config).unwrap();
    assert_eq!(stored["regions"].as_array().unwrap().len(), DEFAULT_REGIONS.len());
    let BackendConfigWithCreds::Aws(read) = configurator.config_with_creds(&record).unwrap() else {
        panic!()
    };
    assert_eq!(read.regions.unwrap()[0], "us-east-1");
}

#[tokio::test]
async fn dstacks_config_rules_after_the_credential_check() {
    let Some(url) = moto() else { return };
    let configurator = AwsConfigurator::new(catalog().1).with_endpoint_url(&url);
    let check = async |yaml: &str| {
        configurator
            .validate_config(&aws(&format!("{yaml}{KEYS}")), &ValidationContext::default())
            .await
            .map_err(|e| (e.kind(), e.message().to_owned()))
    };
    let many: String = (0..26).map(|i| format!("k{i}: v\n  ")).collect();
    assert_eq!(
        check(&format!("tags:\n  {many}\n")).await.unwrap_err().1,
        "Maximum number of tags exceeded. Up to 25 tags is allowed."
    );
    assert!(
        check("tags: {'aws:owner': me}\n")
            .await
            .unwrap_err()
            .1
            .starts_with("Invalid resource tags.")
    );
    assert_eq!(
        check("vpc_name: a\nvpc_ids: {us-east-1: vpc-1}\n").await.unwrap_err(),
        (
            ErrorKind::InvalidConfig,
            "Only one of `vpc_name` and `vpc_ids` can be specified".to_owned()
        )
    );
    assert_eq!(
        check("default_vpcs: false\n").await.unwrap_err().1,
        "`vpc_name` or `vpc_ids` must be specified if `default_vpcs: false`."
    );
    assert_eq!(
        check(
            "regions: [us-east-1, eu-west-1]\ndefault_vpcs: false\nvpc_ids: {us-east-1: vpc-1}\n"
        )
        .await
        .unwrap_err()
        .1,
        "`vpc_ids` not configured for regions [\"eu-west-1\"]. Configure `vpc_ids` for all regions specified in `regions`."
    );
    check("regions: [us-east-1]\ndefault_vpcs: false\nvpc_ids: {us-east-1: vpc-1}\ntags: {team: ml}\n").await.unwrap();
}

#[tokio::test]
async fn offers_from_the_catalog_with_zones_from_ec2() {
    let Some(url) = moto() else { return };
    let (_dir, catalog) = catalog();
    let configurator = AwsConfigurator::new(catalog).with_endpoint_url(&url);
    let offers_for = async |yaml: &str, requirements: &str| {
        let record =
            configurator.create_backend("main", aws(&format!("{yaml}{KEYS}"))).await.unwrap();
        let compute = configurator.backend(&record).await.unwrap().compute();
        let requirements =
            Requirements { resources: from_yaml(requirements).unwrap(), ..Default::default() };
        compute.offers(&requirements).await.unwrap()
    };
    // us-east-1 only: g5 (eu-west-1) is out; x1 is not a family dstack supports.
    let offers = offers_for("regions: [us-east-1]\n", "gpu: 0..\ndisk: 1GB..\n").await;
    let mut names: Vec<&str> = offers.iter().map(|o| o.offer.instance.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["c5.2xlarge", "p4d.24xlarge"]);
    let p4d = offers.iter().find(|o| o.offer.instance.name == "p4d.24xlarge").unwrap();
    let zones = p4d.availability_zones.as_ref().unwrap();
    assert!(!zones.is_empty() && zones.iter().all(|z| z.starts_with("us-east-1")), "{zones:?}");
    assert_eq!(serde_json::to_value(p4d.availability).unwrap(), "unknown");
    // Requirements apply.
    let a100 = offers_for("regions: [us-east-1]\n", "gpu: A100:8\n").await;
    assert_eq!(a100.len(), 1);
    // `experimental_instance_types` lets other types in.
    let x1 = offers_for(
        "regions: [us-east-1]\nexperimental_instance_types: [x1.32xlarge]\n",
        "gpu: 0\n",
    )
    .await;
    assert!(x1.iter().any(|o| o.offer.instance.name == "x1.32xlarge"));
    // With custom images but no NVIDIA one, no NVIDIA offers.
    let cpu_only = offers_for(
        "regions: [us-east-1]\nos_images: {cpu: {name: my-ami, user: ubuntu}}\n",
        "gpu: 0..\n",
    )
    .await;
    assert!(cpu_only.iter().all(|o| o.offer.instance.resources.gpus.is_empty()), "{cpu_only:?}");
    assert!(!cpu_only.is_empty());
    // No regions at all: no offers.
    assert!(offers_for("regions: []\n", "gpu: 0..\n").await.is_empty());
}
