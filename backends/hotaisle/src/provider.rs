//! gpuhunt 0.1.34's online provider `hotaisle`: the team's available VMs
//! (`GET /teams/{team}/virtual_machines/available/`) and bare-metal servers
//! (`GET /teams/{team}/bare_metal/available/`), parsed rule for rule as gpuhunt parses them.
//! If one of the two listings fails, it is logged and the other's items are kept; if both
//! fail, the first failure is the answer.

use async_trait::async_trait;
use dstack_catalog::accelerators;
use dstack_catalog::{CatalogError, CatalogItem, OnlineProvider, QueryFilter};
use dstack_core::error::Result;
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};
use serde_json::Value;

use crate::client::{HotAisleClient, unexpected};

/// gpuhunt's provider name.
pub const PROVIDER: &str = "hotaisle";
/// gpuhunt's flag of bare-metal items (dstack 0.22.5 asks for it).
pub const FLAG_BARE_METAL: &str = "hotaisle-bm";
/// The one location gpuhunt gives every item ("Hardcoded for now").
pub const LOCATION: &str = "us-michigan-1";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The `hotaisle` provider of one API key and team.
#[derive(Debug, Clone)]
pub struct HotAisleProvider {
    client: HotAisleClient,
}

impl HotAisleProvider {
    pub fn new(client: HotAisleClient) -> Self {
        Self { client }
    }

    /// Every item, cheapest first (gpuhunt's `get`). Errors keep their kind.
    pub async fn fetch(&self) -> Result<Vec<CatalogItem>> {
        let mut items = Vec::new();
        let mut first_error = None;
        for (kind, bare_metal) in [("virtual_machines", false), ("bare_metal", true)] {
            let listed = self.client.available(kind).await.and_then(|answer| {
                items_of(&answer, bare_metal)
                    .map_err(|why| unexpected(format!("Hot Aisle {kind} offers: {why}")))
            });
            match listed {
                Ok(found) => items.extend(found),
                Err(err) => {
                    tracing::warn!("Failed to fetch Hot Aisle {kind} offers: {err}");
                    match first_error.take() {
                        Some(first) => return Err(first),
                        None => first_error = Some(err),
                    }
                }
            }
        }
        // Python's `sorted` is stable: equal prices keep the listings' order.
        items.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(items)
    }
}

#[async_trait]
impl OnlineProvider for HotAisleProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        self.fetch().await.map_err(|err| CatalogError::Provider(err.to_string()))
    }
}

/// gpuhunt's `_make_offers` over one listing. `null` (Hot Aisle's answer when nothing is
/// available) and other falsy answers are no items; an item gpuhunt cannot read fails the
/// whole listing, as its exception does.
pub(crate) fn items_of(answer: &Value, bare_metal: bool) -> Result<Vec<CatalogItem>, String> {
    let listed = match answer {
        Value::Array(items) => items.as_slice(),
        other if !truthy(other) => &[],
        other => return Err(format!("not a list: {other}")),
    };
    listed.iter().map(|item| item_of(item, bare_metal)).collect()
}

fn item_of(item: &Value, bare_metal: bool) -> Result<CatalogItem, String> {
    let field = |value: &Value, name: &str| -> Result<Value, String> {
        value.get(name).cloned().ok_or_else(|| format!("no {name:?} in {value}"))
    };
    let price = py_float(&field(item, "OnDemandPrice")?)? / 100.0;
    let specs = field(item, "Specs")?;
    let number = |name: &str| -> Result<f64, String> {
        field(&specs, name)?.as_f64().ok_or_else(|| format!("{name} is not a number"))
    };
    let cpu = count(&field(&specs, "cpu_cores")?, "cpu_cores")?;
    let memory = number("ram_capacity")? / GIB;
    let disk = number("disk_capacity")? / GIB;
    let gpus = field(&specs, "gpus")?;
    let gpu = gpus.get(0).ok_or_else(|| format!("no GPU in {gpus}"))?;
    let count_value = field(gpu, "count")?;
    let gpu_count = count(&count_value, "the GPU count")?;
    let gpu_name = field(gpu, "model")?;
    let gpu_name = gpu_name.as_str().ok_or_else(|| format!("the GPU model {gpu_name}"))?;
    let gpu_memory = gpu_memory(gpu_name);
    let (kind, flags, data_key) = match bare_metal {
        true => ("bm", vec![FLAG_BARE_METAL.to_owned()], "bare_metal_specs"),
        false => ("vm", Vec::new(), "vm_specs"),
    };
    // The whole specs: create gives them back to the API.
    let provider_data = Value::Object([(data_key.to_owned(), specs)].into_iter().collect());
    Ok(CatalogItem {
        provider: PROVIDER.to_owned(),
        instance_name: format!("{kind}-{}-{count_value}", gpu_name.to_lowercase()),
        location: LOCATION.to_owned(),
        price,
        cpu,
        memory,
        gpu_count,
        gpu_name: Some(gpu_name.to_owned()),
        gpu_memory,
        spot: false,
        disk_size: Some(disk),
        gpu_vendor: Some(AcceleratorVendor::Amd),
        flags,
        cpu_arch: CpuArchitecture::X86,
        provider_data: provider_data.to_string(),
    })
}

/// gpuhunt's `get_gpu_memory`: the VRAM of a known AMD accelerator, else none (logged).
fn gpu_memory(name: &str) -> Option<f64> {
    let names = [name];
    let known = accelerators::find(Some(&names), Some(&[AcceleratorVendor::Amd])).next();
    if known.is_none() {
        tracing::warn!("Unknown AMD GPU {name}");
    }
    known.map(|a| f64::from(a.memory))
}

/// A whole count (cores, GPUs).
fn count(value: &Value, what: &str) -> Result<u32, String> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{what} is not a count: {value}"))
}

/// Python's `float(value)` of a JSON value.
fn py_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s.trim().parse().map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("{other} is not a number")),
    }
}

/// Python's truth value of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn specs(model: &str, count: Value) -> Value {
        json!({
            "cpu_cores": 13, "ram_capacity": 224_u64 << 30, "disk_capacity": 12288_u64 << 30,
            "gpus": [{"count": count, "manufacturer": "AMD", "model": model}],
        })
    }

    #[test]
    fn items_read_as_gpuhunt_reads_them() {
        let answer = json!([{"OnDemandPrice": 199, "Specs": specs("MI300X", json!(1))}]);
        let items = items_of(&answer, false).unwrap();
        let item = &items[0];
        assert_eq!(item.instance_name, "vm-mi300x-1");
        assert_eq!((item.price, item.cpu, item.memory), (1.99, 13, 224.0));
        assert_eq!((item.disk_size, item.gpu_memory), (Some(12288.0), Some(192.0)));
        assert_eq!(item.location, LOCATION);
        let data: Value = serde_json::from_str(&item.provider_data).unwrap();
        assert_eq!(data, json!({"vm_specs": answer[0]["Specs"]}));
        let bare = items_of(&answer, true).unwrap();
        assert_eq!(bare[0].instance_name, "bm-mi300x-1");
        assert_eq!(bare[0].flags, [FLAG_BARE_METAL]);
        // gpuhunt: `float(price)`, `f"{count}"`, unknown AMD GPUs without memory.
        let odd = json!([{"OnDemandPrice": "250", "Specs": specs("MI999", json!(2))}]);
        let odd = items_of(&odd, false).unwrap();
        assert_eq!((odd[0].price, odd[0].gpu_memory), (2.5, None));
        assert_eq!(odd[0].instance_name, "vm-mi999-2");
    }

    #[test]
    fn what_gpuhunt_cannot_read_fails_the_listing() {
        assert_eq!(items_of(&Value::Null, false).unwrap(), []);
        assert_eq!(items_of(&json!({}), false).unwrap(), []);
        assert!(items_of(&json!({"a": 1}), false).is_err());
        let no_gpu = json!([{"OnDemandPrice": 1, "Specs": {"cpu_cores": 1, "ram_capacity": 1, "disk_capacity": 1, "gpus": []}}]);
        assert!(items_of(&no_gpu, false).unwrap_err().contains("no GPU"));
        let good = json!({"OnDemandPrice": 1, "Specs": specs("MI300X", json!(1))});
        let one_bad = json!([good, {"Specs": specs("MI300X", json!(1))}]);
        assert!(items_of(&one_bad, false).unwrap_err().contains("OnDemandPrice"));
    }
}
