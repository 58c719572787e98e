//! Vultr's plans as catalog items, parsed as gpuhunt 0.1.34's `providers/vultr.py` parses
//! them: bare-metal plans (`/plans-metal`) and VM plans (`/plans?type=all`), GPU details from
//! gpuhunt's tables (bare metal, VDM) or from the plan's `gpu_type` / `gpu_vram_gb` (Cloud GPU).

use std::collections::HashMap;

use dstack_catalog::CatalogItem;
use dstack_catalog::accelerators;
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};
use serde::Deserialize;
use serde_json::Value;

/// gpuhunt's provider name.
pub const PROVIDER: &str = "vultr";

/// gpuhunt's `BARE_METAL_GPU_DETAILS`: plan → (GPU count, model, GB per GPU).
pub const BARE_METAL_GPUS: &[(&str, u32, &str, f64)] = &[
    ("vbm-48c-1024gb-4-a100-gpu", 4, "A100", 80.0),
    ("vbm-112c-2048gb-8-h100-gpu", 8, "H100", 80.0),
    ("vbm-112c-2048gb-8-a100-gpu", 8, "A100", 80.0),
    ("vbm-64c-2048gb-8-l40-gpu", 8, "L40S", 48.0),
    ("vbm-72c-480gb-gh200-gpu", 1, "GH200", 96.0),
    ("vbm-256c-2048gb-8-mi300x-gpu", 8, "MI300X", 192.0),
    ("vbm-256c-3072gb-8-mi325x-gpu", 8, "MI325X", 256.0),
    ("vbm-256c-3072gb-8-b200-gpu", 8, "B200", 192.0),
    ("vbm-256c-3072gb-8-mi355x-gpu", 8, "MI355X", 288.0),
];

/// gpuhunt's `VDM_GPU_DETAILS`: VDM plans carry no GPU fields.
pub const VDM_GPUS: &[(&str, u32, &str, f64)] = &[
    ("vcg-a16-6c-64g-16vram", 1, "A16", 16.0),
    ("vcg-a16-96c-960g-256vram", 16, "A16", 16.0),
    ("vcg-a16-96c-878g-256vram", 16, "A16", 16.0),
    ("vcg-a40-24c-120g-48vram", 1, "A40", 48.0),
    ("vcg-a40-96c-480g-192vram", 4, "A40", 48.0),
    ("vcg-a100-12c-120g-80vram", 1, "A100", 80.0),
    ("vcg-a100-96c-960g-640vram", 8, "A100", 80.0),
    ("vcg-h100-216c-1914gb-640vram", 8, "H100", 80.0),
    ("vcg-b200-248c-2826g-1536vram", 8, "B200", 192.0),
    ("vcg-mi355x-252c-2872g-2304vram", 8, "MI355X", 288.0),
    // gpuhunt follows Vultr's documented 8 x 256 GB, not the plan's `1536vram`.
    ("vcg-mi325x-252c-2872g-1536vram", 8, "MI325X", 256.0),
];

/// The fields gpuhunt reads of a plan (either listing).
#[derive(Debug, Deserialize)]
struct Plan {
    id: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    locations: Vec<String>,
    deploy_ondemand: Option<bool>,
    hourly_cost: Option<f64>,
    vcpu_count: Option<u32>,
    cpu_threads: Option<u32>,
    /// MB.
    ram: Option<f64>,
    /// GB: a number (the 2023 description types bare-metal disks as strings: both read).
    disk: Option<Value>,
    /// `NVIDIA_A100`.
    gpu_type: Option<String>,
    gpu_vram_gb: Option<f64>,
}

/// The GPU part of an item.
struct Gpus {
    count: u32,
    name: String,
    memory: f64,
    vendor: AcceleratorVendor,
}

/// gpuhunt's `_make_offers`: bare-metal plans, then VM plans; plans not on demand are
/// skipped; VDM plans are placed where `vdm_locations` has them (when it was fetched); empty
/// locations are skipped; zero-priced plans are dropped.
pub fn items(
    metal: Vec<Value>,
    plans: Vec<Value>,
    vdm_locations: Option<&HashMap<String, Vec<String>>>,
) -> Vec<CatalogItem> {
    let mut items = Vec::new();
    for (list, bare_metal) in [(metal, true), (plans, false)] {
        for value in list {
            let mut plan: Plan = match serde_json::from_value(value) {
                Ok(plan) => plan,
                Err(err) => {
                    tracing::warn!("Skipping an unreadable Vultr plan: {err}");
                    continue;
                }
            };
            if plan.deploy_ondemand == Some(false) {
                continue;
            }
            if let (Some("vdm"), Some(vdm)) = (plan.kind.as_deref(), vdm_locations) {
                plan.locations = vdm.get(&plan.id).cloned().unwrap_or_default();
            }
            let gpus = if bare_metal { bare_metal_gpus(&plan) } else { instance_gpus(&plan) };
            let Some(gpus) = gpus else { continue };
            for location in &plan.locations {
                if location.is_empty() {
                    tracing::warn!("Skipping empty location of plan {}", plan.id);
                    continue;
                }
                if let Some(item) = item(&plan, bare_metal, location, gpus.as_ref()) {
                    items.push(item);
                }
            }
        }
    }
    items.retain(|item| item.price > 0.0);
    items
}

/// `Some(None)`: a CPU plan; `Some(Some(_))`: a GPU plan; `None`: skipped.
fn bare_metal_gpus(plan: &Plan) -> Option<Option<Gpus>> {
    if !plan.id.contains("gpu") {
        return Some(None);
    }
    let Some(&(_, count, name, memory)) = BARE_METAL_GPUS.iter().find(|d| d.0 == plan.id) else {
        tracing::warn!("Skipping unknown GPU plan {}", plan.id);
        return None;
    };
    Some(Some(Gpus { count, name: name.to_owned(), memory, vendor: vendor(name, &plan.id)? }))
}

fn instance_gpus(plan: &Plan) -> Option<Option<Gpus>> {
    match plan.kind.as_deref() {
        Some("vc2" | "vhf" | "vhp" | "voc") => Some(None),
        Some("vdm") => {
            let Some(&(_, count, name, memory)) = VDM_GPUS.iter().find(|d| d.0 == plan.id) else {
                tracing::warn!("Skipping unknown VDM GPU plan {}", plan.id);
                return None;
            };
            Some(Some(Gpus {
                count,
                name: name.to_owned(),
                memory,
                vendor: vendor(name, &plan.id)?,
            }))
        }
        Some("vcg") => {
            let gpu_type = plan.gpu_type.as_deref().filter(|t| t.contains('_'));
            let Some(name) = gpu_type.and_then(|t| t.split('_').nth(1)) else {
                tracing::warn!("Missing or invalid gpu_type {gpu_type:?} for plan {}", plan.id);
                return None;
            };
            let Some(full) = full_gpu_memory(name) else {
                tracing::warn!("Failed to detect GPU memory {name} for plan {}", plan.id);
                return None;
            };
            let total = plan.gpu_vram_gb?;
            // Fractional GPUs count as one.
            let count = ((total / full).floor() as u32).max(1);
            let memory = total / f64::from(count);
            Some(Some(Gpus {
                count,
                name: name.to_owned(),
                memory,
                vendor: vendor(name, &plan.id)?,
            }))
        }
        _ => None,
    }
}

/// gpuhunt's `get_gpu_vendor`: the vendor of the first known accelerator of that name.
fn vendor(name: &str, plan: &str) -> Option<AcceleratorVendor> {
    let vendor = accelerators::find(Some(&[name]), None).next().map(|a| a.vendor);
    if vendor.is_none() {
        tracing::warn!("Unknown GPU vendor of {name} for plan {plan}, skipping");
    }
    vendor
}

/// gpuhunt's `get_gpu_memory`: Vultr's A100s have 80 GB; others as gpuhunt knows them.
fn full_gpu_memory(name: &str) -> Option<f64> {
    if name.eq_ignore_ascii_case("A100") {
        return Some(80.0);
    }
    let vendors = [AcceleratorVendor::Nvidia, AcceleratorVendor::Amd];
    accelerators::find(Some(&[name]), Some(&vendors)).next().map(|a| f64::from(a.memory))
}

/// gpuhunt's `is_nvidia_superchip`: `gh…` / `gb…` followed by digits (Grace CPUs).
fn is_superchip(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower.starts_with("gh") || lower.starts_with("gb"))
        && lower[2..].starts_with(|c: char| c.is_ascii_digit())
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn item(plan: &Plan, bare_metal: bool, location: &str, gpus: Option<&Gpus>) -> Option<CatalogItem> {
    let cpu = if bare_metal { plan.cpu_threads } else { plan.vcpu_count };
    let (Some(cpu), Some(ram), Some(price)) = (cpu, plan.ram, plan.hourly_cost) else {
        tracing::warn!("Skipping Vultr plan {} without CPUs, RAM or price", plan.id);
        return None;
    };
    let superchip = gpus.is_some_and(|g| is_superchip(&g.name));
    Some(CatalogItem {
        provider: PROVIDER.to_owned(),
        instance_name: plan.id.clone(),
        location: location.to_owned(),
        price,
        cpu,
        memory: ram / 1024.0,
        gpu_count: gpus.map_or(0, |g| g.count),
        gpu_name: gpus.map(|g| g.name.clone()),
        gpu_memory: gpus.map(|g| g.memory),
        spot: false,
        disk_size: number(plan.disk.as_ref()),
        gpu_vendor: gpus.map(|g| g.vendor),
        flags: Vec::new(),
        cpu_arch: if superchip { CpuArchitecture::Arm } else { CpuArchitecture::X86 },
        provider_data: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloud_gpus_count_whole_gpus_and_superchips_are_arm() {
        let plans = vec![
            json!({"id": "vcg-a100-1c-6g-4vram", "type": "vcg", "vcpu_count": 1, "ram": 6144,
                   "disk": 70, "hourly_cost": 0.123, "locations": ["ewr"],
                   "gpu_type": "NVIDIA_A100", "gpu_vram_gb": 4}),
            json!({"id": "vcg-a40-48c-240g-96vram", "type": "vcg", "vcpu_count": 48, "ram": 245760,
                   "disk": 1400, "hourly_cost": 3.4, "locations": ["ewr"],
                   "gpu_type": "NVIDIA_A40", "gpu_vram_gb": 96}),
            json!({"id": "vcg-x-1c", "type": "vcg", "vcpu_count": 1, "ram": 1024, "disk": 1,
                   "hourly_cost": 1.0, "locations": ["ewr"], "gpu_type": "A100"}),
        ];
        let metal = vec![json!({"id": "vbm-72c-480gb-gh200-gpu", "cpu_threads": 72, "ram": 491520,
                                "disk": "960", "hourly_cost": 2.99, "locations": ["ewr"]})];
        let items = items(metal, plans, None);
        let got: Vec<_> = items
            .iter()
            .map(|i| (i.instance_name.as_str(), i.gpu_count, i.gpu_memory, i.cpu_arch, i.disk_size))
            .collect();
        assert_eq!(
            got,
            [
                ("vbm-72c-480gb-gh200-gpu", 1, Some(96.0), CpuArchitecture::Arm, Some(960.0)),
                ("vcg-a100-1c-6g-4vram", 1, Some(4.0), CpuArchitecture::X86, Some(70.0)),
                ("vcg-a40-48c-240g-96vram", 2, Some(48.0), CpuArchitecture::X86, Some(1400.0)),
            ],
            "the gpu_type without `_` is skipped"
        );
    }
}
