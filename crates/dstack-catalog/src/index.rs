//! A compact index over a provider's items, so that a query scans a few megabytes of numbers
//! instead of every item's strings. [`Index::matching`] decides exactly as
//! [`QueryFilter::matches`] does (a property test holds them together).

use std::collections::HashMap;
use std::sync::Arc;

use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};

use crate::accelerators::compute_capability;
use crate::filter::QueryFilter;
use crate::item::CatalogItem;

const NONE_U16: u16 = u16::MAX;
const NONE_U8: u8 = u8::MAX;

/// The fields a filter looks at, per item.
#[derive(Debug, Clone, Copy)]
struct Row {
    price: f64,
    memory: f64,
    /// NaN when unknown.
    gpu_memory: f64,
    /// NaN when unknown.
    disk_size: f64,
    cpu: u32,
    gpu_count: u32,
    /// Index into `Index::gpu_names`, or `NONE_U16`.
    gpu_name: u16,
    vendor: u8,
    arm: bool,
    spot: bool,
    has_flags: bool,
}

/// The items of one provider with their index.
#[derive(Debug)]
pub struct Index {
    items: Vec<Arc<CatalogItem>>,
    rows: Vec<Row>,
    /// Distinct GPU names, lowercased; a row's `gpu_name` points here.
    gpu_names: Vec<String>,
    /// Compute capability per entry of `gpu_names`, for NVIDIA names gpuhunt knows.
    capabilities: Vec<Option<(u32, u32)>>,
}

fn vendor_code(vendor: Option<AcceleratorVendor>) -> u8 {
    match vendor {
        None => NONE_U8,
        Some(AcceleratorVendor::Nvidia) => 0,
        Some(AcceleratorVendor::Amd) => 1,
        Some(AcceleratorVendor::Google) => 2,
        Some(AcceleratorVendor::Intel) => 3,
        Some(AcceleratorVendor::Tenstorrent) => 4,
    }
}

/// A filter with its names resolved against one index and its bounds as plain numbers, so
/// that the common checks run without unpredictable branches.
struct Compiled<'f> {
    filter: &'f QueryFilter,
    /// Indexes of wanted GPU names; `None` when any name is fine.
    gpu_names: Option<Vec<u16>>,
    vendor: Option<u8>,
    price: (f64, f64),
    memory: (f64, f64),
    cpu: (u32, u32),
    /// 0: on-demand only, 1: spot only, 2: either.
    spot: u8,
    /// 0: x86 only, 1: arm only, 2: either.
    arm: u8,
}

/// `between` with absent bounds as infinities; `!(v < lo) & !(v > hi)` keeps Python's
/// comparison semantics, NaN included.
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // deliberate: NaN must pass, as in Python
fn within(value: f64, (lo, hi): (f64, f64)) -> bool {
    !(value < lo) & !(value > hi)
}

fn bounds(min: Option<f64>, max: Option<f64>) -> (f64, f64) {
    (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY))
}

impl Index {
    pub fn new(items: Vec<CatalogItem>) -> Self {
        let mut names: HashMap<String, u16> = HashMap::new();
        let mut gpu_names = Vec::new();
        let rows = items
            .iter()
            .map(|item| {
                let gpu_name = match &item.gpu_name {
                    Some(name) => {
                        let key = name.to_lowercase();
                        *names.entry(key.clone()).or_insert_with(|| {
                            gpu_names.push(key);
                            u16::try_from(gpu_names.len() - 1).unwrap_or(NONE_U16 - 1)
                        })
                    }
                    None => NONE_U16,
                };
                Row {
                    price: item.price,
                    memory: item.memory,
                    gpu_memory: item.gpu_memory.unwrap_or(f64::NAN),
                    disk_size: item.disk_size.unwrap_or(f64::NAN),
                    cpu: item.cpu,
                    gpu_count: item.gpu_count,
                    gpu_name,
                    vendor: vendor_code(item.gpu_vendor),
                    arm: item.cpu_arch == CpuArchitecture::Arm,
                    spot: item.spot,
                    has_flags: !item.flags.is_empty(),
                }
            })
            .collect();
        let capabilities = gpu_names.iter().map(|n| compute_capability(n)).collect();
        Self { items: items.into_iter().map(Arc::new).collect(), rows, gpu_names, capabilities }
    }

    pub fn items(&self) -> &[Arc<CatalogItem>] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items `filter` matches, in catalog order. All items share one provider, checked
    /// once.
    pub fn matching(&self, filter: &QueryFilter) -> Vec<Arc<CatalogItem>> {
        let Some(first) = self.items.first() else { return Vec::new() };
        if let Some(providers) = &filter.provider
            && !providers.iter().any(|p| p.eq_ignore_ascii_case(&first.provider))
        {
            return Vec::new();
        }
        let compiled = Compiled {
            filter,
            gpu_names: filter.gpu_name.as_ref().map(|wanted| {
                let wanted: Vec<String> = wanted.iter().map(|n| n.to_lowercase()).collect();
                (0..self.gpu_names.len())
                    .filter(|&i| wanted.contains(&self.gpu_names[i]))
                    .map(|i| i as u16)
                    .collect()
            }),
            vendor: filter.gpu_vendor.map(|v| vendor_code(Some(v))),
            price: bounds(filter.min_price, filter.max_price),
            memory: bounds(filter.min_memory, filter.max_memory),
            cpu: (filter.min_cpu.unwrap_or(0), filter.max_cpu.unwrap_or(u32::MAX)),
            spot: filter.spot.map_or(2, u8::from),
            arm: filter.cpu_arch.map_or(2, |a| u8::from(a == CpuArchitecture::Arm)),
        };
        self.rows
            .iter()
            .zip(&self.items)
            .filter(|(row, item)| {
                self.row_matches(&compiled, row) && (!row.has_flags || flags_allowed(filter, item))
            })
            .map(|(_, item)| item.clone())
            .collect()
    }

    fn row_matches(&self, c: &Compiled<'_>, row: &Row) -> bool {
        let f = c.filter;
        let common = within(row.price, c.price)
            & ((c.spot == 2) | (c.spot == u8::from(row.spot)))
            & ((c.arm == 2) | (c.arm == u8::from(row.arm)))
            & (row.cpu >= c.cpu.0)
            & (row.cpu <= c.cpu.1)
            & within(row.memory, c.memory);
        if !common {
            return false;
        }
        let cpu_only_allowed = f.min_gpu_count == Some(0) && row.gpu_count == 0;
        if !cpu_only_allowed && !self.gpu_matches(c, row) {
            return false;
        }
        row.disk_size.is_nan() || between(row.disk_size, f.min_disk_size, f.max_disk_size)
    }

    fn gpu_matches(&self, c: &Compiled<'_>, row: &Row) -> bool {
        let f = c.filter;
        if c.vendor.is_some_and(|v| v != row.vendor)
            || !between(row.gpu_count, f.min_gpu_count, f.max_gpu_count)
        {
            return false;
        }
        if let Some(names) = &c.gpu_names
            && (row.gpu_name == NONE_U16 || !names.contains(&row.gpu_name))
        {
            return false;
        }
        if f.min_compute_capability.is_some() || f.max_compute_capability.is_some() {
            if row.vendor != vendor_code(Some(AcceleratorVendor::Nvidia))
                || row.gpu_name == NONE_U16
            {
                return false;
            }
            match self.capabilities[usize::from(row.gpu_name)] {
                Some(cc) if between(cc, f.min_compute_capability, f.max_compute_capability) => {}
                _ => return false,
            }
        }
        let per_gpu =
            if row.gpu_count > 0 && !row.gpu_memory.is_nan() { row.gpu_memory } else { 0.0 };
        between(per_gpu, f.min_gpu_memory, f.max_gpu_memory)
            && between(
                per_gpu * f64::from(row.gpu_count),
                f.min_total_gpu_memory,
                f.max_total_gpu_memory,
            )
    }
}

fn flags_allowed(filter: &QueryFilter, item: &CatalogItem) -> bool {
    match &filter.allowed_flags {
        Some(allowed) if !item.flags.is_empty() => item.flags.iter().all(|f| allowed.contains(f)),
        _ => true,
    }
}

fn between<T: PartialOrd>(value: T, min: Option<T>, max: Option<T>) -> bool {
    !(min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the property test needs no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Clone>(&mut self, options: &[T]) -> T {
            options[(self.next() % options.len() as u64) as usize].clone()
        }
        fn maybe<T>(&mut self, value: impl FnOnce(&mut Self) -> T) -> Option<T> {
            if self.next().is_multiple_of(3) { Some(value(self)) } else { None }
        }
    }

    fn random_item(rng: &mut Rng) -> CatalogItem {
        let gpu_count = rng.pick(&[0u32, 0, 1, 2, 4, 8]);
        CatalogItem {
            provider: "aws".into(),
            instance_name: "i".into(),
            location: "l".into(),
            price: rng.pick(&[0.1, 1.0, 2.5, 10.0, 40.0]),
            cpu: rng.pick(&[2, 8, 32, 96]),
            memory: rng.pick(&[4.0, 32.0, 256.0]),
            gpu_count,
            gpu_name: if gpu_count > 0 && !rng.next().is_multiple_of(4) {
                Some(rng.pick(&["A100", "h100", "MI300X", "v5litepod", "Unknown"]).to_owned())
            } else {
                None
            },
            gpu_memory: rng.maybe(|r| r.pick(&[16.0, 40.0, 80.0])),
            spot: rng.next().is_multiple_of(2),
            disk_size: rng.maybe(|r| r.pick(&[50.0, 100.0, 500.0])),
            gpu_vendor: if gpu_count > 0 {
                Some(rng.pick(&[
                    AcceleratorVendor::Nvidia,
                    AcceleratorVendor::Amd,
                    AcceleratorVendor::Google,
                ]))
            } else {
                rng.maybe(|_| AcceleratorVendor::Nvidia)
            },
            flags: if rng.next().is_multiple_of(5) { vec!["beta".into()] } else { vec![] },
            cpu_arch: rng.pick(&[CpuArchitecture::X86, CpuArchitecture::Arm]),
            provider_data: "{}".into(),
        }
    }

    fn random_filter(rng: &mut Rng) -> QueryFilter {
        QueryFilter {
            provider: rng.maybe(|r| vec![r.pick(&["AWS", "gcp"]).to_owned()]),
            cpu_arch: rng.maybe(|r| r.pick(&[CpuArchitecture::X86, CpuArchitecture::Arm])),
            min_cpu: rng.maybe(|_| 8),
            max_cpu: rng.maybe(|_| 32),
            min_memory: rng.maybe(|_| 16.0),
            max_memory: rng.maybe(|_| 256.0),
            min_gpu_count: rng.maybe(|r| r.pick(&[0, 1, 2])),
            max_gpu_count: rng.maybe(|_| 4),
            gpu_vendor: rng.maybe(|r| r.pick(&[AcceleratorVendor::Nvidia, AcceleratorVendor::Amd])),
            gpu_name: rng.maybe(|r| vec![r.pick(&["a100", "H100", "mi300x"]).to_owned()]),
            min_gpu_memory: rng.maybe(|_| 40.0),
            max_gpu_memory: rng.maybe(|_| 80.0),
            min_total_gpu_memory: rng.maybe(|_| 80.0),
            max_total_gpu_memory: rng.maybe(|_| 320.0),
            min_disk_size: rng.maybe(|_| 100.0),
            max_disk_size: rng.maybe(|_| 500.0),
            min_price: rng.maybe(|_| 1.0),
            max_price: rng.maybe(|_| 10.0),
            min_compute_capability: rng.maybe(|_| (8, 0)),
            max_compute_capability: rng.maybe(|_| (9, 0)),
            spot: rng.maybe(|r| r.next() % 2 == 0),
            allowed_flags: rng.maybe(|r| r.pick(&[vec![], vec!["beta".to_owned()]])),
        }
    }

    #[test]
    fn the_index_decides_exactly_like_the_filter() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let items: Vec<CatalogItem> = (0..2000).map(|_| random_item(&mut rng)).collect();
        let index = Index::new(items.clone());
        let mut non_trivial = 0;
        for _ in 0..2000 {
            let filter = random_filter(&mut rng);
            let expected: Vec<&CatalogItem> = items.iter().filter(|i| filter.matches(i)).collect();
            let got = index.matching(&filter);
            let got: Vec<&CatalogItem> = got.iter().map(|i| i.as_ref()).collect();
            assert_eq!(got, expected, "{filter:?}");
            if !expected.is_empty() && expected.len() < items.len() {
                non_trivial += 1;
            }
        }
        assert!(non_trivial > 100, "the filters should select, not all or nothing: {non_trivial}");
    }
}
