//! The objects dstack creates in a cluster, written as their manifests: the project's jump
//! pod (an `sshd` every job is reached through) and its NodePort service, and per job a
//! registry secret, the job's pod and its ClusterIP service.

use std::collections::BTreeMap;

use base64::Engine as _;
use dstack_core::container::{JobConfiguration, RegistryAuth};
use dstack_core::provisioning::RUNNER_SSH_PORT;
use dstack_core::resources::ResourcesSpec;
use dstack_core::shell;
use serde_json::{Value, json};

use crate::labels::INSTANCE_LABEL;
use crate::resources::{ResourceAmounts, shm_size_limit};

/// The jump pod's image: a plain `sshd` (dstack's, pinned by digest).
pub const JUMP_POD_IMAGE: &str = "testcontainers/sshd:1.3.0@sha256:c50c0f59554dcdb2d9e5e705112144428ae9d04ac0af6322b365a18e24213a6a";
/// The user dstack logs in to jump pods and job pods as.
pub const POD_USER: &str = "root";
const JUMP_POD_SSH_PORT: u16 = 22;

/// The project's jump pod, one per cluster namespace.
pub fn jump_pod_name(project: &str) -> String {
    format!("dstack-{project}-ssh-jump-pod")
}

/// The service in front of pod `pod` (the jump pod's, or a job's).
pub fn service_name(pod: &str) -> String {
    format!("{pod}-service")
}

/// The pull secret of job pod `pod`.
pub fn registry_secret_name(pod: &str) -> String {
    format!("{pod}-registry-auth")
}

/// The jump pod: `sshd` on port 22 letting in `authorized_keys` (the project key), allowed
/// onto GPU nodes by `tolerations` when only they are free of hard taints.
pub fn jump_pod(
    name: &str,
    labels: &BTreeMap<String, String>,
    authorized_keys: &[String],
    tolerations: &[Value],
) -> Value {
    let commands = [
        "mkdir -p ~/.ssh".to_owned(),
        "chmod 700 ~/.ssh".to_owned(),
        format!("echo {} > ~/.ssh/authorized_keys", shell::quote(&authorized_keys.join("\n"))),
        "chmod 600 ~/.ssh/authorized_keys".to_owned(),
        "rm -rf /etc/ssh/ssh_host_*".to_owned(),
        "ssh-keygen -A > /dev/null".to_owned(),
        format!(
            "/usr/sbin/sshd -D -e -p {JUMP_POD_SSH_PORT} -o LogLevel=ERROR \
             -o PasswordAuthentication=no -o AllowTcpForwarding=local"
        ),
    ];
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "containers": [{
                "name": format!("{name}-container"),
                "image": JUMP_POD_IMAGE,
                "command": ["/bin/sh"],
                "args": ["-c", commands.join(" && ")],
                "ports": [{"containerPort": JUMP_POD_SSH_PORT}],
            }],
            "tolerations": tolerations,
        },
    })
}

/// The jump pod's NodePort service, on `node_port` when the config sets `proxy_jump.port`.
pub fn jump_service(pod: &str, labels: &BTreeMap<String, String>, node_port: Option<i64>) -> Value {
    let mut port = json!({"port": JUMP_POD_SSH_PORT, "targetPort": JUMP_POD_SSH_PORT});
    if let Some(node_port) = node_port {
        port["nodePort"] = json!(node_port);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(pod), "labels": labels},
        "spec": {"type": "NodePort", "selector": {INSTANCE_LABEL: pod}, "ports": [port]},
    })
}

/// A job pod's ClusterIP service: the runner's SSH port, reached through the jump pod.
pub fn job_service(pod: &str, labels: &BTreeMap<String, String>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(pod), "labels": labels},
        "spec": {"type": "ClusterIP", "selector": {INSTANCE_LABEL: pod}, "ports": [{"port": RUNNER_SSH_PORT}]},
    })
}

/// The registry of `image` as Docker names it in `.dockerconfigjson` (Docker Hub's
/// `https://index.docker.io/v1/` for images without a registry host).
fn registry_of(image: &str) -> String {
    let docker_hub = "https://index.docker.io/v1/".to_owned();
    let Some((first, _)) = image.split_once('/') else { return docker_hub };
    let is_host = first == "localhost" || first.contains('.') || first.contains(':');
    match is_host && first != "docker.io" && first != "index.docker.io" {
        true => first.to_owned(),
        false => docker_hub,
    }
}

/// The pull secret for `image` with `auth` (`kubernetes.io/dockerconfigjson`).
pub fn registry_secret(
    name: &str,
    labels: &BTreeMap<String, String>,
    image: &str,
    auth: &RegistryAuth,
) -> Value {
    let password = auth.password.expose();
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", auth.username));
    let config = json!({"auths": {registry_of(image): {
        "username": auth.username, "password": password, "auth": token,
    }}});
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config.to_string()},
    })
}

/// Where a GPU job may be placed: the node affinity and tolerations for `gpu_resource`
/// nodes whose models match (`None` without GPUs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    pub node_affinity: Option<Value>,
    pub tolerations: Vec<Value>,
}

/// The job's pod: its image running `commands` as root (`/bin/sh -c`), the runner's SSH port,
/// requests and limits from `spec`, `/dev/shm` and host mounts, the pull secret when there
/// is one, and `placement`.
pub fn job_pod(
    name: &str,
    labels: &BTreeMap<String, String>,
    job: &JobConfiguration,
    commands: &[String],
    spec: &ResourcesSpec,
    gpu_resource: &str,
    placement: &Placement,
) -> Value {
    let requests = ResourceAmounts::requests(spec);
    let limits = ResourceAmounts::limits(spec);
    let mut env = Vec::new();
    if requests.gpu == 0 {
        // Images that bake in `NVIDIA_VISIBLE_DEVICES=all` would see the node's GPUs.
        env.push(json!({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}));
    }
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    if let Some(shm) = spec.shm_size {
        volumes.push(json!({"name": "dev-shm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size_limit(shm)}}));
        mounts.push(json!({"name": "dev-shm", "mountPath": "/dev/shm"}));
    }
    for (i, mount) in job.instance_mounts.iter().enumerate() {
        let volume = format!("host-path-{i}");
        volumes.push(json!({"name": volume, "hostPath": {"path": mount.instance_path, "type": "DirectoryOrCreate"}}));
        mounts.push(json!({"name": volume, "mountPath": mount.path}));
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "containers": [{
                "name": format!("{name}-container"),
                "image": job.image,
                "command": ["/bin/sh"],
                "args": ["-c", commands.join(" && ")],
                "ports": [{"containerPort": RUNNER_SSH_PORT}],
                "securityContext": {
                    "runAsUser": 0,
                    "runAsGroup": 0,
                    "privileged": job.privileged,
                    // Lets the runner raise hard resource limits (getrlimit(2)).
                    "capabilities": {"add": ["SYS_RESOURCE"]},
                },
                "resources": {
                    "requests": requests.to_kubernetes(gpu_resource),
                    "limits": limits.to_kubernetes(gpu_resource),
                },
                "volumeMounts": mounts,
                "env": env,
            }],
            "tolerations": placement.tolerations,
            "volumes": volumes,
        },
    });
    if let Some(affinity) = &placement.node_affinity {
        pod["spec"]["affinity"] = json!({"nodeAffinity": affinity});
    }
    if job.registry_auth.is_some() {
        pod["spec"]["imagePullSecrets"] = json!([{"name": registry_secret_name(name)}]);
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_named_as_docker_names_them() {
        assert_eq!(registry_of("ubuntu"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("dstackai/base:0.10"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("docker.io/library/ubuntu"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("ghcr.io/org/image:1"), "ghcr.io");
        assert_eq!(registry_of("localhost/image"), "localhost");
        assert_eq!(registry_of("registry:5000/image"), "registry:5000");
    }

    #[test]
    fn the_pull_secret_holds_dockers_config() {
        let auth = RegistryAuth { username: "me".into(), password: dstack_core::Secret::new("pw") };
        let secret = registry_secret("s", &BTreeMap::new(), "ghcr.io/org/image", &auth);
        let config: Value =
            serde_json::from_str(secret["stringData"][".dockerconfigjson"].as_str().unwrap())
                .unwrap();
        assert_eq!(config["auths"]["ghcr.io"]["auth"], "bWU6cHc=");
        assert_eq!(config["auths"]["ghcr.io"]["password"], "pw");
    }

    #[test]
    fn the_jump_pod_lets_in_the_project_key_only_for_forwarding() {
        let keys = ["ssh-ed25519 AAAA project".to_owned()];
        let pod = jump_pod("dstack-main-ssh-jump-pod", &BTreeMap::new(), &keys, &[]);
        let script = pod["spec"]["containers"][0]["args"][1].as_str().unwrap();
        assert!(script.contains("echo 'ssh-ed25519 AAAA project' > ~/.ssh/authorized_keys"));
        assert!(script.ends_with("-o PasswordAuthentication=no -o AllowTcpForwarding=local"));
        let service = jump_service("dstack-main-ssh-jump-pod", &BTreeMap::new(), Some(30022));
        assert_eq!(service["spec"]["ports"][0]["nodePort"], 30022);
        assert_eq!(service["metadata"]["name"], "dstack-main-ssh-jump-pod-service");
        let detected = jump_service("p", &BTreeMap::new(), None);
        assert!(
            detected["spec"]["ports"][0].get("nodePort").is_none(),
            "the cluster allocates one"
        );
    }
}
