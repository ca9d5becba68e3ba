//! Rendered responses, shared by every reader of the same query at the same index.
//!
//! A read's body depends only on the query and the catalog index its rows carry, so the first
//! reader at an index renders the JSON and every later one (including the thousands of
//! blocking queries a change wakes at once) answers with the same `Bytes`. Bounded: when full,
//! the cache is emptied and refills with what is read next.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::model::Index;

/// Most distinct queries kept.
const MAX_ENTRIES: usize = 512;

/// Query key → (index it was rendered at, body).
#[derive(Default)]
pub struct RenderCache {
    /// A std mutex: held only for a lookup or an insert, never while rendering.
    entries: Mutex<HashMap<String, (Index, Bytes)>>,
}

impl RenderCache {
    /// The body of `key` at `index`, rendering it with `render` when not cached.
    pub fn get_or_render(
        &self,
        key: &str,
        index: Index,
        render: impl FnOnce() -> Vec<u8>,
    ) -> Bytes {
        if let Some((i, body)) = self.lock().get(key) {
            if *i == index {
                return body.clone();
            }
        }
        let body = Bytes::from(render());
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_string(), (index, body.clone()));
        body
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Index, Bytes)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_per_index() {
        let c = RenderCache::default();
        let mut calls = 0;
        let a = c.get_or_render("k", 5, || {
            calls += 1;
            b"one".to_vec()
        });
        let b = c.get_or_render("k", 5, || {
            calls += 1;
            b"two".to_vec()
        });
        assert_eq!(
            (a.as_ref(), b.as_ref(), calls),
            (&b"one"[..], &b"one"[..], 1)
        );
        let c2 = c.get_or_render("k", 6, || b"three".to_vec());
        assert_eq!(c2.as_ref(), b"three");
    }
}
