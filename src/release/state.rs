//! A prompt's release state, read from its tags alone: versions, the two
//! channels, and the audit events. Nothing here writes.

use std::collections::BTreeMap;

use git2::{Oid, Repository};
use serde::Serialize;

use super::gate::GateResult;
use super::tags::{self, Channel, TagKind};
use super::trailers::Message;
use crate::error::{Error, Result};

/// Trailer that marks a tag as promptctl's; its value is the scheme version.
pub const MARKER: &str = "Promptctl";
pub const SCHEME: &str = "1";

/// What a release event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Release,
    Promote,
    Rollback,
    CanaryWeight,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Release => "release",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::CanaryWeight => "canary-weight",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [Action::Release, Action::Promote, Action::Rollback, Action::CanaryWeight]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// Who did it and when (the tagger of the tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stamp {
    /// `Name <email>`.
    pub actor: String,
    /// RFC 3339, UTC.
    pub date: String,
    #[serde(skip)]
    pub seconds: i64,
}

impl Stamp {
    pub fn from_signature(sig: &git2::Signature<'_>) -> Stamp {
        let seconds = sig.when().seconds();
        Stamp {
            actor: format!(
                "{} <{}>",
                String::from_utf8_lossy(sig.name_bytes()),
                String::from_utf8_lossy(sig.email_bytes())
            ),
            date: rfc3339(seconds),
            seconds,
        }
    }
}

pub fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// An immutable version tag `prompt/<name>@v<N>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTag {
    pub number: u32,
    pub tag: String,
    pub commit: String,
    /// Project-relative path of the prompt file at the commit.
    pub path: String,
    pub content_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// False when `input_tokens` is an estimate.
    pub exact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_cap: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_call_usd: Option<f64>,
    pub gates: Vec<GateResult>,
    /// Gates that failed and were overridden with `--force`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl VersionTag {
    pub fn label(&self) -> String {
        format!("v{}", self.number)
    }
}

/// A channel's position: a version (or none) and, for canary, a weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
}

impl Slot {
    pub fn stable(version: Option<u32>) -> Slot {
        Slot { version, weight: None }
    }
    pub fn canary(version: Option<u32>, weight: u8) -> Slot {
        match version {
            Some(_) => Slot {
                version,
                weight: Some(weight),
            },
            None => Slot::default(),
        }
    }
    /// `v3`, `v4 at 10%`, `none`.
    pub fn label(&self) -> String {
        match (self.version, self.weight) {
            (Some(v), Some(w)) => format!("v{v} at {w}%"),
            (Some(v), None) => format!("v{v}"),
            (None, _) => "none".to_string(),
        }
    }
}

/// A channel tag `prompt/<name>@stable|canary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelTag {
    pub channel: Channel,
    pub tag: String,
    pub slot: Slot,
    pub previous: Slot,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<u32>,
    pub commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
    #[serde(skip)]
    pub tag_id: Oid,
}

/// One change of channels: the record kept by `prompt/<name>@event/<N>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub number: u32,
    pub tag: String,
    pub action: Action,
    /// The version this event created (release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub stable: Change,
    pub canary: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Change {
    pub from: Slot,
    pub to: Slot,
}

impl Change {
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

/// The channels in brief (for `list`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub stable: Option<u32>,
    pub canary: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<u8>,
}

impl Summary {
    /// `v3`, `v3 · canary v4 10%`, `-`.
    pub fn label(&self) -> String {
        match (self.stable, self.canary, self.canary_weight) {
            (Some(s), Some(c), w) => format!("v{s} · canary v{c} {}%", w.unwrap_or(0)),
            (Some(s), None, _) => format!("v{s}"),
            _ => "-".to_string(),
        }
    }
}

/// Everything promptctl knows about one prompt's releases.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Releases {
    pub name: String,
    pub versions: BTreeMap<u32, VersionTag>,
    pub stable: Option<ChannelTag>,
    pub canary: Option<ChannelTag>,
    pub events: BTreeMap<u32, Event>,
}

impl Releases {
    pub fn channel(&self, c: Channel) -> Option<&ChannelTag> {
        match c {
            Channel::Stable => self.stable.as_ref(),
            Channel::Canary => self.canary.as_ref(),
        }
    }

    /// The channel's current slot (none when the tag does not exist).
    pub fn slot(&self, c: Channel) -> Slot {
        self.channel(c).map(|t| t.slot).unwrap_or_default()
    }

    pub fn stable_version(&self) -> Option<&VersionTag> {
        self.slot(Channel::Stable).version.and_then(|v| self.versions.get(&v))
    }

    /// The canary version and its weight, when a canary is set.
    pub fn canary_version(&self) -> Option<(&VersionTag, u8)> {
        let s = self.slot(Channel::Canary);
        Some((self.versions.get(&s.version?)?, s.weight.unwrap_or(0)))
    }

    pub fn summary(&self) -> Summary {
        let canary = self.canary_version();
        Summary {
            stable: self.stable_version().map(|v| v.number),
            canary: canary.map(|(c, _)| c.number),
            canary_weight: canary.map(|(_, w)| w),
        }
    }

    pub fn next_version(&self) -> u32 {
        self.versions.keys().next_back().copied().unwrap_or(0) + 1
    }

    pub fn next_event(&self) -> u32 {
        self.events.keys().next_back().copied().unwrap_or(0) + 1
    }

    pub fn is_released(&self) -> bool {
        !self.versions.is_empty()
    }

    /// The channel tags record an older event than the newest event tag:
    /// the channel tags were not updated by the last fetch (tags that move
    /// need `git fetch --tags --force`).
    pub fn stale_channels(&self) -> bool {
        let Some(last) = self.events.keys().next_back() else {
            return false;
        };
        let seen = [&self.stable, &self.canary]
            .iter()
            .filter_map(|c| c.as_ref().and_then(|c| c.event))
            .max()
            .unwrap_or(0);
        seen < *last
    }

    /// The version `version` must exist.
    pub fn require_version(&self, version: u32) -> Result<&VersionTag> {
        self.versions.get(&version).ok_or_else(|| {
            let known: Vec<String> = self.versions.values().map(VersionTag::label).collect();
            Error::input(format!("{} has no version v{version}", self.name)).hint(if known.is_empty() {
                "it has no versions yet".to_string()
            } else {
                format!("versions: {}", known.join(", "))
            })
        })
    }
}

/// The release state of `name`.
pub fn load(repo: &Repository, name: &str) -> Result<Releases> {
    let glob = format!("{}{name}@*", tags::REF_PREFIX);
    let mut all = read(repo, &glob)?;
    Ok(all.remove(name).unwrap_or_else(|| Releases {
        name: name.to_string(),
        ..Default::default()
    }))
}

/// The release state of every prompt that has promptctl tags.
pub fn load_all(repo: &Repository) -> Result<BTreeMap<String, Releases>> {
    read(repo, &format!("{}*", tags::REF_PREFIX))
}

fn read(repo: &Repository, glob: &str) -> Result<BTreeMap<String, Releases>> {
    let mut out: BTreeMap<String, Releases> = BTreeMap::new();
    for r in repo.references_glob(glob)? {
        let r = r?;
        let Ok(refname) = r.name() else { continue };
        let Some((name, kind)) = tags::parse(refname) else {
            continue;
        };
        let Some(target) = r.target() else { continue };
        let entry = out.entry(name.clone()).or_insert_with(|| Releases {
            name: name.clone(),
            ..Default::default()
        });
        let tag_name = tags::tag_name(&name, kind);
        let (tag, msg) = read_tag(repo, &tag_name, &name, target)?;
        let stamp = tag
            .tagger()
            .map(|s| Stamp::from_signature(&s))
            .unwrap_or_else(|| Stamp {
                actor: String::new(),
                date: String::new(),
                seconds: 0,
            });
        let commit = tag
            .target()
            .and_then(|o| o.peel_to_commit())
            .map_err(|_| foreign(&tag_name, "it does not point at a commit"))?
            .id()
            .to_string();
        let malformed = |what: &str| {
            Error::input(format!("tag {tag_name} is malformed: {what}"))
                .hint("it carries the Promptctl trailer but was edited by hand; recreate it or delete it (git tag -d)")
        };
        match kind {
            TagKind::Version(n) => {
                if msg.get("Version").and_then(tags::parse_version) != Some(n) {
                    return Err(malformed(&format!("its Version trailer is not v{n}")));
                }
                let tokens = msg.get("Input-Tokens");
                entry.versions.insert(
                    n,
                    VersionTag {
                        number: n,
                        tag: tag_name.clone(),
                        commit,
                        path: msg.get("Path").ok_or_else(|| malformed("no Path trailer"))?.to_string(),
                        content_hash: msg
                            .get("Content-Hash")
                            .ok_or_else(|| malformed("no Content-Hash trailer"))?
                            .to_string(),
                        model: msg.get("Model").map(str::to_string),
                        input_tokens: tokens.and_then(|t| t.trim_start_matches('≈').parse().ok()),
                        exact: !tokens.is_some_and(|t| t.starts_with('≈')),
                        output_cap: msg.get("Output-Cap").and_then(|t| t.parse().ok()),
                        cost_per_call_usd: msg.get("Cost-Per-Call-USD").and_then(|t| t.parse().ok()),
                        gates: msg.get_all("Gate").filter_map(GateResult::from_trailer).collect(),
                        overrides: msg.get_all("Override").map(str::to_string).collect(),
                        eval: msg.get("Eval").map(str::to_string),
                        reason: msg.get("Reason").map(str::to_string),
                        stamp,
                    },
                );
            }
            TagKind::Channel(channel) => {
                let slot = read_slot(&msg, "Version", "Canary-Weight", channel)
                    .ok_or_else(|| malformed("its Version or Canary-Weight trailer does not read"))?;
                let previous = read_slot(&msg, "Previous", "Previous-Canary-Weight", channel).unwrap_or_default();
                let t = ChannelTag {
                    channel,
                    tag: tag_name.clone(),
                    slot,
                    previous,
                    event: msg.get("Event").and_then(|e| e.parse().ok()),
                    commit,
                    reason: msg.get("Reason").map(str::to_string),
                    stamp,
                    tag_id: target,
                };
                match channel {
                    Channel::Stable => entry.stable = Some(t),
                    Channel::Canary => entry.canary = Some(t),
                }
            }
            TagKind::Event(n) => {
                let action = msg
                    .get("Action")
                    .and_then(Action::parse)
                    .ok_or_else(|| malformed("no Action trailer"))?;
                let stable = Change {
                    from: read_slot(&msg, "Previous-Stable", "-", Channel::Stable).unwrap_or_default(),
                    to: read_slot(&msg, "Stable", "-", Channel::Stable).unwrap_or_default(),
                };
                let canary = Change {
                    from: read_slot(&msg, "Previous-Canary", "Previous-Canary-Weight", Channel::Canary)
                        .unwrap_or_default(),
                    to: read_slot(&msg, "Canary", "Canary-Weight", Channel::Canary).unwrap_or_default(),
                };
                entry.events.insert(
                    n,
                    Event {
                        number: n,
                        tag: tag_name.clone(),
                        action,
                        version: msg.get("Version").and_then(tags::parse_version),
                        stable,
                        canary,
                        reason: msg.get("Reason").map(str::to_string),
                        overrides: msg.get_all("Override").map(str::to_string).collect(),
                        stamp,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// `v3` / `none`, with the weight for canary. `None` when it does not read.
fn read_slot(msg: &Message, key: &str, weight_key: &str, channel: Channel) -> Option<Slot> {
    let v = msg.get(key)?;
    let version = if v == "none" {
        None
    } else {
        Some(tags::parse_version(v)?)
    };
    let weight = match (channel, version) {
        (Channel::Canary, Some(_)) => {
            let w: u8 = msg.get(weight_key)?.trim_end_matches('%').parse().ok()?;
            if w > 100 {
                return None;
            }
            Some(w)
        }
        _ => None,
    };
    Some(Slot { version, weight })
}

fn read_tag<'r>(repo: &'r Repository, tag_name: &str, name: &str, target: Oid) -> Result<(git2::Tag<'r>, Message)> {
    let tag = repo
        .find_tag(target)
        .map_err(|_| foreign(tag_name, "it is a lightweight tag"))?;
    let msg = Message::parse(&String::from_utf8_lossy(tag.message_bytes().unwrap_or_default()));
    if msg.get(MARKER).is_none() {
        return Err(foreign(tag_name, "its message has no Promptctl trailer"));
    }
    if msg.get("Prompt") != Some(name) {
        return Err(foreign(tag_name, "its Prompt trailer names another prompt"));
    }
    Ok((tag, msg))
}

fn foreign(tag: &str, why: &str) -> Error {
    Error::input(format!("tag {tag} exists but was not made by promptctl: {why}")).hint(format!(
        "promptctl owns tags named prompt/<name>@v<N>, @stable, @canary and @event/<N>; rename or delete this one (git tag -d {tag})"
    ))
}
