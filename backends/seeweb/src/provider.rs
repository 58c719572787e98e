//! gpuhunt 0.1.34's online provider `seeweb`: `GET /plans` with the project's token, one
//! catalog item per GPU plan and region, parsed rule for rule as gpuhunt parses it.

use async_trait::async_trait;
use dstack_backend_kit::{HttpSettings, RestClient};
use dstack_catalog::accelerators;
use dstack_catalog::{CatalogError, CatalogItem, OnlineProvider, QueryFilter};
use dstack_core::Secret;
use dstack_core::error::Result;
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};
use serde_json::{Map, Value};

use crate::client::{SeewebClient, py_str, truthy, unexpected};

/// gpuhunt's provider name.
pub const PROVIDER: &str = "seeweb";

/// gpuhunt's `SEEWEB_GPU_MAP`: Seeweb's `gpu_label` (case-folded) → GPU name and GB per card.
const GPU_MAP: &[(&str, &str, f64)] = &[
    ("a30", "A30", 24.0),
    ("l4 24gb", "L4", 24.0),
    ("l40s 48gb", "L40S", 48.0),
    ("a100 80gb", "A100", 80.0),
    ("h100 80gb", "H100", 80.0),
    ("h200 141gb", "H200", 141.0),
    ("rtx a6000 48gb", "A6000", 48.0),
    ("rtx 6000 24gb", "RTX6000", 24.0),
    ("rtx pro 6000 96gb", "RTXPRO6000", 96.0),
];

/// Accelerators gpuhunt leaves out quietly (its provider is NVIDIA-only).
const NON_NVIDIA_MARKERS: &[&str] = &["MI300", "TENSTORRENT", "GRAYSKULL", "WORMHOLE"];

/// The `seeweb` provider with one project's token.
#[derive(Debug, Clone)]
pub struct SeewebProvider {
    client: RestClient,
}

impl SeewebProvider {
    pub fn new(client: RestClient) -> Self {
        Self { client }
    }

    /// The provider as gpuhunt's `SeewebProvider(token=...)`, at `base_url`.
    pub fn for_token(base_url: &str, token: &Secret, http: &HttpSettings) -> Self {
        Self::new(SeewebClient::new(base_url, token, http).rest)
    }

    /// Every item, cheapest first (gpuhunt's order). `/plans` is read whatever its `status`
    /// says, as gpuhunt reads it; an answer without a `plans` list is an error.
    pub async fn plan_items(&self) -> Result<Vec<CatalogItem>> {
        let answer: Value = self.client.get("/plans").await?;
        let Some(plans) = answer.get("plans").and_then(Value::as_array) else {
            return Err(unexpected("Unexpected response from Seeweb /plans endpoint"));
        };
        let mut items: Vec<CatalogItem> = Vec::new();
        for plan in plans {
            match plan.as_object() {
                Some(plan) => items.extend(plan_items(plan)),
                None => tracing::warn!("Skipping malformed Seeweb plan: {plan}"),
            }
        }
        items.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(items)
    }
}

#[async_trait]
impl OnlineProvider for SeewebProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        self.plan_items().await.map_err(|err| CatalogError::Provider(err.to_string()))
    }
}

/// gpuhunt's `_make_offers`: nothing for inactive, CPU-only, non-NVIDIA or malformed plans.
fn plan_items(plan: &Map<String, Value>) -> Vec<CatalogItem> {
    let field = |name: &str| plan.get(name).unwrap_or(&Value::Null);
    let (name, label) = (field("name"), field("gpu_label"));
    // "available" means the plan is active, not that it has capacity anywhere.
    if field("available") == &Value::Bool(false) || !truthy(name) || !truthy(label) {
        return Vec::new();
    }
    let name = py_str(name);
    let label = py_str(label);
    let Some(gpu_count) = parse_int(field("gpu")) else {
        tracing::warn!("Skipping Seeweb plan {name}: invalid GPU count {}", field("gpu"));
        return Vec::new();
    };
    if gpu_count == 0 {
        return Vec::new();
    }
    let upper = label.to_uppercase();
    if NON_NVIDIA_MARKERS.iter().any(|m| upper.contains(m)) {
        tracing::debug!("Skipping non-NVIDIA Seeweb plan {name} ({label})");
        return Vec::new();
    }
    let Some((gpu_name, gpu_memory)) = normalize_gpu(&label) else {
        tracing::warn!("Skipping Seeweb plan {name}: unknown gpu_label {label:?}");
        return Vec::new();
    };
    let parsed = (|| {
        let cpu = parse_int(field("cpu"))?;
        let memory = parse_float(field("ram"))? / 1024.0;
        Some((cpu, memory, parse_float(field("disk"))?, parse_float(field("hourly_price"))?))
    })();
    let Some((cpu, memory, disk, price)) = parsed else {
        tracing::warn!("Skipping Seeweb plan {name}: a resource or the price is not a number");
        return Vec::new();
    };
    if cpu == 0 || memory <= 0.0 || disk <= 0.0 || price < 0.0 {
        tracing::warn!("Skipping Seeweb plan {name}: invalid non-positive resources or price");
        return Vec::new();
    }
    // Regions where the plan is offered; capacity is `/plans/availables`' business.
    let Some(regions) = field("available_regions").as_array() else {
        tracing::warn!("Skipping Seeweb plan {name}: invalid available_regions");
        return Vec::new();
    };
    let mut seen: Vec<String> = Vec::new();
    for region in regions {
        let Some(location) = region.get("location").and_then(Value::as_str) else {
            tracing::warn!("Skipping malformed region for Seeweb plan {name}: {region}");
            continue;
        };
        let location = location.trim();
        if !location.is_empty() && !seen.iter().any(|s| s == location) {
            seen.push(location.to_owned());
        }
    }
    seen.into_iter()
        .map(|location| CatalogItem {
            provider: PROVIDER.to_owned(),
            instance_name: name.clone(),
            location,
            price,
            cpu: u32::try_from(cpu).unwrap_or(u32::MAX),
            memory,
            gpu_count: u32::try_from(gpu_count).unwrap_or(u32::MAX),
            gpu_name: Some(gpu_name.clone()),
            gpu_memory: Some(gpu_memory),
            spot: false,
            disk_size: Some(disk),
            gpu_vendor: Some(AcceleratorVendor::Nvidia),
            flags: Vec::new(),
            cpu_arch: CpuArchitecture::X86,
            provider_data: "{}".to_owned(),
        })
        .collect()
}

/// gpuhunt's `_normalize_gpu`: the curated map (with and without an `NVIDIA` prefix), else
/// gpuhunt's known NVIDIA GPUs with the label's `<n>GB` as the memory.
pub(crate) fn normalize_gpu(label: &str) -> Option<(String, f64)> {
    let label = label.split_whitespace().collect::<Vec<_>>().join(" ");
    let folded = label.to_lowercase();
    let unprefixed = strip_nvidia(&folded);
    for key in [folded.as_str(), unprefixed] {
        if let Some((_, name, memory)) = GPU_MAP.iter().find(|(k, _, _)| *k == key) {
            return Some(((*name).to_owned(), *memory));
        }
    }
    let upper = label.to_uppercase();
    let cleaned = strip_nvidia(&upper).trim();
    let (explicit_memory, candidate) = split_memory(cleaned);
    let candidate = candidate.trim().replace(' ', "");
    if candidate.is_empty() {
        return None;
    }
    let names = [candidate.as_str()];
    let known = accelerators::find(Some(&names), Some(&[AcceleratorVendor::Nvidia])).next()?;
    Some((known.name.to_owned(), explicit_memory.unwrap_or(f64::from(known.memory))))
}

/// `re.sub(r"^nvidia\s+", "", s, flags=re.I)` on a string that is already one case.
fn strip_nvidia(text: &str) -> &str {
    let head = text.get(..6).filter(|h| h.eq_ignore_ascii_case("nvidia"));
    match head.map(|_| &text[6..]) {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => text,
    }
}

/// The first `<digits>\s*GB` of `text` as a number, and `text` with every such run removed.
fn split_memory(text: &str) -> (Option<f64>, String) {
    let chars: Vec<char> = text.chars().collect();
    let (mut first, mut rest, mut i) = (None, String::new(), 0);
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if chars.get(j) == Some(&'G') && chars.get(j + 1) == Some(&'B') {
                let digits: String = chars[start..i].iter().collect();
                first = first.or_else(|| digits.parse().ok());
                i = j + 2;
            } else {
                rest.extend(&chars[start..i]);
            }
        } else {
            rest.push(chars[i]);
            i += 1;
        }
    }
    (first, rest)
}

/// gpuhunt's `_parse_int`: the first run of digits of `str(value)`.
pub(crate) fn parse_int(value: &Value) -> Option<u64> {
    let text = py_str(value);
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// gpuhunt's `_parse_float`: the first `\d+(\.\d+)?` of `str(value)` (a sign is not read).
pub(crate) fn parse_float(value: &Value) -> Option<f64> {
    let text = py_str(value);
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let tail = &text[start..];
    let whole = tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
    let mut end = whole;
    if tail[whole..].starts_with('.') {
        let fraction = tail[whole + 1..].chars().take_while(char::is_ascii_digit).count();
        if fraction > 0 {
            end = whole + 1 + fraction;
        }
    }
    tail[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn labels_resolve_as_in_gpuhunt() {
        let gpu = |label: &str| normalize_gpu(label);
        assert_eq!(gpu("L40S 48GB"), Some(("L40S".into(), 48.0)));
        assert_eq!(gpu("NVIDIA  RTX   A6000 48GB"), Some(("A6000".into(), 48.0)));
        assert_eq!(gpu("a30"), Some(("A30".into(), 24.0)));
        // Not in the map: gpuhunt's known GPUs, with the label's memory when it has one.
        assert_eq!(gpu("NVIDIA H100 94GB"), Some(("H100".into(), 94.0)));
        assert_eq!(gpu("A10"), Some(("A10".into(), 24.0)));
        assert_eq!(gpu("nvidia b200"), Some(("B200".into(), 180.0)));
        assert_eq!(gpu("Quantum 9000"), None);
        assert_eq!(gpu("16GB"), None);
    }

    #[test]
    fn numbers_are_read_as_in_gpuhunt() {
        assert_eq!(parse_int(&json!("8 vCPU")), Some(8));
        assert_eq!(parse_int(&json!(4.0)), Some(4));
        assert_eq!(parse_int(&json!(null)), None);
        assert_eq!(parse_float(&json!("65536")), Some(65536.0));
        assert_eq!(parse_float(&json!("0.38 EUR")), Some(0.38));
        assert_eq!(parse_float(&json!("12.")), Some(12.0));
        assert_eq!(parse_float(&json!(-1.5)), Some(1.5), "gpuhunt reads no sign");
        assert_eq!(parse_float(&json!(true)), None);
    }
}
