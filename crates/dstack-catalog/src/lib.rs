//! gpuhunt-compatible offer catalogs: the published catalog format, gpuhunt's query filter,
//! and a loader that caches catalogs in memory and on disk.

pub mod accelerators;
pub mod catalog;
pub mod filter;
pub mod index;
pub mod item;
pub mod offer;
pub mod requirements;
pub mod storage;

pub use catalog::{Catalog, CatalogError, OnlineProvider, Source};
pub use filter::QueryFilter;
pub use item::CatalogItem;
