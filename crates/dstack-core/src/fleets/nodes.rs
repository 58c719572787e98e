//! `nodes:` of a fleet (`FleetNodesSpec`): `2`, `"1..3"`, `"1.."`, `"..3"` or
//! `{min, target, max}`, with dstack's defaults (`min` 0, `target` = `min`, `max` unlimited),
//! its messages (the "be be" included) and its serializer (no `target` when it equals `min`).

use serde_json::{Map, Value, json};

use super::check::{Errors, Loc, at, get};

/// How many instances a fleet has: at least `min`, `target` created at apply, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetNodes {
    pub min: u32,
    pub target: u32,
    /// `None`: unlimited.
    pub max: Option<u32>,
}

impl FleetNodes {
    /// `nodes: N`.
    pub fn exactly(n: u32) -> Self {
        FleetNodes { min: n, target: n, max: Some(n) }
    }

    /// Reads `nodes` as dstack does; `None` (with errors recorded) when it is invalid.
    pub(crate) fn read(errors: &mut Errors, loc: &Loc, value: &Value) -> Option<FleetNodes> {
        // The configuration's before-validator (`parse_nodes`).
        let object = match value {
            Value::String(s) if s.contains("..") => {
                let compact = s.replace(' ', "");
                let parts: Vec<&str> = compact.split("..").collect();
                if parts.len() != 2 {
                    // Python's `min, max = v.split("..")` (3.11's wording).
                    let msg = "too many values to unpack (expected 2)";
                    errors.value_error(loc.clone(), msg, value);
                    return None;
                }
                let end = |p: &str| if p.is_empty() { Value::Null } else { Value::from(p) };
                json!({"min": end(parts[0]), "max": end(parts[1])})
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                json!({"min": value, "max": value})
            }
            other => other.clone(),
        };
        let Value::Object(map) = &object else {
            let msg = "Input should be a valid dictionary or instance of FleetNodesSpec";
            errors.add("model_type", loc.clone(), msg, value);
            return None;
        };
        Self::read_spec(errors, loc, map, &object)
    }

    fn read_spec(
        errors: &mut Errors,
        loc: &Loc,
        map: &Map<String, Value>,
        input: &Value,
    ) -> Option<FleetNodes> {
        // `set_min_and_target_defaults`: `min` null → 0, `target` null → `min` (as given).
        let min_input = match get(map, "min") {
            Value::Null => Value::from(0),
            v => v.clone(),
        };
        let target_input = match get(map, "target") {
            Value::Null => min_input.clone(),
            v => v.clone(),
        };
        let before = errors.0.len();
        let min = errors.int(at(loc, "min"), &min_input);
        if let Some(m) = min
            && m < 0
        {
            errors.value_error(at(loc, "min"), "min cannot be negative", &min_input);
        }
        let target = errors.int(at(loc, "target"), &target_input);
        let max = match get(map, "max") {
            Value::Null => Some(None),
            v => errors.int(at(loc, "max"), v).map(Some),
        };
        errors.forbid_extra(loc, map, &["min", "target", "max"]);
        if errors.0.len() != before {
            return None;
        }
        let (min, target, max) = (min?, target?, max?);
        let range_error = if target < min {
            Some("target must not be be less than min")
        } else if max.is_some_and(|max| max < min) {
            Some("max must not be less than min")
        } else if max.is_some_and(|max| max < target) {
            Some("max must not be less than target")
        } else {
            None
        };
        if let Some(msg) = range_error {
            errors.value_error(loc.clone(), msg, input);
            return None;
        }
        // Python's ints have no bound; a fleet of more than 2^32 instances is refused here.
        let count = |v: i64, key: &str, errors: &mut Errors| {
            u32::try_from(v).ok().or_else(|| {
                let msg = format!("Input should be less than or equal to {}", u32::MAX);
                errors.add("less_than_equal", at(loc, key), msg, &Value::from(v));
                None
            })
        };
        let min = count(min, "min", errors);
        let target = count(target, "target", errors);
        let max = match max {
            Some(m) => count(m, "max", errors).map(Some),
            None => Some(None),
        };
        Some(FleetNodes { min: min?, target: target?, max: max? })
    }

    /// dstack's serialization: `{"min":2,"max":2}` when `target == min`, else
    /// `{"min":0,"target":2,"max":4}`.
    pub fn to_json(&self) -> Value {
        if self.target == self.min {
            json!({"min": self.min, "max": self.max})
        } else {
            json!({"min": self.min, "target": self.target, "max": self.max})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(value: Value) -> Result<FleetNodes, Vec<(Loc, String)>> {
        let mut errors = Errors::default();
        let loc = vec![json!("configuration"), json!("nodes")];
        FleetNodes::read(&mut errors, &loc, &value)
            .ok_or_else(|| errors.0.into_iter().map(|e| (e.loc, e.msg)).collect())
    }

    fn n(min: u32, target: u32, max: Option<u32>) -> FleetNodes {
        FleetNodes { min, target, max }
    }

    #[test]
    fn every_form_of_nodes() {
        assert_eq!(nodes(json!(2)), Ok(n(2, 2, Some(2))));
        assert_eq!(nodes(json!("2")), Ok(n(2, 2, Some(2))));
        assert_eq!(nodes(json!("1..")), Ok(n(1, 1, None)));
        assert_eq!(nodes(json!("..3")), Ok(n(0, 0, Some(3))));
        assert_eq!(nodes(json!(" 1 .. 2 ")), Ok(n(1, 1, Some(2))));
        assert_eq!(nodes(json!("..")), Ok(n(0, 0, None)));
        assert_eq!(nodes(json!({"target": 2})), Ok(n(0, 2, None)));
        assert_eq!(nodes(json!({"min": 1, "target": 2, "max": 4})), Ok(n(1, 2, Some(4))));
        assert_eq!(nodes(json!({"min": "2"})), Ok(n(2, 2, None)));
        assert_eq!(nodes(json!({"min": null, "target": null, "max": null})), Ok(n(0, 0, None)));
        assert_eq!(nodes(json!(2.0)), Ok(n(2, 2, Some(2))));
    }

    #[test]
    fn dstacks_messages() {
        let whole = || vec![json!("configuration"), json!("nodes")];
        let min = || vec![json!("configuration"), json!("nodes"), json!("min")];
        let err = |loc: Loc, msg: &str| Err(vec![(loc, msg.to_owned())]);
        assert_eq!(
            nodes(json!("3..1")),
            err(whole(), "Value error, max must not be less than min")
        );
        assert_eq!(
            nodes(json!({"min": 2, "target": 1})),
            err(whole(), "Value error, target must not be be less than min")
        );
        assert_eq!(
            nodes(json!({"min": 1, "target": 5, "max": 3})),
            err(whole(), "Value error, max must not be less than target")
        );
        assert_eq!(nodes(json!({"min": -1})), err(min(), "Value error, min cannot be negative"));
        assert_eq!(nodes(json!(-1)), err(min(), "Value error, min cannot be negative"));
        assert_eq!(nodes(json!("-1..2")), err(min(), "Value error, min cannot be negative"));
        assert_eq!(
            nodes(json!("1..2..3")),
            err(whole(), "Value error, too many values to unpack (expected 2)")
        );
        let parse = "Input should be a valid integer, unable to parse string as an integer";
        // A bad `min` is also the default `target`: pydantic reports both, then `max`.
        let errors = nodes(json!("x")).unwrap_err();
        let locs: Vec<&Value> = errors.iter().map(|(loc, _)| &loc[2]).collect();
        assert_eq!(locs, [&json!("min"), &json!("target"), &json!("max")]);
        assert!(errors.iter().all(|(_, msg)| msg == parse));
        assert_eq!(
            nodes(json!({"min": 1, "foo": 2})),
            err(
                vec![json!("configuration"), json!("nodes"), json!("foo")],
                "Extra inputs are not permitted"
            )
        );
        assert_eq!(
            nodes(json!([1])),
            err(whole(), "Input should be a valid dictionary or instance of FleetNodesSpec")
        );
    }

    #[test]
    fn serialized_without_target_when_it_equals_min() {
        assert_eq!(FleetNodes::exactly(2).to_json().to_string(), r#"{"min":2,"max":2}"#);
        assert_eq!(n(1, 1, None).to_json().to_string(), r#"{"min":1,"max":null}"#);
        assert_eq!(n(0, 2, Some(4)).to_json().to_string(), r#"{"min":0,"target":2,"max":4}"#);
    }
}
