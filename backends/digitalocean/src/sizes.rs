//! DigitalOcean's sizes as catalog items: gpuhunt 0.1.34's online `DigitalOceanProvider`
//! (`GET /v2/sizes?per_page=500` with the backend's own key), parsed as gpuhunt parses it.

use async_trait::async_trait;
use dstack_backend_kit::RestClient;
use dstack_catalog::accelerators;
use dstack_catalog::{CatalogError, CatalogItem, OnlineProvider, QueryFilter};
use dstack_core::error::Result;
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};
use serde::Deserialize;

use crate::client::list_all;

/// The catalog provider of both backend types, as gpuhunt names it.
pub const PROVIDER: &str = "digitalocean";

/// gpuhunt's `DigitalOceanProvider`, on one backend's client (its key and base URL).
#[derive(Debug, Clone)]
pub struct DigitalOceanProvider {
    client: RestClient,
}

impl DigitalOceanProvider {
    pub fn new(client: RestClient) -> Self {
        Self { client }
    }

    /// Every size as items, one per region, cheapest first (gpuhunt's `get`). Errors keep
    /// their kind (refused credentials, rate limits), unlike [`OnlineProvider::items`].
    pub async fn fetch(&self) -> Result<Vec<CatalogItem>> {
        let sizes: Vec<Size> = list_all(&self.client, "/v2/sizes", "per_page=500", "sizes").await?;
        let mut items = items(sizes);
        items.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(items)
    }
}

#[async_trait]
impl OnlineProvider for DigitalOceanProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        self.fetch().await.map_err(|e| CatalogError::Provider(e.to_string()))
    }
}

/// A size of `GET /v2/sizes`, as far as gpuhunt reads it.
#[derive(Debug, Deserialize)]
struct Size {
    slug: String,
    /// MB.
    memory: f64,
    vcpus: u32,
    price_hourly: f64,
    /// Where the size can be created now; none means nowhere.
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    disk_info: Vec<DiskInfo>,
    gpu_info: Option<GpuInfo>,
}

#[derive(Debug, Deserialize)]
struct DiskInfo {
    #[serde(rename = "type")]
    kind: String,
    size: Amount,
}

#[derive(Debug, Deserialize)]
struct Amount {
    amount: f64,
}

#[derive(Debug, Default, Deserialize)]
struct GpuInfo {
    count: Option<u32>,
    /// `nvidia_h100`, `amd_mi300x`, `nvidia_rtx_4000_ada`.
    model: Option<String>,
    vram: Option<Amount>,
}

/// The GPUs of a size.
struct Gpus {
    count: u32,
    name: String,
    vendor: AcceleratorVendor,
    /// GB per GPU.
    memory: f64,
}

/// The GPUs of a size: gpuhunt's name (`nvidia_rtx_4000_ada` → `RTX4000ADA`), its vendor
/// from the known accelerators, and count and VRAM (GB). `None` for a size gpuhunt skips
/// (an unknown model) or cannot read.
fn gpus(slug: &str, info: &GpuInfo) -> Option<Gpus> {
    let (Some(count), Some(model), Some(vram)) = (info.count, &info.model, &info.vram) else {
        tracing::warn!("DigitalOcean size {slug} has incomplete gpu_info; skipping it");
        return None;
    };
    let name: String = model.split('_').skip(1).map(str::to_uppercase).collect();
    let Some(known) = accelerators::find(Some(&[name.as_str()]), None).next() else {
        tracing::warn!(
            "Could not determine GPU vendor for model '{model}'. Skipping droplet '{slug}'."
        );
        return None;
    };
    Some(Gpus { count, name, vendor: known.vendor, memory: vram.amount })
}

/// gpuhunt's `_make_offers`: one item per size and region; GPU sizes of an unknown model are
/// skipped; the disk is the sum of the persistent disks (`local`, or `boot` since the v5
/// generation; GPU sizes' `scratch` disks are not counted).
fn items(sizes: Vec<Size>) -> Vec<CatalogItem> {
    let mut items = Vec::new();
    for size in sizes {
        // gpuhunt's `if gpu_info:` — absent, `null` and `{}` are a CPU size.
        let gpu = match &size.gpu_info {
            Some(info) if info.count.is_some() || info.model.is_some() || info.vram.is_some() => {
                match gpus(&size.slug, info) {
                    Some(gpus) => Some(gpus),
                    None => continue,
                }
            }
            _ => None,
        };
        let disk: f64 = size
            .disk_info
            .iter()
            .filter(|d| d.kind == "local" || d.kind == "boot")
            .map(|d| d.size.amount)
            .sum();
        for region in &size.regions {
            items.push(CatalogItem {
                provider: PROVIDER.to_owned(),
                instance_name: size.slug.clone(),
                location: region.clone(),
                price: size.price_hourly,
                cpu: size.vcpus,
                memory: size.memory / 1024.0,
                gpu_count: gpu.as_ref().map_or(0, |g| g.count),
                gpu_name: gpu.as_ref().map(|g| g.name.clone()),
                gpu_memory: gpu.as_ref().map(|g| g.memory),
                spot: false,
                disk_size: Some(disk),
                gpu_vendor: gpu.as_ref().map(|g| g.vendor),
                flags: Vec::new(),
                cpu_arch: CpuArchitecture::X86,
                provider_data: "{}".to_owned(),
            });
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(sizes: serde_json::Value) -> Vec<CatalogItem> {
        items(serde_json::from_value(sizes).unwrap())
    }

    #[test]
    fn sizes_are_read_as_gpuhunt_reads_them() {
        let items = parse(json!([
            {"slug": "gpu-4000adax1-20gb", "memory": 32768, "vcpus": 8, "price_hourly": 0.76,
             "regions": ["tor1", "atl1"],
             "disk_info": [{"type": "boot", "size": {"amount": 500, "unit": "gib"}},
                           {"type": "scratch", "size": {"amount": 1000, "unit": "gib"}}],
             "gpu_info": {"count": 1, "model": "nvidia_rtx_4000_ada", "vram": {"amount": 20, "unit": "gib"}}},
            {"slug": "s-1vcpu-1gb", "memory": 1024, "vcpus": 1, "price_hourly": 0.00893,
             "regions": ["nyc1"], "disk_info": [{"type": "local", "size": {"amount": 25, "unit": "gib"}}],
             "gpu_info": {}},
            {"slug": "gpu-b999x1", "memory": 8192, "vcpus": 8, "price_hourly": 9.0, "regions": ["nyc1"],
             "disk_info": [], "gpu_info": {"count": 1, "model": "nvidia_b999", "vram": {"amount": 99}}},
            {"slug": "s-8vcpu-16gb", "memory": 16384, "vcpus": 8, "price_hourly": 0.1, "regions": []}
        ]));
        let rows: Vec<String> = items
            .iter()
            .map(|i| {
                let gpu = format!("{}x{:?} {:?}", i.gpu_count, i.gpu_name, i.gpu_vendor);
                format!("{} {} {gpu} {:?}", i.instance_name, i.location, i.disk_size)
            })
            .collect();
        assert_eq!(
            rows,
            [
                "gpu-4000adax1-20gb tor1 1xSome(\"RTX4000ADA\") Some(Nvidia) Some(500.0)",
                "gpu-4000adax1-20gb atl1 1xSome(\"RTX4000ADA\") Some(Nvidia) Some(500.0)",
                "s-1vcpu-1gb nyc1 0xNone None Some(25.0)",
            ]
        );
        assert_eq!(
            (items[0].memory, items[0].gpu_memory, items[0].price),
            (32.0, Some(20.0), 0.76)
        );
        assert!(items.iter().all(|i| i.provider == "digitalocean" && !i.spot));
    }
}
