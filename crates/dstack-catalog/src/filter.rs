//! Which items a query wants: gpuhunt's `QueryFilter` and `constraints.matches`, rule for rule.

use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};

use crate::accelerators::compute_capability;
use crate::item::CatalogItem;

/// A query over catalogs. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryFilter {
    /// Providers, case-insensitively.
    pub provider: Option<Vec<String>>,
    pub cpu_arch: Option<CpuArchitecture>,
    pub min_cpu: Option<u32>,
    pub max_cpu: Option<u32>,
    /// GB.
    pub min_memory: Option<f64>,
    pub max_memory: Option<f64>,
    pub min_gpu_count: Option<u32>,
    pub max_gpu_count: Option<u32>,
    pub gpu_vendor: Option<AcceleratorVendor>,
    /// GPU names, case-insensitively.
    pub gpu_name: Option<Vec<String>>,
    /// GB per GPU.
    pub min_gpu_memory: Option<f64>,
    pub max_gpu_memory: Option<f64>,
    /// GB over all GPUs.
    pub min_total_gpu_memory: Option<f64>,
    pub max_total_gpu_memory: Option<f64>,
    /// GB.
    pub min_disk_size: Option<f64>,
    pub max_disk_size: Option<f64>,
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    pub min_compute_capability: Option<(u32, u32)>,
    pub max_compute_capability: Option<(u32, u32)>,
    pub spot: Option<bool>,
    /// Only items whose every flag is allowed; `None` allows all.
    pub allowed_flags: Option<Vec<String>>,
}

fn between<T: PartialOrd>(value: T, min: Option<T>, max: Option<T>) -> bool {
    !(min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m))
}

impl QueryFilter {
    /// Whether `item` matches, exactly as gpuhunt decides it.
    pub fn matches(&self, item: &CatalogItem) -> bool {
        if let Some(providers) = &self.provider
            && !providers.iter().any(|p| p.eq_ignore_ascii_case(&item.provider))
        {
            return false;
        }
        if !between(item.price, self.min_price, self.max_price) {
            return false;
        }
        if self.spot.is_some_and(|spot| spot != item.spot) {
            return false;
        }
        if self.cpu_arch.is_some_and(|arch| arch != item.cpu_arch) {
            return false;
        }
        if !between(item.cpu, self.min_cpu, self.max_cpu)
            || !between(item.memory, self.min_memory, self.max_memory)
        {
            return false;
        }
        // GPU filters do not apply to CPU-only items when zero GPUs are allowed.
        let cpu_only_allowed = self.min_gpu_count == Some(0) && item.gpu_count == 0;
        if !cpu_only_allowed && !self.matches_gpu(item) {
            return false;
        }
        if let Some(disk) = item.disk_size
            && !between(disk, self.min_disk_size, self.max_disk_size)
        {
            return false;
        }
        if let Some(allowed) = &self.allowed_flags
            && item.flags.iter().any(|f| !allowed.contains(f))
        {
            return false;
        }
        true
    }

    fn matches_gpu(&self, item: &CatalogItem) -> bool {
        if self.gpu_vendor.is_some() && self.gpu_vendor != item.gpu_vendor {
            return false;
        }
        if !between(item.gpu_count, self.min_gpu_count, self.max_gpu_count) {
            return false;
        }
        if let Some(names) = &self.gpu_name {
            match &item.gpu_name {
                Some(name) if names.iter().any(|n| n.eq_ignore_ascii_case(name)) => {}
                _ => return false,
            }
        }
        if self.min_compute_capability.is_some() || self.max_compute_capability.is_some() {
            if item.gpu_vendor != Some(AcceleratorVendor::Nvidia) {
                return false;
            }
            let cc = item.gpu_name.as_deref().and_then(compute_capability);
            match cc {
                Some(cc)
                    if between(cc, self.min_compute_capability, self.max_compute_capability) => {}
                _ => return false,
            }
        }
        let per_gpu = match item.gpu_memory {
            Some(memory) if item.gpu_count > 0 => memory,
            _ => 0.0,
        };
        between(per_gpu, self.min_gpu_memory, self.max_gpu_memory)
            && between(
                per_gpu * f64::from(item.gpu_count),
                self.min_total_gpu_memory,
                self.max_total_gpu_memory,
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(gpu: Option<(&str, u32, f64)>) -> CatalogItem {
        CatalogItem {
            provider: "aws".into(),
            instance_name: "i".into(),
            location: "us-east-1".into(),
            price: 2.0,
            cpu: 8,
            memory: 32.0,
            gpu_count: gpu.map_or(0, |g| g.1),
            gpu_name: gpu.map(|g| g.0.to_owned()),
            gpu_memory: gpu.map(|g| g.2),
            spot: false,
            disk_size: Some(100.0),
            gpu_vendor: gpu.map(|_| AcceleratorVendor::Nvidia),
            flags: vec![],
            cpu_arch: CpuArchitecture::X86,
            provider_data: "{}".into(),
        }
    }

    #[test]
    fn every_filter() {
        let a100 = item(Some(("A100", 8, 40.0)));
        let cpu = item(None);
        let q = |f: QueryFilter| (f.matches(&a100), f.matches(&cpu));
        assert_eq!(q(QueryFilter::default()), (true, true));
        assert_eq!(
            q(QueryFilter { provider: Some(vec!["AWS".into()]), ..Default::default() }),
            (true, true)
        );
        assert_eq!(
            q(QueryFilter { provider: Some(vec!["gcp".into()]), ..Default::default() }),
            (false, false)
        );
        assert_eq!(q(QueryFilter { min_price: Some(2.5), ..Default::default() }), (false, false));
        assert_eq!(q(QueryFilter { max_price: Some(2.0), ..Default::default() }), (true, true));
        assert_eq!(q(QueryFilter { spot: Some(true), ..Default::default() }), (false, false));
        assert_eq!(
            q(QueryFilter { cpu_arch: Some(CpuArchitecture::Arm), ..Default::default() }),
            (false, false)
        );
        assert_eq!(q(QueryFilter { min_cpu: Some(9), ..Default::default() }), (false, false));
        assert_eq!(q(QueryFilter { max_memory: Some(16.0), ..Default::default() }), (false, false));
        assert_eq!(q(QueryFilter { min_gpu_count: Some(1), ..Default::default() }), (true, false));
        // Zero GPUs allowed: CPU items skip the GPU filters.
        assert_eq!(
            q(QueryFilter {
                min_gpu_count: Some(0),
                gpu_name: Some(vec!["h100".into()]),
                ..Default::default()
            }),
            (false, true)
        );
        assert_eq!(
            q(QueryFilter { gpu_name: Some(vec!["a100".into()]), ..Default::default() }),
            (true, false)
        );
        assert_eq!(
            q(QueryFilter { gpu_vendor: Some(AcceleratorVendor::Amd), ..Default::default() }),
            (false, false)
        );
        assert_eq!(
            q(QueryFilter { min_gpu_memory: Some(48.0), ..Default::default() }),
            (false, false)
        );
        assert_eq!(
            q(QueryFilter { min_total_gpu_memory: Some(320.0), ..Default::default() }),
            (true, false)
        );
        assert_eq!(
            q(QueryFilter { max_total_gpu_memory: Some(100.0), ..Default::default() }),
            (false, true)
        );
        assert_eq!(
            q(QueryFilter { min_compute_capability: Some((8, 0)), ..Default::default() }),
            (true, false)
        );
        assert_eq!(
            q(QueryFilter { min_compute_capability: Some((9, 0)), ..Default::default() }),
            (false, false)
        );
        assert_eq!(
            q(QueryFilter { max_disk_size: Some(50.0), ..Default::default() }),
            (false, false)
        );
        let mut flagged = a100.clone();
        flagged.flags = vec!["new-thing".into()];
        assert!(
            !QueryFilter { allowed_flags: Some(vec![]), ..Default::default() }.matches(&flagged)
        );
        assert!(QueryFilter::default().matches(&flagged));
    }
}
