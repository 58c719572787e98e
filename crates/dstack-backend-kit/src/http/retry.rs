//! When to try again: exponential backoff with jitter, or what `Retry-After` asks for.

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::HttpSettings;

/// The wait before attempt `attempt + 1`: what the provider asked for (within
/// `max_backoff`), else `initial_backoff · 2^(attempt-1)` with full jitter in its upper half,
/// within `max_backoff`.
pub(super) fn delay(
    settings: &HttpSettings,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(settings.max_backoff);
    }
    let exponent = attempt.saturating_sub(1).min(16);
    let backoff = settings.initial_backoff.saturating_mul(1 << exponent).min(settings.max_backoff);
    let jitter = rand::rng().random_range(0.5..=1.0);
    backoff.mul_f64(jitter)
}

/// `Retry-After` in seconds (the form REST APIs send; an HTTP date is ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_respects_the_bounds() {
        let settings = HttpSettings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..HttpSettings::default()
        };
        for _ in 0..50 {
            let first = delay(&settings, 1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = delay(&settings, 3, None);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            assert!(delay(&settings, 30, None) <= Duration::from_secs(1));
        }
        assert_eq!(
            delay(&settings, 1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(delay(&settings, 1, Some(Duration::from_secs(3600))), Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
