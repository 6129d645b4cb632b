//! Which version a caller gets: a channel, or a sticky assignment by key.

use serde::Serialize;

use super::bucket;
use super::state::{Releases, VersionTag};
use super::tags::Channel;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Channel(Channel),
    /// Sticky bucketing by caller key.
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub prompt: String,
    /// The channel that served the caller.
    pub channel: Channel,
    pub version: u32,
    pub tag: String,
    pub commit: String,
    pub path: String,
    pub content_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<u8>,
    /// The canary weight in force (absent when there is no canary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_version: Option<u32>,
    /// Why the caller got this version, in words.
    pub why: String,
}

pub fn resolve(rel: &Releases, req: &Request) -> Result<Resolution> {
    let name = &rel.name;
    let Some(stable) = rel.stable_version() else {
        let err = if rel.is_released() {
            Error::input(format!("{name} has no stable version"))
        } else {
            Error::input(format!("{name} is not released"))
        };
        return Err(err.hint(format!("release it with: promptctl release {name} --execute")));
    };
    let canary = rel.canary_version();
    let (channel, v, key, bucket_n, why): (Channel, &VersionTag, Option<String>, Option<u8>, String) = match req {
        Request::Channel(Channel::Stable) => (Channel::Stable, stable, None, None, "stable channel".to_string()),
        Request::Channel(Channel::Canary) => match canary {
            Some((c, _)) => (Channel::Canary, c, None, None, "canary channel".to_string()),
            None => (
                Channel::Stable,
                stable,
                None,
                None,
                "no canary is set: canary callers get stable".to_string(),
            ),
        },
        Request::Key(k) => {
            let b = bucket::bucket(name, k);
            match canary {
                Some((c, w)) if bucket::in_canary(b, w) => (
                    Channel::Canary,
                    c,
                    Some(k.clone()),
                    Some(b),
                    format!("bucket {b} < canary weight {w}"),
                ),
                Some((_, w)) => (
                    Channel::Stable,
                    stable,
                    Some(k.clone()),
                    Some(b),
                    format!("bucket {b} ≥ canary weight {w}"),
                ),
                None => (
                    Channel::Stable,
                    stable,
                    Some(k.clone()),
                    Some(b),
                    format!("bucket {b}; no canary is set"),
                ),
            }
        }
    };
    Ok(Resolution {
        prompt: name.clone(),
        channel,
        version: v.number,
        tag: v.tag.clone(),
        commit: v.commit.clone(),
        path: v.path.clone(),
        content_hash: v.content_hash.clone(),
        key,
        bucket: bucket_n,
        canary_weight: canary.map(|(_, w)| w),
        canary_version: canary.map(|(c, _)| c.number),
        why,
    })
}
