//! Catalogs served the way gpuhunt publishes them, from a loopback HTTP server and from
//! directories the tests fill.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use dstack_catalog::storage::dump;
use dstack_catalog::{Catalog, CatalogError, CatalogItem, OnlineProvider, QueryFilter, Source};
use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};

fn item(provider: &str, name: &str, price: f64, gpu: Option<(&str, u32, f64)>) -> CatalogItem {
    CatalogItem {
        provider: provider.into(),
        instance_name: name.into(),
        location: "us-east-1".into(),
        price,
        cpu: 8,
        memory: 64.0,
        gpu_count: gpu.map_or(0, |g| g.1),
        gpu_name: gpu.map(|g| g.0.to_owned()),
        gpu_memory: gpu.map(|g| g.2),
        spot: false,
        disk_size: None,
        gpu_vendor: gpu.map(|_| AcceleratorVendor::Nvidia),
        flags: vec![],
        cpu_arch: CpuArchitecture::X86,
        provider_data: "{}".into(),
    }
}

fn csv(items: &[CatalogItem]) -> Vec<u8> {
    let mut out = Vec::new();
    dump(items, &mut out).unwrap();
    out
}

fn zipped(provider: &str, items: &[CatalogItem]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    zip.start_file(format!("{provider}.csv"), zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&csv(items)).unwrap();
    zip.finish().unwrap();
    buffer.into_inner()
}

/// provider → (version, zip)
type Published = std::collections::HashMap<String, (String, Vec<u8>)>;

/// Published catalogs. Counts requests; can be switched off.
#[derive(Clone, Default)]
struct Bucket {
    catalogs: Arc<Mutex<Published>>,
    version_requests: Arc<AtomicUsize>,
    zip_requests: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Bucket {
    fn publish(&self, provider: &str, version: &str, items: &[CatalogItem]) {
        self.catalogs
            .lock()
            .unwrap()
            .insert(provider.into(), (version.into(), zipped(provider, items)));
    }
}

async fn serve(bucket: Bucket) -> String {
    async fn version(State(b): State<Bucket>, Path(p): Path<String>) -> (StatusCode, Vec<u8>) {
        b.version_requests.fetch_add(1, Ordering::SeqCst);
        if b.down.load(Ordering::SeqCst) {
            return (StatusCode::SERVICE_UNAVAILABLE, vec![]);
        }
        match b.catalogs.lock().unwrap().get(&p) {
            Some((v, _)) => (StatusCode::OK, format!("{v}\n").into_bytes()),
            None => (StatusCode::NOT_FOUND, vec![]),
        }
    }
    async fn archive(
        State(b): State<Bucket>,
        Path((p, v)): Path<(String, String)>,
    ) -> (StatusCode, Vec<u8>) {
        b.zip_requests.fetch_add(1, Ordering::SeqCst);
        match b.catalogs.lock().unwrap().get(&p) {
            Some((version, zip)) if *version == v => (StatusCode::OK, zip.clone()),
            _ => (StatusCode::NOT_FOUND, vec![]),
        }
    }
    let app = Router::new()
        .route("/v3/{provider}/version", get(version))
        .route("/v3/{provider}/{version}/catalog.zip", get(archive))
        .with_state(bucket);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v3")
}

fn only(provider: &str) -> QueryFilter {
    QueryFilter { provider: Some(vec![provider.into()]), ..Default::default() }
}

fn names(items: &[Arc<CatalogItem>]) -> Vec<&str> {
    items.iter().map(|i| i.instance_name.as_str()).collect()
}

#[tokio::test]
async fn loads_the_latest_version_and_filters() {
    let bucket = Bucket::default();
    bucket.publish(
        "aws",
        "20261101",
        &[
            item("aws", "c5.large", 0.085, None),
            item("aws", "g5.xlarge", 1.006, Some(("A10G", 1, 24.0))),
            item("aws", "p4d.24xlarge", 32.77, Some(("A100", 8, 40.0))),
        ],
    );
    bucket.publish(
        "lambdalabs",
        "20261102",
        &[item("lambdalabs", "gpu_1x_a100", 1.29, Some(("A100", 1, 40.0)))],
    );
    let catalog = Catalog::new(Source::Published(serve(bucket.clone()).await), None);

    let a100 = QueryFilter { gpu_name: Some(vec!["a100".into()]), ..Default::default() };
    assert_eq!(names(&catalog.query(&a100).await), ["gpu_1x_a100", "p4d.24xlarge"]);
    let aws = catalog.provider_catalog("aws").await.unwrap().unwrap();
    assert_eq!(aws.version, "20261101");
    let cheap = QueryFilter { max_price: Some(1.5), ..only("aws") };
    assert_eq!(names(&catalog.query(&cheap).await), ["c5.large", "g5.xlarge"]);
    // A provider with no published catalog contributes nothing.
    assert!(catalog.query(&only("azure")).await.is_empty());
}

#[tokio::test]
async fn caches_within_the_ttl_and_reloads_only_new_versions() {
    let bucket = Bucket::default();
    bucket.publish("aws", "1", &[item("aws", "old", 1.0, None)]);
    let catalog = Catalog::new(Source::Published(serve(bucket.clone()).await), None)
        .with_ttl(Duration::from_millis(200));
    assert_eq!(names(&catalog.query(&only("aws")).await), ["old"]);
    catalog.query(&only("aws")).await;
    assert_eq!(bucket.version_requests.load(Ordering::SeqCst), 1, "cached within the TTL");

    tokio::time::sleep(Duration::from_millis(250)).await;
    catalog.query(&only("aws")).await;
    assert_eq!(bucket.version_requests.load(Ordering::SeqCst), 2);
    assert_eq!(bucket.zip_requests.load(Ordering::SeqCst), 1, "same version: not downloaded again");

    bucket.publish("aws", "2", &[item("aws", "new", 1.0, None)]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(names(&catalog.query(&only("aws")).await), ["new"]);
    assert_eq!(bucket.zip_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_copy_in_memory_and_on_disk() {
    let bucket = Bucket::default();
    bucket.publish("aws", "7", &[item("aws", "kept", 1.0, None)]);
    let cache = tempfile::tempdir().unwrap();
    let url = serve(bucket.clone()).await;
    let catalog = Catalog::new(Source::Published(url.clone()), Some(cache.path().to_owned()))
        .with_ttl(Duration::from_millis(100));
    assert_eq!(names(&catalog.query(&only("aws")).await), ["kept"]);
    assert!(cache.path().join("aws.csv").exists());

    bucket.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(names(&catalog.query(&only("aws")).await), ["kept"], "memory copy");

    // A server restarted without internet still offers what it knew.
    let restarted = Catalog::new(Source::Published(url), Some(cache.path().to_owned()));
    assert_eq!(names(&restarted.query(&only("aws")).await), ["kept"], "disk copy");
    assert_eq!(restarted.provider_catalog("aws").await.unwrap().unwrap().version, "7");

    // Without a disk copy the error says what failed.
    let empty = tempfile::tempdir().unwrap();
    let nothing = Catalog::new(
        Source::Published("http://127.0.0.1:9/v3".into()),
        Some(empty.path().to_owned()),
    );
    let err = nothing.provider_catalog("aws").await.unwrap_err();
    assert!(matches!(err, CatalogError::Fetch { .. }), "{err}");
    assert!(nothing.query(&only("aws")).await.is_empty());
}

#[tokio::test]
async fn local_directories_in_both_layouts() {
    // The published layout in a directory.
    let published = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(published.path().join("verda/v1")).unwrap();
    std::fs::write(published.path().join("verda/version"), "v1\n").unwrap();
    std::fs::write(
        published.path().join("verda/v1/catalog.zip"),
        zipped("verda", &[item("verda", "1H100.80S.30V", 2.19, Some(("H100", 1, 80.0)))]),
    )
    .unwrap();
    let catalog = Catalog::new(Source::Published(published.path().display().to_string()), None);
    assert_eq!(names(&catalog.query(&only("verda")).await), ["1H100.80S.30V"]);

    // Plain `{provider}.csv` files, re-read when they change.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("runpod.csv"), csv(&[item("runpod", "first", 0.5, None)]))
        .unwrap();
    let catalog = Catalog::new(Source::PlainDirectory(plain.path().to_owned()), None)
        .with_ttl(Duration::ZERO);
    assert_eq!(names(&catalog.query(&only("runpod")).await), ["first"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(plain.path().join("runpod.csv"), csv(&[item("runpod", "second", 0.5, None)]))
        .unwrap();
    assert_eq!(names(&catalog.query(&only("runpod")).await), ["second"]);
}

#[derive(Debug)]
struct Live;

#[async_trait]
impl OnlineProvider for Live {
    fn name(&self) -> &str {
        "vastai"
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        Ok(vec![
            item("vastai", "cheap-4090", 0.3, Some(("RTX4090", 1, 24.0))),
            item("vastai", "a100-box", 0.9, Some(("A100", 1, 80.0))),
        ])
    }
}

#[tokio::test]
async fn online_providers_plug_in_and_are_merged_by_price() {
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(
        plain.path().join("aws.csv"),
        csv(&[
            item("aws", "aws-a", 0.5, Some(("A100", 1, 80.0))),
            item("aws", "aws-b", 2.0, Some(("A100", 1, 80.0))),
        ]),
    )
    .unwrap();
    let mut catalog = Catalog::new(Source::PlainDirectory(plain.path().to_owned()), None);
    catalog.add_online_provider(Arc::new(Live));
    let a100 = QueryFilter { gpu_name: Some(vec!["A100".into()]), ..Default::default() };
    assert_eq!(names(&catalog.query(&a100).await), ["aws-a", "a100-box", "aws-b"]);
    let live_only = QueryFilter { provider: Some(vec!["VastAI".into()]), ..Default::default() };
    assert_eq!(names(&catalog.query(&live_only).await), ["cheap-4090", "a100-box"]);
}

/// A backend's private live provider, as dstack 0.22.5 builds one per Daytona backend.
#[derive(Debug)]
struct Daytona;

#[async_trait]
impl OnlineProvider for Daytona {
    fn name(&self) -> &str {
        "daytona"
    }

    async fn items(&self, _filter: &QueryFilter) -> Result<Vec<CatalogItem>, CatalogError> {
        Ok(vec![
            item("daytona", "1x-GB300-16cpu-192gb-512gb", 9.0, Some(("GB300", 1, 270.0))),
            item("daytona", "1cpu-1gb-3gb", 0.01, None),
        ])
    }
}

#[tokio::test]
async fn gpuhunt_0_1_34_providers_and_gb300_are_known() {
    use dstack_catalog::catalog::{OFFLINE_PROVIDERS, ONLINE_PROVIDERS};
    assert_eq!(
        ONLINE_PROVIDERS,
        [
            "crusoe",
            "daytona",
            "digitalocean",
            "hotaisle",
            "jarvislabs",
            "lium",
            "seeweb",
            "vastai",
            "vultr"
        ]
    );
    assert!(OFFLINE_PROVIDERS.iter().all(|p| !ONLINE_PROVIDERS.contains(p)));
    let empty = tempfile::tempdir().unwrap();
    let mut catalog = Catalog::new(Source::PlainDirectory(empty.path().to_owned()), None);
    catalog.add_online_provider(Arc::new(Daytona));
    // GB300's compute capability (10.0) comes from gpuhunt's table, new in 0.1.34.
    let blackwell = QueryFilter {
        provider: Some(vec!["daytona".into()]),
        min_compute_capability: Some((10, 0)),
        ..Default::default()
    };
    assert_eq!(names(&catalog.query(&blackwell).await), ["1x-GB300-16cpu-192gb-512gb"]);
    let cpu_only = QueryFilter { max_gpu_count: Some(0), ..Default::default() };
    assert_eq!(names(&catalog.query(&cpu_only).await), ["1cpu-1gb-3gb"]);
}
