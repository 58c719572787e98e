//! Kubernetes resource quantities (`500m`, `16Gi`, `32820256Ki`, `1e3`), read as the
//! Kubernetes Python client's `parse_quantity` reads them (dstack uses it for node and pod
//! resources), and written as the pod's requests and limits.

/// `text` as a number: a decimal (or `e` exponent) followed by an optional suffix —
/// binary `Ki Mi Gi Ti Pi Ei` (powers of 1024) or decimal `n u m k K M G T P E`.
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    let exponent = |c: char| match c {
        'n' => Some(-3),
        'u' => Some(-2),
        'm' => Some(-1),
        'k' | 'K' => Some(1),
        'M' => Some(2),
        'G' => Some(3),
        'T' => Some(4),
        'P' => Some(5),
        'E' => Some(6),
        _ => None,
    };
    let chars: Vec<char> = text.chars().collect();
    let (number, base, power) = match chars.as_slice() {
        [.., prefix, 'i'] if exponent(*prefix).is_some() => {
            if !"KMGTPE".contains(*prefix) {
                return Err(format!("{text} has unknown suffix"));
            }
            (&text[..text.len() - 2], 1024f64, exponent(*prefix).unwrap_or(0))
        }
        [.., last] if exponent(*last).is_some() => {
            (&text[..text.len() - last.len_utf8()], 1000f64, exponent(*last).unwrap_or(0))
        }
        _ => (text, 1000f64, 0),
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("Invalid number format: {number}"))?;
    if !value.is_finite() {
        return Err(format!("Invalid number format: {number}"));
    }
    Ok(value * base.powi(power))
}

/// Mebibytes as a quantity: whole gibibytes as `<n>Gi` (dstack writes `<n>Mi`; the two are
/// the same quantity, and `Gi` reads as the resources table of dstack's docs does).
pub fn mebibytes(mib: u64) -> String {
    match mib % 1024 {
        0 if mib > 0 => format!("{}Gi", mib / 1024),
        _ => format!("{mib}Mi"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_the_kubernetes_client_reads_them() {
        assert_eq!(parse_quantity("4").unwrap(), 4.0);
        assert_eq!(parse_quantity("500m").unwrap(), 0.5);
        assert_eq!(parse_quantity("7910m").unwrap(), 7.91);
        assert_eq!(parse_quantity("16Gi").unwrap(), 17_179_869_184.0);
        assert_eq!(parse_quantity("32820256Ki").unwrap(), 32_820_256.0 * 1024.0);
        assert_eq!(parse_quantity("100G").unwrap(), 1e11);
        assert_eq!(parse_quantity("1k").unwrap(), 1000.0);
        assert_eq!(parse_quantity("1e3").unwrap(), 1000.0);
        assert_eq!(parse_quantity("1E").unwrap(), 1e18, "E alone is exa");
        assert_eq!(parse_quantity("mi").unwrap_err(), "mi has unknown suffix");
        assert_eq!(parse_quantity("12x").unwrap_err(), "Invalid number format: 12x");
        assert!(parse_quantity("").is_err());
    }

    #[test]
    fn mebibytes_are_written_in_the_largest_whole_unit() {
        assert_eq!(mebibytes(1_048_576), "1024Gi");
        assert_eq!(mebibytes(102_400), "100Gi");
        assert_eq!(mebibytes(1536), "1536Mi");
        assert_eq!(mebibytes(0), "0Mi");
        assert_eq!(parse_quantity(&mebibytes(1536)).unwrap(), 1536.0 * 1024.0 * 1024.0);
    }
}
