//! The node's script cache: script bodies by SHA1, shared by every core so
//! a SCRIPT LOAD on one connection serves EVALSHA on any other.
//!
//! Each core compiles what it runs into its own Lua VM and keeps the
//! compiled function; it only comes here (one mutex) the first time it
//! meets a SHA1. SCRIPT FLUSH bumps `epoch`, which every core checks (one
//! atomic load) before it trusts its compiled functions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use bytes::Bytes;

/// Bytes of script bodies EVAL may add to the cache. Redis 7.0 keeps every
/// EVAL body forever; an application that builds scripts with arguments
/// inlined would grow it without end. Past the bound EVAL still runs, but
/// its body is not kept (EVALSHA of it answers NOSCRIPT). SCRIPT LOAD is
/// never refused: it is how a client asks for a body to be kept.
const EVAL_CACHE_BYTES: usize = 64 << 20;

#[derive(Default)]
pub struct ScriptCache {
    bodies: Mutex<Bodies>,
    epoch: AtomicU64,
}

#[derive(Default)]
struct Bodies {
    by_sha: HashMap<String, Bytes>,
    bytes: usize,
}

/// Lower-case hex SHA1 of a script body, the name EVALSHA uses.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl ScriptCache {
    /// Keeps `body` under `sha`; `loaded` for SCRIPT LOAD (always kept).
    pub fn insert(&self, sha: &str, body: &Bytes, loaded: bool) {
        let Ok(mut b) = self.bodies.lock() else {
            return;
        };
        if b.by_sha.contains_key(sha) || (!loaded && b.bytes + body.len() > EVAL_CACHE_BYTES) {
            return;
        }
        b.bytes += body.len();
        b.by_sha.insert(sha.to_string(), body.clone());
    }

    pub fn get(&self, sha: &str) -> Option<Bytes> {
        self.bodies.lock().ok()?.by_sha.get(sha).cloned()
    }

    /// Scripts kept (INFO's number_of_cached_scripts).
    pub fn len(&self) -> usize {
        self.bodies.lock().map(|b| b.by_sha.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the bodies kept (INFO's used_memory_scripts_eval).
    pub fn bytes(&self) -> usize {
        self.bodies.lock().map(|b| b.bytes).unwrap_or(0)
    }

    pub fn contains(&self, sha: &str) -> bool {
        self.bodies
            .lock()
            .map(|b| b.by_sha.contains_key(sha))
            .unwrap_or(false)
    }

    /// SCRIPT FLUSH: forgets every body; cores drop their compiled copies.
    pub fn flush(&self) {
        if let Ok(mut b) = self.bodies.lock() {
            *b = Bodies::default();
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_redis() {
        // redis-cli SCRIPT LOAD "return 1"
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }

    #[test]
    fn flush_forgets_and_moves_the_epoch() {
        let c = ScriptCache::default();
        let body = Bytes::from_static(b"return 1");
        c.insert("a", &body, false);
        assert!(c.contains("a"));
        assert_eq!((c.len(), c.bytes()), (1, 8));
        let e = c.epoch();
        c.flush();
        assert!(!c.contains("a"));
        assert_ne!(c.epoch(), e);
    }
}
