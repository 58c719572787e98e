//! A stateful fake of Vultr's API v2 (`https://api.vultr.com/v2`) on [`crate::FakeApi`]: plans,
//! bare-metal plans, regions and their availability, SSH keys, VPCs, instances and bare-metal
//! machines, created, listed and deleted as Vultr does.
//!
//! Its shapes are those of Vultr's published OpenAPI description (`vultr/openapi.json` of the
//! shared API specs, paths below `/v2`), and every request the backend makes and every answer
//! the fake gives is held to it ([`crate::openapi::Spec`]): Bearer keys, errors as
//! `{"error": "...", "status": N}`, lists with `meta.total` and `meta.links.next` cursors (at
//! most 500 items a page). Plan fields the description predates (`hourly_cost`, `gpu_type`,
//! `gpu_vram_gb`, `deploy_ondemand`, the `vdm` type) and the `plans_metal` / `bare_metal`
//! keys are as gpuhunt 0.1.34 and dstack 0.22.5 read them (dstack's `test_compute.py`).
//! One difference: the fake asks for a key on every call, also on those the description
//! marks public (`security: []`: plans, regions), as [`crate::FakeApi`] has one credential rule.
//!
//! ```ignore
//! let fake = fakes::vultr::start(&["KEY"], fakes::vultr::plans(), fakes::vultr::VDM).await;
//! context.endpoints.set(BackendType::Vultr, fake.url());
//! fake.fail_next_create("Plan is not available in the selected region.");
//! assert_eq!(fake.live(), Vec::<String>::new());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::openapi::Spec;
use crate::{FakeApi, Recorded, Reply};

mod plans;
use plans::strings;
pub use plans::{Plan, Size, plans};

/// Vultr's description, as [`Spec::load`] takes it.
pub const SPEC: (&str, &str) = ("vultr", "openapi.json");
/// The path Vultr's base URL ends with.
pub const PREFIX: &str = "/v2";
/// Region → the VDM plans available there (`GET /regions/{r}/availability?type=vdm`).
pub const VDM: &[(&str, &[&str])] = &[("ewr", &["vcg-a40-24c-120g-48vram"]), ("fra", &[])];
const CREATED_AT: &str = "2025-06-02T10:00:00+00:00";
const MAX_PER_PAGE: usize = 500;

/// A machine the fake holds: an instance (`/instances`) or a bare-metal machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub id: String,
    pub bare_metal: bool,
    pub region: String,
    pub plan: String,
    pub label: String,
    /// As sent: base64.
    pub user_data: String,
    pub os_id: Option<i64>,
    pub image_id: Option<String>,
    pub vpcs: Vec<String>,
    /// `pending`, `active`, `failed`.
    pub status: String,
    pub main_ip: String,
    pub internal_ip: String,
    polls: u32,
}

/// A VPC the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Vpc {
    pub id: String,
    pub region: String,
    pub description: String,
    pub subnet: String,
    pub mask: u32,
}

#[derive(Debug, Default)]
struct State {
    machines: BTreeMap<String, Machine>,
    vpcs: BTreeMap<String, Vpc>,
    counter: u32,
    create_errors: Vec<(u16, String)>,
    answer_500_after_create: bool,
    never_ready: bool,
    fail_new: bool,
    polls_before_active: u32,
}

impl State {
    fn id(&mut self) -> (u32, String) {
        self.counter += 1;
        (self.counter, format!("cb676a46-66fd-4dfb-b839-{:012x}", self.counter))
    }
}

#[derive(Debug)]
struct World {
    plans: Vec<Plan>,
    regions: Vec<String>,
    vdm: BTreeMap<String, Vec<String>>,
    state: Mutex<State>,
    /// The most items a page holds (Vultr's: 500).
    max_per_page: AtomicUsize,
}

impl World {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running fake.
#[derive(Debug)]
pub struct FakeVultr {
    pub api: FakeApi,
    world: Arc<World>,
}

fn error(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"error": message, "status": status}))
}

fn query<'a>(request: &'a Recorded, name: &str) -> Option<&'a str> {
    request.query.as_deref()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// One page of `items` under `key`, as Vultr pages: `per_page` (default 100, at most 500)
/// from the `cursor`, with the next page's cursor in `meta.links.next`.
fn page(world: &World, request: &Recorded, key: &str, items: Vec<Value>) -> Reply {
    let per_page = query(request, "per_page").and_then(|n| n.parse().ok()).unwrap_or(100);
    let per_page = usize::clamp(per_page, 1, world.max_per_page.load(Ordering::Relaxed).max(1));
    let from = query(request, "cursor").and_then(|c| c.strip_prefix("next__")?.parse().ok());
    let from: usize = from.unwrap_or(0).min(items.len());
    let to = (from + per_page).min(items.len());
    let next = if to < items.len() { format!("next__{to}") } else { String::new() };
    let prev = if from > 0 { format!("prev__{from}") } else { String::new() };
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(from).take(to - from).collect();
    Reply::json(
        json!({key: items, "meta": {"total": total, "links": {"next": next, "prev": prev}}}),
    )
}

fn machine_json(m: &Machine, plan: Option<&Plan>) -> Value {
    let (cpus, ram, disk) = plan.map_or((0, 0, 0), |p| (p.cpus, p.ram_mb, p.disk_gb));
    let os = if m.image_id.is_some() { "Docker on Ubuntu 22.04" } else { "Ubuntu 22.04 LTS x64" };
    let running = m.status == "active";
    if m.bare_metal {
        return json!({"id": m.id, "os": os, "ram": format!("{ram} MB"), "disk": format!("2x {disk}GB NVMe"),
            "main_ip": m.main_ip, "cpu_count": cpus / 2, "region": m.region, "default_password": "",
            "date_created": CREATED_AT, "status": m.status, "netmask_v4": "255.255.254.0",
            "gateway_v4": "192.0.2.1", "plan": m.plan, "label": m.label, "os_id": m.os_id.unwrap_or(1743),
            "app_id": 0, "image_id": m.image_id.clone().unwrap_or_default(), "v6_network": "",
            "v6_main_ip": "", "v6_network_size": 0, "mac_address": 2199756823533_i64, "tags": []});
    }
    json!({"id": m.id, "os": os, "ram": ram, "disk": disk, "main_ip": m.main_ip, "vcpu_count": cpus,
        "region": m.region, "plan": m.plan, "default_password": "", "date_created": CREATED_AT,
        "status": m.status, "power_status": if running { "running" } else { "stopped" },
        "server_status": if running { "ok" } else { "none" }, "allowed_bandwidth": 2048,
        "netmask_v4": "255.255.254.0", "gateway_v4": "192.0.2.1", "v6_networks": [],
        "hostname": m.label, "label": m.label, "tags": [], "internal_ip": m.internal_ip,
        "kvm": format!("https://my.vultr.com/subs/vps/novnc/api.php?data={}", m.id),
        "os_id": m.os_id.unwrap_or(1743), "app_id": 0, "image_id": m.image_id.clone().unwrap_or_default(),
        "firewall_group_id": "", "features": []})
}

fn vpc_json(v: &Vpc) -> Value {
    json!({"id": v.id, "date_created": CREATED_AT, "region": v.region, "description": v.description,
           "v4_subnet": v.subnet, "v4_subnet_mask": v.mask})
}

/// Starts the fake accepting `keys`, with `plans` and, per region, the VDM plans available
/// there. Its regions are those the plans name, and those of `vdm`.
pub async fn start(keys: &[&str], plans: Vec<Plan>, vdm: &[(&str, &[&str])]) -> FakeVultr {
    let mut regions: BTreeSet<String> =
        plans.iter().flat_map(|p| p.locations.iter().filter(|l| !l.is_empty()).cloned()).collect();
    regions.extend(vdm.iter().map(|(r, _)| (*r).to_owned()));
    let world = Arc::new(World {
        plans,
        regions: regions.into_iter().collect(),
        vdm: vdm.iter().map(|(r, p)| ((*r).to_owned(), strings(p))).collect(),
        state: Mutex::new(State { polls_before_active: 1, ..State::default() }),
        max_per_page: AtomicUsize::new(MAX_PER_PAGE),
    });
    let mut builder = FakeApi::builder()
        .prefix(PREFIX)
        .openapi(Spec::load(SPEC.0, SPEC.1))
        .unauthorized(error(401, "Invalid API token."));
    for key in keys {
        builder = builder.bearer(key);
    }
    let w = |f: fn(&World, &Recorded) -> Reply| {
        let world = world.clone();
        move |r: &Recorded| f(&world, r)
    };
    let api = builder
        .route("GET", "/ssh-keys", w(|w, r| page(w, r, "ssh_keys", Vec::new())))
        .route("GET", "/plans", w(list_plans))
        .route("GET", "/plans-metal", w(list_metal_plans))
        .route("GET", "/regions", w(list_regions))
        .route("GET", "/regions/{region-id}/availability", w(availability))
        .route("GET", "/vpcs", w(list_vpcs))
        .route("POST", "/vpcs", w(create_vpc))
        .route("DELETE", "/vpcs/{vpc-id}", w(delete_vpc))
        .route("POST", "/instances", w(|w, r| create(w, r, false)))
        .route("POST", "/bare-metals", w(|w, r| create(w, r, true)))
        .route("GET", "/instances", w(|w, r| list_machines(w, r, false)))
        .route("GET", "/bare-metals", w(|w, r| list_machines(w, r, true)))
        .route("GET", "/instances/{instance-id}", w(|w, r| get(w, r, "instance-id", false)))
        .route("GET", "/bare-metals/{baremetal-id}", w(|w, r| get(w, r, "baremetal-id", true)))
        .route("DELETE", "/instances/{instance-id}", w(|w, r| delete(w, r, "instance-id", false)))
        .route(
            "DELETE",
            "/bare-metals/{baremetal-id}",
            w(|w, r| delete(w, r, "baremetal-id", true)),
        )
        .start()
        .await;
    FakeVultr { api, world }
}

fn list_plans(world: &World, request: &Recorded) -> Reply {
    let kind = query(request, "type").unwrap_or("all");
    let plans = world.plans.iter().filter(|p| !p.bare_metal && (kind == "all" || p.kind == kind));
    page(world, request, "plans", plans.map(Plan::to_json).collect())
}

fn list_metal_plans(world: &World, request: &Recorded) -> Reply {
    let plans = world.plans.iter().filter(|p| p.bare_metal).map(Plan::to_json).collect();
    page(world, request, "plans_metal", plans)
}

fn list_regions(world: &World, request: &Recorded) -> Reply {
    let regions = world.regions.iter().map(|id| {
        let city = id.to_uppercase();
        json!({"id": id, "city": city, "country": "US", "continent": "North America",
               "options": ["block_storage"]})
    });
    page(world, request, "regions", regions.collect())
}

fn list_vpcs(world: &World, request: &Recorded) -> Reply {
    let vpcs: Vec<Value> = world.state().vpcs.values().map(vpc_json).collect();
    page(world, request, "vpcs", vpcs)
}

fn availability(world: &World, request: &Recorded) -> Reply {
    let region = &request.params["region-id"];
    if !world.regions.contains(region) {
        return error(404, "Invalid region.");
    }
    let available: Vec<&String> = match query(request, "type").unwrap_or("all") {
        "vdm" => world.vdm.get(region).map(|p| p.iter().collect()).unwrap_or_default(),
        kind => (world.plans.iter())
            .filter(|p| kind == "all" || p.kind == kind || (kind == "vbm" && p.bare_metal))
            .filter(|p| p.locations.contains(region))
            .map(|p| &p.id)
            .collect(),
    };
    Reply::json(json!({"available_plans": available, "available_vpc_only_plans": []}))
}

fn create_vpc(world: &World, request: &Recorded) -> Reply {
    let region = request.body["region"].as_str().unwrap_or_default().to_owned();
    if !world.regions.contains(&region) {
        return error(400, "Invalid region.");
    }
    let mut state = world.state();
    let (n, id) = state.id();
    let description = request.body["description"].as_str().unwrap_or_default().to_owned();
    let vpc = Vpc { id: id.clone(), region, description, subnet: format!("10.{n}.96.0"), mask: 20 };
    let json = vpc_json(&vpc);
    state.vpcs.insert(id, vpc);
    Reply::status(201, json!({"vpc": json}))
}

fn delete_vpc(world: &World, request: &Recorded) -> Reply {
    let id = &request.params["vpc-id"];
    let mut state = world.state();
    if state.machines.values().any(|m| m.vpcs.contains(id)) {
        return error(400, "Unable to delete VPC: resources are still attached.");
    }
    match state.vpcs.remove(id) {
        Some(_) => Reply::status(204, Value::Null),
        None => error(404, "Invalid VPC ID."),
    }
}

/// `POST /instances` or `POST /bare-metals`, checked as Vultr checks it.
fn create(world: &World, request: &Recorded, bare_metal: bool) -> Reply {
    let body = &request.body;
    let (region, plan_id) =
        (body["region"].as_str().unwrap_or(""), body["plan"].as_str().unwrap_or(""));
    let Some(plan) = world.plans.iter().find(|p| p.id == plan_id && p.bare_metal == bare_metal)
    else {
        return error(400, "Invalid plan.");
    };
    if !world.regions.iter().any(|r| r == region) {
        return error(400, "Invalid region.");
    }
    let os_id = body["os_id"].as_i64();
    let image_id = body["image_id"].as_str().filter(|i| !i.is_empty()).map(str::to_owned);
    if os_id.is_none()
        && image_id.is_none()
        && body["app_id"].is_null()
        && body["snapshot_id"].is_null()
    {
        return error(400, "Must provide one of os_id, app_id, snapshot_id or image_id.");
    }
    let mut state = world.state();
    if !state.create_errors.is_empty() {
        let (status, message) = state.create_errors.remove(0);
        return error(status, &message);
    }
    let offered = match plan.kind.as_str() {
        "vdm" => world.vdm.get(region).is_some_and(|p| p.contains(&plan.id)),
        _ => plan.locations.iter().any(|l| l == region),
    };
    if !offered {
        return error(400, "Plan is not available in the selected region.");
    }
    let vpcs: Vec<String> = body["attach_vpc"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if vpcs.iter().any(|v| state.vpcs.get(v).is_none_or(|vpc| vpc.region != region)) {
        return error(400, "Invalid VPC ID.");
    }
    let (_, id) = state.id();
    let machine = Machine {
        id: id.clone(),
        bare_metal,
        region: region.to_owned(),
        plan: plan.id.clone(),
        label: body["label"].as_str().unwrap_or_default().to_owned(),
        user_data: body["user_data"].as_str().unwrap_or_default().to_owned(),
        os_id,
        image_id,
        vpcs,
        status: "pending".to_owned(),
        main_ip: "0.0.0.0".to_owned(),
        internal_ip: String::new(),
        polls: 0,
    };
    let json = machine_json(&machine, Some(plan));
    state.machines.insert(id, machine);
    if std::mem::take(&mut state.answer_500_after_create) {
        return error(500, "Internal server error.");
    }
    Reply::status(202, json!({if bare_metal { "bare_metal" } else { "instance" }: json}))
}

fn list_machines(world: &World, request: &Recorded, bare_metal: bool) -> Reply {
    let label = query(request, "label");
    let state = world.state();
    let machines = state
        .machines
        .values()
        .filter(|m| m.bare_metal == bare_metal)
        .filter(|m| label.is_none_or(|l| m.label == l))
        .map(|m| machine_json(m, world.plans.iter().find(|p| p.id == m.plan)));
    let machines: Vec<Value> = machines.collect();
    drop(state);
    page(world, request, if bare_metal { "bare_metals" } else { "instances" }, machines)
}

/// A machine as Vultr shows it; each look moves a pending one towards `active`.
fn get(world: &World, request: &Recorded, param: &str, bare_metal: bool) -> Reply {
    let mut state = world.state();
    let (never_ready, fail_new, polls) =
        (state.never_ready, state.fail_new, state.polls_before_active);
    let vpcs = state.vpcs.clone();
    let Some(m) =
        state.machines.get_mut(&request.params[param]).filter(|m| m.bare_metal == bare_metal)
    else {
        return error(
            404,
            if bare_metal { "Invalid bare metal ID." } else { "Invalid instance ID." },
        );
    };
    if m.status == "pending" && fail_new {
        m.status = "failed".to_owned();
    } else if m.status == "pending" && !never_ready {
        m.polls += 1;
        if m.polls > polls {
            let n = m.id[m.id.len() - 2..].to_owned();
            let host = u8::from_str_radix(&n, 16).unwrap_or(1).max(2);
            m.status = "active".to_owned();
            m.main_ip = format!("192.0.2.{host}");
            if let Some(vpc) = m.vpcs.first().and_then(|v| vpcs.get(v)) {
                let base = vpc.subnet.rsplit_once('.').map_or("10.0.0", |(b, _)| b);
                m.internal_ip = format!("{base}.{host}");
            }
        }
    }
    let json = machine_json(m, world.plans.iter().find(|p| p.id == m.plan));
    Reply::json(json!({if bare_metal { "bare_metal" } else { "instance" }: json}))
}

fn delete(world: &World, request: &Recorded, param: &str, bare_metal: bool) -> Reply {
    let mut state = world.state();
    let id = &request.params[param];
    if state.machines.get(id).is_some_and(|m| m.bare_metal == bare_metal) {
        state.machines.remove(id);
        return Reply::status(204, Value::Null);
    }
    error(404, if bare_metal { "Invalid bare metal ID." } else { "Invalid instance ID." })
}

impl FakeVultr {
    /// What `DSTACK_VULTR_API_URL` takes: the base URL, `/v2` included.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// Every resource alive: `instance <id> <label>`, `bare-metal <id> <label>`,
    /// `vpc <id> <description>`.
    pub fn live(&self) -> Vec<String> {
        let state = self.world.state();
        let machines = state.machines.values().map(|m| {
            format!("{} {} {}", if m.bare_metal { "bare-metal" } else { "instance" }, m.id, m.label)
        });
        let vpcs = state.vpcs.values().map(|v| format!("vpc {} {}", v.id, v.description));
        machines.chain(vpcs).collect()
    }

    pub fn machines(&self) -> Vec<Machine> {
        self.world.state().machines.values().cloned().collect()
    }

    pub fn vpcs(&self) -> Vec<Vpc> {
        self.world.state().vpcs.values().cloned().collect()
    }

    /// `METHOD /path` of every request so far, without the query.
    pub fn calls(&self) -> Vec<String> {
        self.api.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    /// The next create (`POST /instances` or `/bare-metals`) answers 400 with `message`, as
    /// Vultr does when a plan cannot be deployed now.
    pub fn fail_next_create(&self, message: &str) {
        self.world.state().create_errors.push((400, message.to_owned()));
    }

    /// The next create makes its machine, then answers 500: the caller cannot know.
    pub fn create_then_fail_next(&self) {
        self.world.state().answer_500_after_create = true;
    }

    /// Machines stay `pending` with `main_ip` `0.0.0.0`.
    pub fn never_ready(&self) {
        self.world.state().never_ready = true;
    }

    /// Pending machines enter the `failed` state when next looked at.
    pub fn fail_machines(&self) {
        self.world.state().fail_new = true;
    }

    /// Pages hold at most `items` (Vultr's limit is 500), to exercise cursors.
    pub fn max_per_page(&self, items: usize) {
        self.world.max_per_page.store(items, Ordering::Relaxed);
    }

    /// How many looks a machine stays `pending` before it is `active` (default 1).
    pub fn polls_before_active(&self, polls: u32) {
        self.world.state().polls_before_active = polls;
    }
}
