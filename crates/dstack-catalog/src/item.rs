//! One row of a catalog: an instance type of a provider in a location at a price.

use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};

/// A catalog item, as gpuhunt's `CatalogItem`.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogItem {
    /// The provider, as gpuhunt names it (`aws`, `lambdalabs`, ...).
    pub provider: String,
    pub instance_name: String,
    /// Region or zone.
    pub location: String,
    /// USD per hour.
    pub price: f64,
    pub cpu: u32,
    /// RAM in GB.
    pub memory: f64,
    pub gpu_count: u32,
    pub gpu_name: Option<String>,
    /// VRAM per GPU in GB.
    pub gpu_memory: Option<f64>,
    pub spot: bool,
    /// Disk in GB.
    pub disk_size: Option<f64>,
    pub gpu_vendor: Option<AcceleratorVendor>,
    /// Flags that hide an item from dstack versions that do not ask for them.
    pub flags: Vec<String>,
    pub cpu_arch: CpuArchitecture,
    /// Provider-specific data, JSON text (parsed only by the backend that needs it).
    pub provider_data: String,
}
