//! The plans dstack 0.22.5 offers on Vultr (`compute._supported_instances`): its plan-family
//! patterns, never `vbm-4c-32gb` (no VPC support) and never spot.

use dstack_catalog::CatalogItem;

/// dstack's families, one pattern per `-`-separated part: `#` stands for digits (`\d+`),
/// `a|b` for alternatives, `[cgms]` for one of those letters. The last part may be optional
/// (`?`-prefixed), as `(-sc1)?` is.
const FAMILIES: &[&[&str]] = &[
    // Bare Metal - GPU: vbm-\d+c-\d+gb-\d+-(a100|h100|l40|mi300x)-gpu
    &["vbm", "#c", "#gb", "#", "a100|h100|l40|mi300x", "gpu"],
    // Bare Metal - AMD CPU: vbm-\d+c-\d+gb-amd
    &["vbm", "#c", "#gb", "amd"],
    // Bare Metal - Intel CPU: vbm-\d+c-\d+gb(-v\d+)?
    &["vbm", "#c", "#gb", "?v#"],
    // Cloud GPU: vcg-(a16|a40|l40s|a100)-\d+c-\d+g-\d+vram
    &["vcg", "a16|a40|l40s|a100", "#c", "#g", "#vram"],
    // Cloud Compute - Regular Performance: vc2-\d+c-\d+gb(-sc1)?
    &["vc2", "#c", "#gb", "?sc1"],
    // Cloud Compute - High Frequency: vhf-\d+c-\d+gb(-sc1)?
    &["vhf", "#c", "#gb", "?sc1"],
    // Cloud Compute - High Performance: vhp-\d+c-\d+gb-(intel|amd)(-sc1)?
    &["vhp", "#c", "#gb", "intel|amd", "?sc1"],
    // Optimized Cloud Compute: voc-[cgms]-\d+c-\d+gb-\d+s-amd(-sc1)?
    &["voc", "[cgms]", "#c", "#gb", "#s", "amd", "?sc1"],
];

/// Whether dstack offers this item.
pub fn supported(item: &CatalogItem) -> bool {
    if item.instance_name == "vbm-4c-32gb" || item.spot {
        return false;
    }
    FAMILIES.iter().any(|family| matches_family(&item.instance_name, family))
}

fn matches_family(name: &str, family: &[&str]) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (required, optional) = match family.last().and_then(|p| p.strip_prefix('?')) {
        Some(last) => (&family[..family.len() - 1], Some(last)),
        None => (family, None),
    };
    let fits = |parts: &[&str]| parts.iter().zip(required).all(|(part, p)| part_matches(part, p));
    match parts.len().checked_sub(required.len()) {
        Some(0) => fits(&parts),
        Some(1) => optional.is_some_and(|last| {
            fits(&parts[..required.len()]) && part_matches(parts[required.len()], last)
        }),
        _ => false,
    }
}

fn part_matches(part: &str, pattern: &str) -> bool {
    if let Some(letters) = pattern.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        return part.len() == 1 && letters.contains(part);
    }
    if pattern.contains('|') {
        return pattern.split('|').any(|alt| alt == part);
    }
    match pattern.split_once('#') {
        Some((prefix, suffix)) => part
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
        None => part == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_supported(name: &str) -> bool {
        FAMILIES.iter().any(|family| matches_family(name, family))
    }

    #[test]
    fn dstacks_families_match_as_its_patterns_do() {
        for name in [
            "vbm-112c-2048gb-8-h100-gpu",
            "vbm-256c-2048gb-8-mi300x-gpu",
            "vbm-24c-256gb-amd",
            "vbm-8c-132gb",
            "vbm-8c-132gb-v2",
            "vcg-a100-3c-30g-20vram",
            "vcg-l40s-16c-180g-48vram",
            "vc2-1c-1gb",
            "vc2-2c-4gb-sc1",
            "vhf-2c-4gb",
            "vhp-1c-1gb-amd",
            "vhp-2c-2gb-intel-sc1",
            "voc-g-2c-8gb-50s-amd",
            "voc-m-4c-32gb-100s-amd-sc1",
        ] {
            assert!(name_supported(name), "{name}");
        }
        for name in [
            "vbm-72c-480gb-gh200-gpu",
            "vbm-256c-3072gb-8-b200-gpu",
            "vcg-h100-216c-1914gb-640vram",
            "vcg-a100-3c-30gb-20vram",
            "vc2-1c-0.5gb",
            "vc2-1c-1gb-sc2",
            "vdc-4c-16gb",
            "vhp-1c-1gb",
            "voc-x-2c-8gb-50s-amd",
            "vbm-8c-132gb-v",
        ] {
            assert!(!name_supported(name), "{name}");
        }
    }
}
