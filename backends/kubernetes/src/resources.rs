//! What a job's container requests and is limited to, from its resources spec, exactly as
//! dstack's docs tabulate it: each request is its range's lower bound (0 without one), each
//! limit its upper bound (none without one) — except GPUs, which cannot be overcommitted: the
//! limit is the request, the lower bound. Offers show the same lower bounds
//! ([`ResourceAmounts::fit`]).

use std::collections::BTreeMap;

use dstack_core::offers::{AcceleratorVendor, Gpu};
use dstack_core::resources::{Memory, ResourcesSpec};
use dstack_core::{BackendError, ErrorKind};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::gpus::{AMD_GPU_RESOURCE, NVIDIA_GPU_RESOURCE};
use crate::quantity::{mebibytes, parse_quantity};

/// Amounts of the resources dstack sizes; `None` leaves one unset (a limit without bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceAmounts {
    pub cpu: Option<u32>,
    pub memory_mib: Option<u64>,
    pub disk_mib: Option<u64>,
    pub gpu: u32,
}

/// GB (dstack's, which are GiB) to MiB, rounding half to even as Python's `round`.
fn mib(memory: Memory) -> u64 {
    (memory.gb() * 1024.0).round_ties_even().max(0.0) as u64
}

fn gpu_count(spec: &ResourcesSpec) -> u32 {
    spec.gpu.as_ref().and_then(|gpu| gpu.count.min).unwrap_or(0)
}

impl ResourceAmounts {
    /// The container's requests: every lower bound, 0 where there is none.
    pub fn requests(spec: &ResourcesSpec) -> Self {
        let disk = spec.disk.as_ref().and_then(|disk| disk.size.min);
        ResourceAmounts {
            cpu: Some(spec.cpu.count.min.unwrap_or(0)),
            memory_mib: Some(spec.memory.min.map_or(0, mib)),
            disk_mib: Some(disk.map_or(0, mib)),
            gpu: gpu_count(spec),
        }
    }

    /// The container's limits: every upper bound, unset where there is none; GPUs as requested.
    pub fn limits(spec: &ResourcesSpec) -> Self {
        ResourceAmounts {
            cpu: spec.cpu.count.max,
            memory_mib: spec.memory.max.map(mib),
            disk_mib: spec.disk.as_ref().and_then(|disk| disk.size.max).map(mib),
            gpu: gpu_count(spec),
        }
    }

    /// As a pod's `resources.requests` / `limits`: `cpu`, `memory`, `ephemeral-storage` and,
    /// when GPUs are wanted, `gpu_resource` (`nvidia.com/gpu` or `amd.com/gpu`).
    pub fn to_kubernetes(self, gpu_resource: &str) -> BTreeMap<String, Quantity> {
        let mut map = BTreeMap::new();
        if let Some(cpu) = self.cpu {
            map.insert("cpu".to_owned(), Quantity(cpu.to_string()));
        }
        if let Some(memory) = self.memory_mib {
            map.insert("memory".to_owned(), Quantity(mebibytes(memory)));
        }
        if let Some(disk) = self.disk_mib {
            map.insert("ephemeral-storage".to_owned(), Quantity(mebibytes(disk)));
        }
        if self.gpu > 0 {
            map.insert(gpu_resource.to_owned(), Quantity(self.gpu.to_string()));
        }
        map
    }

    /// A pod's `resources.requests` read back (missing amounts are 0).
    pub fn from_kubernetes(map: &BTreeMap<String, Quantity>) -> Self {
        let amount = |key: &str| map.get(key).and_then(|q| parse_quantity(&q.0).ok());
        let mib = |key: &str| amount(key).map_or(0, |bytes| (bytes / 1_048_576.0).round() as u64);
        let gpu = amount(NVIDIA_GPU_RESOURCE).or_else(|| amount(AMD_GPU_RESOURCE));
        ResourceAmounts {
            cpu: Some(amount("cpu").map_or(0, |cpu| cpu.round() as u32)),
            memory_mib: Some(mib("memory")),
            disk_mib: Some(mib("ephemeral-storage")),
            gpu: gpu.map_or(0, |gpu| gpu.round() as u32),
        }
    }

    /// A node's resources cut down to these requests (dstack's offer modifier): an offer
    /// shows what a job gets, not the whole node. A node smaller than a request keeps its
    /// own amount, which the requirements filter then refuses.
    pub fn fit(
        self,
        cpus: &mut u32,
        memory_mib: &mut u64,
        disk_mib: &mut u64,
        gpus: &mut Vec<Gpu>,
    ) {
        if let Some(cpu) = self.cpu {
            *cpus = (*cpus).min(cpu);
        }
        if let Some(memory) = self.memory_mib {
            *memory_mib = (*memory_mib).min(memory);
        }
        if let Some(disk) = self.disk_mib {
            *disk_mib = (*disk_mib).min(disk);
        }
        gpus.truncate(self.gpu as usize);
    }
}

/// The device plugin resource (and taint key) for the GPUs `spec` asks for: NVIDIA unless
/// the vendor is AMD. Other vendors have no Kubernetes device plugin dstack knows.
pub fn gpu_resource(spec: &ResourcesSpec) -> Result<&'static str, BackendError> {
    match spec.gpu.as_ref().and_then(|gpu| gpu.vendor) {
        None | Some(AcceleratorVendor::Nvidia) => Ok(NVIDIA_GPU_RESOURCE),
        Some(AcceleratorVendor::Amd) => Ok(AMD_GPU_RESOURCE),
        Some(other) => Err(BackendError::new(
            ErrorKind::Unsupported,
            format!("Unsupported GPU vendor: {}", serde_json::to_value(other).unwrap_or_default()),
        )),
    }
}

/// `/dev/shm`'s size limit: dstack's `format_memory`, a float of GB (`8.0Gi`).
pub fn shm_size_limit(memory: Memory) -> Quantity {
    let gb = memory.gb();
    Quantity(if gb.fract() == 0.0 { format!("{gb:.1}Gi") } else { format!("{gb}Gi") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dstack_core::config::load::from_json;

    fn spec(json: serde_json::Value) -> ResourcesSpec {
        from_json(&json).expect("a resources spec")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned()))).collect()
    }

    /// The table of dstack's backends page (Kubernetes, "Resources"): for
    /// `cpu: 32..64, memory: 1024GB, disk: 100GB.., gpu: nvidia:4..8`.
    #[test]
    fn the_resources_table_of_dstacks_docs() {
        let spec = spec(serde_json::json!({
            "cpu": "32..64", "memory": "1024GB", "disk": "100GB..", "gpu": "nvidia:4..8"
        }));
        let resource = gpu_resource(&spec).unwrap();
        assert_eq!(resource, "nvidia.com/gpu");
        assert_eq!(
            ResourceAmounts::requests(&spec).to_kubernetes(resource),
            map(&[
                ("cpu", "32"),
                ("memory", "1024Gi"),
                ("ephemeral-storage", "100Gi"),
                ("nvidia.com/gpu", "4"),
            ])
        );
        assert_eq!(
            ResourceAmounts::limits(&spec).to_kubernetes(resource),
            map(&[("cpu", "64"), ("memory", "1024Gi"), ("nvidia.com/gpu", "4")]),
            "no ephemeral-storage limit: the disk range has no upper bound"
        );
    }

    /// dstack 0.22.5's `test_resources.py`: `cpu: ..64` requests 0; AMD GPUs round-trip.
    #[test]
    fn missing_bounds_and_amd_gpus() {
        let spec = spec(serde_json::json!({"cpu": "..64", "memory": "1024GB", "gpu": 4}));
        let requests = ResourceAmounts::requests(&spec);
        assert_eq!(requests.cpu, Some(0));
        assert_eq!(requests.disk_mib, Some(102_400), "dstack's default disk is 100GB..");
        let amd = ResourceAmounts {
            cpu: Some(8),
            memory_mib: Some(16384),
            disk_mib: Some(51200),
            gpu: 2,
        };
        let written = amd.to_kubernetes(AMD_GPU_RESOURCE);
        assert_eq!(written["amd.com/gpu"].0, "2");
        assert_eq!(written["memory"].0, "16Gi");
        assert_eq!(ResourceAmounts::from_kubernetes(&written), amd);
        let none = ResourceAmounts { cpu: Some(2), memory_mib: Some(0), disk_mib: Some(0), gpu: 0 };
        assert!(!none.to_kubernetes(NVIDIA_GPU_RESOURCE).contains_key("nvidia.com/gpu"));
    }

    #[test]
    fn vendors_map_to_their_device_plugins() {
        let amd = spec(serde_json::json!({"gpu": "MI300X:1"}));
        let amd = ResourcesSpec {
            gpu: amd.gpu.map(|g| dstack_core::resources::GpuSpec {
                vendor: Some(AcceleratorVendor::Amd),
                ..g
            }),
            ..amd
        };
        assert_eq!(gpu_resource(&amd).unwrap(), "amd.com/gpu");
        let tpu = spec(serde_json::json!({"gpu": "tpu:v5litepod"}));
        let err = gpu_resource(&tpu).unwrap_err();
        assert_eq!(err.message(), "Unsupported GPU vendor: \"google\"");
    }

    /// dstack's offer modifier (`test_resources.py`'s adjust cases).
    #[test]
    fn offers_are_cut_to_the_requests() {
        let h100 =
            Gpu { name: "H100".into(), memory_mib: 81920, vendor: AcceleratorVendor::Nvidia };
        let node = || (64u32, 262_144u64, 1_024_000u64, vec![h100.clone(); 8]);
        let (mut cpus, mut memory, mut disk, mut gpus) = node();
        ResourceAmounts { cpu: Some(8), memory_mib: Some(16384), disk_mib: Some(102_400), gpu: 2 }
            .fit(&mut cpus, &mut memory, &mut disk, &mut gpus);
        assert_eq!((cpus, memory, disk, gpus.len()), (8, 16384, 102_400, 2));
        let (mut cpus, mut memory, mut disk, mut gpus) = node();
        ResourceAmounts {
            cpu: Some(128),
            memory_mib: Some(524_288),
            disk_mib: Some(4_096_000),
            gpu: 16,
        }
        .fit(&mut cpus, &mut memory, &mut disk, &mut gpus);
        assert_eq!((cpus, memory, disk, gpus.len()), (64, 262_144, 1_024_000, 8));
    }

    #[test]
    fn shm_sizes_are_written_as_dstack_writes_them() {
        assert_eq!(shm_size_limit(Memory(8.0)).0, "8.0Gi");
        assert_eq!(shm_size_limit(Memory(0.5)).0, "0.5Gi");
    }
}
