//! The fake's default offers: gpuhunt 0.1.34's `SERVER_META_RESPONSE` fixture
//! (`src/tests/providers/test_jarvislabs.py`), row for row.

use serde_json::{Value, json};

/// gpuhunt's fixture: L4 (a container row and a VM row), A100-80GB, RTX-PRO6000 (Chennai),
/// "RTX PRO 6000" (Noida), an EU H100 row without a workload type, an H100 in an unknown
/// region, and one CPU combination (4 vCPUs, 16 GB) in Noida and the unknown region.
pub fn server_meta() -> Value {
    json!({
        "server_meta": [
            {"gpu_type": "L4", "region": "india-noida-01", "num_free_devices": 3,
             "effective_num_free_devices": 3, "spot_num_free_devices": 2, "price_per_hour": 0.44,
             "spot_price": 0.29, "vram": "24", "cpus_per_gpu": 28, "ram_per_gpu": 124,
             "workload_type": "container", "num_gpus": "8"},
            {"gpu_type": "L4", "region": "india-noida-01", "num_free_devices": 3,
             "effective_num_free_devices": 3, "spot_num_free_devices": 2, "price_per_hour": 0.44,
             "spot_price": 0.29, "vram": "24", "cpus_per_gpu": 28, "ram_per_gpu": 124,
             "workload_type": "vm", "num_gpus": "8"},
            {"gpu_type": "A100-80GB", "region": "india-noida-01", "num_free_devices": 1,
             "effective_num_free_devices": 1, "spot_num_free_devices": 1, "price_per_hour": 1.49,
             "spot_price": 0.89, "vram": "80", "cpus_per_gpu": 28, "ram_per_gpu": 112,
             "workload_type": "vm", "num_gpus": "4"},
            {"gpu_type": "RTX-PRO6000", "region": "india-chennai-01", "num_free_devices": 2,
             "effective_num_free_devices": 2, "spot_num_free_devices": 1, "price_per_hour": 1.89,
             "spot_price": 1.19, "vram": "96", "cpus_per_gpu": 28, "ram_per_gpu": 160,
             "workload_type": "vm", "num_gpus": "8"},
            {"gpu_type": "RTX PRO 6000", "region": "india-noida-01", "num_free_devices": 1,
             "effective_num_free_devices": 1, "spot_num_free_devices": 0, "price_per_hour": 1.89,
             "spot_price": null, "vram": "96", "cpus_per_gpu": 28, "ram_per_gpu": 160,
             "workload_type": "vm", "num_gpus": "8"},
            {"gpu_type": "H100", "region": "europe-01", "num_free_devices": 25,
             "effective_num_free_devices": 25, "spot_num_free_devices": 25, "price_per_hour": 2.99,
             "spot_price": null, "vram": "80", "cpus_per_gpu": 16, "ram_per_gpu": 200,
             "workload_type": null},
            {"gpu_type": "H100", "region": "unknown-region", "num_free_devices": 1,
             "effective_num_free_devices": 1, "spot_num_free_devices": 1, "price_per_hour": 2.99,
             "spot_price": null, "vram": "80", "cpus_per_gpu": 16, "ram_per_gpu": 200,
             "workload_type": "vm"},
        ],
        "cpu_meta": {
            "workload_type": "container",
            "combinations": [{
                "vcpus": 4,
                "ram_gb": 16,
                "price": 0.0992,
                "available": true,
                "regions": {"india-noida-01": true, "europe-01": false, "unknown-region": true},
            }],
        },
    })
}

/// A VM-capable `server_meta` row in the fixture's shape, for tests that add offers.
pub fn vm_row(gpu_type: &str, region: &str, free: u32, price: f64, vram: &str) -> Value {
    json!({
        "gpu_type": gpu_type, "region": region, "num_free_devices": free,
        "effective_num_free_devices": free, "spot_num_free_devices": 0, "price_per_hour": price,
        "spot_price": null, "vram": vram, "cpus_per_gpu": 16, "ram_per_gpu": 100,
        "workload_type": "vm", "num_gpus": "8",
    })
}
