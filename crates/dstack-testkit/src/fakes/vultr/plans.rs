//! The plans the Vultr fake lists (`GET /plans`, `GET /plans-metal`), in Vultr's shapes.

use serde_json::{Value, json};

/// A plan: a VM plan of `GET /plans` or a bare-metal plan of `GET /plans-metal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    /// `vc2`, `vhf`, `vhp`, `voc`, `vcg`, `vdm`, `vdc`; `SSD` or `NVMe` for bare metal.
    pub kind: String,
    pub bare_metal: bool,
    /// vCPUs (`vcpu_count`), or threads (`cpu_threads`) for bare metal.
    pub cpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
    pub hourly_cost: f64,
    /// Where it can be deployed (VDM plans list none: see [`super::VDM`]).
    pub locations: Vec<String>,
    /// `gpu_type` and `gpu_vram_gb` of `vcg` plans.
    pub gpu: Option<(String, u64)>,
    pub deploy_ondemand: Option<bool>,
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A plan's size: vCPUs (threads for bare metal), RAM in MB, disk in GB.
pub type Size = (u32, u64, u64);

impl Plan {
    /// A VM plan of `kind` (`vc2`, `vhf`, ...) at `price` per hour, deployable `at`.
    pub fn vm(id: &str, kind: &str, size: Size, price: f64, at: &[&str]) -> Self {
        let (cpus, ram_mb, disk_gb) = size;
        Plan {
            id: id.to_owned(),
            kind: kind.to_owned(),
            bare_metal: false,
            cpus,
            ram_mb,
            disk_gb,
            hourly_cost: price,
            locations: strings(at),
            gpu: None,
            deploy_ondemand: None,
        }
    }

    /// A Cloud GPU plan (`vcg`) with `gpu_type` (`NVIDIA_A100`) and its VRAM in GB.
    pub fn gpu(id: &str, gpu: (&str, u64), size: Size, price: f64, at: &[&str]) -> Self {
        let gpu = Some((gpu.0.to_owned(), gpu.1));
        Plan { gpu, deploy_ondemand: Some(true), ..Self::vm(id, "vcg", size, price, at) }
    }

    /// A VDM GPU plan: no GPU fields and no public locations.
    pub fn vdm(id: &str, size: Size, price: f64) -> Self {
        Plan { deploy_ondemand: Some(true), ..Self::vm(id, "vdm", size, price, &[]) }
    }

    /// A bare-metal plan (its size counts CPU threads).
    pub fn metal(id: &str, size: Size, price: f64, at: &[&str]) -> Self {
        Plan { bare_metal: true, ..Self::vm(id, "SSD", size, price, at) }
    }

    pub fn to_json(&self) -> Value {
        let monthly = (self.hourly_cost * 672.0).round() as u64;
        let mut plan = if self.bare_metal {
            json!({"id": self.id, "cpu_count": self.cpus.div_ceil(2), "cpu_threads": self.cpus,
                   "cpu_model": "AMD EPYC 9254", "ram": self.ram_mb, "disk": self.disk_gb, "disk_count": 2,
                   "bandwidth": 5120, "monthly_cost": monthly, "hourly_cost": self.hourly_cost,
                   "type": self.kind, "locations": self.locations})
        } else {
            json!({"id": self.id, "vcpu_count": self.cpus, "ram": self.ram_mb, "disk": self.disk_gb,
                   "disk_count": 1, "bandwidth": 2048, "monthly_cost": monthly,
                   "hourly_cost": self.hourly_cost, "type": self.kind, "locations": self.locations})
        };
        if let Some((gpu_type, vram)) = &self.gpu {
            plan["gpu_type"] = json!(gpu_type);
            plan["gpu_vram_gb"] = json!(vram);
        }
        if let Some(on_demand) = self.deploy_ondemand {
            plan["deploy_ondemand"] = json!(on_demand);
        }
        plan
    }
}

/// Plans in Vultr's shapes: CPU VMs, fractional and whole Cloud GPUs, a VDM plan, bare metal
/// with and without GPUs, and what gpuhunt or dstack drop (a free plan, a reserved-only plan,
/// an empty location, `vdc`, `vbm-4c-32gb`, a GH200 machine).
pub fn plans() -> Vec<Plan> {
    let not_on_demand = Plan::vm("vhp-1c-1gb-amd", "vhp", (1, 1024, 25), 0.009, &["ewr"]);
    vec![
        Plan::vm("vc2-1c-1gb", "vc2", (1, 1024, 25), 0.007, &["ewr", "fra", ""]),
        Plan::vm("vc2-1c-0gb", "vc2", (1, 512, 10), 0.0, &["ewr"]),
        Plan::vm("vhf-2c-4gb", "vhf", (2, 4096, 128), 0.036, &["fra"]),
        Plan::vm("voc-g-2c-8gb-50s-amd", "voc", (2, 8192, 50), 0.089, &["ewr"]),
        Plan::vm("vdc-4c-16gb", "vdc", (4, 16384, 100), 0.125, &["ewr"]),
        Plan { deploy_ondemand: Some(false), ..not_on_demand },
        Plan::gpu(
            "vcg-a100-3c-30g-20vram",
            ("NVIDIA_A100", 20),
            (3, 30720, 350),
            0.397,
            &["ewr", "fra"],
        ),
        Plan::gpu(
            "vcg-a100-24c-240g-160vram",
            ("NVIDIA_A100", 160),
            (24, 245760, 1400),
            3.58,
            &["ewr"],
        ),
        Plan::gpu(
            "vcg-l40s-16c-180g-48vram",
            ("NVIDIA_L40S", 48),
            (16, 184320, 1200),
            1.671,
            &["fra"],
        ),
        Plan::vdm("vcg-a40-24c-120g-48vram", (24, 122880, 1400), 1.712),
        Plan::metal("vbm-4c-32gb", (8, 32768, 240), 0.164, &["ewr"]),
        Plan::metal("vbm-8c-132gb", (16, 131072, 1920), 0.518, &["fra"]),
        Plan::metal("vbm-112c-2048gb-8-h100-gpu", (224, 2097152, 960), 23.92, &["ewr"]),
        Plan::metal("vbm-72c-480gb-gh200-gpu", (72, 491520, 960), 2.99, &["ewr"]),
    ]
}
