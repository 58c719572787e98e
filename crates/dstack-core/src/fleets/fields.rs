//! Readers of the fields a fleet configuration shares with a profile (dstack's
//! `ProfileParams`): backends, spot policy, retry, max price, idle duration, tags and backend
//! options, with pydantic's messages, and their JSON as dstack dumps them.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::check::{Errors, Loc, at, expected, get};
use super::duration::{parse_duration, parse_idle_duration};
use super::profile::{Retry, RetryEvent, SpotPolicy};
use crate::config::BackendType;

/// `Optional[List[BackendType]]`, refused values named in dstack's enum order.
pub(crate) fn backends(errors: &mut Errors, loc: Loc, value: &Value) -> Option<Vec<BackendType>> {
    if value.is_null() {
        return None;
    }
    let items = errors.list(loc.clone(), value)?;
    let names: Vec<&str> = BackendType::DSTACK_ORDER.iter().map(|t| t.as_str()).collect();
    let before = errors.0.len();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(|s| s.parse::<BackendType>().ok()) {
            Some(t) => out.push(t),
            None => errors.add("enum", at(&loc, i), expected(&names), item),
        }
    }
    (errors.0.len() == before).then_some(out)
}

pub(crate) fn spot_policy(errors: &mut Errors, loc: Loc, value: &Value) -> Option<SpotPolicy> {
    let text = errors.opt_enum(loc, value, &["spot", "on-demand", "auto"])?;
    Some(match text.as_str() {
        "spot" => SpotPolicy::Spot,
        "on-demand" => SpotPolicy::OnDemand,
        _ => SpotPolicy::Auto,
    })
}

const RETRY_MODEL: &str = "function-after[_validate_fields(), ProfileRetry]";

/// `Optional[Union[ProfileRetry, bool]]`.
pub(crate) fn retry(errors: &mut Errors, loc: Loc, value: &Value) -> Option<Retry> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let mut inner = Errors::default();
            let model_loc = at(&loc, RETRY_MODEL);
            let on_events = match get(map, "on_events") {
                Value::Null => None,
                v => inner.list(at(&model_loc, "on_events"), v).map(|items| {
                    let names = ["no-capacity", "interruption", "error"];
                    let events_loc = at(&model_loc, "on_events");
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| {
                            let name = inner.enum_value(at(&events_loc, i), item, &names)?;
                            Some(match name.as_str() {
                                "no-capacity" => RetryEvent::NoCapacity,
                                "interruption" => RetryEvent::Interruption,
                                _ => RetryEvent::Error,
                            })
                        })
                        .collect::<Vec<_>>()
                }),
            };
            let duration = match get(map, "duration") {
                Value::Null => None,
                v => parse_duration(v)
                    .map_err(|msg| inner.value_error(at(&model_loc, "duration"), msg, v))
                    .ok(),
            };
            inner.forbid_extra(&model_loc, map, &["on_events", "duration"]);
            if inner.is_empty() && on_events.as_ref().is_some_and(Vec::is_empty) {
                inner.value_error(model_loc, "`on_events` cannot be empty", value);
            }
            if inner.is_empty() {
                return Some(Retry::Policy { on_events, duration });
            }
            errors.0.extend(inner.0);
            errors.add("bool_type", at(&loc, "bool"), "Input should be a valid boolean", value);
            None
        }
        other => {
            let mut inner = Errors::default();
            if let Some(b) = inner.bool(at(&loc, "bool"), other) {
                return Some(Retry::Flag(b));
            }
            let msg = "Input should be a valid dictionary or instance of ProfileRetry";
            errors.add("model_type", at(&loc, RETRY_MODEL), msg, other);
            errors.0.extend(inner.0);
            None
        }
    }
}

/// `Optional[float]` with `gt=0.0`.
pub(crate) fn max_price(errors: &mut Errors, loc: Loc, value: &Value) -> Option<f64> {
    if value.is_null() {
        return None;
    }
    let price = errors.float(loc.clone(), value)?;
    if price > 0.0 {
        return Some(price);
    }
    errors.add("greater_than", loc, "Input should be greater than 0", value);
    None
}

pub(crate) fn idle_duration(errors: &mut Errors, loc: Loc, value: &Value) -> Option<i64> {
    parse_idle_duration(value).map_err(|msg| errors.value_error(loc, msg, value)).ok().flatten()
}

/// Python's `re.match` with a pattern ending in `$`: a final newline may follow.
fn matches(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.chars().count() <= max && body.chars().all(allowed)
}

/// `Optional[Dict[str, str]]` with `tags_validator`: the first bad key or value is reported.
pub(crate) fn tags(
    errors: &mut Errors,
    loc: Loc,
    value: &Value,
) -> Option<IndexMap<String, String>> {
    if value.is_null() {
        return None;
    }
    let map = errors.dict(loc.clone(), value)?;
    let mut out = IndexMap::new();
    for (key, tag) in map {
        let text = errors.string(at(&loc, key.as_str()), tag)?;
        let key_ok = !key.strip_suffix('\n').unwrap_or(key).is_empty()
            && matches(key, 60, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !key_ok {
            let msg = format!(
                "Invalid tag key {key}. The key must match regex '^[_\\-a-zA-Z0-9]{{1,60}}$'"
            );
            errors.value_error(loc, msg, value);
            return None;
        }
        if !matches(&text, 256, |c| c.is_ascii_alphanumeric() || " .:/=_-+@".contains(c)) {
            let msg = format!(
                "Invalid tag value {text}. The value must match regex '^[a-zA-Z0-9 .:/=_\\-+@]{{0,256}}$'"
            );
            errors.value_error(loc, msg, value);
            return None;
        }
        out.insert(key.clone(), text);
    }
    Some(out)
}

/// `Optional[List[VastAIProfileOptions]]` (the only backend with options in 0.22.5), each
/// dumped with all four fields; a type listed twice is refused.
pub(crate) fn backend_options(errors: &mut Errors, loc: Loc, value: &Value) -> Option<Vec<Value>> {
    if value.is_null() {
        return None;
    }
    let items = errors.list(loc.clone(), value)?;
    let before = errors.0.len();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_loc = at(&loc, i);
        let Some(map) = errors.model(&item_loc, item, "VastAIProfileOptions") else { continue };
        let kind = get(map, "type");
        if !kind.is_null() {
            errors.literal(at(&item_loc, "type"), kind, &["vastai"]);
        }
        let offer_order = errors.opt_enum(
            at(&item_loc, "offer_order"),
            get(map, "offer_order"),
            &["score", "price"],
        );
        let min_reliability = match get(map, "min_reliability") {
            Value::Null => None,
            v => errors.float(at(&item_loc, "min_reliability"), v).filter(|r| {
                let (kind, msg) = if *r < 0.0 {
                    ("greater_than_equal", "Input should be greater than or equal to 0")
                } else if *r > 1.0 {
                    ("less_than_equal", "Input should be less than or equal to 1")
                } else {
                    return true;
                };
                errors.add(kind, at(&item_loc, "min_reliability"), msg, v);
                false
            }),
        };
        let min_score = match get(map, "min_score") {
            Value::Null => None,
            v => errors.int(at(&item_loc, "min_score"), v).filter(|s| {
                if *s < 0 {
                    let msg = "Input should be greater than or equal to 0";
                    errors.add("greater_than_equal", at(&item_loc, "min_score"), msg, v);
                }
                *s >= 0
            }),
        };
        errors.forbid_extra(
            &item_loc,
            map,
            &["type", "offer_order", "min_reliability", "min_score"],
        );
        out.push(json!({
            "type": "vastai",
            "offer_order": offer_order,
            "min_reliability": min_reliability,
            "min_score": min_score,
        }));
    }
    if errors.0.len() != before {
        return None;
    }
    if out.len() > 1 {
        errors.value_error(
            loc,
            "backend_options contains duplicate entry for backend 'vastai'",
            value,
        );
        return None;
    }
    Some(out)
}

pub(crate) fn backends_json(backends: &Option<Vec<BackendType>>) -> Value {
    backends.as_ref().map_or(Value::Null, |b| b.iter().map(|t| t.as_str()).collect())
}

pub(crate) fn tags_json(tags: &Option<IndexMap<String, String>>) -> Value {
    tags.as_ref().map_or(Value::Null, |t| json!(t))
}
