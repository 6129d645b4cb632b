//! The response cache: `.promptctl/cache/<2 hex>/<request key>.json`, one
//! file per successful response, keyed by [`super::key::request_key`].
//!
//! Only successful responses are stored (an error is never cached: the next
//! run must try again). Files are written to a temporary name and renamed,
//! so a killed run never leaves a half-written entry; an entry that does not
//! parse is treated as a miss and overwritten.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::provider::ChatResponse;

/// Under the project root.
pub const DIR: &str = ".promptctl/cache";

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The provider the response came from, for people reading the file.
    provider: String,
    response: ChatResponse,
}

/// What `clear` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cleared {
    pub entries: u64,
    pub bytes: u64,
}

impl Cache {
    /// The cache of the project at `root`.
    pub fn new(root: &Path) -> Cache {
        Cache { dir: root.join(DIR) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("00");
        self.dir.join(shard).join(format!("{key}.json"))
    }

    /// The cached response to the request with `key`, if any.
    pub fn get(&self, key: &str) -> Option<ChatResponse> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        serde_json::from_slice::<Entry>(&bytes).ok().map(|e| e.response)
    }

    /// Store a successful response.
    pub fn put(&self, key: &str, provider: &str, response: &ChatResponse) -> Result<()> {
        let entry = Entry {
            provider: provider.to_string(),
            response: response.clone(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::external(format!("cache entry: {e}")))?;
        write_atomic(&self.path(key), &bytes)
    }

    /// Remove every entry (and leftovers of killed writes).
    pub fn clear(&self) -> Result<Cleared> {
        let mut out = Cleared::default();
        if !self.dir.exists() {
            return Ok(out);
        }
        let shards = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, &e))?;
        for shard in shards.flatten() {
            let path = shard.path();
            if !path.is_dir() {
                continue;
            }
            let files = std::fs::read_dir(&path).map_err(|e| Error::io(&path, &e))?;
            for f in files.flatten() {
                let fp = f.path();
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(&fp).map_err(|e| Error::io(&fp, &e))?;
                if fp.extension().is_some_and(|e| e == "json") {
                    out.entries += 1;
                    out.bytes += size;
                }
            }
            let _ = std::fs::remove_dir(&path);
        }
        Ok(out)
    }
}

/// Concurrent writers of the same entry do not trample each other (the temp
/// names differ; the last rename wins, and both wrote the same response to
/// the same request).
pub use crate::fs::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::FinishReason;

    fn resp(text: &str) -> ChatResponse {
        ChatResponse {
            text: text.into(),
            finish_reason: FinishReason::Stop,
            usage: None,
            model: Some("m".into()),
            latency_ms: 12,
            attempts: 2,
        }
    }

    #[test]
    fn round_trip_miss_corrupt_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = "ab".repeat(32);
        assert_eq!(cache.get(&key), None);
        cache.put(&key, "openai", &resp("hello")).unwrap();
        assert_eq!(cache.get(&key), Some(resp("hello")));
        let file = dir.path().join(DIR).join("ab").join(format!("{key}.json"));
        assert!(file.is_file());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);

        std::fs::write(&file, b"{\"provider\": \"openai\", \"resp").unwrap();
        assert_eq!(cache.get(&key), None, "a torn entry is a miss");
        cache.put(&key, "openai", &resp("again")).unwrap();
        assert_eq!(cache.get(&key).unwrap().text, "again");

        cache.put(&"cd".repeat(32), "openai", &resp("x")).unwrap();
        let cleared = cache.clear().unwrap();
        assert_eq!(cleared.entries, 2);
        assert!(cleared.bytes > 0);
        assert_eq!(cache.get(&key), None);
        assert_eq!(cache.clear().unwrap(), Cleared::default());
    }
}
