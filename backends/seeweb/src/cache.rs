//! dstack's `ComputeWithFilteredOffersCached`: offers that depend on the requirements, kept
//! 180 s per requirements (their JSON is the key), for at most 10 requirements at once (the
//! least recently used is dropped), one fetch at a time per key.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dstack_backend_kit::Cached;

/// dstack's `TTLCache(maxsize=10, ttl=180)`.
const MAX_KEYS: usize = 10;

/// Values kept per key, each for [`dstack_backend_kit::OFFERS_TTL`].
#[derive(Debug)]
pub struct CachedByKey<T> {
    slots: Mutex<Vec<Slot<T>>>,
}

#[derive(Debug)]
struct Slot<T> {
    key: String,
    used: Instant,
    value: Arc<Cached<T>>,
}

impl<T> Default for CachedByKey<T> {
    fn default() -> Self {
        Self { slots: Mutex::new(Vec::new()) }
    }
}

impl<T> CachedByKey<T> {
    /// The cache of `key`, made when it is new (dropping the least recently used key when
    /// ten are kept).
    pub fn slot(&self, key: &str) -> Arc<Cached<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(slot) = slots.iter_mut().find(|s| s.key == key) {
            slot.used = now;
            return slot.value.clone();
        }
        if slots.len() >= MAX_KEYS
            && let Some(oldest) =
                slots.iter().enumerate().min_by_key(|(_, s)| s.used).map(|(i, _)| i)
        {
            slots.swap_remove(oldest);
        }
        let value = Arc::new(Cached::offers());
        slots.push(Slot { key: key.to_owned(), used: now, value: value.clone() });
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_slot_and_the_least_recently_used_goes_first() {
        let cache = CachedByKey::<u32>::default();
        let first = cache.slot("a");
        assert!(Arc::ptr_eq(&first, &cache.slot("a")));
        for i in 0..MAX_KEYS {
            cache.slot(&format!("k{i}"));
        }
        assert!(!Arc::ptr_eq(&first, &cache.slot("a")), "`a` was the least recently used");
        assert_eq!(cache.slots.lock().unwrap().len(), MAX_KEYS);
    }
}
