//! Offers on Verda, as dstack 0.22.5 computes them: every item of the published `verda`
//! catalog (for `datacrunch` too) in the configured regions, available when Verda lists the
//! type in the location for that pricing (`GET /instance-availability?isSpot=false` and
//! `?isSpot=true`). That whole list is what is cached; each request filters it (disk left
//! out) and then fits the disk: the smallest size in the requested range (default `100GB..`)
//! that is at least the 50 GB image.

use std::collections::HashSet;
use std::sync::Arc;

use dstack_catalog::offer::{disk_size_mib, provider_of, to_offer};
use dstack_catalog::requirements::{SUPPORTED_FLAGS, query_filter};
use dstack_catalog::{Catalog, CatalogItem, QueryFilter};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::offers::{InstanceAvailability, InstanceOfferWithAvailability, Requirements};
use dstack_core::resources::{Memory, Range};

use crate::client::availability;
use crate::session::Session;

/// The size of Verda's OS images: the smallest disk an instance can have.
pub const IMAGE_SIZE_GB: f64 = 50.0;

/// dstack's `CONFIGURABLE_DISK_SIZE` for Verda: the image size and more.
pub fn configurable_disk() -> Range<Memory> {
    Range::at_least(Memory(IMAGE_SIZE_GB))
}

/// A catalog item with its availability: one entry of the cached list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub item: Arc<CatalogItem>,
    pub availability: InstanceAvailability,
}

/// dstack's `get_all_offers_with_availability`: the catalog's items in `regions` (`None`:
/// all; an empty list: none), each with its availability.
pub async fn all_offers(
    catalog: &Catalog,
    backend: BackendType,
    regions: Option<&[String]>,
    session: &Session,
) -> Result<Vec<Listed>> {
    let filter = QueryFilter {
        provider: Some(vec![provider_of(backend).to_owned()]),
        allowed_flags: Some(SUPPORTED_FLAGS.iter().map(|f| (*f).to_owned()).collect()),
        ..QueryFilter::default()
    };
    let items: Vec<Arc<CatalogItem>> = catalog
        .query(&filter)
        .await
        .into_iter()
        .filter(|item| regions.is_none_or(|r| r.contains(&item.location)))
        .collect();
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut available: HashSet<(String, String, bool)> = HashSet::new();
    for spot in [false, true] {
        for location in availability(session, spot).await? {
            for name in location.availabilities {
                available.insert((name, location.location_code.clone(), spot));
            }
        }
    }
    Ok(items
        .into_iter()
        .map(|item| {
            let key = (item.instance_name.clone(), item.location.clone(), item.spot);
            let availability = if available.contains(&key) {
                InstanceAvailability::Available
            } else {
                InstanceAvailability::NotAvailable
            };
            Listed { item, availability }
        })
        .collect())
}

/// The cached list filtered by `requirements` (disk aside), with the disk fitted.
pub fn matching(
    listed: &[Listed],
    backend: BackendType,
    requirements: &Requirements,
) -> Vec<InstanceOfferWithAvailability> {
    let filter = query_filter(requirements, true);
    let wanted = requirements.resources.disk.as_ref().map(|d| &d.size);
    // Every offer's disk is configurable: one size fits them all, or none.
    let Some(disk_mib) = disk_size_mib(None, wanted, &configurable_disk()) else {
        return Vec::new();
    };
    listed
        .iter()
        .filter(|entry| filter.matches(&entry.item))
        .filter_map(|entry| {
            let mut offer = to_offer(backend, &entry.item, None, &configurable_disk())?;
            offer.instance.resources.disk.size_mib = disk_mib;
            Some(offer.with_availability(entry.availability))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_is_fitted_to_the_image_size_and_the_request() {
        let fit = |wanted: Option<Range<Memory>>| {
            disk_size_mib(None, wanted.as_ref(), &configurable_disk()).map(|mib| mib / 1024)
        };
        assert_eq!(fit(None), Some(100), "dstack's default disk");
        assert_eq!(fit(Some(Range::at_least(Memory(20.0)))), Some(50), "at least the image");
        assert_eq!(fit(Some(Range::exactly(Memory(200.0)))), Some(200));
        let small = Range { min: None, max: Some(Memory(40.0)) };
        assert_eq!(fit(Some(small)), None, "smaller than the image: no offer");
    }
}
