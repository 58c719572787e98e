//! Loading and querying catalogs, the way gpuhunt 0.1.34 does, plus what a long-running
//! server needs: each provider's catalog is cached in memory with a time to live and on disk,
//! and a failed refresh keeps the last good copy (a server without internet still offers
//! what it knew).
//!
//! Where catalogs come from:
//! - `GPUHUNT_CATALOG_DIR`: a directory of plain `{provider}.csv` files;
//! - else `GPUHUNT_CATALOG_URL` (default gpuhunt's bucket): `{base}/{provider}/version` names
//!   the latest version and `{base}/{provider}/{version}/catalog.zip` holds `{provider}.csv`.
//!   The base may be `http(s)://...`, or a local directory laid out the same way.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures::future::join_all;

use crate::filter::QueryFilter;
use crate::index::Index;
use crate::item::CatalogItem;
use crate::storage;

/// gpuhunt's bucket.
pub const DEFAULT_CATALOG_URL: &str = "https://dstack-gpu-pricing.s3.eu-west-1.amazonaws.com/v3";

/// Providers published as catalog files (gpuhunt's `OFFLINE_PROVIDERS`).
pub const OFFLINE_PROVIDERS: &[&str] =
    &["aws", "azure", "verda", "gcp", "lambdalabs", "nebius", "oci", "runpod", "cloudrift"];

/// Providers whose offers come from their live API (gpuhunt's `ONLINE_PROVIDERS`). None is in
/// the published catalog: a backend adds its own ([`Catalog::add_online_provider`]), often
/// with its credentials. gpuhunt 0.1.34 added `daytona` and `lium`.
pub const ONLINE_PROVIDERS: &[&str] = &[
    "crusoe",
    "daytona",
    "digitalocean",
    "hotaisle",
    "jarvislabs",
    "lium",
    "seeweb",
    "vastai",
    "vultr",
];

/// How long a loaded catalog is used before checking for a newer version (gpuhunt's
/// reload interval).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);

/// A provider whose items come from a live API rather than a published file.
#[async_trait]
pub trait OnlineProvider: Send + Sync + std::fmt::Debug {
    /// The provider's name as gpuhunt spells it.
    fn name(&self) -> &str;
    /// Items for this query; the catalog applies the filter again afterwards.
    async fn items(&self, filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError>;
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the {provider} catalog is not a valid catalog: {reason}")]
    Invalid { provider: String, reason: String },
    #[error("{0}")]
    Provider(String),
}

/// Where catalog files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Versioned layout at a URL or in a local directory.
    Published(String),
    /// A directory of plain `{provider}.csv` files (`GPUHUNT_CATALOG_DIR`).
    PlainDirectory(PathBuf),
}

impl Source {
    /// From `GPUHUNT_CATALOG_DIR` and `GPUHUNT_CATALOG_URL`, as gpuhunt reads them.
    pub fn from_env() -> Self {
        if let Some(dir) = std::env::var_os("GPUHUNT_CATALOG_DIR") {
            return Source::PlainDirectory(PathBuf::from(dir));
        }
        let base = std::env::var("GPUHUNT_CATALOG_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_CATALOG_URL.to_owned());
        Source::Published(base.trim_end_matches('/').to_owned())
    }
}

/// One provider's loaded catalog.
#[derive(Debug)]
pub struct ProviderCatalog {
    pub version: String,
    pub index: Index,
}

impl ProviderCatalog {
    pub fn new(version: String, items: Vec<CatalogItem>) -> Self {
        Self { version, index: Index::new(items) }
    }

    pub fn items(&self) -> &[Arc<CatalogItem>] {
        self.index.items()
    }
}

#[derive(Debug, Default)]
struct Slot {
    catalog: Option<Arc<ProviderCatalog>>,
    checked_at: Option<Instant>,
    /// For plain directories: the file's modification time when read.
    modified: Option<SystemTime>,
}

/// Catalogs of all providers, loaded on demand.
#[derive(Debug)]
pub struct Catalog {
    source: Source,
    cache_dir: Option<PathBuf>,
    ttl: Duration,
    http: reqwest::Client,
    slots: RwLock<HashMap<String, Slot>>,
    /// One refresh of a provider at a time.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    online: Vec<Arc<dyn OnlineProvider>>,
}

impl Catalog {
    /// A catalog reading from `source`, keeping copies in `cache_dir` when given.
    pub fn new(source: Source, cache_dir: Option<PathBuf>) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Self {
            source,
            cache_dir,
            ttl: DEFAULT_TTL,
            http,
            slots: RwLock::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            online: Vec::new(),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn add_online_provider(&mut self, provider: Arc<dyn OnlineProvider>) {
        self.online.push(provider);
    }

    /// Matching items of the providers the filter names (all known ones if none), merged by
    /// price the way gpuhunt merges them. A provider that cannot be loaded contributes
    /// nothing and is logged; the others still answer.
    pub async fn query(&self, filter: &QueryFilter) -> Vec<Arc<CatalogItem>> {
        let wanted = |name: &str| {
            filter
                .provider
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| p.eq_ignore_ascii_case(name)))
        };
        let offline: Vec<&str> = OFFLINE_PROVIDERS.iter().copied().filter(|p| wanted(p)).collect();
        let loads = offline.iter().map(|provider| async move {
            match self.provider_catalog(provider).await {
                Ok(Some(catalog)) => catalog.index.matching(filter),
                Ok(None) => Vec::new(),
                Err(err) => {
                    tracing::warn!("No {provider} offers: {err}");
                    Vec::new()
                }
            }
        });
        let online = self.online.iter().filter(|p| wanted(p.name())).map(|provider| async move {
            match provider.items(filter).await {
                Ok(items) => {
                    items.into_iter().filter(|i| filter.matches(i)).map(Arc::new).collect()
                }
                Err(err) => {
                    tracing::warn!("No {} offers: {err}", provider.name());
                    Vec::new()
                }
            }
        });
        let mut lists: Vec<Vec<Arc<CatalogItem>>> = join_all(online).await;
        lists.extend(join_all(loads).await);
        merge_by_price(lists)
    }

    /// The loaded catalog of `provider`, refreshed when older than the time to live.
    /// `Ok(None)` when the source has no catalog for it.
    pub async fn provider_catalog(
        &self,
        provider: &str,
    ) -> Result<Option<Arc<ProviderCatalog>>, CatalogError> {
        if let Some(fresh) = self.fresh(provider) {
            return Ok(Some(fresh));
        }
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(provider.to_owned()).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(fresh) = self.fresh(provider) {
            return Ok(Some(fresh));
        }
        let result = match &self.source {
            Source::PlainDirectory(dir) => self.load_plain(dir, provider).await,
            Source::Published(base) => self.load_published(base, provider).await,
        };
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let slot = slots.entry(provider.to_owned()).or_default();
        match result {
            Ok(Loaded::Unchanged) => {
                slot.checked_at = Some(Instant::now());
                Ok(slot.catalog.clone())
            }
            Ok(Loaded::New(catalog, modified)) => {
                let catalog = Arc::new(catalog);
                *slot = Slot {
                    catalog: Some(catalog.clone()),
                    checked_at: Some(Instant::now()),
                    modified,
                };
                Ok(Some(catalog))
            }
            Ok(Loaded::Missing) => {
                slot.checked_at = Some(Instant::now());
                Ok(None)
            }
            Err(err) => {
                // Keep what we have; retry after the time to live.
                slot.checked_at = Some(Instant::now());
                if let Some(catalog) = slot.catalog.clone() {
                    tracing::warn!(
                        "Refreshing the {provider} catalog failed, using version {}: {err}",
                        catalog.version
                    );
                    return Ok(Some(catalog));
                }
                drop(slots);
                match self.load_disk_copy(provider) {
                    Some(catalog) => {
                        tracing::warn!(
                            "Loading the {provider} catalog failed, using the copy on disk (version {}): {err}",
                            catalog.version
                        );
                        let catalog = Arc::new(catalog);
                        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
                        slots.entry(provider.to_owned()).or_default().catalog =
                            Some(catalog.clone());
                        Ok(Some(catalog))
                    }
                    None => Err(err),
                }
            }
        }
    }

    fn fresh(&self, provider: &str) -> Option<Arc<ProviderCatalog>> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(provider)?;
        if slot.checked_at?.elapsed() < self.ttl { slot.catalog.clone() } else { None }
    }

    fn loaded_version(&self, provider: &str) -> Option<(String, Option<SystemTime>)> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(provider)?;
        Some((slot.catalog.as_ref()?.version.clone(), slot.modified))
    }

    async fn load_plain(&self, dir: &Path, provider: &str) -> Result<Loaded, CatalogError> {
        let path = dir.join(format!("{provider}.csv"));
        let Ok(metadata) = std::fs::metadata(&path) else { return Ok(Loaded::Missing) };
        let modified = metadata.modified().ok();
        if let Some((_, Some(loaded))) = self.loaded_version(provider)
            && Some(loaded) == modified
        {
            return Ok(Loaded::Unchanged);
        }
        let file = std::fs::File::open(&path).map_err(|e| CatalogError::Fetch {
            url: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let items = parse(file, provider)?;
        Ok(Loaded::New(ProviderCatalog::new("local".to_owned(), items), modified))
    }

    async fn load_published(&self, base: &str, provider: &str) -> Result<Loaded, CatalogError> {
        let version_bytes = self.fetch(&format!("{base}/{provider}/version")).await?;
        let version = String::from_utf8_lossy(&version_bytes).trim().to_owned();
        if self.loaded_version(provider).is_some_and(|(v, _)| v == version) {
            return Ok(Loaded::Unchanged);
        }
        let zip = self.fetch(&format!("{base}/{provider}/{version}/catalog.zip")).await?;
        let csv = unzip(&zip, provider)?;
        let items = parse(csv.as_slice(), provider)?;
        self.save_disk_copy(provider, &version, &csv);
        tracing::info!("Loaded the {provider} catalog {version} ({} items)", items.len());
        Ok(Loaded::New(ProviderCatalog::new(version, items), None))
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, CatalogError> {
        let failed = |reason: String| CatalogError::Fetch { url: url.to_owned(), reason };
        if url.starts_with("http://") || url.starts_with("https://") {
            let response = self.http.get(url).send().await.map_err(|e| failed(e.to_string()))?;
            if !response.status().is_success() {
                return Err(failed(format!("HTTP {}", response.status())));
            }
            return response.bytes().await.map(|b| b.to_vec()).map_err(|e| failed(e.to_string()));
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        tokio::fs::read(path).await.map_err(|e| failed(e.to_string()))
    }

    fn disk_paths(&self, provider: &str) -> Option<(PathBuf, PathBuf)> {
        let dir = self.cache_dir.as_ref()?;
        Some((dir.join(format!("{provider}.csv")), dir.join(format!("{provider}.version"))))
    }

    fn save_disk_copy(&self, provider: &str, version: &str, csv: &[u8]) {
        let Some((csv_path, version_path)) = self.disk_paths(provider) else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(csv_path.parent().unwrap_or(Path::new(".")))?;
            let temporary = csv_path.with_extension("csv.tmp");
            std::fs::write(&temporary, csv)?;
            std::fs::rename(&temporary, &csv_path)?;
            std::fs::write(&version_path, version)
        };
        if let Err(err) = write() {
            tracing::warn!("Cannot keep a copy of the {provider} catalog on disk: {err}");
        }
    }

    fn load_disk_copy(&self, provider: &str) -> Option<ProviderCatalog> {
        let (csv_path, version_path) = self.disk_paths(provider)?;
        let version = std::fs::read_to_string(version_path).ok()?.trim().to_owned();
        let file = std::fs::File::open(csv_path).ok()?;
        let items = parse(file, provider).ok()?;
        Some(ProviderCatalog::new(version, items))
    }
}

enum Loaded {
    Unchanged,
    New(ProviderCatalog, Option<SystemTime>),
    Missing,
}

fn parse(reader: impl Read, provider: &str) -> Result<Vec<CatalogItem>, CatalogError> {
    storage::load(reader, provider)
        .map_err(|e| CatalogError::Invalid { provider: provider.to_owned(), reason: e.to_string() })
}

fn unzip(bytes: &[u8], provider: &str) -> Result<Vec<u8>, CatalogError> {
    let invalid = |reason: String| CatalogError::Invalid { provider: provider.to_owned(), reason };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| invalid(e.to_string()))?;
    let mut file = archive
        .by_name(&format!("{provider}.csv"))
        .map_err(|e| invalid(format!("{provider}.csv: {e}")))?;
    let mut csv = Vec::new();
    file.read_to_end(&mut csv).map_err(|e| invalid(e.to_string()))?;
    Ok(csv)
}

/// Python's `heapq.merge(*lists, key=price)`: repeatedly takes the cheapest head, earlier
/// lists first on ties. Each provider's own order is kept; the result is sorted only when
/// every list is.
pub fn merge_by_price(lists: Vec<Vec<Arc<CatalogItem>>>) -> Vec<Arc<CatalogItem>> {
    let total = lists.iter().map(Vec::len).sum();
    let mut iters: Vec<std::iter::Peekable<std::vec::IntoIter<Arc<CatalogItem>>>> =
        lists.into_iter().map(|l| l.into_iter().peekable()).collect();
    let mut merged = Vec::with_capacity(total);
    loop {
        let mut best: Option<(usize, f64)> = None;
        for (i, iter) in iters.iter_mut().enumerate() {
            if let Some(item) = iter.peek()
                && best.is_none_or(|(_, price)| item.price < price)
            {
                best = Some((i, item.price));
            }
        }
        match best {
            Some((i, _)) => merged.extend(iters[i].next()),
            None => return merged,
        }
    }
}
