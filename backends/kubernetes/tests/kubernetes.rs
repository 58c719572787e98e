//! The Kubernetes backend against a loopback fake of the Kubernetes core/v1 API
//! (`dstack_testkit::fakes::kubernetes`, every request and answer held to Kubernetes'
//! published OpenAPI, release 1.36), reached through kube's real client, kubeconfig loading
//! and TLS-less cluster URL, with a real sshd (`dstack_testkit::sshd`) as the jump pod: the
//! conformance suite, the configurator's checks and offers. Jobs in `kubernetes_jobs.rs`.

mod common;

use common::{EXTERNAL_IP, PRODUCT, cluster, config, registered, requirements};
use dstack_core::ErrorKind;
use dstack_core::backend::ValidationContext;
use dstack_core::offers::{InstanceOfferWithAvailability, InstanceRuntime, SshProxy};
use dstack_testkit::conformance::{self, Fixtures};
use dstack_testkit::fakes::kubernetes::running_pod;
use dstack_testkit::fixtures::{self, USER_PUBLIC_KEY};
use dstack_testkit::sshd::{Sshd, free_port, key_pair};
use serde_json::json;

fn shapes(offers: &[InstanceOfferWithAvailability]) -> Vec<(String, u32, u64, u64, usize)> {
    let shape = |o: &InstanceOfferWithAvailability| {
        let r = &o.offer.instance.resources;
        (o.offer.instance.name.clone(), r.cpus, r.memory_mib, r.disk.size_mib, r.gpus.len())
    };
    offers.iter().map(shape).collect()
}

#[tokio::test]
async fn kubernetes_passes_the_conformance_suite() {
    let keys = key_pair("project");
    let Some(jump) = Sshd::start("root", &keys.public) else { return };
    let fake = cluster().await;
    let kubeconfig = fake.kubeconfig(&[("ctx-a", Some("dstack"))], Some("ctx-a"));
    let setup = registered(fake, jump.port());
    let configurator = setup.configurator();
    let fixtures = Fixtures {
        project: "main".to_owned(),
        config: config(&kubeconfig, json!({"contexts": ["ctx-a"]})),
        requirements: requirements(json!({"gpu": "A100:1"})),
        instance: fixtures::instance_configuration("main"),
        keys: keys.clone(),
        unknown_instance: ("dstack-main-gone-0-0-aaaaaaaa".to_owned(), "ctx-a".to_owned()),
    };
    configurator.validate_config(&fixtures.config, &ValidationContext::default()).await.unwrap();
    let report = conformance::run(&*configurator, &fixtures).await;
    assert_eq!(
        report.record.config,
        r#"{"type":"kubernetes","contexts":["ctx-a"],"proxy_jump":null,"namespace":null}"#
    );
    assert!(
        report.record.auth.expose().contains("fake-kubernetes-token"),
        "the kubeconfig is a secret"
    );
    assert_eq!(shapes(&report.offers), [("gpu-1".to_owned(), 2, 8192, 102_400, 1)]);
    assert_eq!(report.offers[0].offer.region, "ctx-a");
    assert_eq!(report.offers[0].instance_runtime, InstanceRuntime::Runner);
    let job = report.provisioned.expect("Kubernetes runs jobs");
    assert!(job.instance_id.starts_with("dstack-main-train-0-0-"), "{}", job.instance_id);
    let proxy = job.ssh_proxy.clone().expect("reached through the jump pod");
    let jump_service = setup.fake.service("dstack", "dstack-main-ssh-jump-pod-service").unwrap();
    let node_port = jump_service["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
    assert_eq!(
        proxy,
        SshProxy { hostname: EXTERNAL_IP.to_owned(), username: "root".to_owned(), port: node_port }
    );
    assert!(job.hostname.as_deref().unwrap().starts_with("10.96."), "the service's cluster IP");
    assert!(job.internal_ip.is_some(), "the pod's IP");
    assert_eq!(job.instance_type.name, "gpu-1", "the node the pod runs on");
    assert!(job.backend_data.is_none(), "dropped once the jump pod let the keys in");
    // The user's key went into the jump pod, only for forwarding.
    let authorized = std::fs::read_to_string(jump.home().join(".ssh/authorized_keys")).unwrap();
    assert_eq!(authorized, format!("command=\"/bin/false\" {USER_PUBLIC_KEY} # added by dstack\n"));
    // Terminated: only the project's jump pod and its service are left.
    let names = |objects: Vec<serde_json::Value>| -> Vec<String> {
        objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(setup.fake.pods()), ["dstack-main-ssh-jump-pod"]);
    assert_eq!(names(setup.fake.services()), ["dstack-main-ssh-jump-pod-service"]);
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn offers_are_nodes_cut_to_what_the_job_requests() {
    let fake = cluster().await;
    let kubeconfig = fake.kubeconfig(&[("ctx-a", None)], Some("ctx-a"));
    fake.add_pod(running_pod("ml", "busy", "gpu-1", &[("cpu", "30"), ("nvidia.com/gpu", "3")]));
    let setup = registered(fake, free_port());
    let compute = setup.compute(config(&kubeconfig, json!({}))).await;
    // dstack's defaults: 2 CPUs, 8 GB memory, 100 GB disk, no GPU.
    let offers = compute.offers(&requirements(json!({}))).await.unwrap();
    assert_eq!(
        shapes(&offers),
        [("cpu-1".to_owned(), 2, 8192, 102_400, 0), ("gpu-1".to_owned(), 2, 8192, 102_400, 0)]
    );
    assert_eq!(offers[0].offer.region, "", "legacy mode: the region of the current context");
    assert_eq!(offers[0].offer.price, 0.0);
    let one = compute.offers(&requirements(json!({"gpu": "A100:1"}))).await.unwrap();
    assert_eq!(shapes(&one), [("gpu-1".to_owned(), 2, 8192, 102_400, 1)]);
    let gpu = &one[0].offer.instance.resources.gpus[0];
    assert_eq!((gpu.name.as_str(), gpu.memory_mib), ("A100", 81920), "from {PRODUCT}");
    let two = compute.offers(&requirements(json!({"gpu": "A100:2"}))).await.unwrap();
    assert!(two.is_empty(), "three of the four GPUs are taken: {:?}", shapes(&two));
    let big =
        compute.offers(&requirements(json!({"cpu": "4..", "memory": "200GB.."}))).await.unwrap();
    assert!(big.is_empty(), "2 CPUs are left on the GPU node, 64 GB on the CPU node");
}

#[tokio::test]
async fn clusters_are_checked_as_dstack_checks_them() {
    let fake = cluster().await;
    let good = fake.kubeconfig(&[("ctx-a", None), ("ctx-b", None)], Some("ctx-a"));
    // ctx-b's cluster does not answer: its server is a closed loopback port.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let broken = good
        .replacen(
            "clusters:\n",
            &format!("clusters:\n- name: dead\n  cluster:\n    server: \"{closed}\"\n"),
            1,
        )
        .replace(
            "- name: \"ctx-b\"\n  context:\n    cluster: fake-cluster",
            "- name: \"ctx-b\"\n  context:\n    cluster: dead",
        );
    let setup = registered(fake, free_port());
    let configurator = setup.configurator();
    let check = |kubeconfig: String, rest: serde_json::Value| {
        let configurator = configurator.clone();
        async move {
            configurator
                .validate_config(&config(&kubeconfig, rest), &ValidationContext::default())
                .await
        }
    };
    check(good.clone(), json!({"contexts": ["ctx-a", {"name": "ctx-b"}]})).await.unwrap();
    check(good.clone(), json!({})).await.expect("legacy mode: the current context");
    let err = check(broken.clone(), json!({"contexts": ["ctx-a", "ctx-b"]})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials);
    assert_eq!(err.message(), "Invalid credentials: Failed to validate cluster (context='ctx-b')");
    assert_eq!(err.fields(), [vec!["kubeconfig".to_owned()]]);
    let legacy = broken.replace("current-context: \"ctx-a\"", "current-context: \"ctx-b\"");
    let err = check(legacy, json!({})).await.unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid credentials: Failed to validate cluster (context='ctx-b' region='')"
    );
    let refused_token = good.replace(dstack_testkit::fakes::kubernetes::TOKEN, "wrong");
    let err = check(refused_token, json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCredentials, "{err}");
    for (kubeconfig, rest, message) in [
        (good.clone(), json!({"contexts": ["ctx-missing"]}), "context ctx-missing not found"),
        (good.replace("current-context: \"ctx-a\"\n", ""), json!({}), "current-context is not set"),
        ("mocked".to_owned(), json!({}), "Unexpected kubeconfig_data type: str"),
        ("- a\n".to_owned(), json!({}), "Unexpected kubeconfig_data type: list"),
        (good.clone(), json!({"contexts": ["ctx-a", "ctx-a"]}), "duplicate contexts: ctx-a"),
        (
            good.clone(),
            json!({"contexts": ["ctx-a"], "namespace": "ns"}),
            "namespace must not be set if contexts is set",
        ),
    ] {
        let err = check(kubeconfig, rest).await.unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::InvalidConfig, message));
    }
}
