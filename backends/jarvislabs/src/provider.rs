//! gpuhunt 0.1.34's online provider `jarvislabs`: `GET misc/server_meta` with the project's
//! key, one catalog item per VM-capable GPU row and GPU count, and one per available CPU
//! combination and region — rule for rule as gpuhunt parses them. Rows in regions without a
//! known host are dropped: dstack could not create them.

use async_trait::async_trait;
use dstack_backend_kit::{HttpSettings, RestClient};
use dstack_catalog::{CatalogError, CatalogItem, OnlineProvider, QueryFilter};
use dstack_core::Secret;
use dstack_core::error::Result;
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};
use serde_json::{Map, Value, json};

use crate::client::{Hosts, JarvisLabsClient, REGION_URLS, truthy, unexpected};

/// gpuhunt's provider name.
pub const PROVIDER: &str = "jarvislabs";

/// gpuhunt's `JARVISLABS_GPU_NAME_OVERRIDES`: JarvisLabs' GPU tokens that are not gpuhunt's
/// names, with their memory in GB. Other tokens with spaces are left out.
const GPU_NAME_OVERRIDES: &[(&str, &str, f64)] = &[
    ("A100-80GB", "A100", 80.0),
    ("RTX-PRO6000", "RTXPRO6000", 96.0),
    ("RTX PRO 6000", "RTXPRO6000", 96.0),
];

/// The `jarvislabs` provider with one project's key.
#[derive(Debug, Clone)]
pub struct JarvisLabsProvider {
    client: RestClient,
}

impl JarvisLabsProvider {
    pub fn new(client: RestClient) -> Self {
        Self { client }
    }

    /// The provider as gpuhunt's `JarvisLabsProvider(api_key=..., api_url=...)`.
    pub fn for_key(api_url: &str, key: &Secret, http: &HttpSettings) -> Self {
        Self::new(JarvisLabsClient::new(&Hosts::for_endpoint(api_url), key, http).main)
    }

    /// Every item, cheapest first (gpuhunt's order).
    pub async fn fetch(&self) -> Result<Vec<CatalogItem>> {
        let answer: Value = self.client.get("/misc/server_meta").await?;
        let Value::Object(data) = answer else {
            return Err(unexpected("Unexpected JarvisLabs server_meta response"));
        };
        let mut items = server_meta_items(&data);
        items.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(items)
    }
}

#[async_trait]
impl OnlineProvider for JarvisLabsProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        self.fetch().await.map_err(|err| CatalogError::Provider(err.to_string()))
    }
}

/// gpuhunt's `_make_offers`: the GPU rows of `server_meta`, then the CPU combinations of
/// `cpu_meta`, in the answer's order.
pub fn server_meta_items(data: &Map<String, Value>) -> Vec<CatalogItem> {
    let mut items = Vec::new();
    if let Some(Value::Array(rows)) = data.get("server_meta") {
        for row in rows {
            match row.as_object() {
                Some(row) => items.extend(gpu_items(row)),
                None => tracing::warn!("Skipping malformed JarvisLabs GPU row: {row}"),
            }
        }
    }
    if let Some(Value::Object(cpu_meta)) = data.get("cpu_meta") {
        items.extend(cpu_items(cpu_meta));
    }
    items
}

fn known_region(region: &str) -> bool {
    REGION_URLS.iter().any(|(known, _)| *known == region)
}

fn gpu_items(row: &Map<String, Value>) -> Vec<CatalogItem> {
    let field = |name: &str| row.get(name).unwrap_or(&Value::Null);
    let Some(region) = field("region").as_str().filter(|r| !r.is_empty()) else {
        return Vec::new();
    };
    // Older VM-capable rows (EU H100/H200) have no workload type.
    let workload = field("workload_type");
    if !workload.is_null() && workload.as_str() != Some("vm") {
        return Vec::new();
    }
    if !known_region(region) {
        tracing::warn!(
            "Skipping JarvisLabs GPU VM offer in unsupported region {region}; \
             JarvisLabs does not expose provisioning endpoint discovery"
        );
        return Vec::new();
    }
    let Some(gpu_type) = field("gpu_type").as_str().filter(|t| !t.is_empty()) else {
        tracing::warn!(
            "Skipping JarvisLabs GPU offer without gpu_type: {}",
            serde_json::Value::Object(row.clone())
        );
        return Vec::new();
    };
    let Some(price) = as_float(field("price_per_hour")) else {
        tracing::warn!("Skipping JarvisLabs GPU offer without price: {gpu_type}");
        return Vec::new();
    };
    let Some((gpu_name, gpu_memory)) = gpu_name_and_memory(gpu_type, field("vram")) else {
        tracing::warn!("Skipping JarvisLabs GPU offer with unmapped gpu_type: {gpu_type}");
        return Vec::new();
    };
    let Some(gpu_memory) = gpu_memory else {
        tracing::warn!("Skipping JarvisLabs GPU offer with unknown VRAM: {gpu_type}");
        return Vec::new();
    };
    let (Some(cpu_per_gpu), Some(ram_per_gpu)) =
        (as_int(field("cpus_per_gpu")), as_float(field("ram_per_gpu")))
    else {
        tracing::warn!("Skipping JarvisLabs GPU offer without CPU/RAM: {gpu_type}");
        return Vec::new();
    };
    let free = as_int(field("effective_num_free_devices"))
        .filter(|n| *n != 0)
        .or_else(|| as_int(field("num_free_devices")))
        .unwrap_or(0);
    let max_per_instance = as_int(field("num_gpus")).filter(|n| *n != 0).unwrap_or(1);
    // gpuhunt keeps the create-time token only where its name differs.
    let provider_data =
        if gpu_type == gpu_name { json!({}) } else { json!({"gpu_type": gpu_type}) };
    // JarvisLabs has spot for containers, not for VMs: VM offers are on-demand only.
    (1..=free.min(max_per_instance))
        .map(|count| CatalogItem {
            provider: PROVIDER.to_owned(),
            instance_name: format!("{gpu_name}-{count}x"),
            location: region.to_owned(),
            price: round5(price * count as f64),
            cpu: u32::try_from(cpu_per_gpu.saturating_mul(count)).unwrap_or(0),
            memory: ram_per_gpu * count as f64,
            gpu_count: u32::try_from(count).unwrap_or(u32::MAX),
            gpu_name: Some(gpu_name.clone()),
            gpu_memory: Some(gpu_memory),
            spot: false,
            disk_size: None,
            gpu_vendor: Some(AcceleratorVendor::Nvidia),
            flags: Vec::new(),
            cpu_arch: CpuArchitecture::X86,
            provider_data: provider_data.to_string(),
        })
        .collect()
}

fn cpu_items(cpu_meta: &Map<String, Value>) -> Vec<CatalogItem> {
    let mut items = Vec::new();
    // The SDK creates CPU VMs from `combinations`; `cpu_meta.workload_type` is not a selector.
    let combos = cpu_meta.get("combinations").and_then(Value::as_array).into_iter().flatten();
    for combo in combos.filter_map(Value::as_object) {
        if !combo.get("available").is_some_and(truthy) {
            continue;
        }
        let field = |name: &str| combo.get(name).unwrap_or(&Value::Null);
        let (Some(vcpus), Some(ram_gb), Some(price)) =
            (as_int(field("vcpus")), as_float(field("ram_gb")), as_float(field("price")))
        else {
            tracing::warn!(
                "Skipping JarvisLabs CPU offer with incomplete specs: {}",
                serde_json::Value::Object(combo.clone())
            );
            continue;
        };
        let Some(regions) = field("regions").as_object() else { continue };
        for (region, available) in regions {
            if !truthy(available) {
                continue;
            }
            if !known_region(region) {
                tracing::warn!(
                    "Skipping JarvisLabs CPU VM offer in unsupported region {region}; \
                     JarvisLabs does not expose provisioning endpoint discovery"
                );
                continue;
            }
            items.push(CatalogItem {
                provider: PROVIDER.to_owned(),
                // Python's `int()` truncates.
                instance_name: format!("cpu-{vcpus}x{}", ram_gb.trunc() as i64),
                location: region.clone(),
                price,
                cpu: u32::try_from(vcpus).unwrap_or(0),
                memory: ram_gb,
                gpu_count: 0,
                gpu_name: None,
                gpu_memory: None,
                spot: false,
                disk_size: None,
                gpu_vendor: None,
                flags: Vec::new(),
                cpu_arch: CpuArchitecture::X86,
                provider_data: "{}".to_owned(),
            });
        }
    }
    items
}

/// gpuhunt's `_gpu_name_and_memory`: the override's name (and memory, unless `vram` says),
/// or the token itself; `None` for an unmapped token with whitespace.
fn gpu_name_and_memory(gpu_type: &str, vram: &Value) -> Option<(String, Option<f64>)> {
    let (name, default_memory) = match GPU_NAME_OVERRIDES.iter().find(|(t, _, _)| *t == gpu_type) {
        Some((_, name, memory)) => (*name, Some(*memory)),
        None if gpu_type.chars().any(char::is_whitespace) => return None,
        None => (gpu_type, None),
    };
    let memory = as_float(vram).filter(|m| *m != 0.0).or(default_memory);
    Some((name.to_owned(), memory))
}

/// gpuhunt's `_as_int`: `int(value)` of a number or a string, `None` where Python fails.
pub(crate) fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64))
        }
        Value::String(s) => {
            let digits = s.trim().replace('_', "");
            digits.strip_prefix('+').unwrap_or(&digits).parse().ok()
        }
        _ => None,
    }
}

/// gpuhunt's `_as_float`: `float(value)` of a number or a string, `None` where Python fails.
pub(crate) fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace('_', "").parse().ok(),
        _ => None,
    }
}

/// Python's `round(x, 5)`, as gpuhunt rounds a multi-GPU price.
fn round5(value: f64) -> f64 {
    (value * 1e5).round_ties_even() / 1e5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_in_gpuhunt() {
        assert_eq!(as_int(&json!("8")), Some(8));
        assert_eq!(as_int(&json!(" 8 ")), Some(8));
        assert_eq!(as_int(&json!("8.0")), None, "int('8.0') fails");
        assert_eq!(as_int(&json!(8.9)), Some(8));
        assert_eq!(as_int(&json!("")), None);
        assert_eq!(as_int(&json!("bad")), None);
        assert_eq!(as_int(&json!(null)), None);
        assert_eq!(as_float(&json!("24")), Some(24.0));
        assert_eq!(as_float(&json!("bad")), None);
        assert_eq!(as_float(&json!([1])), None);
        assert_eq!(round5(0.44 * 3.0), 1.32);
    }

    #[test]
    fn gpu_tokens_map_as_in_gpuhunt() {
        let gpu = |token: &str, vram: Value| gpu_name_and_memory(token, &vram);
        assert_eq!(gpu("A100-80GB", json!(null)), Some(("A100".into(), Some(80.0))));
        assert_eq!(gpu("RTX PRO 6000", json!("96")), Some(("RTXPRO6000".into(), Some(96.0))));
        assert_eq!(gpu("RTX A6000", json!("48")), None, "unmapped tokens with spaces");
        assert_eq!(gpu("H100", json!("0")), Some(("H100".into(), None)), "0 is no VRAM");
    }
}
