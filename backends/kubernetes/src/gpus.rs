//! GPUs of a node, told by the labels the NVIDIA and AMD GPU Operators put on it, as dstack
//! reads them: NVIDIA's `nvidia.com/gpu.product` matched against gpuhunt's known names, AMD's
//! `beta.amd.com/gpu.device-id.<hex>` looked up by PCI device ID.

use std::collections::BTreeMap;

use dstack_catalog::accelerators::KNOWN_ACCELERATORS;
use dstack_core::offers::{AcceleratorVendor, Gpu};

/// The extended resource (and the taint key) of NVIDIA's device plugin.
pub const NVIDIA_GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The extended resource (and the taint key) of AMD's device plugin.
pub const AMD_GPU_RESOURCE: &str = "amd.com/gpu";
/// The NVIDIA GPU Operator's model label (`NVIDIA-A100-SXM4-80GB`).
pub const NVIDIA_GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";
/// The AMD GPU Operator's labels: one per device ID, `<prefix><hex id>`.
pub const AMD_GPU_DEVICE_ID_LABEL_PREFIX: &str = "beta.amd.com/gpu.device-id.";

/// AMD Instinct models by PCI device ID (gpuhunt 0.1.34's table), with their memory in GB.
const AMD_DEVICE_IDS: &[(&str, u64, &[u32])] = &[
    ("MI100", 32, &[0x738c]),
    ("MI210", 64, &[0x740f]),
    ("MI250", 128, &[0x740c]),
    ("MI250X", 128, &[0x7408]),
    ("MI300A", 128, &[0x74a0]),
    ("MI300X", 192, &[0x74a1, 0x74a9, 0x74b5, 0x74bd]),
    ("MI308X", 128, &[0x74a2, 0x74b6]),
    ("MI325X", 288, &[0x74a5]),
    ("MI350X", 288, &[0x75a0]),
    ("MI355X", 288, &[0x75a3]),
];

/// The GPU an NVIDIA node's product label names: the first of gpuhunt's NVIDIA names equal
/// (ignoring case) to one of the label's `-`-separated words, `RTX-` joined to what follows.
/// Memory is the name's largest known size, or 40 GB when the label says `40GB`.
pub fn nvidia_gpu(labels: &BTreeMap<String, String>) -> Option<Gpu> {
    let product = labels.get(NVIDIA_GPU_PRODUCT_LABEL)?.replace("RTX-", "RTX");
    let words: Vec<String> = product.to_lowercase().split('-').map(str::to_owned).collect();
    let nvidia = || KNOWN_ACCELERATORS.iter().filter(|a| a.vendor == AcceleratorVendor::Nvidia);
    let name = nvidia().map(|a| a.name).find(|name| words.contains(&name.to_lowercase()))?;
    let known_memory = nvidia().filter(|a| a.name == name).map(|a| a.memory).next_back()?;
    let memory_gb = if product.contains("40GB") { 40 } else { u64::from(known_memory) };
    Some(Gpu {
        name: name.to_owned(),
        memory_mib: memory_gb * 1024,
        vendor: AcceleratorVendor::Nvidia,
    })
}

/// The GPU an AMD node's device-ID labels name; `None` when no ID is known or the IDs name
/// more than one model (dstack then offers no GPU).
pub fn amd_gpu(node: &str, labels: &BTreeMap<String, String>) -> Option<Gpu> {
    let mut models: Vec<(&str, u64)> = Vec::new();
    for key in labels.keys() {
        let Some(hex) = key.strip_prefix(AMD_GPU_DEVICE_ID_LABEL_PREFIX) else { continue };
        let Ok(id) = u32::from_str_radix(hex, 16) else {
            tracing::warn!("Node {node}: unreadable AMD GPU device id label {key}");
            continue;
        };
        match AMD_DEVICE_IDS.iter().find(|(_, _, ids)| ids.contains(&id)) {
            Some((name, memory, _)) if !models.contains(&(name, *memory)) => {
                models.push((name, *memory))
            }
            Some(_) => {}
            None => tracing::warn!("Unknown AMD GPU device id: {id:X}"),
        }
    }
    match models.as_slice() {
        [(name, memory)] => Some(Gpu {
            name: (*name).to_owned(),
            memory_mib: memory * 1024,
            vendor: AcceleratorVendor::Amd,
        }),
        [] => None,
        several => {
            let names: Vec<&str> = several.iter().map(|(name, _)| *name).collect();
            tracing::warn!("Multiple AMD GPU models detected: {names:?}, ignoring all GPUs");
            None
        }
    }
}

/// The PCI device IDs of the AMD model `name` (ignoring case).
pub fn amd_device_ids(name: &str) -> &'static [u32] {
    AMD_DEVICE_IDS
        .iter()
        .find(|(model, _, _)| model.eq_ignore_ascii_case(name))
        .map_or(&[], |(_, _, ids)| ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn gpu(vendor: AcceleratorVendor, name: &str, memory_mib: u64) -> Option<Gpu> {
        Some(Gpu { name: name.to_owned(), memory_mib, vendor })
    }

    /// dstack 0.22.5's `test_resources.py` cases, and products the operator reports.
    #[test]
    fn nvidia_products_name_known_gpus() {
        use AcceleratorVendor::Nvidia;
        let product = |p: &str| nvidia_gpu(&labels(&[(NVIDIA_GPU_PRODUCT_LABEL, p)]));
        assert_eq!(nvidia_gpu(&labels(&[])), None);
        assert_eq!(product("A100-SXM4-40GB"), gpu(Nvidia, "A100", 40960));
        assert_eq!(product("A100-SXM4-80GB"), gpu(Nvidia, "A100", 81920));
        assert_eq!(product("Tesla-T4"), gpu(Nvidia, "T4", 16384));
        assert_eq!(product("NVIDIA-H100-80GB-HBM3"), gpu(Nvidia, "H100", 81920));
        assert_eq!(product("NVIDIA-GeForce-RTX-4090"), gpu(Nvidia, "RTX4090", 24576));
        assert_eq!(product("NVIDIA-L40S"), gpu(Nvidia, "L40S", 49152));
        assert_eq!(product("NVIDIA-RTX-A6000"), None, "the word becomes rtxa6000");
        assert_eq!(product("Radeon"), None);
    }

    #[test]
    fn amd_device_ids_name_one_model_or_none() {
        use AcceleratorVendor::Amd;
        let id = |hex: &str| format!("{AMD_GPU_DEVICE_ID_LABEL_PREFIX}{hex}");
        assert_eq!(amd_gpu("n", &labels(&[])), None);
        assert_eq!(amd_gpu("n", &labels(&[(&id("74b5"), "4")])), gpu(Amd, "MI300X", 196608));
        let same_model = labels(&[(&id("74b5"), "4"), (&id("74a1"), "4")]);
        assert_eq!(amd_gpu("n", &same_model), gpu(Amd, "MI300X", 196608));
        assert_eq!(amd_gpu("n", &labels(&[(&id("ffff"), "4")])), None);
        let two_models = labels(&[(&id("74b5"), "4"), (&id("74a5"), "4")]);
        assert_eq!(amd_gpu("n", &two_models), None);
        assert_eq!(amd_device_ids("mi300x"), &[0x74a1, 0x74a9, 0x74b5, 0x74bd]);
        assert!(amd_device_ids("A100").is_empty());
    }
}
