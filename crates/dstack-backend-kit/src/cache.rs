//! What a backend fetched from its cloud, kept for a while: dstack's
//! `ComputeWithAllOffersCached` keeps a backend's whole offer list (with availability) for
//! 180 s and filters it per request, so listing offers for ten runs costs one round of calls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dstack_core::error::Result;

/// How long dstack keeps a backend's offers.
pub const OFFERS_TTL: Duration = Duration::from_secs(180);

/// A value fetched at most once per time to live. One fetch runs at a time (dstack's
/// execution lock: parallel plans do not hit the provider's rate limits); a failed fetch is
/// not kept, so the next call tries again.
#[derive(Debug)]
pub struct Cached<T> {
    ttl: Duration,
    value: Mutex<Option<(Instant, Arc<T>)>>,
    fetching: tokio::sync::Mutex<()>,
}

impl<T> Cached<T> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, value: Mutex::new(None), fetching: tokio::sync::Mutex::new(()) }
    }

    /// Kept for [`OFFERS_TTL`], as dstack keeps offers.
    pub fn offers() -> Self {
        Self::new(OFFERS_TTL)
    }

    /// The kept value while it is fresh, else what `fetch` gives (kept when it succeeds).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another caller may have fetched it while this one waited.
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let value = Arc::new(fetch().await?);
        *self.slot() = Some((Instant::now(), value.clone()));
        Ok(value)
    }

    /// Forgets the kept value (after a change that makes it stale).
    pub fn clear(&self) {
        *self.slot() = None;
    }

    fn fresh(&self) -> Option<Arc<T>> {
        match &*self.slot() {
            Some((at, value)) if at.elapsed() < self.ttl => Some(value.clone()),
            _ => None,
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<T>)>> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use dstack_core::{BackendError, ErrorKind};

    use super::*;

    #[tokio::test]
    async fn fetches_once_per_ttl_and_not_after_a_failure() {
        let calls = AtomicU32::new(0);
        let fetch = || async { Ok::<_, BackendError>(calls.fetch_add(1, Ordering::SeqCst) + 1) };
        let cached = Cached::new(Duration::from_secs(60));
        let (a, b) = tokio::join!(cached.get(fetch), cached.get(fetch));
        assert_eq!((*a.unwrap(), *b.unwrap()), (1, 1), "two callers, one fetch");
        cached.clear();
        assert_eq!(*cached.get(fetch).await.unwrap(), 2);

        let failing = Cached::<u32>::new(Duration::from_secs(60));
        let err = failing
            .get(|| async { Err(BackendError::new(ErrorKind::Transient, "down")) })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert_eq!(*failing.get(|| async { Ok(7) }).await.unwrap(), 7, "a failure is not kept");

        let expiring = Cached::new(Duration::ZERO);
        assert_eq!(*expiring.get(fetch).await.unwrap(), 3);
        assert_eq!(*expiring.get(fetch).await.unwrap(), 4, "stale values are fetched again");
    }
}
