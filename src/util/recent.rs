//! A small in-process memory of things read from the database, each kept
//! until a given time: for data that is public or checked again where it
//! is used, never for what decides whether a token, session or client is
//! still valid (the database stays the source of truth for those).

use std::collections::HashMap;
use std::sync::Mutex;

/// Entries by key, each with the time (seconds) until which it may be used.
/// When `capacity` is reached, expired entries go; if none has expired,
/// all go (the database still has them).
#[derive(Debug)]
pub struct Recent<V> {
    entries: Mutex<HashMap<String, (i64, V)>>,
    capacity: usize,
}

impl<V: Clone> Recent<V> {
    pub fn new(capacity: usize) -> Self {
        Recent { entries: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, V)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `key`, if it may still be used at `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        self.lock().get(key).filter(|(until, _)| now < *until).map(|(_, v)| v.clone())
    }

    /// Keep `value` for `key` until `until`.
    pub fn put(&self, key: &str, value: V, until: i64, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, (u, _)| now < *u);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (until, value));
    }

    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_until_its_time_and_not_after() {
        let r = Recent::new(4);
        r.put("a", 1, 100, 0);
        assert_eq!(r.get("a", 99), Some(1));
        assert_eq!(r.get("a", 100), None);
        assert_eq!(r.get("b", 0), None);
        r.remove("a");
        assert_eq!(r.get("a", 0), None);
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let r = Recent::new(3);
        r.put("old", 0, 10, 0);
        r.put("a", 1, 100, 0);
        r.put("b", 2, 100, 0);
        // Full: the expired entry goes first.
        r.put("c", 3, 100, 20);
        assert_eq!((r.len(), r.get("old", 0), r.get("c", 20)), (3, None, Some(3)));
        // Full of live entries: all go, the new one stays.
        r.put("d", 4, 100, 20);
        assert_eq!((r.len(), r.get("a", 20), r.get("d", 20)), (1, None, Some(4)));
        // Replacing a key never clears.
        r.put("d", 5, 100, 20);
        assert_eq!(r.get("d", 20), Some(5));
        for i in 0..100 {
            r.put(&i.to_string(), i, 1000, 20);
            assert!(r.len() <= 3);
        }
    }
}
