//! dstack's requirements as a catalog query (dstack's `requirements_to_query_filter`).

use dstack_core::resources::Requirements;

use crate::filter::QueryFilter;

/// The gpuhunt flags dstack 0.22.5 understands; items with other flags are hidden from it.
pub const SUPPORTED_FLAGS: &[&str] = &[
    "oci-spot",
    "lambda-arm",
    "gcp-a4",
    "gcp-g4",
    "gcp-dws-calendar-mode",
    "runpod-cpu",
    "runpod-cluster",
    "hotaisle-bm",
];

/// The catalog query for `requirements`. `ignore_disk` leaves the disk out, for backends
/// whose disk size is chosen at creation.
pub fn query_filter(requirements: &Requirements, ignore_disk: bool) -> QueryFilter {
    let resources = &requirements.resources;
    let mut q = QueryFilter {
        allowed_flags: Some(SUPPORTED_FLAGS.iter().map(|f| (*f).to_owned()).collect()),
        max_price: requirements.max_price,
        spot: requirements.spot,
        cpu_arch: resources.cpu.arch,
        min_cpu: resources.cpu.count.min,
        max_cpu: resources.cpu.count.max,
        min_memory: resources.memory.min.map(|m| m.gb()),
        max_memory: resources.memory.max.map(|m| m.gb()),
        ..QueryFilter::default()
    };
    if let (Some(disk), false) = (&resources.disk, ignore_disk) {
        q.min_disk_size = disk.size.min.map(|m| m.gb());
        q.max_disk_size = disk.size.max.map(|m| m.gb());
    }
    if let Some(gpu) = &resources.gpu {
        q.gpu_vendor = gpu.vendor;
        q.gpu_name = gpu.name.clone();
        if let Some(memory) = &gpu.memory {
            q.min_gpu_memory = memory.min.map(|m| m.gb());
            q.max_gpu_memory = memory.max.map(|m| m.gb());
        }
        q.min_gpu_count = gpu.count.min;
        q.max_gpu_count = gpu.count.max;
        if let Some(total) = &gpu.total_memory {
            q.min_total_gpu_memory = total.min.map(|m| m.gb());
            q.max_total_gpu_memory = total.max.map(|m| m.gb());
        }
        q.min_compute_capability = gpu.compute_capability;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use dstack_core::config::load::from_yaml;

    #[test]
    fn a_typical_requirement() {
        let resources =
            from_yaml("cpu: 8..\nmemory: 32GB..\ngpu: nvidia:A100:80GB:1..8\ndisk: 200GB\n")
                .unwrap();
        let q = query_filter(
            &Requirements {
                resources,
                max_price: Some(10.0),
                spot: Some(false),
                ..Default::default()
            },
            false,
        );
        assert_eq!((q.min_cpu, q.max_cpu), (Some(8), None));
        assert_eq!(q.min_memory, Some(32.0));
        assert_eq!(q.gpu_name, Some(vec!["A100".to_owned()]));
        assert_eq!((q.min_gpu_memory, q.max_gpu_memory), (Some(80.0), Some(80.0)));
        assert_eq!((q.min_gpu_count, q.max_gpu_count), (Some(1), Some(8)));
        assert_eq!((q.min_disk_size, q.max_disk_size), (Some(200.0), Some(200.0)));
        assert_eq!((q.max_price, q.spot), (Some(10.0), Some(false)));
        assert!(q.allowed_flags.unwrap().contains(&"lambda-arm".to_owned()));
        let q = query_filter(&Requirements::default(), true);
        assert_eq!((q.min_gpu_count, q.min_disk_size), (Some(0), None));
    }
}
