//! Jobs as pods on the fake cluster (`dstack_testkit::fakes::kubernetes`, held to
//! Kubernetes' published OpenAPI): the objects run_job creates and their specs, the pull
//! secret, a repeated run, pods that cannot be placed, and terminate.

mod common;

use common::{cluster, config, registered, requirements};
use dstack_core::ErrorKind;
use dstack_core::container::{JobConfiguration, RegistryAuth};
use dstack_core::{Compute, Secret};
use dstack_testkit::fixtures::{self, USER_PUBLIC_KEY, job_configuration};
use dstack_testkit::sshd::{free_port, key_pair};
use serde_json::{Value, json};

/// A compute on the fake cluster (contexts mode, namespace `dstack`) and its fake.
async fn setup() -> (common::Setup, std::sync::Arc<dyn Compute>) {
    let fake = cluster().await;
    let kubeconfig = fake.kubeconfig(&[("ctx-a", Some("dstack"))], None);
    let setup = registered(fake, free_port());
    let compute = setup.compute(config(&kubeconfig, json!({"contexts": ["ctx-a"]}))).await;
    (setup, compute)
}

fn job(resources: Value) -> JobConfiguration {
    job_configuration("main", &requirements(resources))
}

#[tokio::test]
async fn a_gpu_job_is_a_pod_with_its_requests_limits_placement_and_runner() {
    let (setup, compute) = setup().await;
    let keys = key_pair("project");
    let resources = json!({"cpu": "4..8", "memory": "16GB", "disk": "100GB..", "gpu": "A100:1..2", "shm_size": "8GB"});
    let offers = compute.offers(&requirements(resources.clone())).await.unwrap();
    let mut job = job(resources);
    job.tags = Some([("team".to_owned(), "ml".to_owned())].into_iter().collect());
    let data = compute.run_job(&offers[0], &job, &keys).await.unwrap();
    assert_eq!(
        (data.username.as_str(), data.ssh_port, data.dockerized),
        ("root", Some(10022), false)
    );
    let name = data.instance_id.clone();

    let pod = setup.fake.pod("dstack", &name).expect("the job's pod");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/instance"], name.as_str());
    assert_eq!(labels["app.kubernetes.io/name"], "dstack-job");
    assert_eq!(labels["k8s.dstack.ai/project"], "main");
    assert_eq!(labels["k8s.dstack.ai/user"], "admin");
    assert_eq!(labels["team"], "ml");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], job.image.as_str());
    assert_eq!(container["command"], json!(["/bin/sh"]));
    let script = container["args"][1].as_str().unwrap();
    assert!(script.starts_with("( : && unset LD_LIBRARY_PATH"), "{script}");
    assert!(script.contains(
        "--output /usr/local/bin/dstack-runner https://dstack-runner-downloads.s3.eu-west-1.amazonaws.com/0.22.5/binaries/dstack-runner-linux-amd64"
    ));
    assert!(script.ends_with(&format!(
        "--ssh-port 10022 --ssh-authorized-key '{}' --ssh-authorized-key '{USER_PUBLIC_KEY}'",
        keys.public
    )));
    assert_eq!(container["ports"], json!([{"containerPort": 10022, "protocol": "TCP"}]));
    assert_eq!(container["securityContext"]["privileged"], false);
    assert_eq!(container["securityContext"]["capabilities"]["add"], json!(["SYS_RESOURCE"]));
    assert_eq!(
        container["resources"],
        json!({
            "requests": {"cpu": "4", "memory": "16Gi", "ephemeral-storage": "100Gi", "nvidia.com/gpu": "1"},
            "limits": {"cpu": "8", "memory": "16Gi", "nvidia.com/gpu": "1"},
        })
    );
    assert!(
        container.get("env").is_none_or(|env| env.as_array().is_some_and(Vec::is_empty)),
        "GPU jobs see their GPUs"
    );
    assert_eq!(container["volumeMounts"], json!([{"name": "dev-shm", "mountPath": "/dev/shm"}]));
    assert_eq!(
        pod["spec"]["volumes"][0]["emptyDir"],
        json!({"medium": "Memory", "sizeLimit": "8.0Gi"})
    );
    let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0];
    assert_eq!(
        term["matchExpressions"][0],
        json!({"key": "nvidia.com/gpu.product", "operator": "In", "values": [common::PRODUCT]})
    );
    assert_eq!(
        pod["spec"]["tolerations"],
        json!([
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"},
        ])
    );
    assert_eq!(pod["spec"]["nodeName"], "gpu-1", "the cluster placed it on the GPU node");
    let service = setup.fake.service("dstack", &format!("{name}-service")).unwrap();
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["selector"], json!({"app.kubernetes.io/instance": name}));
    assert_eq!(service["spec"]["ports"][0]["port"], 10022);
    let jump = setup.fake.pod("dstack", "dstack-main-ssh-jump-pod").expect("the jump pod");
    assert_eq!(jump["spec"]["containers"][0]["image"], dstack_backend_kubernetes::JUMP_POD_IMAGE);
    let jump_script = jump["spec"]["containers"][0]["args"][1].as_str().unwrap();
    assert!(
        jump_script.contains(&format!("echo '{}' > ~/.ssh/authorized_keys", keys.public)),
        "the project key only"
    );
    let jump_service = setup.fake.service("dstack", "dstack-main-ssh-jump-pod-service").unwrap();
    assert_eq!(jump_service["spec"]["type"], "NodePort");

    for _ in 0..2 {
        compute.terminate_instance(&name, "ctx-a", &data.backend_data).await.unwrap();
    }
    assert!(setup.fake.pod("dstack", &name).is_none());
    assert!(setup.fake.service("dstack", &format!("{name}-service")).is_none());
    assert!(setup.fake.pod("dstack", "dstack-main-ssh-jump-pod").is_some(), "the jump pod stays");
    assert_eq!(setup.fake.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_cpu_job_hides_the_gpus_and_a_private_image_gets_a_pull_secret() {
    let (setup, compute) = setup().await;
    let keys = key_pair("project");
    let offers = compute.offers(&requirements(json!({}))).await.unwrap();
    let mut job = job(json!({}));
    job.image = "ghcr.io/org/private:1".to_owned();
    job.registry_auth =
        Some(RegistryAuth { username: "me".to_owned(), password: Secret::new("hunter2-registry") });
    job.privileged = true;
    let data = compute.run_job(&offers[0], &job, &keys).await.unwrap();
    let name = &data.instance_id;
    let pod = setup.fake.pod("dstack", name).unwrap();
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["env"], json!([{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]));
    assert_eq!(container["securityContext"]["privileged"], true);
    assert!(pod["spec"].get("affinity").is_none());
    let secret_name = format!("{name}-registry-auth");
    assert_eq!(pod["spec"]["imagePullSecrets"], json!([{"name": secret_name}]));
    let secret = setup.fake.secret("dstack", &secret_name).expect("the pull secret");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert!(!format!("{data:?}").contains("hunter2"), "no password in the provisioning data");
    compute.terminate_instance(name, "ctx-a", &data.backend_data).await.unwrap();
    assert!(setup.fake.secret("dstack", &secret_name).is_none(), "terminate deletes the secret");
}

#[tokio::test]
async fn a_repeated_run_finds_its_pod_instead_of_starting_another() {
    let (setup, compute) = setup().await;
    let keys = key_pair("project");
    let offers = compute.offers(&requirements(json!({}))).await.unwrap();
    let job = job(json!({}));
    let first = compute.run_job(&offers[0], &job, &keys).await.unwrap();
    let second = compute.run_job(&offers[0], &job, &keys).await.unwrap();
    assert_eq!(first.instance_id, second.instance_id);
    let jobs: Vec<Value> = setup
        .fake
        .pods()
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/name"] == "dstack-job")
        .collect();
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn a_pod_the_cluster_cannot_place_is_removed_and_the_offer_given_up() {
    let (setup, compute) = setup().await;
    let keys = key_pair("project");
    let offers = compute.offers(&requirements(json!({}))).await.unwrap();
    // The offer is stale: meanwhile the job asks for more than any node has.
    let job = job(json!({"cpu": "64.."}));
    let err = compute.run_job(&offers[0], &job, &keys).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity, "{err}");
    assert!(err.message().contains("was not scheduled: Unschedulable:"), "{err}");
    let jobs = setup
        .fake
        .pods()
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/name"] == "dstack-job")
        .count();
    assert_eq!(jobs, 0, "nothing is left behind");
    let h100 = job_configuration("main", &requirements(json!({"gpu": "H100:1"})));
    let err = compute.run_job(&offers[0], &h100, &keys).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCapacity);
    assert!(err.message().starts_with("NVIDIA GPU is requested but no matching GPU labels found"));
    let unknown = compute.terminate_instance("x", "ctx-z", &Default::default()).await.unwrap_err();
    assert_eq!(unknown.message(), "Unknown region: 'ctx-z'");
    let _ = fixtures::ssh_key_pair();
}
