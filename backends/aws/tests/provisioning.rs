//! Creating and terminating instances with the real AWS SDK against moto (see `common`): the
//! conformance suite first, then what is AWS's own — VPC modes, images, the security group,
//! tags, spot, placement groups, and refusals that leave nothing behind.
//!
//! Tests share one moto, so each uses its own project name (security groups and key pairs
//! are per project) and its own VPC names.

mod common;

use std::sync::Arc;

use aws_sdk_ec2::types::{Filter, Instance};
use base64::Engine;
use common::{KEYS, aws, catalog, configurator, ec2, moto};
use dstack_core::config::BackendType;
use dstack_core::config::load::from_yaml;
use dstack_core::offers::BackendData;
use dstack_core::offers::{InstanceConfiguration, InstanceOfferWithAvailability, SshKey};
use dstack_core::placement::PlacementGroup;
use dstack_core::provisioning::unique_placement_group_name;
use dstack_core::resources::Requirements;
use dstack_core::{Compute, ErrorKind};
use dstack_testkit::conformance;

const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILHna+K2QBLv+XRWsM0DAbA159HNxuCBkxbLPcDsT9rz dstack-project";

/// A configured compute, with the catalog directory it reads (deleted when dropped).
struct Backend {
    compute: Arc<dyn Compute>,
    _catalog: tempfile::TempDir,
}

impl std::ops::Deref for Backend {
    type Target = dyn Compute;
    fn deref(&self) -> &Self::Target {
        &*self.compute
    }
}

async fn compute(url: &str, yaml: &str) -> Backend {
    let (dir, catalog) = catalog();
    let configurator = configurator(catalog, Some(url));
    let record = configurator.create_backend("main", aws(&format!("{yaml}{KEYS}"))).await.unwrap();
    Backend { compute: configurator.compute(&record).await.unwrap(), _catalog: dir }
}

fn instance_config(project: &str) -> InstanceConfiguration {
    InstanceConfiguration {
        project_name: project.to_owned(),
        instance_name: "fleet-0".to_owned(),
        instance_id: "8f9a1c34-0000-4000-8000-000000000001".to_owned(),
        ssh_keys: vec![SshKey { public: PUBLIC_KEY.to_owned() }],
        user: "admin".to_owned(),
        reservation: None,
        placement_group: None,
        tags: Some(
            [("run".to_owned(), "train".to_owned()), ("owner".to_owned(), "me".to_owned())].into(),
        ),
    }
}

async fn offer(compute: &dyn Compute, name: &str, spot: bool) -> InstanceOfferWithAvailability {
    let requirements = Requirements {
        resources: from_yaml("gpu: 0..\ndisk: 100GB..\n").unwrap(),
        spot: Some(spot),
        ..Default::default()
    };
    let offers = conformance::offers_match(compute, BackendType::Aws, &requirements).await;
    offers
        .into_iter()
        .find(|o| o.offer.instance.name == name)
        .unwrap_or_else(|| panic!("no {name} offer (spot: {spot})"))
}

async fn describe(url: &str, region: &str, instance_id: &str) -> Instance {
    let answer =
        ec2(url, region).describe_instances().instance_ids(instance_id).send().await.unwrap();
    answer.reservations()[0].instances()[0].clone()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// The security group of the instance's network interface.
fn instance_group(instance: &Instance) -> Option<&str> {
    instance.network_interfaces().first()?.groups().first()?.group_id()
}

/// The project's instances that are not terminated, in `region`.
async fn live_instances(url: &str, region: &str, project: &str) -> Vec<Instance> {
    let answer = ec2(url, region)
        .describe_instances()
        .filters(Filter::builder().name("tag:dstack_project").values(project).build())
        .send()
        .await
        .unwrap();
    answer
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).is_some_and(|s| s.as_str() != "terminated"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn conformance_and_what_aws_creates() {
    let Some(url) = moto() else { return };
    let (_dir, catalog) = catalog();
    let configurator = configurator(catalog, Some(&url));
    let config = instance_config("conformance");
    let fixtures = conformance::Fixtures {
        project: "conformance".to_owned(),
        config: aws(&format!("regions: [us-east-1]\ntags: {{team: ml, owner: admin}}\n{KEYS}")),
        requirements: Requirements {
            resources: from_yaml("gpu: A100:8\n").unwrap(),
            ..Default::default()
        },
        instance: config.clone(),
        keys: dstack_testkit::fixtures::ssh_key_pair(),
        unknown_instance: ("i-0123456789abcdef0".to_owned(), "us-east-1".to_owned()),
    };
    let report = conformance::run(&*configurator, &fixtures).await;
    let data = report.provisioned.expect("AWS declares instances");
    assert_eq!(data.instance_type.name, "p4d.24xlarge");
    let compute = configurator.compute(&report.record).await.unwrap();

    // The default VPC's public subnet, the newest available Deep Learning AMI, user `ubuntu`.
    let instance = describe(&url, "us-east-1", &data.instance_id).await;
    assert_eq!(instance.image_id(), Some("ami-0d1a000000000a002"));
    assert_eq!(data.username, "ubuntu");
    assert_eq!(instance.key_name(), Some("dstack_conformance"));
    assert_eq!(
        instance.placement().and_then(|p| p.availability_zone()),
        data.availability_zone.as_deref()
    );
    // With public IPs, dstack reaches the instance at its public address.
    assert!(data.hostname.is_some() && data.hostname != data.internal_ip, "{data:?}");
    assert_eq!(data.internal_ip.as_deref(), instance.private_ip_address());
    assert_eq!(data.ssh_port, Some(22));
    assert_eq!(instance.state().and_then(|s| s.name()).map(|s| s.as_str()), Some("terminated"));

    // dstack's tags first, then the backend's, then the run's.
    let tags = instance.tags();
    assert!(tag(tags, "Name").unwrap().starts_with("dstack-conformance-fleet-0-"));
    assert_eq!(tag(tags, "owner"), Some("dstack"));
    assert_eq!(tag(tags, "dstack_project"), Some("conformance"));
    assert_eq!(tag(tags, "dstack_name"), Some("fleet-0"));
    assert_eq!(tag(tags, "dstack_user"), Some("admin"));
    assert_eq!(tag(tags, "team"), Some("ml"));
    assert_eq!(tag(tags, "run"), Some("train"));

    // User data that starts dstack's agent with the project's key.
    let user_data = ec2(&url, "us-east-1")
        .describe_instance_attribute()
        .instance_id(&data.instance_id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let encoded = user_data.user_data().and_then(|v| v.value()).unwrap();
    let decoded =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap())
            .unwrap();
    assert!(decoded.starts_with("#cloud-config"), "{decoded}");
    assert!(decoded.contains("dstack-shim-linux-amd64") && decoded.contains(PUBLIC_KEY));

    // The project's security group: SSH from anywhere, everything between its instances.
    let groups = ec2(&url, "us-east-1")
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("dstack_security_group_conformance")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let group = &groups.security_groups()[0];
    assert_eq!(tag(group.tags(), "dstack_project"), Some("conformance"));
    assert_eq!(tag(group.tags(), "team"), Some("ml"));
    let ingress = group.ip_permissions();
    assert!(ingress.iter().any(|p| p.from_port() == Some(22)
        && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some("0.0.0.0/0"))));
    assert!(ingress.iter().any(|p| p.ip_protocol() == Some("-1")
        && p.user_id_group_pairs().iter().any(|g| g.group_id() == group.group_id())));

    // A second instance reuses the group and the key pair; a CPU instance boots dstack's image.
    let cpu = offer(&*compute, "c5.2xlarge", false).await;
    let second = compute.create_instance(&cpu, &config).await.unwrap();
    let instance = describe(&url, "us-east-1", &second.instance_id).await;
    assert_eq!(instance.image_id(), Some("ami-0d57ac0000000b014"));
    assert_eq!(instance_group(&instance), group.group_id());
    compute
        .terminate_instance(&second.instance_id, "us-east-1", &BackendData::none())
        .await
        .unwrap();
    let state = describe(&url, "us-east-1", &second.instance_id).await.state().cloned();
    assert_eq!(
        state.and_then(|s| s.name).map(|s| s.as_str().to_owned()).as_deref(),
        Some("terminated")
    );
}

#[tokio::test]
async fn spot_instances_with_an_instance_profile() {
    let Some(url) = moto() else { return };
    // Already there when moto is reused between runs.
    let _ = common::iam(&url)
        .create_instance_profile()
        .instance_profile_name("spot-workers")
        .send()
        .await;
    let compute = compute(&url, "regions: [us-east-2]\niam_instance_profile: spot-workers\n").await;
    let spot = offer(&*compute, "c5.2xlarge", true).await;
    assert!(spot.offer.instance.resources.spot);
    let data = compute.create_instance(&spot, &instance_config("spot")).await.unwrap();
    let instance = describe(&url, "us-east-2", &data.instance_id).await;
    assert_eq!(instance.instance_lifecycle().map(|l| l.as_str()), Some("spot"));
    let profile = instance.iam_instance_profile().and_then(|p| p.arn()).unwrap_or_default();
    assert!(profile.ends_with("/spot-workers"), "{profile}");
    // moto launches the spot instance without a spot request, so the request's cancellation
    // (AWS keeps the instance) cannot be observed here.
    compute.terminate_instance(&data.instance_id, "us-east-2", &BackendData::none()).await.unwrap();
}

#[tokio::test]
async fn unknown_instance_types_are_refused_and_nothing_is_left() {
    let Some(url) = moto() else { return };
    let compute =
        compute(&url, "regions: [us-east-2]\nexperimental_instance_types: [zz9.huge]\n").await;
    // The catalog lists it, EC2 offers it in no zone: not available, and no capacity.
    let unknown = offer(&*compute, "zz9.huge", false).await;
    assert_eq!(unknown.availability_zones.as_deref(), Some(&[][..]));
    let err =
        compute.create_instance(&unknown, &instance_config("unknown-type")).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::NoCapacity, "No eligible availability zones")
    );
    // Asked for anyway (an offer made by hand): EC2 refuses it.
    let anywhere = InstanceOfferWithAvailability { availability_zones: None, ..unknown };
    let err =
        compute.create_instance(&anywhere, &instance_config("unknown-type")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().contains("InvalidInstanceType"), "{err}");
    assert!(live_instances(&url, "us-east-2", "unknown-type").await.is_empty());
}

#[tokio::test]
async fn custom_images_by_name_owner_and_user() {
    let Some(url) = moto() else { return };
    let with_images = |images: &str| format!("regions: [us-east-2]\nos_images: {images}\n");
    let compute =
        compute(&url, &with_images("{cpu: {name: my-cpu-image, owner: self, user: admin}}")).await;
    let cpu = offer(&*compute, "c5.2xlarge", false).await;
    let data = compute.create_instance(&cpu, &instance_config("custom-images")).await.unwrap();
    assert_eq!(data.username, "admin");
    let instance = describe(&url, "us-east-2", &data.instance_id).await;
    assert_eq!(instance.image_id(), Some("ami-0c0570000000c0001"));
    compute.terminate_instance(&data.instance_id, "us-east-2", &BackendData::none()).await.unwrap();

    // An image that is not there, or owned by someone else, is not found.
    for images in [
        "{cpu: {name: no-such-image, user: ubuntu}}",
        "{cpu: {name: their-gpu-image, owner: '123456789012', user: ubuntu}}",
    ] {
        let compute = self::compute(&url, &with_images(images)).await;
        let cpu = offer(&*compute, "c5.2xlarge", false).await;
        let err =
            compute.create_instance(&cpu, &instance_config("custom-images")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.message().contains("not found in region us-east-2"), "{err}");
    }
    // No NVIDIA image configured: GPU offers are not even listed.
    let requirements =
        Requirements { resources: from_yaml("gpu: 1..\n").unwrap(), ..Default::default() };
    assert!(compute.offers(&requirements).await.unwrap().is_empty());
    assert!(live_instances(&url, "us-east-2", "custom-images").await.is_empty());
}

/// A VPC named `<prefix>-<unique>` in `region` with one subnet, routed to the internet through
/// an internet gateway (`public`) or a NAT gateway; returns the VPC's name and ID and the
/// subnet's ID. Names are unique so that a reused moto never holds two VPCs of one name.
async fn vpc(
    url: &str,
    region: &str,
    prefix: &str,
    cidr: &str,
    public: bool,
) -> (String, String, String) {
    let client = ec2(url, region);
    let unique =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("{prefix}-{unique}");
    let vpc = client.create_vpc().cidr_block(cidr).send().await.unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    client
        .create_tags()
        .resources(&vpc_id)
        .tags(aws_sdk_ec2::types::Tag::builder().key("Name").value(&name).build())
        .send()
        .await
        .unwrap();
    let subnet = client
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block(cidr)
        .availability_zone(format!("{region}a"))
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let table = client.create_route_table().vpc_id(&vpc_id).send().await.unwrap();
    let table_id = table.route_table().unwrap().route_table_id().unwrap().to_owned();
    client
        .associate_route_table()
        .route_table_id(&table_id)
        .subnet_id(&subnet_id)
        .send()
        .await
        .unwrap();
    let route = client.create_route().route_table_id(&table_id).destination_cidr_block("0.0.0.0/0");
    if public {
        let igw = client.create_internet_gateway().send().await.unwrap();
        let igw_id = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
        client
            .attach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(&vpc_id)
            .send()
            .await
            .unwrap();
        route.gateway_id(igw_id).send().await.unwrap();
    } else {
        let address = client.allocate_address().send().await.unwrap();
        let nat = client
            .create_nat_gateway()
            .subnet_id(&subnet_id)
            .allocation_id(address.allocation_id().unwrap())
            .send()
            .await
            .unwrap();
        route
            .nat_gateway_id(nat.nat_gateway().unwrap().nat_gateway_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    (name, vpc_id, subnet_id)
}

#[tokio::test]
async fn vpc_name_with_public_or_private_subnets() {
    let Some(url) = moto() else { return };
    let (public_name, _, public_subnet) =
        vpc(&url, "us-east-2", "public", "10.10.0.0/16", true).await;
    let compute_public =
        compute(&url, &format!("regions: [us-east-2]\nvpc_name: {public_name}\n")).await;
    let cpu = offer(&*compute_public, "c5.2xlarge", false).await;
    let data = compute_public.create_instance(&cpu, &instance_config("vpc-name")).await.unwrap();
    let instance = describe(&url, "us-east-2", &data.instance_id).await;
    assert_eq!(instance.subnet_id(), Some(public_subnet.as_str()));
    compute_public
        .terminate_instance(&data.instance_id, "us-east-2", &BackendData::none())
        .await
        .unwrap();

    // Private subnets need NAT: the public VPC has none.
    let private_in_public = compute(
        &url,
        &format!("regions: [us-east-2]\nvpc_name: {public_name}\npublic_ips: false\n"),
    )
    .await;
    let err =
        private_in_public.create_instance(&cpu, &instance_config("vpc-name")).await.unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "Failed to find private subnets with NAT for VPC {public_name} in region us-east-2"
        )
    );

    let (private_name, _, private_subnet) =
        vpc(&url, "us-east-2", "private", "10.20.0.0/16", false).await;
    let private = compute(
        &url,
        &format!("regions: [us-east-2]\nvpc_name: {private_name}\npublic_ips: false\n"),
    )
    .await;
    let mut data = private.create_instance(&cpu, &instance_config("vpc-name")).await.unwrap();
    private
        .update_provisioning_data(&mut data, &dstack_testkit::fixtures::ssh_key_pair())
        .await
        .unwrap();
    let instance = describe(&url, "us-east-2", &data.instance_id).await;
    assert_eq!(instance.subnet_id(), Some(private_subnet.as_str()));
    // Without public IPs, dstack reaches the instance at its private address.
    assert_eq!(data.hostname.as_deref(), instance.private_ip_address());
    private.terminate_instance(&data.instance_id, "us-east-2", &BackendData::none()).await.unwrap();

    let missing = compute(&url, "regions: [us-east-2]\nvpc_name: vpc-name-missing\n").await;
    let err = missing.create_instance(&cpu, &instance_config("vpc-name")).await.unwrap_err();
    assert_eq!(err.message(), "No VPC named vpc-name-missing in region us-east-2");
}

#[tokio::test]
async fn vpc_ids_per_region() {
    let Some(url) = moto() else { return };
    let (_, vpc_id, subnet) = vpc(&url, "us-east-2", "vpc-ids", "10.30.0.0/16", true).await;
    let compute = compute(
        &url,
        &format!("regions: [us-east-2]\ndefault_vpcs: false\nvpc_ids: {{us-east-2: {vpc_id}}}\n"),
    )
    .await;
    let cpu = offer(&*compute, "c5.2xlarge", false).await;
    let data = compute.create_instance(&cpu, &instance_config("vpc-ids")).await.unwrap();
    let instance = describe(&url, "us-east-2", &data.instance_id).await;
    assert_eq!(
        (instance.vpc_id(), instance.subnet_id()),
        (Some(vpc_id.as_str()), Some(subnet.as_str()))
    );
    compute.terminate_instance(&data.instance_id, "us-east-2", &BackendData::none()).await.unwrap();

    // The project's group is made in the configured VPC.
    let groups = ec2(&url, "us-east-2")
        .describe_security_groups()
        .group_ids(instance_group(&instance).unwrap())
        .send()
        .await
        .unwrap();
    let group = &groups.security_groups()[0];
    assert_eq!(group.group_name(), Some("dstack_security_group_vpc_ids"));
    assert_eq!(group.vpc_id(), Some(vpc_id.as_str()));

    let gone = self::compute(
        &url,
        "regions: [us-east-2]\ndefault_vpcs: false\nvpc_ids: {us-east-2: vpc-0000000000000dead}\n",
    )
    .await;
    let err = gone.create_instance(&cpu, &instance_config("vpc-ids")).await.unwrap_err();
    assert_eq!(err.message(), "Failed to find VPC vpc-0000000000000dead in region us-east-2");
}

/// The placement group `name` as moto describes it, or the error code.
async fn describe_group(
    url: &str,
    region: &str,
    name: &str,
) -> Result<aws_sdk_ec2::types::PlacementGroup, String> {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    match ec2(url, region).describe_placement_groups().group_names(name).send().await {
        Ok(answer) => Ok(answer.placement_groups()[0].clone()),
        Err(err) => Err(err.code().map_or_else(|| format!("{err:?}"), str::to_owned)),
    }
}

#[tokio::test]
async fn cluster_placement_groups() {
    let Some(url) = moto() else { return };
    // moto has no placement groups: `tests/moto/server.py` adds them (`cargo xtask test`
    // starts moto through it, as `Cargo.toml` declares).
    if let Err(err) = ec2(&url, "us-east-2").describe_placement_groups().send().await {
        panic!(
            "this moto has no placement groups (DescribePlacementGroups: {err}): start it with \
             `python backends/aws/tests/moto/server.py -p PORT` instead of `moto_server`"
        );
    }
    let compute = compute(&url, "regions: [us-east-2]\ntags: {team: ml}\n").await;
    let project = "placement";
    let group = PlacementGroup::cluster(
        unique_placement_group_name(project, "cluster"),
        project,
        BackendType::Aws,
        "us-east-2",
    );
    let cpu = offer(&*compute, "c5.2xlarge", false).await;

    // Suitable: an AWS group in the offer's region, for a type that can be in a cluster.
    assert!(compute.is_suitable_placement_group(&group, &cpu));
    let mut elsewhere = cpu.clone();
    elsewhere.offer.region = "us-east-1".to_owned();
    assert!(!compute.is_suitable_placement_group(&group, &elsewhere));
    let mut burstable = cpu.clone();
    burstable.offer.instance.name = "t3.xlarge".to_owned();
    assert!(!compute.is_suitable_placement_group(&group, &burstable));
    let gcp = PlacementGroup::cluster(&group.name, project, BackendType::Gcp, "us-east-2");
    assert!(!compute.is_suitable_placement_group(&gcp, &cpu));

    // A burstable master cannot found a cluster: nothing is created.
    let err = compute.create_placement_group(&group, &burstable).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(
        describe_group(&url, "us-east-2", &group.name).await.unwrap_err(),
        "InvalidPlacementGroup.Unknown"
    );

    // Created in the group's region, with the strategy and the project's shared tags; a
    // repeated create (an answer lost) is success.
    let data = compute.create_placement_group(&group, &cpu).await.unwrap();
    assert_eq!(data.backend, BackendType::Aws);
    assert!(data.backend_data.is_none());
    let described = describe_group(&url, "us-east-2", &group.name).await.unwrap();
    assert_eq!(described.strategy().map(|s| s.as_str()), Some("cluster"));
    assert_eq!(tag(described.tags(), "owner"), Some("dstack"));
    assert_eq!(tag(described.tags(), "dstack_project"), Some(project));
    assert_eq!(tag(described.tags(), "team"), Some("ml"));
    assert_eq!(compute.create_placement_group(&group, &cpu).await.unwrap(), data);

    // An instance launched into it: EC2 reports the group as its placement.
    let config = InstanceConfiguration {
        instance_id: "8f9a1c34-0000-4000-8000-00000000c1a5".to_owned(),
        placement_group: Some(group.name.clone()),
        ..instance_config(project)
    };
    let instance = compute.create_instance(&cpu, &config).await.unwrap();
    let described = describe(&url, "us-east-2", &instance.instance_id).await;
    assert_eq!(described.placement().and_then(|p| p.group_name()), Some(group.name.as_str()));

    // While the instance runs, the group is in use: try again later. (moto itself has no
    // placement groups; `tests/moto/server.py` refuses the delete as AWS does, with
    // `InvalidPlacementGroup.InUse`, while an instance in the group is not terminated.)
    let err = compute.delete_placement_group(&group, &data).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PlacementGroupInUse, "{err}");
    assert!(err.kind().is_temporary());
    assert_eq!(
        err.to_string(),
        format!(
            "aws delete placement group ({} in us-east-2): Placement group {} is in use",
            group.name, group.name
        )
    );
    assert!(describe_group(&url, "us-east-2", &group.name).await.is_ok());

    // Once the instance is terminated, the group goes; deleting it again is success.
    compute
        .terminate_instance(&instance.instance_id, "us-east-2", &BackendData::none())
        .await
        .unwrap();
    compute.delete_placement_group(&group, &data).await.unwrap();
    assert_eq!(
        describe_group(&url, "us-east-2", &group.name).await.unwrap_err(),
        "InvalidPlacementGroup.Unknown"
    );
    compute.delete_placement_group(&group, &data).await.unwrap();

    // An instance asked for in a group that is gone is refused, and nothing is left running.
    let err = compute.create_instance(&cpu, &config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().contains("InvalidPlacementGroup.Unknown"), "{err}");
    assert!(live_instances(&url, "us-east-2", project).await.is_empty());
}
