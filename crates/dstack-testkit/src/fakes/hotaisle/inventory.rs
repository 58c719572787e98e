//! What the Hot Aisle fake rents out: machine types in the shapes of Hot Aisle's published
//! description (`AvailableVirtualMachineTypes`, `AvailableBareMetalTypes`,
//! `VirtualMachineSpecs`, `BareMetalServerSpecs` of `hotaisle/swagger.json`), with the
//! figures of dstack 0.22.5's Hot Aisle tests (a 13-core, 224 GiB, 1×MI300X VM at 199 ¢/h; a
//! 104-core, 2 TiB, 8×MI300X server at 2712 ¢/h).

use serde_json::{Value, json};

const GIB: u64 = 1024 * 1024 * 1024;

/// One machine type of `GET /teams/{team}/{virtual_machines,bare_metal}/available/`.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineType {
    /// `OnDemandPrice`: US cents per hour.
    pub price_cents: u64,
    /// `Quantity`: how many can be had now; a type with none is not listed.
    pub quantity: u32,
    /// `MinimumReservationMinutes`.
    pub minimum_minutes: u32,
    /// `Specs`, as the API lists them and takes them back on create.
    pub specs: Value,
}

impl MachineType {
    /// A VM with `gpus` GPUs of `model` and 13 cores, 224 GiB of RAM and 12 TiB of disk per
    /// GPU (Hot Aisle's 1×MI300X VM), reserved for at least 30 minutes.
    pub fn vm(model: &str, gpus: u64, price_cents: u64) -> Self {
        let specs = json!({
            "cpu_cores": 13 * gpus,
            "cpus": cpus(1, 13 * gpus),
            "disk_capacity": 12288 * GIB * gpus,
            "gpus": [gpu(model, gpus)],
            "ram_capacity": 224 * GIB * gpus,
        });
        Self { price_cents, quantity: 4, minimum_minutes: 30, specs }
    }

    /// A bare-metal server with 8 GPUs of `model`, two 52-core CPUs, 2 TiB of RAM and eight
    /// NVMe disks (Hot Aisle's MI300X server), prepaid for 8 hours.
    pub fn bare_metal(model: &str, price_cents: u64) -> Self {
        let specs = json!({
            "cpu_cores": 104,
            "cpus": [cpus(2, 52)],
            "disk_capacity": 123_839_994_396_672_u64,
            "disks": [{
                "count": 8, "manufacturer": "Samsung", "model": "PM1743",
                "type": "NVMe", "capacity": 15_479_999_299_584_u64,
            }],
            "gpus": [gpu(model, 8)],
            "memory_modules": [{
                "count": 32, "manufacturer": "Samsung", "model": "M321R8GA0BB0-CQKZJ",
                "capacity": 64 * GIB,
            }],
            "ram_capacity": 2048 * GIB,
        });
        Self { price_cents, quantity: 1, minimum_minutes: 480, specs }
    }

    /// The same type with `specs` changed by `edit` (another GPU list, no GPUs, ...).
    pub fn with_specs(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        edit(&mut self.specs);
        self
    }

    /// The type as the `available` listings show it.
    pub fn to_json(&self) -> Value {
        json!({
            "MinimumReservationMinutes": self.minimum_minutes,
            "OnDemandPrice": self.price_cents,
            "Quantity": self.quantity,
            "Specs": self.specs,
        })
    }
}

fn cpus(count: u64, cores: u64) -> Value {
    json!({
        "count": count, "manufacturer": "Intel", "model": "Xeon Platinum 8470",
        "cores": cores, "frequency": 2_000_000_000_u64,
    })
}

fn gpu(model: &str, count: u64) -> Value {
    json!({"count": count, "manufacturer": "AMD", "model": model})
}

/// Hot Aisle's VM types: the 1×MI300X VM of dstack's tests.
pub fn vm_types() -> Vec<MachineType> {
    vec![MachineType::vm("MI300X", 1, 199)]
}

/// Hot Aisle's bare-metal types: the 8×MI300X server of dstack's tests.
pub fn bare_metal_types() -> Vec<MachineType> {
    vec![MachineType::bare_metal("MI300X", 2712)]
}

/// The stages of `os_status.os_install_status` before `installed` (Hot Aisle's enum).
pub(super) const INSTALL_STAGES: &[&str] = &[
    "shutting_down",
    "ac_reset",
    "bios_reset",
    "booting_installer",
    "installing_os",
    "finalizing_os",
    "first_boot",
    "first_boot_tasks",
];

/// The server fields of `BareMetalServer` besides its specs.
pub(super) fn server_json(
    deployment_id: &str,
    name: &str,
    ip: &str,
    description: &str,
    specs: &Value,
) -> Value {
    let mut server = json!({
        "deployment_id": deployment_id,
        "name": name,
        "ip_address": ip,
        "manufacturer": "Dell",
        "model": "PowerEdge XE9680",
        "description": description,
        "support_access_enabled": false,
    });
    merge(&mut server, specs);
    server
}

/// `VirtualMachineDetails`: the VM and its specs.
pub(super) fn vm_json(name: &str, ip: &str, specs: &Value) -> Value {
    let mut vm = json!({"name": name, "ip_address": ip, "description": ""});
    merge(&mut vm, specs);
    vm
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (key, value) in from {
            into.insert(key.clone(), value.clone());
        }
    }
}

/// `os_status` at `stage`.
pub(super) fn os_status(stage: &str) -> Value {
    json!({
        "os_selection": "ubuntu-2204.5",
        "os_install_status": stage,
        "last_imaging_update": "2025-06-02T10:00:00Z",
    })
}
