//! A stateful fake of DigitalOcean's API v2 — and so of AMD Developer Cloud's, the same API at
//! another host — on [`crate::FakeApi`]: the account, projects, SSH keys, sizes and droplets.
//!
//! Its shapes are those of DigitalOcean's published OpenAPI description
//! (`github.com/digitalocean/openapi`, trimmed to the operations dstack uses:
//! `digitalocean/digitalocean.v2.trimmed.json` of the shared API specs), and every request the
//! backend makes and every answer the fake gives is held to it ([`crate::openapi::Spec`]):
//! Bearer tokens, errors as `{"id", "message"}`, pages of at most 200 items with
//! `links.pages.next` and `meta.total`. GPU sizes follow DigitalOcean's GPU droplet plans
//! (`gpu_info`, `boot` and `scratch` disks), as gpuhunt's provider reads them.
//!
//! ```ignore
//! let fake = fakes::digitalocean::start(&["dop_v1_key"], fakes::digitalocean::sizes()).await;
//! context.endpoints.set(BackendType::Digitalocean, fake.url());
//! fake.fail_next_create("Size is not available in this region.");
//! assert_eq!(fake.live(), Vec::<String>::new());
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::openapi::Spec;
use crate::{FakeApi, Recorded, Reply};

/// DigitalOcean's description, as [`Spec::load`] takes it.
pub const SPEC: (&str, &str) = ("digitalocean", "digitalocean.v2.trimmed.json");

/// The most items DigitalOcean puts on a page (`per_page` is at most 200).
const MAX_PER_PAGE: usize = 200;
const CREATED_AT: &str = "2025-06-02T10:00:00Z";

/// A DigitalOcean size (droplet plan), written out in the API's shape by [`Size::to_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct Size {
    pub slug: String,
    pub vcpus: u32,
    /// MB (a multiple of 8).
    pub memory_mb: u64,
    pub price_hourly: f64,
    /// Where it can be created now; empty: nowhere.
    pub regions: Vec<String>,
    /// `(type, GiB)`: `local`, `boot` or `scratch`.
    pub disks: Vec<(String, u64)>,
    /// `(count, model, VRAM GiB)`, with DigitalOcean's model names (`nvidia_h100`).
    pub gpu: Option<(u32, String, u64)>,
    pub description: String,
}

impl Size {
    /// A CPU size with one local disk.
    pub fn cpu(
        slug: &str,
        vcpus: u32,
        memory_mb: u64,
        price: f64,
        disk: u64,
        regions: &[&str],
    ) -> Self {
        Size {
            slug: slug.to_owned(),
            vcpus,
            memory_mb,
            price_hourly: price,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            disks: vec![("local".to_owned(), disk)],
            gpu: None,
            description: "Basic".to_owned(),
        }
    }

    /// A GPU size with `(count, model, VRAM GiB)` GPUs, as DigitalOcean's H100 and MI300X
    /// plans are: 20 vCPUs and 240 GiB per GPU, a 720 GiB boot disk (2046 GiB with 8 GPUs)
    /// and 5 TiB of scratch per GPU.
    pub fn gpu(slug: &str, gpu: (u32, &str, u64), price: f64, regions: &[&str]) -> Self {
        let (count, model, vram) = gpu;
        let boot = if count >= 8 { 2046 } else { 720 };
        Size {
            gpu: Some((count, model.to_owned(), vram)),
            description: "GPU Droplet".to_owned(),
            ..Size::cpu(slug, 20 * count, 245_760 * u64::from(count), price, 0, regions)
        }
        .with_disks(boot, 5120 * u64::from(count))
    }

    /// The same size with `cpus` vCPUs and `memory_mb` of memory.
    pub fn with_cpu(mut self, vcpus: u32, memory_mb: u64) -> Self {
        (self.vcpus, self.memory_mb) = (vcpus, memory_mb);
        self
    }

    /// The same size with a `boot` and a `scratch` disk, in GiB (a scratch of 0 is none).
    pub fn with_disks(mut self, boot: u64, scratch: u64) -> Self {
        self.disks = [("boot", boot), ("scratch", scratch)]
            .into_iter()
            .filter(|(_, gib)| *gib > 0)
            .map(|(kind, gib)| (kind.to_owned(), gib))
            .collect();
        self
    }

    /// The size as `GET /v2/sizes` lists it (and droplets embed it).
    pub fn to_json(&self) -> Value {
        let disk: u64 = self.disks.iter().filter(|(t, _)| t != "scratch").map(|(_, s)| s).sum();
        let mut size = json!({
            "slug": self.slug,
            "memory": self.memory_mb,
            "vcpus": self.vcpus,
            "disk": disk,
            "transfer": if self.gpu.is_some() { 15.0 } else { 4.0 },
            "price_monthly": (self.price_hourly * 672.0 * 100.0).round() / 100.0,
            "price_hourly": self.price_hourly,
            "regions": self.regions,
            "available": !self.regions.is_empty(),
            "description": self.description,
            "disk_info": self.disks.iter().map(|(kind, gib)| {
                json!({"type": kind, "size": {"amount": gib, "unit": "gib"}})
            }).collect::<Vec<_>>(),
        });
        if let Some((count, model, vram)) = &self.gpu {
            size["gpu_info"] =
                json!({"count": count, "vram": {"amount": vram, "unit": "gib"}, "model": model});
        }
        size
    }
}

/// Sizes of DigitalOcean's catalog, as its GPU droplet and basic plans describe them: CPU
/// sizes, 1- and 8-GPU H100 sizes, an RTX 4000 Ada, an MI300X (AMD Developer Cloud's), a
/// size of a GPU model gpuhunt does not know, and one available nowhere.
pub fn sizes() -> Vec<Size> {
    let rtx = (1, "nvidia_rtx_4000_ada", 20);
    vec![
        Size::cpu("s-1vcpu-1gb", 1, 1024, 0.00893, 25, &["nyc1", "nyc3", "ams3"]),
        Size::cpu("s-4vcpu-8gb", 4, 8192, 0.07143, 160, &["nyc3", "ams3", "tor1"]),
        Size::cpu("s-8vcpu-16gb", 8, 16384, 0.14286, 320, &[]),
        Size::gpu("gpu-4000adax1-20gb", rtx, 0.76, &["tor1", "atl1"])
            .with_cpu(8, 32768)
            .with_disks(500, 0),
        Size::gpu("gpu-h100x1-80gb", (1, "nvidia_h100", 80), 3.39, &["nyc2", "tor1", "atl1"]),
        Size::gpu("gpu-h100x8-640gb", (8, "nvidia_h100", 80), 23.92, &["nyc2", "tor1"]),
        Size::gpu("gpu-mi300x1-192gb", (1, "amd_mi300x", 192), 1.99, &["atl1"]),
        Size::gpu("gpu-b999x1-99gb", (1, "nvidia_b999", 99), 9.99, &["nyc2"]),
    ]
}

#[derive(Debug, Clone)]
struct Droplet {
    id: u64,
    name: String,
    region: String,
    size: Value,
    image: Value,
    /// Polls (`GET`) left before it is active.
    boots_in: u32,
    /// Never becomes active (no address).
    stalls: bool,
    /// Archived at its first poll (it failed to start).
    fails: bool,
    polled: u32,
}

#[derive(Debug, Default)]
struct State {
    base_url: String,
    projects: Vec<(String, String)>,
    /// `(id, name, public key)`.
    keys: Vec<(u64, String, String)>,
    droplets: BTreeMap<u64, Droplet>,
    sizes: Vec<Size>,
    next_id: u64,
    create_failures: Vec<String>,
    boot_polls: u32,
    stall: bool,
    fail_next: bool,
}

/// A running fake of DigitalOcean's API; stopped when dropped.
#[derive(Debug)]
pub struct FakeDigitalOcean {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn error(status: u16, id: &str, message: &str) -> Reply {
    Reply::status(
        status,
        json!({"id": id, "message": message, "request_id": "4d9d8375-3c56-4925-a3e7-eb137fed17e9"}),
    )
}

fn not_found() -> Reply {
    error(404, "not_found", "The resource you were accessing could not be found.")
}

/// `name=value` of a query string.
fn query_value(request: &Recorded, name: &str) -> Option<usize> {
    request.query.as_deref()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}

/// One page of `items` under `key`, as DigitalOcean pages listings.
fn page(state: &State, request: &Recorded, key: &str, items: Vec<Value>) -> Reply {
    let per_page = query_value(request, "per_page").unwrap_or(20).clamp(1, MAX_PER_PAGE);
    let page = query_value(request, "page").unwrap_or(1).max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    let link =
        |n: usize| format!("{}{}?page={n}&per_page={per_page}", state.base_url, request.path);
    let mut pages = serde_json::Map::new();
    if page > 1 {
        pages.insert("first".into(), json!(link(1)));
        pages.insert("prev".into(), json!(link(page - 1)));
    }
    if page < last {
        pages.insert("last".into(), json!(link(last)));
        pages.insert("next".into(), json!(link(page + 1)));
    }
    Reply::json(json!({key: shown, "links": {"pages": pages}, "meta": {"total": total}}))
}

fn project_json((id, name): &(String, String)) -> Value {
    let default = name == "Default";
    json!({
        "id": id, "owner_uuid": "99525febec065ca37b2ffe4f852fd2b2581895e7", "owner_id": 258992,
        "name": name, "description": "", "purpose": "Machine learning", "environment": "Development",
        "is_default": default, "created_at": CREATED_AT, "updated_at": CREATED_AT,
    })
}

/// Not an MD5 of the key as DigitalOcean's is: a stable colon-separated digest of its text.
fn fingerprint(public_key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut bytes = Vec::new();
    for seed in 0..2u8 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (seed, public_key.trim()).hash(&mut hasher);
        bytes.extend(hasher.finish().to_be_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn key_json((id, name, public_key): &(u64, String, String)) -> Value {
    json!({"id": id, "fingerprint": fingerprint(public_key), "public_key": public_key, "name": name})
}

fn droplet_json(droplet: &Droplet) -> Value {
    let active = !droplet.stalls && !droplet.fails && droplet.polled > droplet.boots_in;
    let status = match () {
        _ if droplet.fails && droplet.polled > 0 => "archive",
        _ if active => "active",
        _ => "new",
    };
    let n = droplet.id % 250 + 2;
    let v4 = if status == "active" {
        json!([
            {"ip_address": format!("10.108.0.{n}"), "netmask": "255.255.240.0", "gateway": "10.108.0.1", "type": "private"},
            {"ip_address": format!("203.0.113.{n}"), "netmask": "255.255.255.0", "gateway": "203.0.113.1", "type": "public"},
        ])
    } else {
        json!([])
    };
    let size = &droplet.size;
    json!({
        "id": droplet.id, "name": droplet.name, "memory": size["memory"], "vcpus": size["vcpus"],
        "disk": size["disk"], "disk_info": size["disk_info"], "locked": false, "status": status,
        "kernel": null, "created_at": CREATED_AT, "features": ["droplet_agent", "private_networking"],
        "backup_ids": [], "next_backup_window": null, "snapshot_ids": [], "image": droplet.image,
        "volume_ids": [], "size": size, "size_slug": size["slug"], "networks": {"v4": v4, "v6": []},
        "region": {"name": droplet.region.to_uppercase(), "slug": droplet.region, "features": ["backups", "ipv6", "metadata"], "available": true, "sizes": [size["slug"]]},
        "tags": [], "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000",
    })
}

fn image_json(slug: &str) -> Value {
    json!({
        "id": 7555620, "name": slug, "type": "base", "distribution": "Ubuntu", "slug": slug,
        "public": true, "regions": [], "created_at": CREATED_AT, "min_disk_size": 20,
        "size_gigabytes": 2.36, "tags": [], "status": "available",
    })
}

fn create_droplet(state: &mut State, request: &Recorded) -> Reply {
    if let Some(message) = state.create_failures.pop() {
        return error(422, "unprocessable_entity", &message);
    }
    let body = &request.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (name, region, slug) = (text("name"), text("region"), text("size"));
    let Some(size) = state.sizes.iter().find(|s| s.slug == slug) else {
        return error(
            422,
            "unprocessable_entity",
            "You specified an invalid size for Droplet creation.",
        );
    };
    if !size.regions.contains(&region) {
        return error(422, "unprocessable_entity", "Size is not available in this region.");
    }
    for key in body.get("ssh_keys").and_then(Value::as_array).into_iter().flatten() {
        if !state.keys.iter().any(|(id, _, _)| key.as_u64() == Some(*id)) {
            return error(422, "unprocessable_entity", "You specified an invalid SSH key ID.");
        }
    }
    if let Some(project) = body.get("project_id").and_then(Value::as_str)
        && !state.projects.iter().any(|(id, _)| id == project)
    {
        return error(422, "unprocessable_entity", "You specified an invalid project ID.");
    }
    state.next_id += 1;
    let droplet = Droplet {
        id: state.next_id,
        name,
        region,
        size: size.to_json(),
        image: image_json(&text("image")),
        boots_in: state.boot_polls,
        stalls: state.stall,
        fails: std::mem::take(&mut state.fail_next),
        polled: 0,
    };
    let answer = json!({
        "droplet": droplet_json(&droplet),
        "links": {"actions": [{"id": 7515 + droplet.id, "rel": "create", "href": format!("{}/v2/actions/{}", state.base_url, 7515 + droplet.id)}]},
    });
    state.droplets.insert(droplet.id, droplet);
    Reply::status(202, answer)
}

fn create_key(state: &mut State, request: &Recorded) -> Reply {
    let text =
        |key: &str| request.body.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (name, public_key) = (text("name"), text("public_key"));
    let parts: Vec<&str> = public_key.split_whitespace().collect();
    if parts.len() < 2 || !(parts[0].starts_with("ssh-") || parts[0].starts_with("ecdsa-")) {
        return error(
            422,
            "unprocessable_entity",
            "Key invalid, key should be of the format `type key [comment]`",
        );
    }
    if state.keys.iter().any(|(_, _, k)| k.trim() == public_key.trim()) {
        return error(422, "unprocessable_entity", "SSH Key is already in use on your account");
    }
    state.next_id += 1;
    let key = (state.next_id + 512_000, name, public_key);
    let answer = json!({"ssh_key": key_json(&key)});
    state.keys.push(key);
    Reply::status(201, answer)
}

fn account() -> Value {
    json!({"account": {
        "droplet_limit": 25, "floating_ip_limit": 5, "email": "sammy@digitalocean.com",
        "name": "Sammy the Shark", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
        "email_verified": true, "status": "active", "status_message": "",
        "team": {"uuid": "5df3e3004a17e242b7c20ca6c9fc25b701a47ece", "name": "My Team"},
    }})
}

fn droplet_id(request: &Recorded) -> Option<u64> {
    request.params.get("droplet_id")?.parse().ok()
}

/// Starts a fake accepting `tokens` (as `Authorization: Bearer <token>`) and listing `sizes`.
/// The account has its `Default` project; droplets are active, with a public IPv4, from the
/// second poll on.
pub async fn start(tokens: &[&str], sizes: Vec<Size>) -> FakeDigitalOcean {
    let spec = Spec::load(SPEC.0, SPEC.1);
    let state = Arc::new(Mutex::new(State {
        projects: vec![("addb4547-6bab-419a-8542-76263a033cf6".to_owned(), "Default".to_owned())],
        sizes,
        next_id: 3_164_000,
        boot_polls: 1,
        ..State::default()
    }));
    let mut builder = FakeApi::builder().openapi(spec).unauthorized(error(
        401,
        "Unauthorized",
        "Unable to authenticate you",
    ));
    for token in tokens {
        builder = builder.bearer(token);
    }
    type Handler = fn(&mut State, &Recorded) -> Reply;
    let routes: [(&str, &str, Handler); 8] = [
        ("GET", "/v2/account", |_, _| Reply::json(account())),
        ("GET", "/v2/projects", |state, r| {
            page(state, r, "projects", state.projects.iter().map(project_json).collect())
        }),
        ("GET", "/v2/account/keys", |state, r| {
            page(state, r, "ssh_keys", state.keys.iter().map(key_json).collect())
        }),
        ("POST", "/v2/account/keys", create_key),
        ("GET", "/v2/sizes", |state, r| {
            page(state, r, "sizes", state.sizes.iter().map(Size::to_json).collect())
        }),
        ("POST", "/v2/droplets", create_droplet),
        ("GET", "/v2/droplets/{droplet_id}", |state, r| {
            match droplet_id(r).and_then(|id| state.droplets.get_mut(&id)) {
                Some(droplet) => {
                    droplet.polled += 1;
                    Reply::json(json!({"droplet": droplet_json(droplet)}))
                }
                None => not_found(),
            }
        }),
        ("DELETE", "/v2/droplets/{droplet_id}", |state, r| {
            match droplet_id(r).and_then(|id| state.droplets.remove(&id)) {
                Some(_) => Reply::status(204, Value::Null),
                None => not_found(),
            }
        }),
    ];
    for (method, path, handler) in routes {
        let state = state.clone();
        builder = builder.route(method, path, move |r| handler(&mut lock(&state), r));
    }
    let api = builder.start().await;
    lock(&state).base_url = api.url().to_owned();
    FakeDigitalOcean { api, state }
}

impl FakeDigitalOcean {
    /// The base URL: what `DSTACK_DIGITALOCEAN_API_URL` (or `DSTACK_AMDDEVCLOUD_API_URL`)
    /// takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Requests and answers that do not fit DigitalOcean's description
    /// ([`FakeApi::violations`]). A test ends with
    /// `assert_eq!(fake.violations(), Vec::<String>::new())`.
    pub fn violations(&self) -> Vec<String> {
        self.api.violations()
    }

    /// The droplets that exist: `droplet <id> <name>`.
    pub fn live(&self) -> Vec<String> {
        self.state().droplets.values().map(|d| format!("droplet {} {}", d.id, d.name)).collect()
    }

    /// The account's SSH keys: `<name>: <public key>`.
    pub fn ssh_keys(&self) -> Vec<String> {
        self.state().keys.iter().map(|(_, name, key)| format!("{name}: {key}")).collect()
    }

    /// Adds a project; returns its ID.
    pub fn add_project(&self, name: &str) -> String {
        let mut state = self.state();
        let id = format!("4e1bfbc3-dc3e-41f2-a18f-{:012x}", state.projects.len() + 1);
        state.projects.push((id.clone(), name.to_owned()));
        id
    }

    /// Removes the project named `name`.
    pub fn remove_project(&self, name: &str) {
        self.state().projects.retain(|(_, n)| n != name);
    }

    /// Registers an SSH key, as if made in DigitalOcean's console; returns its ID.
    pub fn add_ssh_key(&self, name: &str, public_key: &str) -> u64 {
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id + 512_000;
        state.keys.push((id, name.to_owned(), public_key.to_owned()));
        id
    }

    /// The next droplet create answers 422 with `message` (DigitalOcean's answer when a size
    /// cannot be had in the region).
    pub fn fail_next_create(&self, message: &str) {
        self.state().create_failures.push(message.to_owned());
    }

    /// New droplets are active after `polls` more `GET`s (default 1).
    pub fn boot_after(&self, polls: u32) {
        self.state().boot_polls = polls;
    }

    /// New droplets never become active (they never get an address).
    pub fn stall_droplets(&self, stall: bool) {
        self.state().stall = stall;
    }

    /// The next droplet fails to start: it is archived at its first poll.
    pub fn fail_next_droplet(&self) {
        self.state().fail_next = true;
    }
}
