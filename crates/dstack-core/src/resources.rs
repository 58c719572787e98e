//! dstack's resource requirements (`resources:` in a run configuration), as users write them
//! and as the CLI sends them: `cpu: 32..64`, `memory: 64GB..`, `gpu: nvidia:A100:80GB:4..8`,
//! `gpu: H100,H200:8`, `disk: 100GB..`. Parsed as dstack 0.22.5 parses them
//! (`core/models/resources.py`), with its error messages.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::offers::{AcceleratorVendor, CpuArchitecture};

/// A value a [`Range`] can hold: a count or a [`Memory`] size.
pub trait RangeValue: Copy + PartialOrd + fmt::Display + Sized {
    fn parse(text: &str) -> Result<Self, String>;
    fn from_number(value: f64) -> Result<Self, String>;
    fn to_json(self) -> serde_json::Value;
}

impl RangeValue for u32 {
    fn parse(text: &str) -> Result<Self, String> {
        text.trim().parse().map_err(|_| format!("Invalid number: {text}"))
    }

    fn from_number(value: f64) -> Result<Self, String> {
        if value.fract() == 0.0 && value >= 0.0 && value <= f64::from(u32::MAX) {
            Ok(value as u32)
        } else {
            Err(format!("Invalid number: {value}"))
        }
    }

    fn to_json(self) -> serde_json::Value {
        self.into()
    }
}

/// A size in gigabytes, written as a number of GB or with a unit: `512MB`, `16GB`, `1TB`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Memory(pub f64);

impl Memory {
    pub fn gb(self) -> f64 {
        self.0
    }

    /// dstack's `Memory.parse`.
    pub fn parse_text(text: &str) -> Result<Self, String> {
        let v = text.replace(' ', "").to_lowercase();
        let invalid = || format!("Invalid memory size: {text}");
        let number = |s: &str| s.parse::<f64>().map_err(|_| invalid());
        Ok(Memory(if let Some(tb) = v.strip_suffix("tb") {
            number(tb)? * 1024.0
        } else if let Some(gb) = v.strip_suffix("gb") {
            number(gb)?
        } else if let Some(mb) = v.strip_suffix("mb") {
            number(mb)? / 1024.0
        } else {
            number(&v)?
        }))
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // dstack prints a memory size as Python's float repr (`24.0`) in range errors.
        f.write_str(&crate::yaml::node::python_float_repr(self.0))
    }
}

impl RangeValue for Memory {
    fn parse(text: &str) -> Result<Self, String> {
        Memory::parse_text(text)
    }

    fn from_number(value: f64) -> Result<Self, String> {
        Ok(Memory(value))
    }

    fn to_json(self) -> serde_json::Value {
        serde_json::Number::from_f64(self.0).map_or(serde_json::Value::Null, Into::into)
    }
}

impl Serialize for Memory {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let input = Scalar::deserialize(deserializer)?;
        match input {
            Scalar::Text(text) => Memory::parse_text(&text),
            Scalar::Number(n) => Ok(Memory(n)),
        }
        .map_err(de::Error::custom)
    }
}

/// A range with open ends: `8`, `2..8`, `16GB..`, `..4`, or `{min, max}`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

impl<T: RangeValue> Range<T> {
    pub fn at_least(min: T) -> Self {
        Self { min: Some(min), max: None }
    }

    pub fn exactly(value: T) -> Self {
        Self { min: Some(value), max: Some(value) }
    }

    pub fn contains(&self, value: T) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    /// dstack's shorthand: `a..b` (either end may be empty), or one value for both ends.
    pub fn parse_text(text: &str) -> Result<Self, String> {
        let range = if text.contains("..") {
            let compact = text.replace(' ', "");
            let mut parts = compact.split("..");
            let (min, max) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if parts.next().is_some() {
                return Err(format!("Invalid range: {text}"));
            }
            let end = |s: &str| if s.is_empty() { Ok(None) } else { T::parse(s).map(Some) };
            Range { min: end(min)?, max: end(max)? }
        } else {
            Range::exactly(T::parse(text)?)
        };
        range.validated()
    }

    fn validated(self) -> Result<Self, String> {
        match (self.min, self.max) {
            (None, None) => Err("Invalid empty range: ..".to_owned()),
            (Some(min), Some(max)) if min > max => {
                Err(format!("Invalid range order: {min}..{max}"))
            }
            _ => Ok(self),
        }
    }
}

impl<T: RangeValue> fmt::Display for Range<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = |v: Option<T>| v.map(|v| v.to_string()).unwrap_or_default();
        if self.min == self.max {
            f.write_str(&end(self.min))
        } else {
            write!(f, "{}..{}", end(self.min), end(self.max))
        }
    }
}

impl<T: RangeValue> Serialize for Range<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Range", 2)?;
        s.serialize_field("min", &self.min.map(T::to_json))?;
        s.serialize_field("max", &self.max.map(T::to_json))?;
        s.end()
    }
}

/// A scalar written as text or as a number.
enum Scalar {
    Text(String),
    Number(f64),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de, T: RangeValue> Deserialize<'de> for Range<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: RangeValue> Visitor<'de> for V<T> {
            type Value = Range<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a range such as `8`, `2..8`, `16GB..` or {min, max}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Range<T>, E> {
                Range::parse_text(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Range<T>, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Range<T>, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Range<T>, E> {
                T::from_number(v).map(Range::exactly).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Range<T>, A::Error> {
                let mut range = Range { min: None, max: None };
                while let Some(key) = map.next_key::<String>()? {
                    let value: Option<Scalar> = map.next_value()?;
                    let parsed = match value {
                        None => None,
                        Some(Scalar::Text(t)) => Some(T::parse(&t).map_err(de::Error::custom)?),
                        Some(Scalar::Number(n)) => {
                            Some(T::from_number(n).map_err(de::Error::custom)?)
                        }
                    };
                    match key.as_str() {
                        "min" => range.min = parsed,
                        "max" => range.max = parsed,
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                range.validated().map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The CPU requirements: `8`, `2..8`, `arm:8`, or `{arch, count}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuSpec {
    pub arch: Option<CpuArchitecture>,
    pub count: Range<u32>,
}

impl Default for CpuSpec {
    fn default() -> Self {
        Self { arch: None, count: Range::at_least(2) }
    }
}

fn cpu_arch(text: &str) -> Option<CpuArchitecture> {
    match text.to_lowercase().as_str() {
        "x86" => Some(CpuArchitecture::X86),
        "arm" => Some(CpuArchitecture::Arm),
        _ => None,
    }
}

impl CpuSpec {
    /// dstack's `CPUSpec.parse` for the shorthand.
    pub fn parse_text(v: &str) -> Result<Self, String> {
        let mut arch = None;
        let mut count = None;
        for token in v.replace(' ', "").split(':') {
            if token.is_empty() {
                return Err(format!("CPU spec contains empty token: {v}"));
            }
            if token.contains("..") || token.chars().all(|c| c.is_ascii_digit()) {
                if count.is_some() {
                    return Err(format!("CPU spec count conflict: {v}"));
                }
                count = Some(Range::parse_text(token)?);
            } else {
                let parsed =
                    cpu_arch(token).ok_or_else(|| format!("Invalid CPU architecture: {v}"))?;
                if arch.is_some() {
                    return Err(format!("CPU spec arch conflict: {v}"));
                }
                arch = Some(parsed);
            }
        }
        Ok(CpuSpec { arch, count: count.unwrap_or(Range::at_least(2)) })
    }
}

/// Reads the fields of a mapping as JSON values, for the specs whose mapping form has a
/// handful of optional fields.
fn fields<'de, A: MapAccess<'de>>(
    mut map: A,
    allowed: &'static [&'static str],
) -> Result<Vec<(String, serde_json::Value)>, A::Error> {
    let mut out = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        if !allowed.contains(&key.as_str()) {
            return Err(de::Error::unknown_field(&key, allowed));
        }
        out.push((key, map.next_value::<serde_json::Value>()?));
    }
    Ok(out)
}

fn from_value<T: RangeValue>(value: &serde_json::Value) -> Result<Range<T>, String> {
    match value {
        serde_json::Value::String(s) => Range::parse_text(s),
        serde_json::Value::Number(n) => {
            T::from_number(n.as_f64().unwrap_or(f64::NAN)).map(Range::exactly)
        }
        serde_json::Value::Object(map) => {
            let end = |key: &str| -> Result<Option<T>, String> {
                match map.get(key) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(s)) => T::parse(s).map(Some),
                    Some(serde_json::Value::Number(n)) => {
                        T::from_number(n.as_f64().unwrap_or(f64::NAN)).map(Some)
                    }
                    Some(other) => Err(format!("Invalid range bound: {other}")),
                }
            };
            if let Some(key) = map.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!("unknown field `{key}` in a range; expected `min` and `max`"));
            }
            Range { min: end("min")?, max: end("max")? }.validated()
        }
        other => Err(format!("Invalid range: {other}")),
    }
}

impl<'de> Deserialize<'de> for CpuSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CpuSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CPU spec such as `8`, `2..8`, `arm:8` or {arch, count}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CpuSpec, E> {
                CpuSpec::parse_text(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CpuSpec, E> {
                CpuSpec::parse_text(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CpuSpec, E> {
                CpuSpec::parse_text(&v.to_string()).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CpuSpec, A::Error> {
                let fields = fields(map, &["arch", "count", "min", "max"])?;
                // `{min, max}` is a count range (older form).
                if fields.iter().all(|(k, _)| k == "min" || k == "max") && !fields.is_empty() {
                    let range = serde_json::Value::Object(fields.into_iter().collect());
                    return Ok(CpuSpec {
                        arch: None,
                        count: from_value(&range).map_err(de::Error::custom)?,
                    });
                }
                let mut spec = CpuSpec::default();
                for (key, value) in fields {
                    match (key.as_str(), &value) {
                        ("arch", serde_json::Value::Null) => spec.arch = None,
                        ("arch", serde_json::Value::String(s)) => {
                            spec.arch = Some(cpu_arch(s).ok_or_else(|| {
                                de::Error::custom(format!("Invalid CPU architecture: {s}"))
                            })?)
                        }
                        ("count", v) => spec.count = from_value(v).map_err(de::Error::custom)?,
                        (key, _) => {
                            return Err(de::Error::custom(format!("invalid value for `{key}`")));
                        }
                    }
                }
                Ok(spec)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The GPU requirements: `A100`, `24GB`, `nvidia:A100:80GB:4..8`, `H100,H200:8`,
/// `amd:MI300X`, `tpu-v5e-8`, or the mapping form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSpec {
    pub vendor: Option<AcceleratorVendor>,
    pub name: Option<Vec<String>>,
    pub count: Range<u32>,
    pub memory: Option<Range<Memory>>,
    pub total_memory: Option<Range<Memory>>,
    #[serde(serialize_with = "serialize_capability")]
    pub compute_capability: Option<(u32, u32)>,
}

fn serialize_capability<S: Serializer>(
    value: &Option<(u32, u32)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.map(|(a, b)| [a, b]).serialize(serializer)
}

impl Default for GpuSpec {
    /// `count: 1..` and nothing else: what a GPU spec means when it says only some parts.
    fn default() -> Self {
        Self {
            vendor: None,
            name: None,
            count: Range::at_least(1),
            memory: None,
            total_memory: None,
            compute_capability: None,
        }
    }
}

/// dstack's vendor names, with its aliases `tpu` (Google) and `tt` (Tenstorrent).
pub fn vendor_from_text(text: &str) -> Option<AcceleratorVendor> {
    Some(match text.to_lowercase().as_str() {
        "nvidia" => AcceleratorVendor::Nvidia,
        "amd" => AcceleratorVendor::Amd,
        "google" | "tpu" => AcceleratorVendor::Google,
        "intel" => AcceleratorVendor::Intel,
        "tenstorrent" | "tt" => AcceleratorVendor::Tenstorrent,
        _ => return None,
    })
}

/// Drops the deprecated `tpu-` prefix of GPU names, as dstack does.
fn gpu_names(names: Vec<String>) -> Vec<String> {
    names.into_iter().map(|n| n.strip_prefix("tpu-").map_or(n.clone(), str::to_owned)).collect()
}

fn parse_capability(text: &str) -> Result<(u32, u32), String> {
    let invalid = || format!("Invalid compute capability: {text}");
    let (a, b) = text.trim().split_once('.').ok_or_else(invalid)?;
    Ok((a.parse().map_err(|_| invalid())?, b.parse().map_err(|_| invalid())?))
}

impl GpuSpec {
    /// dstack's `GPUSpec.parse` for the shorthand.
    pub fn parse_text(v: &str) -> Result<Self, String> {
        let mut spec = GpuSpec::default();
        let (mut vendor, mut name, mut memory, mut count) = (false, false, false, false);
        for token in v.replace(' ', "").split(':') {
            if token.is_empty() {
                return Err(format!("GPU spec contains empty token: {v}"));
            }
            if let Some(parsed) = vendor_from_text(token) {
                if vendor {
                    return Err(format!("GPU spec vendor conflict: {v}"));
                }
                vendor = true;
                spec.vendor = Some(parsed);
            } else if token.starts_with(|c: char| c.is_alphabetic()) {
                if name {
                    return Err(format!("GPU spec name conflict: {v}"));
                }
                name = true;
                let names: Vec<String> = token.split(',').map(str::to_owned).collect();
                if names.iter().any(String::is_empty) {
                    return Err(format!("GPU name can not be empty: {v}"));
                }
                spec.name = Some(gpu_names(names));
            } else if token.chars().any(char::is_alphabetic) {
                if memory {
                    return Err(format!("GPU spec memory conflict: {v}"));
                }
                memory = true;
                spec.memory = Some(Range::parse_text(token)?);
            } else {
                if count {
                    return Err(format!("GPU spec count conflict: {v}"));
                }
                count = true;
                spec.count = Range::parse_text(token)?;
            }
        }
        Ok(spec)
    }

    fn from_fields(fields: Vec<(String, serde_json::Value)>) -> Result<Self, String> {
        use serde_json::Value;
        let mut spec = GpuSpec::default();
        for (key, value) in fields {
            if value.is_null() && key != "count" {
                continue;
            }
            match key.as_str() {
                "vendor" => {
                    let text = value.as_str().ok_or("`vendor` must be a string")?;
                    spec.vendor = Some(
                        vendor_from_text(text)
                            .ok_or_else(|| format!("Invalid GPU vendor: {text}"))?,
                    );
                }
                "name" => {
                    let names = match value {
                        Value::String(s) => vec![s],
                        Value::Array(items) => items
                            .into_iter()
                            .map(|i| {
                                i.as_str().map(str::to_owned).ok_or("GPU names must be strings")
                            })
                            .collect::<Result<_, _>>()?,
                        _ => return Err("`name` must be a string or a list of strings".to_owned()),
                    };
                    spec.name = Some(gpu_names(names));
                }
                "count" => spec.count = from_value(&value)?,
                "memory" => spec.memory = Some(from_value(&value)?),
                "total_memory" => spec.total_memory = Some(from_value(&value)?),
                "compute_capability" => {
                    spec.compute_capability = Some(match &value {
                        Value::String(s) => parse_capability(s)?,
                        Value::Number(n) => parse_capability(&n.to_string())?,
                        Value::Array(parts) if parts.len() == 2 => {
                            let part = |i: usize| {
                                parts[i]
                                    .as_u64()
                                    .map(|p| p as u32)
                                    .ok_or_else(|| format!("Invalid compute capability: {value}"))
                            };
                            (part(0)?, part(1)?)
                        }
                        _ => return Err(format!("Invalid compute capability: {value}")),
                    });
                }
                _ => unreachable!("checked by `fields`"),
            }
        }
        Ok(spec)
    }
}

impl<'de> Deserialize<'de> for GpuSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GpuSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a GPU spec such as `A100:8`, `24GB..` or {name, count, memory}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GpuSpec, E> {
                GpuSpec::parse_text(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GpuSpec, E> {
                GpuSpec::parse_text(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GpuSpec, E> {
                GpuSpec::parse_text(&v.to_string()).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GpuSpec, A::Error> {
                let fields = fields(
                    map,
                    &["vendor", "name", "count", "memory", "total_memory", "compute_capability"],
                )?;
                GpuSpec::from_fields(fields).map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The disk requirements: `100GB..` or `{size}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskSpec {
    pub size: Range<Memory>,
}

impl<'de> Deserialize<'de> for DiskSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let size = match &value {
            serde_json::Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| *k != "size") {
                    return Err(de::Error::unknown_field(key, &["size"]));
                }
                map.get("size").ok_or_else(|| de::Error::missing_field("size"))?.clone()
            }
            other => other.clone(),
        };
        Ok(DiskSpec { size: from_value(&size).map_err(de::Error::custom)? })
    }
}

/// `resources:` of a run configuration, with dstack's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    #[serde(default)]
    pub cpu: CpuSpec,
    #[serde(default = "default_memory")]
    pub memory: Range<Memory>,
    #[serde(default)]
    pub shm_size: Option<Memory>,
    #[serde(default = "default_gpu")]
    pub gpu: Option<GpuSpec>,
    #[serde(default = "default_disk")]
    pub disk: Option<DiskSpec>,
}

fn default_memory() -> Range<Memory> {
    Range::at_least(Memory(8.0))
}

/// No GPU required, any allowed (`count: 0..`).
fn default_gpu() -> Option<GpuSpec> {
    Some(GpuSpec { count: Range::at_least(0), ..GpuSpec::default() })
}

fn default_disk() -> Option<DiskSpec> {
    Some(DiskSpec { size: Range::at_least(Memory(100.0)) })
}

impl Default for ResourcesSpec {
    fn default() -> Self {
        Self {
            cpu: CpuSpec::default(),
            memory: default_memory(),
            shm_size: None,
            gpu: default_gpu(),
            disk: default_disk(),
        }
    }
}

/// What a job requires of an offer (dstack's `Requirements`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Requirements {
    pub resources: ResourcesSpec,
    /// Highest price per hour in USD.
    #[serde(default)]
    pub max_price: Option<f64>,
    /// `Some(true)`: spot only; `Some(false)`: on-demand only; `None`: either.
    #[serde(default)]
    pub spot: Option<bool>,
    #[serde(default)]
    pub reservation: Option<String>,
    /// Whether offers must support clusters of several nodes.
    #[serde(default)]
    pub multinode: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{from_json, from_yaml};

    fn gpu(text: &str) -> Result<GpuSpec, String> {
        GpuSpec::parse_text(text)
    }

    #[test]
    fn ranges() {
        assert_eq!(
            Range::<u32>::parse_text("32..64").unwrap(),
            Range { min: Some(32), max: Some(64) }
        );
        assert_eq!(Range::<u32>::parse_text("..8").unwrap(), Range { min: None, max: Some(8) });
        assert_eq!(Range::<u32>::parse_text("8").unwrap(), Range::exactly(8));
        assert_eq!(Range::<Memory>::parse_text("64GB..").unwrap(), Range::at_least(Memory(64.0)));
        assert_eq!(
            Range::<Memory>::parse_text("512MB..1TB").unwrap(),
            Range { min: Some(Memory(0.5)), max: Some(Memory(1024.0)) }
        );
        assert_eq!(Range::<u32>::parse_text("..").unwrap_err(), "Invalid empty range: ..");
        assert_eq!(Range::<u32>::parse_text("8..2").unwrap_err(), "Invalid range order: 8..2");
        assert_eq!(
            Range::<Memory>::parse_text("80GB..24GB").unwrap_err(),
            "Invalid range order: 80.0..24.0"
        );
        assert_eq!(Range::<Memory>::parse_text("16XB").unwrap_err(), "Invalid memory size: 16XB");
        assert_eq!(Range::<u32>::parse_text("16GB.. 32GB").unwrap_err(), "Invalid number: 16GB");
    }

    #[test]
    fn gpu_shorthands() {
        let spec = gpu("nvidia:A100:80GB:4..8").unwrap();
        assert_eq!(spec.vendor, Some(AcceleratorVendor::Nvidia));
        assert_eq!(spec.name, Some(vec!["A100".to_owned()]));
        assert_eq!(spec.memory, Some(Range::exactly(Memory(80.0))));
        assert_eq!(spec.count, Range { min: Some(4), max: Some(8) });
        let spec = gpu("H100,H200:8").unwrap();
        assert_eq!(spec.name, Some(vec!["H100".to_owned(), "H200".to_owned()]));
        assert_eq!(spec.count, Range::exactly(8));
        let spec = gpu("24GB").unwrap();
        assert_eq!(
            (spec.count, spec.memory),
            (Range::at_least(1), Some(Range::exactly(Memory(24.0))))
        );
        assert_eq!(gpu("amd:MI300X").unwrap().vendor, Some(AcceleratorVendor::Amd));
        assert_eq!(gpu("tpu-v5e-8").unwrap().name, Some(vec!["v5e-8".to_owned()]));
        assert_eq!(gpu("tpu:v5litepod").unwrap().vendor, Some(AcceleratorVendor::Google));
        assert_eq!(gpu("2").unwrap().count, Range::exactly(2));
        assert_eq!(gpu("A100::2").unwrap_err(), "GPU spec contains empty token: A100::2");
        assert_eq!(gpu("nvidia:amd").unwrap_err(), "GPU spec vendor conflict: nvidia:amd");
        assert_eq!(gpu("A100:H100").unwrap_err(), "GPU spec name conflict: A100:H100");
        assert_eq!(gpu("A100,:2").unwrap_err(), "GPU name can not be empty: A100,:2");
        assert_eq!(gpu("24GB:40GB").unwrap_err(), "GPU spec memory conflict: 24GB:40GB");
        assert_eq!(gpu("1:2").unwrap_err(), "GPU spec count conflict: 1:2");
    }

    #[test]
    fn cpu_shorthands() {
        assert_eq!(
            CpuSpec::parse_text("arm:8").unwrap(),
            CpuSpec { arch: Some(CpuArchitecture::Arm), count: Range::exactly(8) }
        );
        assert_eq!(CpuSpec::parse_text("2..").unwrap().count, Range::at_least(2));
        assert_eq!(CpuSpec::parse_text("x86").unwrap().count, Range::at_least(2));
        assert_eq!(CpuSpec::parse_text("risc:8").unwrap_err(), "Invalid CPU architecture: risc:8");
        assert_eq!(CpuSpec::parse_text("8:16").unwrap_err(), "CPU spec count conflict: 8:16");
        assert_eq!(CpuSpec::parse_text("arm:x86").unwrap_err(), "CPU spec arch conflict: arm:x86");
        assert_eq!(CpuSpec::parse_text("arm:").unwrap_err(), "CPU spec contains empty token: arm:");
    }

    #[test]
    fn resources_as_users_write_them() {
        let spec: ResourcesSpec =
            from_yaml("cpu: 32..64\nmemory: 64GB..\ngpu: nvidia:A100:80GB:4..8\ndisk: 100GB..\n")
                .unwrap();
        assert_eq!(spec.cpu.count, Range { min: Some(32), max: Some(64) });
        assert_eq!(spec.memory, Range::at_least(Memory(64.0)));
        assert_eq!(spec.gpu.as_ref().unwrap().count, Range { min: Some(4), max: Some(8) });
        assert_eq!(spec.disk.unwrap().size, Range::at_least(Memory(100.0)));
        // Defaults.
        let spec: ResourcesSpec = from_yaml("gpu: 24GB\n").unwrap();
        assert_eq!(spec.cpu.count, Range::at_least(2));
        assert_eq!(spec.memory, Range::at_least(Memory(8.0)));
        assert_eq!(spec.disk.unwrap().size, Range::at_least(Memory(100.0)));
        let spec: ResourcesSpec = from_yaml(
            "gpu:\n  name: [A100, H100]\n  memory: 40GB..\n  count: 2\n  compute_capability: 8.0\n",
        )
        .unwrap();
        let gpu = spec.gpu.unwrap();
        assert_eq!(gpu.compute_capability, Some((8, 0)));
        assert_eq!(gpu.memory, Some(Range::at_least(Memory(40.0))));
        // Errors carry the field path.
        let errors = from_yaml::<ResourcesSpec>("gpu: A100:H100\n").unwrap_err();
        assert_eq!(errors[0].to_string(), "1:6: gpu: GPU spec name conflict: A100:H100");
        let errors = from_yaml::<ResourcesSpec>("memory: 64GB..8GB\n").unwrap_err();
        assert_eq!(errors[0].to_string(), "1:9: memory: Invalid range order: 64.0..8.0");
        assert!(from_yaml::<ResourcesSpec>("gpus: 1\n").is_err());
    }

    #[test]
    fn resources_as_the_cli_sends_them_round_trip() {
        let sent = serde_json::json!({"cpu": {"arch": null, "count": {"min": 1, "max": null}}, "memory": {"min": 0.0, "max": null}, "shm_size": null, "gpu": {"vendor": null, "name": null, "count": {"min": 1, "max": null}, "memory": {"min": 24.0, "max": 24.0}, "total_memory": null, "compute_capability": null}, "disk": null});
        let spec: ResourcesSpec = from_json(&sent).unwrap();
        assert_eq!(spec.disk, None);
        assert_eq!(spec.gpu.as_ref().unwrap().memory, Some(Range::exactly(Memory(24.0))));
        assert_eq!(serde_json::to_value(&spec).unwrap(), sent);
    }
}
