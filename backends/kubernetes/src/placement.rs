//! Where pods may go. A GPU job gets a node affinity for the nodes whose GPUs match its
//! spec (NVIDIA by product label, AMD by device ID) and tolerates the device plugins'
//! taints; the jump pod tolerates GPU taints only when no node is free of hard taints.

use std::collections::BTreeSet;

use dstack_catalog::accelerators::compute_capability;
use dstack_core::offers::{AcceleratorVendor, Gpu};
use dstack_core::resources::GpuSpec;
use dstack_core::{BackendError, ErrorKind};
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

use crate::gpus::{
    AMD_GPU_DEVICE_ID_LABEL_PREFIX, AMD_GPU_RESOURCE, NVIDIA_GPU_PRODUCT_LABEL,
    NVIDIA_GPU_RESOURCE, amd_device_ids, amd_gpu, nvidia_gpu,
};
use crate::manifests::Placement;

/// dstack's `gpu_matches_gpu_spec`: vendor, name, memory and compute capability as asked.
fn matches(gpu: &Gpu, spec: &GpuSpec) -> bool {
    if spec.vendor.is_some_and(|vendor| vendor != gpu.vendor) {
        return false;
    }
    if let Some(names) = &spec.name
        && !names.iter().any(|name| name.eq_ignore_ascii_case(&gpu.name))
    {
        return false;
    }
    if let Some(memory) = &spec.memory {
        let gb = gpu.memory_mib as f64 / 1024.0;
        if memory.min.is_some_and(|m| gb < m.gb()) || memory.max.is_some_and(|m| gb > m.gb()) {
            return false;
        }
    }
    if let Some(wanted) = spec.compute_capability {
        let known =
            (gpu.vendor == AcceleratorVendor::Nvidia).then(|| compute_capability(&gpu.name));
        if known.flatten().is_none_or(|cc| cc < wanted) {
            return false;
        }
    }
    true
}

/// Tolerating the device plugin's taint on `resource`, whatever its effect.
fn gpu_tolerations(resource: &str) -> Vec<Value> {
    ["NoSchedule", "NoExecute"]
        .map(|effect| json!({"key": resource, "operator": "Exists", "effect": effect}))
        .into()
}

/// Where a job asking for `spec`'s GPUs of `resource` may run among `nodes`. NVIDIA: nodes
/// whose product label names a matching GPU (none is an error: the job could never start);
/// AMD: nodes labelled with a matching model's device ID.
pub fn gpu_placement(
    spec: &GpuSpec,
    resource: &str,
    nodes: &[Node],
) -> Result<Placement, BackendError> {
    let labelled = nodes.iter().filter_map(|node| {
        let labels = node.metadata.labels.clone()?;
        let name = node.metadata.name.clone().unwrap_or_default();
        Some((name, labels))
    });
    let node_affinity = if resource == AMD_GPU_RESOURCE {
        let mut ids: BTreeSet<u32> = BTreeSet::new();
        for (name, labels) in labelled {
            if let Some(gpu) = amd_gpu(&name, &labels).filter(|gpu| matches(gpu, spec)) {
                ids.extend(amd_device_ids(&gpu.name));
            }
        }
        let terms: Vec<Value> = ids
            .iter()
            .map(|id| json!({"matchExpressions": [{"key": format!("{AMD_GPU_DEVICE_ID_LABEL_PREFIX}{id:x}"), "operator": "Exists"}]}))
            .collect();
        if terms.is_empty() {
            return Err(no_gpu_nodes("AMD", spec));
        }
        json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}})
    } else {
        let products: BTreeSet<String> = labelled
            .filter(|(_, labels)| nvidia_gpu(labels).is_some_and(|gpu| matches(&gpu, spec)))
            .filter_map(|(_, labels)| labels.get(NVIDIA_GPU_PRODUCT_LABEL).cloned())
            .collect();
        if products.is_empty() {
            return Err(no_gpu_nodes("NVIDIA", spec));
        }
        json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": NVIDIA_GPU_PRODUCT_LABEL, "operator": "In", "values": products}]}
        ]}})
    };
    Ok(Placement { node_affinity: Some(node_affinity), tolerations: gpu_tolerations(resource) })
}

/// dstack's error when no node has the GPUs asked for (for AMD dstack sends the pod anyway,
/// which the API server refuses for its empty affinity). No capacity: try the next offer.
fn no_gpu_nodes(vendor: &str, spec: &GpuSpec) -> BackendError {
    BackendError::new(
        ErrorKind::NoCapacity,
        format!("{vendor} GPU is requested but no matching GPU labels found: {spec:?}"),
    )
}

/// The jump pod's tolerations: none when some node has no hard taint; otherwise the GPU
/// plugins' hard taints found (dstack's warning when there are none to tolerate).
pub fn jump_tolerations(nodes: &[Node]) -> Vec<Value> {
    let mut gpu_taints = BTreeSet::new();
    for node in nodes {
        let Some(spec) = &node.spec else { continue };
        let hard: Vec<_> =
            spec.taints.iter().flatten().filter(|t| t.effect != "PreferNoSchedule").collect();
        if hard.is_empty() {
            return Vec::new();
        }
        for taint in hard {
            if taint.key == NVIDIA_GPU_RESOURCE || taint.key == AMD_GPU_RESOURCE {
                gpu_taints.insert((taint.key.clone(), taint.effect.clone()));
            }
        }
    }
    if gpu_taints.is_empty() {
        tracing::warn!("No appropriate node found, the jump pod may never be scheduled");
    }
    gpu_taints
        .into_iter()
        .map(|(key, effect)| json!({"key": key, "operator": "Exists", "effect": effect}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: Value, taints: Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}}),
        )
        .unwrap()
    }

    fn spec(json: Value) -> GpuSpec {
        let resources: dstack_core::resources::ResourcesSpec =
            dstack_core::config::load::from_json(&json!({"gpu": json})).unwrap();
        resources.gpu.unwrap()
    }

    #[test]
    fn nvidia_jobs_go_to_nodes_with_a_matching_product() {
        let nodes = [
            node("a", json!({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}), json!([])),
            node("h", json!({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}), json!([])),
            node("cpu", json!({}), json!([])),
        ];
        let placement = gpu_placement(&spec(json!("H100:1")), NVIDIA_GPU_RESOURCE, &nodes).unwrap();
        let terms = &placement.node_affinity.unwrap()["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"];
        assert_eq!(terms[0]["matchExpressions"][0]["values"], json!(["NVIDIA-H100-80GB-HBM3"]));
        assert_eq!(placement.tolerations.len(), 2);
        assert_eq!(
            placement.tolerations[1],
            json!({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"})
        );
        let none = gpu_placement(&spec(json!("B200:1")), NVIDIA_GPU_RESOURCE, &nodes).unwrap_err();
        assert_eq!(none.kind(), ErrorKind::NoCapacity);
        assert!(
            none.message().starts_with("NVIDIA GPU is requested but no matching GPU labels found")
        );
        let any = gpu_placement(&spec(json!(1)), NVIDIA_GPU_RESOURCE, &nodes).unwrap();
        let values = &any.node_affinity.unwrap()["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0]["values"];
        assert_eq!(values.as_array().unwrap().len(), 2);
    }

    #[test]
    fn amd_jobs_go_to_nodes_labelled_with_a_device_id_of_the_model() {
        let nodes = [node("m", json!({"beta.amd.com/gpu.device-id.74b5": "8"}), json!([]))];
        let placement =
            gpu_placement(&spec(json!("amd:MI300X:1")), AMD_GPU_RESOURCE, &nodes).unwrap();
        let terms = placement.node_affinity.unwrap()["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].clone();
        assert_eq!(terms.as_array().unwrap().len(), 4, "one term per MI300X device ID");
        assert_eq!(terms[0]["matchExpressions"][0]["key"], "beta.amd.com/gpu.device-id.74a1");
    }

    #[test]
    fn the_jump_pod_tolerates_gpu_taints_only_when_every_node_has_hard_taints() {
        let gpu_taint = json!([{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]);
        let tainted = node("g", json!({}), gpu_taint.clone());
        assert_eq!(
            jump_tolerations(std::slice::from_ref(&tainted)),
            [json!({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})]
        );
        let free = node("c", json!({}), json!([{"key": "x", "effect": "PreferNoSchedule"}]));
        assert!(jump_tolerations(&[tainted, free]).is_empty());
    }
}
