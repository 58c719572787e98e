//! What the CloudRift fake rents out: instance type variants with their free nodes, and the
//! VM recipes (images).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::GIB;

/// A rentable instance type variant, with the nodes it has free per datacenter.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `rtx49-7-50-500-nr.1`: the type's name, a dot, the slice.
    pub name: String,
    /// The GPU's short brand name (`RTX 4090`, `MI350X`).
    pub brand: String,
    pub gpus: u32,
    pub vram_gib: u64,
    pub cpus: u32,
    pub dram_gib: u64,
    pub disk_gib: u64,
    /// Cents per hour.
    pub cents_per_hour: u32,
    /// `(datacenter, free nodes)`.
    pub free: Vec<(String, u32)>,
}

impl Variant {
    pub fn new(name: &str, brand: &str, gpus: u32, free: &[(&str, u32)]) -> Self {
        Variant {
            name: name.to_owned(),
            brand: brand.to_owned(),
            gpus,
            vram_gib: 24,
            cpus: 7 * gpus.max(1),
            dram_gib: 50 * u64::from(gpus.max(1)),
            disk_gib: 500,
            cents_per_hour: 39 * gpus.max(1),
            free: free.iter().map(|(dc, n)| ((*dc).to_owned(), *n)).collect(),
        }
    }

    pub(super) fn type_name(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }

    pub(super) fn to_json(&self, rented: &BTreeMap<String, u32>) -> Value {
        let per_dc = |f: &dyn Fn(&str, u32) -> Value| -> serde_json::Map<String, Value> {
            self.free.iter().map(|(dc, n)| (dc.clone(), f(dc, *n))).collect()
        };
        let nodes = |dc: &str, free: u32| json!(free + rented.get(dc).copied().unwrap_or(0));
        let all: u32 = self.free.iter().map(|(_, n)| n).sum();
        let total = all + rented.values().sum::<u32>();
        json!({
            "name": self.name, "cpu_count": self.cpus, "logical_cpu_count": self.cpus * 2,
            "dram": self.dram_gib * GIB, "vram": self.vram_gib * GIB, "disk": self.disk_gib * GIB,
            "gpu_count": self.gpus, "cost_per_hour": f64::from(self.cents_per_hour),
            "nodes": total,
            "nodes_per_dc": per_dc(&nodes), "available_nodes": all,
            "available_nodes_per_dc": per_dc(&|_, n| json!(n)),
            "ip_availability_per_dc": per_dc(&|_, _| json!({"public_ips": true})),
            "volume_types_per_dc": per_dc(&|_, _| json!([{"name": "standard", "cost_per_gb_per_month": 3}])),
        })
    }
}

/// Variants of CloudRift's catalog: a 1- and a 2-GPU RTX 4090 with free nodes, an RTX 5090
/// with none, and an AMD MI350X.
pub fn variants() -> Vec<Variant> {
    vec![
        Variant::new("rtx49-7-50-500-nr.1", "RTX 4090", 1, &[("us-east-nc-nr-1", 2)]),
        Variant::new("rtx49-7-50-500-nr.2", "RTX 4090", 2, &[("us-east-nc-nr-1", 1)]),
        Variant::new("rtx59-16-64-1000-kr.1", "RTX 5090", 1, &[("ap-northeast-kr-se-1", 0)]),
        Variant {
            vram_gib: 288,
            ..Variant::new("mi350x-8-1024.1", "MI350X", 1, &[("us-central-tx-nr-1", 1)])
        },
    ]
}

/// CloudRift's VM recipes as `recipes/list` answers them: the `Linux` group (tag `VM`) with
/// Ubuntu 22.04 and 24.04 for NVIDIA and 24.04 for AMD, and a Docker recipe.
pub fn recipes() -> Value {
    let vm = |name: &str, driver: &str, url: &str| {
        json!({"name": name, "description": name, "tags": [driver],
            "details": {"VirtualMachine": {"image_url": url, "cloudinit_url": "https://storage.googleapis.com/cloudrift-vm-disks/cloudinit/ubuntu-base.cloudinit"}}})
    };
    let disks = "https://storage.googleapis.com/cloudrift-vm-disks/disks/ubuntu";
    json!({
        "groups": [
            {"name": "Linux", "description": "VM images with various Linux distributions.", "tags": ["VM"], "recipes": [
                vm("Ubuntu 22.04 Server", "nvidia-driver", &format!("{disks}/22.04/jammy-nvidia.img")),
                vm("Ubuntu 24.04 Server", "nvidia-driver", &format!("{disks}/24.04/noble-nvidia.img")),
                vm("Ubuntu 24.04 Server (AMD)", "amd-driver", &format!("{disks}/24.04/noble-amd.img")),
            ]},
            {"name": "Jupyter", "description": "Notebooks.", "tags": ["Docker"], "recipes": [
                {"name": "PyTorch Notebook", "description": "Jupyter with PyTorch.", "tags": ["nvidia-driver"],
                 "details": {"Docker": {"image": "quay.io/jupyter/pytorch-notebook", "command": [], "ports": ["8117:8888"], "env": [["JUPYTER_PORT", "8117"]]}}},
            ]},
        ],
        "other_recipes": [],
    })
}
