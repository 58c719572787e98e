//! Catalog items as dstack offers (dstack's `catalog_item_to_offer`).

use dstack_core::config::BackendType;
use dstack_core::offers::{Disk, Gpu, InstanceOffer, InstanceType, Resources};
use dstack_core::resources::{Memory, Range, Requirements};

use crate::Catalog;
use crate::item::CatalogItem;
use crate::requirements::query_filter;

/// The gpuhunt provider whose catalog a backend type offers.
pub fn provider_of(backend: BackendType) -> &'static str {
    match backend {
        BackendType::Lambda => "lambdalabs",
        BackendType::Datacrunch => "verda",
        BackendType::Amddevcloud => "digitalocean",
        other => other.as_str(),
    }
}

/// The disk sizes a backend can create when the catalog does not fix one: 1 GB and more.
pub fn default_configurable_disk() -> Range<Memory> {
    Range::at_least(Memory(1.0))
}

/// dstack's `choose_disk_size_mib`: the catalog's disk when it has one; otherwise the
/// smallest size both wanted (default 100 GB..) and possible.
pub fn disk_size_mib(
    item_disk_gb: Option<f64>,
    wanted: Option<&Range<Memory>>,
    configurable: &Range<Memory>,
) -> Option<u64> {
    let gb = match item_disk_gb.filter(|d| *d != 0.0) {
        Some(gb) => gb,
        None => {
            let wanted = wanted.copied().unwrap_or(Range::at_least(Memory(100.0)));
            let low = |a: Option<Memory>, b: Option<Memory>| match (a, b) {
                (Some(a), Some(b)) => Some(if a.gb() > b.gb() { a } else { b }),
                (a, b) => a.or(b),
            };
            let high = |a: Option<Memory>, b: Option<Memory>| match (a, b) {
                (Some(a), Some(b)) => Some(if a.gb() < b.gb() { a } else { b }),
                (a, b) => a.or(b),
            };
            let (min, max) =
                (low(wanted.min, configurable.min), high(wanted.max, configurable.max));
            if let (Some(min), Some(max)) = (min, max)
                && min.gb() > max.gb()
            {
                return None;
            }
            min?.gb()
        }
    };
    Some((gb * 1024.0).round() as u64)
}

/// One offer for a catalog item, or `None` when no disk size fits.
pub fn to_offer(
    backend: BackendType,
    item: &CatalogItem,
    requirements: Option<&Requirements>,
    configurable_disk: &Range<Memory>,
) -> Option<InstanceOffer> {
    let wanted_disk = requirements.and_then(|r| r.resources.disk.as_ref()).map(|d| &d.size);
    let disk_mib = disk_size_mib(item.disk_size, wanted_disk, configurable_disk)?;
    let gpus = match (item.gpu_count, &item.gpu_name, item.gpu_vendor) {
        (count, Some(name), Some(vendor)) if count > 0 => {
            let gpu = Gpu {
                name: name.clone(),
                memory_mib: (item.gpu_memory.unwrap_or(0.0) * 1024.0).round() as u64,
                vendor,
            };
            vec![gpu; count as usize]
        }
        _ => Vec::new(),
    };
    Some(InstanceOffer {
        backend,
        instance: InstanceType {
            name: item.instance_name.clone(),
            resources: Resources {
                cpus: item.cpu,
                memory_mib: (item.memory * 1024.0).round() as u64,
                gpus,
                spot: item.spot,
                disk: Disk { size_mib: disk_mib },
                cpu_arch: Some(item.cpu_arch),
                description: String::new(),
            },
        },
        region: item.location.clone(),
        price: item.price,
        backend_data: serde_json::from_str(&item.provider_data).unwrap_or_default(),
    })
}

/// dstack's `get_catalog_offers`: the offers in `backend`'s catalog that meet
/// `requirements`, in `locations` when given (`None` for all), with the disk chosen from
/// the sizes the backend can create.
pub async fn catalog_offers(
    catalog: &Catalog,
    backend: BackendType,
    locations: Option<&[String]>,
    requirements: &Requirements,
) -> Vec<InstanceOffer> {
    let mut filter = query_filter(requirements, false);
    filter.provider = Some(vec![provider_of(backend).to_owned()]);
    let disk = default_configurable_disk();
    catalog
        .query(&filter)
        .await
        .iter()
        .filter(|item| locations.is_none_or(|l| l.contains(&item.location)))
        .filter_map(|item| to_offer(backend, item, Some(requirements), &disk))
        .collect()
}

/// [`catalog_offers`] for items a backend fetched itself (an online provider's, such as
/// DigitalOcean's sizes): those meeting `requirements`, in `locations` when given, cheapest
/// first as gpuhunt orders them, with the disk chosen from `configurable_disk`.
pub fn items_offers<'a>(
    items: impl IntoIterator<Item = &'a CatalogItem>,
    backend: BackendType,
    locations: Option<&[String]>,
    requirements: &Requirements,
    configurable_disk: &Range<Memory>,
) -> Vec<InstanceOffer> {
    let filter = query_filter(requirements, false);
    let mut matching: Vec<&CatalogItem> = items
        .into_iter()
        .filter(|item| filter.matches(item))
        .filter(|item| locations.is_none_or(|l| l.contains(&item.location)))
        .collect();
    matching.sort_by(|a, b| a.price.total_cmp(&b.price));
    matching
        .into_iter()
        .filter_map(|item| to_offer(backend, item, Some(requirements), configurable_disk))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_sizes() {
        let any = default_configurable_disk();
        assert_eq!(disk_size_mib(Some(512.0), None, &any), Some(512 * 1024));
        assert_eq!(disk_size_mib(None, None, &any), Some(100 * 1024));
        let wanted = Range::at_least(Memory(200.0));
        assert_eq!(disk_size_mib(None, Some(&wanted), &any), Some(200 * 1024));
        let small = Range { min: Some(Memory(10.0)), max: Some(Memory(50.0)) };
        assert_eq!(disk_size_mib(None, Some(&wanted), &small), None);
    }
}
