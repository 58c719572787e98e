//! Offers from a cluster's nodes, as dstack computes them: each schedulable node's
//! allocatable CPU, memory, ephemeral storage and GPUs, minus what the pods placed on it
//! request; one offer per node (named after it, free, never spot), in the cluster's region.

use std::collections::BTreeMap;

use dstack_core::offers::{CpuArchitecture, Gpu};
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::gpus::{AMD_GPU_RESOURCE, NVIDIA_GPU_RESOURCE, amd_gpu, nvidia_gpu};
use crate::quantity::parse_quantity;

/// The resources a node can give to one more pod.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResources {
    pub name: String,
    pub region: String,
    pub cpus: u32,
    pub memory_mib: u64,
    pub disk_mib: u64,
    pub gpus: Vec<Gpu>,
    pub cpu_arch: CpuArchitecture,
}

/// Amounts per resource name (`cpu`, `memory`, …) as plain numbers (cores, bytes, devices).
pub type Amounts = BTreeMap<String, f64>;

fn add(amounts: &mut Amounts, map: &BTreeMap<String, Quantity>) {
    for (key, quantity) in map {
        if let Ok(value) = parse_quantity(&quantity.0) {
            *amounts.entry(key.clone()).or_default() += value;
        }
    }
}

/// What the pods placed on each node request (their containers' requests), by node name.
/// Pods that ended (`Succeeded`, `Failed`) hold nothing; pending pods already placed do.
pub fn allocated(pods: &[Pod]) -> BTreeMap<String, Amounts> {
    let mut by_node: BTreeMap<String, Amounts> = BTreeMap::new();
    for pod in pods {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let Some(spec) = &pod.spec else { continue };
        let Some(node) = &spec.node_name else { continue };
        let amounts = by_node.entry(node.clone()).or_default();
        for container in &spec.containers {
            if let Some(requests) = container.resources.as_ref().and_then(|r| r.requests.as_ref()) {
                add(amounts, requests);
            }
        }
    }
    by_node
}

/// A taint a job pod cannot tolerate: a hard one (`NoSchedule`, `NoExecute`, or an effect
/// dstack does not know) on a key other than the GPU plugins'.
fn untolerated(taint: &Taint) -> bool {
    let soft = taint.effect == "PreferNoSchedule";
    let known = matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute" | "PreferNoSchedule");
    if !known {
        tracing::warn!("Unexpected taint {}={:?} effect: {}", taint.key, taint.value, taint.effect);
    }
    !soft && taint.key != NVIDIA_GPU_RESOURCE && taint.key != AMD_GPU_RESOURCE
}

/// dstack's `normalize_arch`: none is x86; `x86*`/`amd*` x86, `arm*`/`aarch*` Arm; 32-bit
/// and unknown architectures cannot run dstack's runner.
fn cpu_arch(architecture: Option<&str>) -> Option<CpuArchitecture> {
    let arch = architecture.unwrap_or_default().to_lowercase();
    if arch.is_empty() {
        return Some(CpuArchitecture::X86);
    }
    if arch.contains("32") || arch == "i386" || arch == "i686" {
        return None;
    }
    if arch.starts_with("x86") || arch.starts_with("amd") {
        Some(CpuArchitecture::X86)
    } else if arch.starts_with("arm") || arch.starts_with("aarch") {
        Some(CpuArchitecture::Arm)
    } else {
        None
    }
}

/// What `node` can still give (its allocatable minus `allocated`), or `None` for a node a job
/// cannot use: a hard taint it does not tolerate, no allocatable resources, an architecture
/// the runner does not support.
pub fn node_resources(
    node: &Node,
    region: &str,
    allocated: Option<&Amounts>,
) -> Option<NodeResources> {
    let name = node.metadata.name.clone()?;
    let spec = node.spec.as_ref()?;
    if spec.taints.iter().flatten().any(untolerated) {
        tracing::debug!("Node {name}: untolerated taint(s) found, skipping");
        return None;
    }
    let status = node.status.as_ref()?;
    let Some(allocatable) = &status.allocatable else {
        tracing::warn!("Node {name}: no allocatable resources, skipping");
        return None;
    };
    let architecture = status.node_info.as_ref().map(|info| info.architecture.as_str());
    let Some(cpu_arch) = cpu_arch(architecture) else {
        tracing::warn!("Node {name}: unsupported architecture {architecture:?}, skipping");
        return None;
    };
    let mut free = Amounts::new();
    add(&mut free, allocatable);
    let left = |key: &str| {
        let used = allocated.and_then(|a| a.get(key)).copied().unwrap_or(0.0);
        (free.get(key).copied().unwrap_or(0.0) - used).max(0.0)
    };
    let mib = |key: &str| (left(key) / 1_048_576.0).trunc() as u64;
    let labels = node.metadata.labels.clone().unwrap_or_default();
    Some(NodeResources {
        cpus: left("cpu").trunc() as u32,
        memory_mib: mib("memory"),
        disk_mib: mib("ephemeral-storage"),
        gpus: gpus(&name, &labels, left(NVIDIA_GPU_RESOURCE), left(AMD_GPU_RESOURCE)),
        cpu_arch,
        name,
        region: region.to_owned(),
    })
}

/// The node's free GPUs: NVIDIA first, then AMD, each told by its operator's labels. A node
/// with GPU devices whose model the labels do not tell offers none (dstack's warning).
fn gpus(node: &str, labels: &BTreeMap<String, String>, nvidia: f64, amd: f64) -> Vec<Gpu> {
    for (count, vendor, detect) in [
        (nvidia, NVIDIA_GPU_RESOURCE, nvidia_gpu(labels)),
        (amd, AMD_GPU_RESOURCE, amd_gpu(node, labels)),
    ] {
        let count = count.trunc() as usize;
        if count < 1 {
            continue;
        }
        return match detect {
            Some(gpu) => vec![gpu; count],
            None => {
                tracing::warn!(
                    "Node {node}: GPU resource found, but failed to detect its model: {vendor}={count}"
                );
                Vec::new()
            }
        };
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(body: serde_json::Value) -> Node {
        serde_json::from_value(body).unwrap()
    }

    fn gpu_node(taints: serde_json::Value) -> Node {
        node(json!({
            "metadata": {"name": "gpu-1", "labels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}},
            "spec": {"taints": taints},
            "status": {
                "allocatable": {"cpu": "7910m", "memory": "65536Mi", "ephemeral-storage": "200Gi", "nvidia.com/gpu": "4"},
                "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "",
                    "kubeProxyVersion": "", "kubeletVersion": "", "machineID": "", "operatingSystem": "linux",
                    "osImage": "", "systemUUID": ""}
            }
        }))
    }

    #[test]
    fn a_node_offers_its_allocatable_minus_what_pods_request() {
        let pods: Vec<Pod> = serde_json::from_value(json!([
            {"spec": {"nodeName": "gpu-1", "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "1500m", "memory": "1Gi", "nvidia.com/gpu": "1"}}},
                {"name": "b", "resources": {"requests": {"memory": "1Gi"}}}]},
             "status": {"phase": "Running"}},
            {"spec": {"nodeName": "gpu-1", "containers": [
                {"name": "done", "resources": {"requests": {"cpu": "4"}}}]},
             "status": {"phase": "Succeeded"}},
            {"spec": {"containers": [{"name": "unplaced", "resources": {"requests": {"cpu": "4"}}}]},
             "status": {"phase": "Pending"}}
        ]))
        .unwrap();
        let allocated = allocated(&pods);
        let free = node_resources(&gpu_node(json!([])), "ctx", allocated.get("gpu-1")).unwrap();
        assert_eq!(free.cpus, 6, "7.91 - 1.5 cores, truncated");
        assert_eq!(free.memory_mib, 65536 - 2048);
        assert_eq!(free.disk_mib, 204_800);
        assert_eq!(free.gpus.len(), 3);
        assert_eq!(free.gpus[0].name, "A100");
        assert_eq!(free.gpus[0].memory_mib, 81920);
        assert_eq!(free.region, "ctx");
        let whole = node_resources(&gpu_node(json!([])), "ctx", None).unwrap();
        assert_eq!((whole.cpus, whole.gpus.len()), (7, 4));
    }

    #[test]
    fn taints_other_than_the_gpu_plugins_hard_ones_skip_the_node() {
        let gpu_taint = json!([{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]);
        assert!(node_resources(&gpu_node(gpu_taint), "", None).is_some());
        let soft = json!([{"key": "dedicated", "effect": "PreferNoSchedule"}]);
        assert!(node_resources(&gpu_node(soft), "", None).is_some());
        let hard = json!([{"key": "dedicated", "effect": "NoExecute"}]);
        assert!(node_resources(&gpu_node(hard), "", None).is_none());
        let unknown = json!([{"key": "dedicated", "effect": "Sometimes"}]);
        assert!(node_resources(&gpu_node(unknown), "", None).is_none());
    }

    #[test]
    fn architectures_as_dstack_reads_them() {
        assert_eq!(cpu_arch(None), Some(CpuArchitecture::X86));
        assert_eq!(cpu_arch(Some("amd64")), Some(CpuArchitecture::X86));
        assert_eq!(cpu_arch(Some("arm64")), Some(CpuArchitecture::Arm));
        assert_eq!(cpu_arch(Some("aarch64")), Some(CpuArchitecture::Arm));
        assert_eq!(cpu_arch(Some("i386")), None);
        assert_eq!(cpu_arch(Some("riscv64")), None);
    }

    #[test]
    fn gpu_devices_without_a_known_model_offer_no_gpu() {
        let mut node = gpu_node(json!([]));
        node.metadata.labels = None;
        assert!(node_resources(&node, "", None).unwrap().gpus.is_empty());
    }
}
