//! The AWS configurator and offers with the real AWS SDK against moto (see `common`).

mod common;

use common::{KEYS, aws, catalog, configurator, moto};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::config::BackendConfigWithCreds;
use dstack_core::config::backends::AWS_DEFAULT_REGIONS as DEFAULT_REGIONS;
use dstack_core::config::load::from_yaml;
use dstack_core::resources::Requirements;

#[tokio::test]
async fn unreachable_api_means_invalid_credentials_on_both_keys() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let configurator = configurator(catalog().1, Some(&format!("http://{closed}")));
    let err =
        configurator.validate_config(&aws(KEYS), &ValidationContext::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds", "access_key"], ["creds", "secret_key"]]);
    assert!(!err.to_string().contains("wJalr"), "no secret in errors");
}

#[tokio::test]
async fn default_credentials_can_be_forbidden() {
    let configurator = configurator(catalog().1, None);
    let context = ValidationContext { default_creds_enabled: false };
    let err =
        configurator.validate_config(&aws("creds: {type: default}\n"), &context).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.fields(), [["creds"]]);
}

#[tokio::test]
async fn credentials_check_and_record_against_moto() {
    let Some(url) = moto() else { return };
    let configurator = configurator(catalog().1, Some(&url));
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
    let configurator = configurator(catalog().1, Some(&url));
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
    // The per-region lookups come last.
    assert_eq!(
        check("regions: [us-east-1]\ndefault_vpcs: false\nvpc_ids: {us-east-1: vpc-1}\n")
            .await
            .unwrap_err()
            .1,
        "Failed to find VPC vpc-1 in region us-east-1"
    );
    assert_eq!(
        check("regions: [us-east-1, us-west-2]\nvpc_name: nowhere\n").await.unwrap_err().1,
        "No VPC named nowhere in region us-east-1"
    );
    assert_eq!(
        check("regions: [us-east-1]\npublic_ips: false\n").await.unwrap_err().1,
        "Failed to find private subnets with NAT for default VPC in region us-east-1"
    );
    check("regions: [us-east-1, eu-west-1]\ntags: {team: ml}\n").await.unwrap();
}

#[tokio::test]
async fn iam_instance_profile_must_exist() {
    let Some(url) = moto() else { return };
    let configurator = configurator(catalog().1, Some(&url));
    let config = |profile: &str| {
        aws(&format!("regions: [us-east-1]\niam_instance_profile: {profile}\n{KEYS}"))
    };
    let err = configurator
        .validate_config(&config("missing-profile"), &ValidationContext::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::InvalidConfig, "IAM instance profile missing-profile not found")
    );
    let iam = common::iam(&url);
    // Already there when moto is reused between runs.
    let _ = iam.create_instance_profile().instance_profile_name("dstack-workers").send().await;
    configurator
        .validate_config(&config("dstack-workers"), &ValidationContext::default())
        .await
        .unwrap();
}

/// A loopback STS that answers 503, then throttles, then answers: the SDK's retries with
/// backoff get through, with every attempt counted.
#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let attempt = counter.fetch_add(1, Ordering::SeqCst);
            let mut request = vec![0; 64 * 1024];
            let _ = socket.read(&mut request).await;
            let (status, body) = match attempt {
                0 => ("503 Service Unavailable", "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>busy</Message></Error><RequestId>1</RequestId></ErrorResponse>".to_owned()),
                1 => ("400 Bad Request", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>2</RequestId></ErrorResponse>".to_owned()),
                _ => ("200 OK", "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/test</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></GetCallerIdentityResponse>".to_owned()),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    let configurator = configurator(catalog().1, Some(&format!("http://{address}")));
    // No regions: the credential check is the only call.
    configurator
        .validate_config(&aws(&format!("regions: []\n{KEYS}")), &ValidationContext::default())
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn offers_from_the_catalog_with_zones_from_ec2() {
    let Some(url) = moto() else { return };
    let (_dir, catalog) = catalog();
    let configurator = configurator(catalog, Some(&url));
    let offers_for = async |yaml: &str, requirements: &str| {
        let record =
            configurator.create_backend("main", aws(&format!("{yaml}{KEYS}"))).await.unwrap();
        let compute = configurator.compute(&record).await.unwrap();
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
