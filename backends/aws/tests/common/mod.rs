//! Shared by the AWS backend's moto tests. `cargo xtask test` starts moto with the AMIs of
//! `tests/moto/amis.json`, makes its default VPCs public (`tests/moto/account.py`) and sets
//! `DSTACK_TEST_MOTO_URL`; without it the moto tests say so and pass.
#![allow(dead_code)]

use std::sync::Arc;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use dstack_backend_kit::BackendContext;
use dstack_catalog::{Catalog, Source};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{Configurator, Registry};

pub fn moto() -> Option<String> {
    let url = std::env::var("DSTACK_TEST_MOTO_URL").ok();
    if url.is_none() {
        eprintln!("DSTACK_TEST_MOTO_URL is not set: skipping (run `cargo xtask test`)");
    }
    url
}

pub const CATALOG: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data
p4d.24xlarge,us-east-1,32.7726,96,1152.0,8,A100,40.0,False,,nvidia,,x86,{}
g5.xlarge,eu-west-1,1.123,4,16.0,1,A10G,24.0,False,,nvidia,,x86,{}
g5.xlarge,us-east-2,1.006,4,16.0,1,A10G,24.0,False,,nvidia,,x86,{}
x1.32xlarge,us-east-1,13.338,128,1952.0,0,,,False,,,,x86,{}
c5.2xlarge,us-east-1,0.34,8,16.0,0,,,False,,,,x86,{}
c5.2xlarge,us-east-2,0.34,8,16.0,0,,,False,,,,x86,{}
c5.2xlarge,us-east-2,0.12,8,16.0,0,,,True,,,,x86,{}
zz9.huge,us-east-2,0.5,8,16.0,0,,,False,,,,x86,{}
";

pub fn catalog() -> (tempfile::TempDir, Arc<Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("aws.csv"), CATALOG).unwrap();
    let catalog = Arc::new(Catalog::new(Source::PlainDirectory(dir.path().to_owned()), None));
    (dir, catalog)
}

/// The AWS backend as the server's registry hands it out, calling `url` when given.
pub fn configurator(catalog: Arc<Catalog>, url: Option<&str>) -> Arc<dyn Configurator> {
    let mut context = BackendContext::new(catalog);
    if let Some(url) = url {
        context.endpoints.set(BackendType::Aws, url);
    }
    let mut registry = Registry::new();
    dstack_backend_aws::register(&mut registry, &context);
    registry.get(BackendType::Aws).unwrap()
}

pub fn aws(yaml: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: aws\n{yaml}")).unwrap()
}

pub const KEYS: &str = "creds: {type: access_key, access_key: AKIAIOSFODNN7EXAMPLE, secret_key: wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY}\n";

/// An EC2 client of the tests' own, to arrange and inspect moto's state.
pub fn ec2(url: &str, region: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

pub fn iam(url: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(url)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}
