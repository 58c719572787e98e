//! Durations as dstack parses them (`core/models/duration.py`): seconds as a number, or text
//! such as `90`, `30m`, `1h`, `3d`, `2w`; `idle_duration` also takes `off`/`false`/`-1`
//! (all `-1`), and `max_duration`/`stop_duration` take `off`/`false` (kept as `"off"`).

use serde_json::Value;

use super::check::{python_int, python_str};

/// How a value may switch a duration off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffDuration {
    Off,
    Seconds(i64),
}

impl OffDuration {
    pub fn to_json(self) -> Value {
        match self {
            OffDuration::Off => Value::from("off"),
            OffDuration::Seconds(s) => Value::from(s),
        }
    }
}

fn cannot_parse(value: &Value) -> String {
    format!("Cannot parse the duration {}", python_str(value))
}

/// `Duration.parse` of a text: Python's `int()`, else `^\d+ *[smhdw]$` (`$` matching before a
/// final newline too, as Python's does). The error is dstack's.
pub fn parse_duration_text(text: &str) -> Result<i64, String> {
    if let Some(seconds) = python_int(text) {
        return Ok(seconds);
    }
    let invalid = || cannot_parse(&Value::from(text));
    let body = text.strip_suffix('\n').unwrap_or(text);
    let unit = body.chars().last().ok_or_else(invalid)?;
    let multiplier = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 24 * 3600,
        'w' => 7 * 24 * 3600,
        _ => return Err(invalid()),
    };
    let amount = body[..body.len() - 1].trim_end_matches(' ');
    if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    amount.parse::<i64>().ok().and_then(|a| a.checked_mul(multiplier)).ok_or_else(invalid)
}

/// `Duration.parse`: a number (truncated to whole seconds, as `int()` does) or a text.
pub fn parse_duration(value: &Value) -> Result<i64, String> {
    match value {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f.trunc() as i64)
                .ok_or_else(|| cannot_parse(value)),
        },
        Value::String(s) => parse_duration_text(s),
        other => Err(cannot_parse(other)),
    }
}

/// `parse_idle_duration`: `off`, `false` and `-1` are `-1`; `true` and `null` are unset; other
/// negative values are kept as they are (older clients and stored rows use them).
pub fn parse_idle_duration(value: &Value) -> Result<Option<i64>, String> {
    match value {
        Value::Null | Value::Bool(true) => Ok(None),
        Value::Bool(false) => Ok(Some(-1)),
        Value::String(s) if s == "off" => Ok(Some(-1)),
        Value::Number(n) if n.as_f64() == Some(-1.0) => Ok(Some(-1)),
        other => parse_duration(other).map(Some),
    }
}

/// `parse_off_duration`: `off` and `false` are [`OffDuration::Off`]; `true` and `null` unset;
/// negative values are refused.
pub fn parse_off_duration(value: &Value) -> Result<Option<OffDuration>, String> {
    match value {
        Value::Null | Value::Bool(true) => Ok(None),
        Value::Bool(false) => Ok(Some(OffDuration::Off)),
        Value::String(s) if s == "off" => Ok(Some(OffDuration::Off)),
        other => {
            let seconds = parse_duration(other)?;
            if seconds < 0 {
                return Err("Duration cannot be negative".to_owned());
            }
            Ok(Some(OffDuration::Seconds(seconds)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_as_dstack_parses_them() {
        assert_eq!(parse_duration(&json!("1h")), Ok(3600));
        assert_eq!(parse_duration(&json!("2 d")), Ok(172_800));
        assert_eq!(parse_duration(&json!("30m")), Ok(1800));
        assert_eq!(parse_duration(&json!("2w")), Ok(1_209_600));
        assert_eq!(parse_duration(&json!("45s")), Ok(45));
        assert_eq!(parse_duration(&json!("10")), Ok(10));
        assert_eq!(parse_duration(&json!(" 7 ")), Ok(7));
        assert_eq!(parse_duration(&json!(1.7)), Ok(1));
        assert_eq!(parse_duration(&json!("1h\n")), Ok(3600));
        assert_eq!(parse_duration(&json!("5x")), Err("Cannot parse the duration 5x".to_owned()));
        assert_eq!(parse_duration(&json!("1h ")), Err("Cannot parse the duration 1h ".to_owned()));
        assert_eq!(parse_duration(&json!("1H")), Err("Cannot parse the duration 1H".to_owned()));
        assert_eq!(parse_duration(&json!("h")), Err("Cannot parse the duration h".to_owned()));
        assert_eq!(parse_duration(&json!([1])), Err("Cannot parse the duration [1]".to_owned()));
    }

    #[test]
    fn idle_durations_switch_off_to_minus_one() {
        assert_eq!(parse_idle_duration(&json!("off")), Ok(Some(-1)));
        assert_eq!(parse_idle_duration(&json!(false)), Ok(Some(-1)));
        assert_eq!(parse_idle_duration(&json!(-1)), Ok(Some(-1)));
        assert_eq!(parse_idle_duration(&json!("-1")), Ok(Some(-1)));
        assert_eq!(parse_idle_duration(&json!(-5)), Ok(Some(-5)));
        assert_eq!(parse_idle_duration(&json!(true)), Ok(None));
        assert_eq!(parse_idle_duration(&json!(null)), Ok(None));
        assert_eq!(parse_idle_duration(&json!("1h")), Ok(Some(3600)));
    }

    #[test]
    fn off_durations_refuse_negatives() {
        assert_eq!(parse_off_duration(&json!("off")), Ok(Some(OffDuration::Off)));
        assert_eq!(parse_off_duration(&json!(false)), Ok(Some(OffDuration::Off)));
        assert_eq!(parse_off_duration(&json!(true)), Ok(None));
        assert_eq!(parse_off_duration(&json!("2h")), Ok(Some(OffDuration::Seconds(7200))));
        assert_eq!(parse_off_duration(&json!(-1)), Err("Duration cannot be negative".to_owned()));
        assert_eq!(OffDuration::Off.to_json(), json!("off"));
    }
}
