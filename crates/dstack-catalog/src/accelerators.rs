//! The accelerators gpuhunt 0.1.34 knows (`KNOWN_ACCELERATORS`): name, memory in GB and, for
//! NVIDIA, compute capability. A name may appear once per memory size.

use dstack_core::offers::AcceleratorVendor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accelerator {
    pub vendor: AcceleratorVendor,
    pub name: &'static str,
    /// GB; 0 for TPUs.
    pub memory: u32,
    pub compute_capability: Option<(u32, u32)>,
}

impl Accelerator {
    const fn new(vendor: AcceleratorVendor, name: &'static str, memory: u32) -> Self {
        Self { vendor, name, memory, compute_capability: None }
    }

    const fn nvidia(name: &'static str, memory: u32, cc: (u32, u32)) -> Self {
        Self { vendor: AcceleratorVendor::Nvidia, name, memory, compute_capability: Some(cc) }
    }
}

/// In gpuhunt's order: NVIDIA, AMD, TPU, Intel, Tenstorrent.
pub const KNOWN_ACCELERATORS: &[Accelerator] = &[
    Accelerator::nvidia("A10", 24, (8, 6)),
    Accelerator::nvidia("A16", 16, (8, 6)),
    Accelerator::nvidia("A40", 48, (8, 6)),
    Accelerator::nvidia("A100", 40, (8, 0)),
    Accelerator::nvidia("A100", 80, (8, 0)),
    Accelerator::nvidia("A10G", 24, (8, 6)),
    Accelerator::nvidia("A4000", 16, (8, 6)),
    Accelerator::nvidia("A4500", 20, (8, 6)),
    Accelerator::nvidia("A5000", 24, (8, 6)),
    Accelerator::nvidia("A6000", 48, (8, 6)),
    Accelerator::nvidia("H100", 80, (9, 0)),
    Accelerator::nvidia("H100NVL", 94, (9, 0)),
    Accelerator::nvidia("H200", 141, (9, 0)),
    Accelerator::nvidia("H200NVL", 141, (9, 0)),
    Accelerator::nvidia("B200", 180, (10, 0)),
    Accelerator::nvidia("GB200", 186, (10, 0)),
    Accelerator::nvidia("B300", 270, (10, 0)),
    Accelerator::nvidia("GB300", 270, (10, 0)),
    Accelerator::nvidia("L4", 24, (8, 9)),
    Accelerator::nvidia("L40", 48, (8, 9)),
    Accelerator::nvidia("L40S", 48, (8, 9)),
    Accelerator::nvidia("P100", 16, (6, 0)),
    Accelerator::nvidia("RTX2060", 6, (7, 5)),
    Accelerator::nvidia("RTX2060", 12, (7, 5)),
    Accelerator::nvidia("RTX2060SUPER", 8, (7, 5)),
    Accelerator::nvidia("RTX2070", 8, (7, 5)),
    Accelerator::nvidia("RTX2070SUPER", 8, (7, 5)),
    Accelerator::nvidia("RTX2080", 8, (7, 5)),
    Accelerator::nvidia("RTX2080SUPER", 8, (7, 5)),
    Accelerator::nvidia("RTX2080Ti", 11, (7, 5)),
    Accelerator::nvidia("RTX3050", 6, (8, 6)),
    Accelerator::nvidia("RTX3050", 8, (8, 6)),
    Accelerator::nvidia("RTX3060", 8, (8, 6)),
    Accelerator::nvidia("RTX3060", 12, (8, 6)),
    Accelerator::nvidia("RTX3060Ti", 8, (8, 6)),
    Accelerator::nvidia("RTX3070", 8, (8, 6)),
    Accelerator::nvidia("RTX3070Ti", 8, (8, 6)),
    Accelerator::nvidia("RTX3080", 10, (8, 6)),
    Accelerator::nvidia("RTX3080Ti", 12, (8, 6)),
    Accelerator::nvidia("RTX3090", 24, (8, 6)),
    Accelerator::nvidia("RTX3090Ti", 24, (8, 6)),
    Accelerator::nvidia("RTX4060", 8, (8, 9)),
    Accelerator::nvidia("RTX4060Ti", 8, (8, 9)),
    Accelerator::nvidia("RTX4060Ti", 16, (8, 9)),
    Accelerator::nvidia("RTX4070", 12, (8, 9)),
    Accelerator::nvidia("RTX4070SUPER", 12, (8, 9)),
    Accelerator::nvidia("RTX4070Ti", 12, (8, 9)),
    Accelerator::nvidia("RTX4070TiSUPER", 16, (8, 9)),
    Accelerator::nvidia("RTX4080", 16, (8, 9)),
    Accelerator::nvidia("RTX4080SUPER", 16, (8, 9)),
    Accelerator::nvidia("RTX4090", 24, (8, 9)),
    Accelerator::nvidia("RTX5060", 8, (12, 0)),
    Accelerator::nvidia("RTX5060Ti", 8, (12, 0)),
    Accelerator::nvidia("RTX5060Ti", 16, (12, 0)),
    Accelerator::nvidia("RTX5070", 12, (12, 0)),
    Accelerator::nvidia("RTX5070Ti", 16, (12, 0)),
    Accelerator::nvidia("RTX5080", 16, (12, 0)),
    Accelerator::nvidia("RTX5090", 32, (12, 0)),
    Accelerator::nvidia("RTX6000", 24, (7, 5)),
    Accelerator::nvidia("RTX2000Ada", 16, (8, 9)),
    Accelerator::nvidia("RTX4000Ada", 20, (8, 9)),
    Accelerator::nvidia("RTX6000Ada", 48, (8, 9)),
    Accelerator::nvidia("RTXPRO4500", 32, (12, 0)),
    Accelerator::nvidia("RTXPRO6000", 96, (12, 0)),
    Accelerator::nvidia("T4", 16, (7, 5)),
    Accelerator::nvidia("V100", 16, (7, 0)),
    Accelerator::nvidia("V100", 32, (7, 0)),
    Accelerator::nvidia("GH200", 96, (9, 0)),
    Accelerator::new(AcceleratorVendor::Amd, "MI100", 32),
    Accelerator::new(AcceleratorVendor::Amd, "MI210", 64),
    Accelerator::new(AcceleratorVendor::Amd, "MI250", 128),
    Accelerator::new(AcceleratorVendor::Amd, "MI250X", 128),
    Accelerator::new(AcceleratorVendor::Amd, "MI300A", 128),
    Accelerator::new(AcceleratorVendor::Amd, "MI300X", 192),
    Accelerator::new(AcceleratorVendor::Amd, "MI308X", 128),
    Accelerator::new(AcceleratorVendor::Amd, "MI325X", 288),
    Accelerator::new(AcceleratorVendor::Amd, "MI350X", 288),
    Accelerator::new(AcceleratorVendor::Amd, "MI355X", 288),
    Accelerator::new(AcceleratorVendor::Google, "v2", 0),
    Accelerator::new(AcceleratorVendor::Google, "v3", 0),
    Accelerator::new(AcceleratorVendor::Google, "v4", 0),
    Accelerator::new(AcceleratorVendor::Google, "v5p", 0),
    Accelerator::new(AcceleratorVendor::Google, "v5litepod", 0),
    Accelerator::new(AcceleratorVendor::Google, "v6e", 0),
    Accelerator::new(AcceleratorVendor::Intel, "Gaudi", 32),
    Accelerator::new(AcceleratorVendor::Intel, "Gaudi2", 96),
    Accelerator::new(AcceleratorVendor::Intel, "Gaudi3", 128),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "n150", 12),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "n300", 24),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "tt-galaxy-wh", 12),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "p100a", 28),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "p150", 32),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "p300", 32),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "p300", 64),
    Accelerator::new(AcceleratorVendor::Tenstorrent, "tt-galaxy-bh", 32),
];

/// Accelerators whose name matches (case-insensitively) and whose vendor is allowed.
pub fn find<'a>(
    names: Option<&'a [&'a str]>,
    vendors: Option<&'a [AcceleratorVendor]>,
) -> impl Iterator<Item = &'static Accelerator> + 'a {
    KNOWN_ACCELERATORS.iter().filter(move |a| {
        names.is_none_or(|ns| ns.iter().any(|n| n.eq_ignore_ascii_case(a.name)))
            && vendors.is_none_or(|vs| vs.contains(&a.vendor))
    })
}

/// The compute capability of an NVIDIA GPU, if gpuhunt knows the name.
pub fn compute_capability(gpu_name: &str) -> Option<(u32, u32)> {
    find(Some(&[gpu_name]), Some(&[AcceleratorVendor::Nvidia])).next()?.compute_capability
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(compute_capability("a100"), Some((8, 0)));
        assert_eq!(compute_capability("MI300X"), None);
        // New in gpuhunt 0.1.34.
        assert_eq!(compute_capability("gb300"), Some((10, 0)));
        let gb300: Vec<u32> = find(Some(&["GB300"]), None).map(|a| a.memory).collect();
        assert_eq!(gb300, [270]);
        assert_eq!(find(Some(&["A100"]), None).count(), 2);
        assert_eq!(KNOWN_ACCELERATORS.len(), 95);
    }
}
