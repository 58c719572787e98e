//! Objects as a real cluster reports them: nodes, pods already running, the version, and
//! the metadata values (uids, timestamps) the apiserver stamps.

use serde_json::{Map, Value, json};

/// What [`node`] builds a Node from. `Default` is an 8-CPU, 32 GiB amd64 node `node-1`.
#[derive(Debug, Clone)]
pub struct NodeShape<'a> {
    pub name: &'a str,
    pub cpu: &'a str,
    pub memory: &'a str,
    pub ephemeral_storage: &'a str,
    /// Extended resources in capacity and allocatable, such as `("nvidia.com/gpu", "4")`.
    pub extended: &'a [(&'a str, &'a str)],
    /// Labels beside the ones every node has (`kubernetes.io/hostname`, `kubernetes.io/arch`,
    /// `kubernetes.io/os`), such as `("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB")`.
    pub labels: &'a [(&'a str, &'a str)],
    pub external_ip: Option<&'a str>,
    /// `amd64` or `arm64`.
    pub architecture: &'a str,
    /// `spec.taints`, as given (`{"key", "value", "effect"}`).
    pub taints: &'a [Value],
}

impl Default for NodeShape<'_> {
    fn default() -> Self {
        Self {
            name: "node-1",
            cpu: "8",
            memory: "32Gi",
            ephemeral_storage: "100Gi",
            extended: &[],
            labels: &[],
            external_ip: None,
            architecture: "amd64",
            taints: &[],
        }
    }
}

/// A Node as a real cluster reports it: its labels, capacity and allocatable (the shape's
/// resources, `pods: "110"`, and the extended ones), the `InternalIP` `10.0.0.N` (N derived
/// from the name, so the same name always gets the same address) and the `ExternalIP` when
/// given, a `Ready` condition that is `True`, and `nodeInfo` of the shape's architecture.
pub fn node(shape: &NodeShape) -> Value {
    let mut labels = Map::new();
    for (key, value) in [
        ("beta.kubernetes.io/arch", shape.architecture),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", shape.architecture),
        ("kubernetes.io/hostname", shape.name),
        ("kubernetes.io/os", "linux"),
    ]
    .into_iter()
    .chain(shape.labels.iter().copied())
    {
        labels.insert(key.to_owned(), json!(value));
    }
    let mut resources = Map::new();
    for (key, value) in [
        ("cpu", shape.cpu),
        ("ephemeral-storage", shape.ephemeral_storage),
        ("hugepages-1Gi", "0"),
        ("hugepages-2Mi", "0"),
        ("memory", shape.memory),
        ("pods", "110"),
    ]
    .into_iter()
    .chain(shape.extended.iter().copied())
    {
        resources.insert(key.to_owned(), json!(value));
    }
    let mut addresses = vec![
        json!({"type": "InternalIP", "address": internal_ip(shape.name)}),
        json!({"type": "Hostname", "address": shape.name}),
    ];
    if let Some(ip) = shape.external_ip {
        addresses.insert(1, json!({"type": "ExternalIP", "address": ip}));
    }
    let since = "2026-01-05T09:00:00Z";
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now(), "lastTransitionTime": since,
        })
    };
    let mut spec = json!({"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]});
    if !shape.taints.is_empty() {
        spec["taints"] = json!(shape.taints);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": shape.name,
            "uid": uid(),
            "resourceVersion": "1",
            "creationTimestamp": since,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": {
            "capacity": resources.clone(),
            "allocatable": resources,
            "addresses": addresses,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": shape.architecture,
                "bootID": uid(),
                "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.8.0-60-generic",
                "kubeProxyVersion": "",
                "kubeletVersion": "v1.36.0",
                "machineID": uid().replace('-', ""),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.2 LTS",
                "systemUUID": uid(),
            },
        },
    })
}

/// `10.0.0.N` with N (1–250) from the FNV-1a hash of `name`.
fn internal_ip(name: &str) -> String {
    let hash =
        name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("10.0.0.{}", hash % 250 + 1)
}

/// A pod running on `node`, one container requesting `requests` (`("cpu", "2")`,
/// `("memory", "4Gi")`, `("nvidia.com/gpu", "1")`): what other workloads already take from
/// the node's allocatable. Its `hostIP` is left out (the fake's own pods get theirs).
pub fn running_pod(namespace: &str, name: &str, node: &str, requests: &[(&str, &str)]) -> Value {
    let requests: Map<String, Value> =
        requests.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let started = "2026-01-05T10:00:00Z";
    let condition =
        |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": started});
    let conditions = ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(condition);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace, "uid": uid(),
            "resourceVersion": "1", "creationTimestamp": started,
            "labels": {"app": name},
        },
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "main", "image": "busybox:1.37",
                "resources": {"requests": requests.clone(), "limits": requests},
            }],
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.1.2",
            "podIPs": [{"ip": "10.244.1.2"}],
            "startTime": started,
            "conditions": conditions,
            "containerStatuses": [{
                "name": "main", "ready": true, "started": true, "restartCount": 0,
                "image": "docker.io/library/busybox:1.37", "imageID": "",
                "state": {"running": {"startedAt": started}},
            }],
        },
    })
}

/// `GET /version` of a 1.36 cluster.
pub(super) fn version() -> Value {
    json!({
        "major": "1", "minor": "36",
        "emulationMajor": "1", "emulationMinor": "36",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
        "gitVersion": "v1.36.0",
        "gitCommit": "4f8ce7bb0ca1a4b2dd3da4c1d0ea8a4bd7c1e5e8",
        "gitTreeState": "clean",
        "buildDate": "2026-04-22T10:04:43Z",
        "goVersion": "go1.24.9",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// A `metadata.uid`.
pub(super) fn uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, as the apiserver writes times (RFC 3339, whole seconds, UTC).
pub(super) fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// What `generateName` gets appended: five characters of the apiserver's alphabet.
pub(super) fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = uuid::Uuid::new_v4();
    random.as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_shape() {
        let taint = json!({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"});
        let n = node(&NodeShape {
            name: "gpu-1",
            extended: &[("nvidia.com/gpu", "4")],
            labels: &[("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")],
            external_ip: Some("203.0.113.7"),
            architecture: "arm64",
            taints: std::slice::from_ref(&taint),
            ..NodeShape::default()
        });
        assert_eq!(n["status"]["allocatable"]["nvidia.com/gpu"], "4");
        assert_eq!(n["status"]["capacity"]["memory"], "32Gi");
        assert_eq!(n["metadata"]["labels"]["kubernetes.io/arch"], "arm64");
        assert_eq!(n["metadata"]["labels"]["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
        assert_eq!(
            n["status"]["addresses"][1],
            json!({"type": "ExternalIP", "address": "203.0.113.7"})
        );
        assert_eq!(n["status"]["addresses"][0]["address"], internal_ip("gpu-1"));
        assert_eq!(n["spec"]["taints"][0], taint);
        assert_eq!(n["status"]["nodeInfo"]["architecture"], "arm64");
    }

    #[test]
    fn stamps_look_like_the_apiservers() {
        let now = now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
        assert_eq!(name_suffix().len(), 5);
        assert_eq!(uid().len(), 36);
    }
}
