//! The catalog file format of gpuhunt 0.1.34 (unchanged since 0.1.30): a CSV with a header and the columns
//! below; the provider is the file's name. Rows that cannot be read are skipped with a
//! warning, as gpuhunt skips them.

use std::io::{Read, Write};

use dstack_core::offers::{AcceleratorVendor, CpuArchitecture};

use crate::item::CatalogItem;

/// The columns gpuhunt writes, in order.
pub const COLUMNS: [&str; 14] = [
    "instance_name",
    "location",
    "price",
    "cpu",
    "memory",
    "gpu_count",
    "gpu_name",
    "gpu_memory",
    "spot",
    "disk_size",
    "gpu_vendor",
    "flags",
    "cpu_arch",
    "provider_data",
];

/// Why a row was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(String);

/// Reads a catalog CSV. Malformed rows are skipped and logged; a file that is not CSV at all
/// is an error.
pub fn load(reader: impl Read, provider: &str) -> Result<Vec<CatalogItem>, csv::Error> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv.headers()?.clone();
    let index = |name: &str| headers.iter().position(|h| h == name);
    let columns: Vec<Option<usize>> = COLUMNS.iter().map(|c| index(c)).collect();
    let mut items = Vec::new();
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record)? {
        let field = |i: usize| columns[i].and_then(|c| record.get(c));
        match item_from_row(field, provider) {
            Ok(item) => items.push(item),
            Err(err) => tracing::warn!(
                "Skipping malformed row in {provider} catalog at line {}: {err}",
                record.position().map_or(0, |p| p.line())
            ),
        }
    }
    Ok(items)
}

fn item_from_row<'r>(
    field: impl Fn(usize) -> Option<&'r str>,
    provider: &str,
) -> Result<CatalogItem, RowError> {
    let required = |i: usize| -> Result<&'r str, RowError> {
        match field(i) {
            None => Err(RowError(format!("Required field '{}' is missing", COLUMNS[i]))),
            Some("") => Err(RowError(format!("Required field '{}' is empty", COLUMNS[i]))),
            Some(value) => Ok(value),
        }
    };
    let optional = |i: usize| field(i).filter(|v| !v.is_empty());
    let parse = |i: usize, value: &str| -> RowError {
        RowError(format!("Cannot parse field '{}': {value:?}", COLUMNS[i]))
    };
    let number = |i: usize| -> Result<f64, RowError> {
        let value = required(i)?;
        value.trim().parse::<f64>().map_err(|_| parse(i, value))
    };
    let integer = |i: usize| -> Result<u32, RowError> {
        let value = required(i)?;
        value.trim().parse::<u32>().map_err(|_| parse(i, value))
    };
    let optional_number = |i: usize| -> Result<Option<f64>, RowError> {
        optional(i).map(|v| v.trim().parse::<f64>().map_err(|_| parse(i, v))).transpose()
    };

    let gpu_count = integer(5)?;
    let mut gpu_name = optional(6).map(str::to_owned);
    let mut gpu_vendor = match optional(10) {
        Some(v) => Some(vendor(v).ok_or_else(|| parse(10, v))?),
        None => None,
    };
    // Catalogs from before the `gpu_vendor` column mark TPUs with a `tpu-` prefix and imply
    // NVIDIA otherwise.
    if let Some(tpu) = gpu_name.as_deref().and_then(|n| n.strip_prefix("tpu-")) {
        gpu_name = Some(tpu.to_owned());
        gpu_vendor.get_or_insert(AcceleratorVendor::Google);
    } else if gpu_vendor.is_none() && gpu_count > 0 {
        gpu_vendor = Some(AcceleratorVendor::Nvidia);
    }
    let cpu_arch = match optional(12) {
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "x86" => CpuArchitecture::X86,
            "arm" => CpuArchitecture::Arm,
            _ => return Err(parse(12, v)),
        },
        None => CpuArchitecture::X86,
    };
    let spot = match required(8)?.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(RowError(format!("Cannot parse field 'spot': Not a boolean: {other:?}")));
        }
    };
    Ok(CatalogItem {
        provider: provider.to_owned(),
        instance_name: required(0)?.to_owned(),
        location: required(1)?.to_owned(),
        price: number(2)?,
        cpu: integer(3)?,
        memory: number(4)?,
        gpu_count,
        gpu_name,
        gpu_memory: optional_number(7)?,
        spot,
        disk_size: optional_number(9)?,
        gpu_vendor,
        flags: field(11).unwrap_or("").split_whitespace().map(str::to_owned).collect(),
        cpu_arch,
        provider_data: optional(13).unwrap_or("{}").to_owned(),
    })
}

fn vendor(value: &str) -> Option<AcceleratorVendor> {
    Some(match value.to_ascii_lowercase().as_str() {
        "nvidia" => AcceleratorVendor::Nvidia,
        "amd" => AcceleratorVendor::Amd,
        "google" => AcceleratorVendor::Google,
        "intel" => AcceleratorVendor::Intel,
        "tenstorrent" => AcceleratorVendor::Tenstorrent,
        _ => return None,
    })
}

fn vendor_name(vendor: AcceleratorVendor) -> &'static str {
    match vendor {
        AcceleratorVendor::Nvidia => "nvidia",
        AcceleratorVendor::Amd => "amd",
        AcceleratorVendor::Google => "google",
        AcceleratorVendor::Intel => "intel",
        AcceleratorVendor::Tenstorrent => "tenstorrent",
    }
}

/// Python's `str(float)` for the numbers gpuhunt writes.
fn number(value: f64) -> String {
    dstack_core::yaml::node::python_float_repr(value)
}

/// Writes items in gpuhunt's format (the disk cache, and catalogs made by tests).
pub fn dump(items: &[CatalogItem], writer: impl Write) -> Result<(), csv::Error> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(COLUMNS)?;
    for item in items {
        csv.write_record([
            item.instance_name.as_str(),
            &item.location,
            &number(item.price),
            &item.cpu.to_string(),
            &number(item.memory),
            &item.gpu_count.to_string(),
            item.gpu_name.as_deref().unwrap_or(""),
            &item.gpu_memory.map(number).unwrap_or_default(),
            if item.spot { "True" } else { "False" },
            &item.disk_size.map(number).unwrap_or_default(),
            item.gpu_vendor.map(vendor_name).unwrap_or(""),
            &item.flags.join(" "),
            match item.cpu_arch {
                CpuArchitecture::X86 => "x86",
                CpuArchitecture::Arm => "arm",
            },
            &item.provider_data,
        ])?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data\n";

    #[test]
    fn reads_gpuhunt_rows_and_round_trips() {
        let text = format!(
            "{HEADER}p4d.24xlarge,us-east-1,32.7726,96,1152.0,8,A100,40.0,False,,nvidia,,x86,\"{{\"\"zone\"\": \"\"a\"\"}}\"\n\
             c5.large,us-east-1,0.085,2,4.0,0,,,True,100.0,,f1 f2,arm,{{}}\n"
        );
        let items = load(text.as_bytes(), "aws").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].gpu_vendor, Some(AcceleratorVendor::Nvidia));
        assert_eq!(items[0].gpu_memory, Some(40.0));
        assert_eq!(items[0].provider_data, r#"{"zone": "a"}"#);
        assert!(items[1].spot);
        assert_eq!(items[1].flags, ["f1", "f2"]);
        assert_eq!(items[1].cpu_arch, CpuArchitecture::Arm);
        assert_eq!(items[1].gpu_vendor, None);
        let mut out = Vec::new();
        dump(&items, &mut out).unwrap();
        assert_eq!(load(out.as_slice(), "aws").unwrap(), items);
    }

    #[test]
    fn old_catalogs_imply_vendors_and_architecture() {
        let text = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size\n\
                    v5e,us-west4,1.2,24,48,8,tpu-v5litepod,16,false,\n\
                    g5,us-east-1,1.0,4,16,1,A10G,24,false,\n";
        let items = load(text.as_bytes(), "gcp").unwrap();
        assert_eq!(items[0].gpu_name.as_deref(), Some("v5litepod"));
        assert_eq!(items[0].gpu_vendor, Some(AcceleratorVendor::Google));
        assert_eq!(items[1].gpu_vendor, Some(AcceleratorVendor::Nvidia));
        assert_eq!(items[1].cpu_arch, CpuArchitecture::X86);
    }

    #[test]
    fn malformed_rows_are_skipped() {
        let text = format!(
            "{HEADER},us,1,1,1,0,,,False,,,,,\n\
             a,us,cheap,1,1,0,,,False,,,,,\n\
             a,us,1,1,1,0,,,maybe,,,,,\n\
             a,us,1,1,1,1,X,,False,,acme,,,\n\
             ok,us,1,1,1,0,,,False,,,,,\n"
        );
        let items = load(text.as_bytes(), "x").unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].instance_name, "ok");
    }
}
