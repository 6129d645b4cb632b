//! Planning and applying release operations: `release`, `promote`,
//! `rollback` and canary weight changes.
//!
//! A plan is computed from the tags as they are, shown (dry run), and
//! applied in one ref transaction: every ref it touches is locked, then
//! checked against what the plan read (version and event tags must not
//! exist, channel tags must still point where they did), then written. A
//! concurrent run therefore either waits on nothing and fails cleanly, or
//! finds its expectations broken and fails cleanly; no half state.

use std::path::Path;

use git2::{Oid, Repository, Signature};
use serde::Serialize;

use super::gate::{self, GateReport};
use super::push::{self, PushReport};
use super::state::{self, Action, Change, MARKER, Releases, SCHEME, Slot, Stamp, VersionTag};
use super::tags::{self, Channel, TagKind};
use super::trailers::Message;
use crate::error::{Error, ErrorKind, Result};
use crate::git::{Repo, notes};
use crate::measure;
use crate::project::{self, Project, Source};
use crate::report;

/// What `promptctl release` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ReleaseRequest {
    pub name: String,
    /// Revision to release (default HEAD).
    pub rev: Option<String>,
    /// Release as canary at this weight instead of moving stable.
    pub canary: Option<u8>,
    pub reason: Option<String>,
    /// Override failed gates (needs a reason).
    pub force: bool,
    /// Let gates call providers.
    pub live: bool,
}

/// One ref a plan creates or moves.
#[derive(Debug, Clone, Serialize)]
pub struct RefUpdate {
    #[serde(rename = "ref")]
    pub refname: String,
    pub tag: String,
    /// `create` (must not exist) or `move` (must still be `old`).
    pub op: &'static str,
    /// The commit the tag points at.
    pub commit: String,
    /// The annotated tag's message.
    pub message: String,
    /// Channel tags move; on a remote they need a forced update.
    pub force: bool,
    #[serde(skip)]
    pub old: Option<Oid>,
}

/// A computed operation: what it would change, and the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub prompt: String,
    pub action: Action,
    /// The audit event number this operation records.
    pub event: u32,
    /// The new version (release only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionTag>,
    /// The revision as given and the commit it resolved to (release only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    pub stable: Change,
    pub canary: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateReport>,
    /// Failed gates overridden with `--force`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Gates failed and nothing overrides them: the plan must not be applied.
    pub blocked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval: Option<notes::EvalRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub actor: String,
    pub refs: Vec<RefUpdate>,
    #[serde(skip)]
    sig: Actor,
}

/// The tagger, kept as plain data so a plan can be shown, cloned and
/// applied later with exactly the same identity and time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Actor {
    name: String,
    email: String,
    seconds: i64,
    offset_minutes: i32,
}

impl Actor {
    fn from_signature(s: &Signature<'_>) -> Actor {
        Actor {
            name: String::from_utf8_lossy(s.name_bytes()).into_owned(),
            email: String::from_utf8_lossy(s.email_bytes()).into_owned(),
            seconds: s.when().seconds(),
            offset_minutes: s.when().offset_minutes(),
        }
    }

    fn signature(&self) -> Result<Signature<'static>> {
        Ok(Signature::new(
            &self.name,
            &self.email,
            &git2::Time::new(self.seconds, self.offset_minutes),
        )?)
    }
}

/// The signature recorded as tagger and `Actor:`: git's committer identity
/// (GIT_COMMITTER_NAME/EMAIL, else user.name/user.email, else EMAIL) at
/// GIT_COMMITTER_DATE or now, as `git tag` would record it.
pub fn actor(repo: &Repository) -> Result<Signature<'static>> {
    let cfg = repo.config()?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let conf = |k: &str| cfg.get_string(k).ok().filter(|v| !v.trim().is_empty());
    let name = env("GIT_COMMITTER_NAME").or_else(|| conf("user.name"));
    let email = env("GIT_COMMITTER_EMAIL")
        .or_else(|| conf("user.email"))
        .or_else(|| env("EMAIL"));
    let (Some(name), Some(email)) = (name, email) else {
        return Err(Error::input("no git identity to record as the actor of this change")
            .hint("set one: git config user.name \"Your Name\" && git config user.email you@example.com"));
    };
    let time = match env("GIT_COMMITTER_DATE") {
        Some(d) => parse_git_date(&d).ok_or_else(|| {
            Error::input(format!("GIT_COMMITTER_DATE '{d}' is not a date promptctl reads"))
                .hint("use RFC 3339 (2026-01-31T12:00:00Z), RFC 2822, or '@<unix seconds> +0000'")
        })?,
        None => {
            let now = jiff::Timestamp::now();
            git2::Time::new(now.as_second(), 0)
        }
    };
    Signature::new(&name, &email, &time).map_err(|e| Error::input(format!("git identity: {}", e.message())))
}

/// The date formats of GIT_COMMITTER_DATE people use: RFC 3339 / ISO 8601,
/// RFC 2822, and git's internal `<seconds> <+hhmm>` (optionally with `@`).
fn parse_git_date(s: &str) -> Option<git2::Time> {
    let s = s.trim();
    let raw = s.strip_prefix('@').unwrap_or(s);
    let mut parts = raw.split_whitespace();
    if let Some(secs) = parts.next().and_then(|p| p.parse::<i64>().ok()) {
        let offset = match parts.next() {
            None => 0,
            Some(z) => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let digits = z.trim_start_matches(['+', '-']);
                if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let h: i32 = digits[..2].parse().ok()?;
                let m: i32 = digits[2..].parse().ok()?;
                sign * (h * 60 + m)
            }
        };
        return parts.next().is_none().then(|| git2::Time::new(secs, offset));
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(git2::Time::new(ts.as_second(), 0));
    }
    let z = jiff::fmt::rfc2822::parse(s).ok()?;
    Some(git2::Time::new(z.timestamp().as_second(), z.offset().seconds() / 60))
}

/// Plan a release of `req.name` at `req.rev`.
pub fn plan_release(project: &Project, repo: &Repo, req: &ReleaseRequest) -> Result<Plan> {
    let name = project::normalize_name(&req.name);
    tags::validate_name(&name)?;
    if let Some(w) = req.canary {
        check_weight(w)?;
    }
    if req.force && req.reason.is_none() {
        return Err(Error::input(
            "--force needs --reason: an override is recorded with its reason",
        ));
    }
    let rel = state::load(&repo.repo, &name)?;
    let rev = req.rev.clone().unwrap_or_else(|| "HEAD".to_string());
    let commit = repo.commit(&rev)?.id();
    let file = project
        .prompt_file(&name, &Source::Rev(commit.to_string()))
        .map_err(|e| {
            if e.message.starts_with("no prompt named") {
                let mut e2 = Error::input(format!("no prompt named '{name}' at {rev} ({})", short(commit)));
                e2.hints = e.hints;
                e2.hint("release tags a commit: commit the prompt file first")
            } else {
                e
            }
        })?;
    if is_head(repo, commit) {
        check_committed(repo, &file.path)?;
    }
    let prompt = file.parse()?;
    let hash = crate::prompt::content_hash(&file.bytes);

    let stable = rel.stable_version();
    let canary = rel.canary_version();
    if let Some(s) = stable
        && s.content_hash == hash
    {
        return Err(Error::input(format!(
            "nothing to release: {name} at {rev} is identical to the stable version {}",
            s.label()
        ))
        .hint("change the prompt and commit it first; `promptctl status` shows what changed"));
    }
    if let Some((c, _)) = canary
        && c.content_hash == hash
    {
        return Err(Error::input(format!(
            "nothing to release: {name} at {rev} is identical to the canary version {}",
            c.label()
        ))
        .hint(format!(
            "promote it with `promptctl promote {name}`, or change its weight with `promptctl canary {name} --weight PCT`"
        )));
    }
    if req.canary.is_some() && stable.is_none() {
        return Err(Error::input(format!(
            "{name} has no stable version yet: a canary needs a stable version for the other callers"
        ))
        .hint(format!(
            "release the first version without --canary: promptctl release {name}"
        )));
    }

    let rev_label = if rev == commit.to_string() {
        short(commit)
    } else {
        format!("{rev} ({})", short(commit))
    };
    let gates = gate::run_gates(project, &prompt, &rev_label, req.live)?;
    let overrides: Vec<String> = if req.force {
        gates.failed().map(|g| g.trailer()).collect()
    } else {
        Vec::new()
    };
    let blocked = !gates.passed() && !req.force;

    let m = project.model_of(&prompt).ok().and_then(|model| {
        let suites = crate::eval::suite::load_all(project).ok()?;
        measure::measure(&prompt, &model, &measure::samples_for(&prompt, &suites)).ok()
    });
    let eval = notes::read(&repo.repo, commit)?
        .and_then(|n| n.entry(&name))
        .filter(|e| e.content_hash.as_deref().is_none_or(|h| h == hash))
        .and_then(|e| e.latest().cloned());

    let sig = actor(&repo.repo)?;
    let number = rel.next_version();
    let version = VersionTag {
        number,
        tag: tags::tag_name(&name, TagKind::Version(number)),
        commit: commit.to_string(),
        path: file.path.to_string_lossy().replace('\\', "/"),
        content_hash: hash,
        model: Some(prompt.model(&project.config.project.default_model).to_string()),
        input_tokens: m.as_ref().map(|m| m.max_input_tokens),
        exact: m.as_ref().is_none_or(|m| m.exact),
        output_cap: prompt.front.config.max_tokens,
        cost_per_call_usd: m.as_ref().map(|m| m.cost.per_call_max_usd),
        gates: gates.gates.clone(),
        overrides: overrides.clone(),
        eval: eval.as_ref().map(eval_line),
        reason: req.reason.clone(),
        stamp: Stamp::from_signature(&sig),
    };
    let (stable_to, canary_to) = match req.canary {
        None => (Slot::stable(Some(number)), rel.slot(Channel::Canary)),
        Some(w) => (rel.slot(Channel::Stable), Slot::canary(Some(number), w)),
    };
    let mut plan = build(
        &rel,
        Action::Release,
        Some(version),
        stable_to,
        canary_to,
        req.reason.clone(),
        overrides,
        sig,
    )?;
    plan.gates = Some(gates);
    plan.blocked = blocked;
    plan.eval = eval;
    plan.rev = Some(rev_label);
    Ok(plan)
}

/// stable := canary; canary cleared.
pub fn plan_promote(repo: &Repo, name: &str, reason: Option<String>) -> Result<Plan> {
    let name = project::normalize_name(name);
    tags::validate_name(&name)?;
    let rel = state::load(&repo.repo, &name)?;
    let Some((canary, _)) = rel.canary_version() else {
        return Err(Error::input(format!("{name} has no canary to promote"))
            .hint(format!("release one first: promptctl release {name} --canary PCT")));
    };
    let to = canary.number;
    build(
        &rel,
        Action::Promote,
        None,
        Slot::stable(Some(to)),
        Slot::default(),
        reason,
        Vec::new(),
        actor(&repo.repo)?,
    )
}

/// stable := the previous stable (or `to`); canary cleared.
pub fn plan_rollback(repo: &Repo, name: &str, to: Option<u32>, reason: String) -> Result<Plan> {
    let name = project::normalize_name(name);
    tags::validate_name(&name)?;
    let rel = state::load(&repo.repo, &name)?;
    let Some(current) = rel.slot(Channel::Stable).version else {
        return Err(Error::input(format!("{name} has no stable version to roll back"))
            .hint("`promptctl status` shows what is released"));
    };
    let target = match to {
        Some(v) => rel.require_version(v)?.number,
        None => previous_stable(&rel, current).ok_or_else(|| {
            Error::input(format!(
                "{name} has no earlier stable version to roll back to (stable is v{current})"
            ))
            .hint(match rel.versions.len() {
                0 | 1 => "there is only one version; release a fixed one instead".to_string(),
                _ => format!("name a version with --to (`promptctl history {name}` lists them)"),
            })
        })?,
    };
    if target == current {
        return Err(Error::input(format!(
            "v{target} is already the stable version of {name}"
        )));
    }
    build(
        &rel,
        Action::Rollback,
        None,
        Slot::stable(Some(target)),
        Slot::default(),
        Some(reason),
        Vec::new(),
        actor(&repo.repo)?,
    )
}

/// Change the canary's weight. `None` when it already has that weight.
pub fn plan_canary_weight(repo: &Repo, name: &str, weight: u8, reason: Option<String>) -> Result<Option<Plan>> {
    check_weight(weight)?;
    let name = project::normalize_name(name);
    tags::validate_name(&name)?;
    let rel = state::load(&repo.repo, &name)?;
    let Some((canary, current)) = rel.canary_version() else {
        return Err(Error::input(format!("{name} has no canary"))
            .hint(format!("start one with: promptctl release {name} --canary PCT")));
    };
    if current == weight {
        return Ok(None);
    }
    let to = canary.number;
    build(
        &rel,
        Action::CanaryWeight,
        None,
        rel.slot(Channel::Stable),
        Slot::canary(Some(to), weight),
        reason,
        Vec::new(),
        actor(&repo.repo)?,
    )
    .map(Some)
}

pub fn check_weight(w: u8) -> Result<()> {
    if w > 100 {
        return Err(
            Error::input(format!("canary weight must be between 0 and 100, got {w}"))
                .hint("the weight is the percentage of callers that get the canary"),
        );
    }
    Ok(())
}

/// The most recent stable version before `current` that is older than it.
fn previous_stable(rel: &Releases, current: u32) -> Option<u32> {
    let mut seq: Vec<u32> = Vec::new();
    for e in rel.events.values() {
        seq.extend(e.stable.from.version);
        seq.extend(e.stable.to.version);
    }
    if seq.is_empty() {
        seq.extend(rel.stable.as_ref().and_then(|s| s.previous.version));
    }
    seq.into_iter().rev().find(|v| *v < current)
}

#[allow(clippy::too_many_arguments)]
fn build(
    rel: &Releases,
    action: Action,
    version: Option<VersionTag>,
    stable_to: Slot,
    canary_to: Slot,
    reason: Option<String>,
    overrides: Vec<String>,
    sig: Signature<'static>,
) -> Result<Plan> {
    let name = rel.name.as_str();
    let event = rel.next_event();
    let actor = Stamp::from_signature(&sig).actor;
    let stable = Change {
        from: rel.slot(Channel::Stable),
        to: stable_to,
    };
    let canary = Change {
        from: rel.slot(Channel::Canary),
        to: canary_to,
    };
    let facts = |v: u32| -> Option<&VersionTag> {
        match &version {
            Some(nv) if nv.number == v => Some(nv),
            _ => rel.versions.get(&v),
        }
    };
    let commit_of = |slot: Slot| -> Option<String> { slot.version.and_then(&facts).map(|t| t.commit.clone()) };

    let mut refs = Vec::new();
    if let Some(v) = &version {
        refs.push(RefUpdate {
            refname: tags::ref_name(name, TagKind::Version(v.number)),
            tag: v.tag.clone(),
            op: "create",
            commit: v.commit.clone(),
            message: version_message(name, v, &actor),
            force: false,
            old: None,
        });
    }
    for (channel, change) in [(Channel::Stable, stable), (Channel::Canary, canary)] {
        if !change.changed() {
            continue;
        }
        let target = commit_of(change.to)
            .or_else(|| commit_of(stable.to))
            .ok_or_else(|| Error::input(format!("{name}: no version to point {channel} at")))?;
        let old = rel.channel(channel).map(|t| t.tag_id);
        refs.push(RefUpdate {
            refname: tags::ref_name(name, TagKind::Channel(channel)),
            tag: tags::tag_name(name, TagKind::Channel(channel)),
            op: if old.is_some() { "move" } else { "create" },
            commit: target,
            message: channel_message(
                name,
                channel,
                change,
                action,
                event,
                change.to.version.and_then(facts),
                reason.as_deref(),
                &actor,
            ),
            force: true,
            old,
        });
    }
    // The event sits on the commit of the version it is about.
    let subject = match action {
        Action::CanaryWeight => canary.to,
        _ => stable.to,
    };
    let event_commit = version
        .as_ref()
        .map(|v| v.commit.clone())
        .or_else(|| commit_of(subject))
        .ok_or_else(|| Error::input(format!("{name}: no version to record the event on")))?;
    refs.push(RefUpdate {
        refname: tags::ref_name(name, TagKind::Event(event)),
        tag: tags::tag_name(name, TagKind::Event(event)),
        op: "create",
        commit: event_commit,
        message: event_message(
            name,
            event,
            action,
            version.as_ref().map(|v| v.number),
            stable,
            canary,
            reason.as_deref(),
            &overrides,
            &actor,
        ),
        force: false,
        old: None,
    });
    Ok(Plan {
        prompt: name.to_string(),
        action,
        event,
        version,
        rev: None,
        stable,
        canary,
        gates: None,
        overrides,
        blocked: false,
        eval: None,
        reason,
        actor,
        refs,
        sig: Actor::from_signature(&sig),
    })
}

/// What applying did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub refs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
}

/// Write the plan's tags. With `push_to`, push the prompt's tags to that
/// remote (atomically) before the local refs are committed, so a rejected
/// push leaves both sides as they were.
pub fn apply(repo: &Repo, plan: &Plan, push_to: Option<&str>) -> Result<Applied> {
    if plan.blocked {
        return Err(Error::gate("release gates failed; nothing was changed"));
    }
    let r = &repo.repo;
    let sig = plan.sig.signature()?;
    let mut ids = Vec::with_capacity(plan.refs.len());
    for u in &plan.refs {
        let target = r.find_object(Oid::from_str(&u.commit)?, None)?;
        ids.push(r.tag_annotation_create(&u.tag, &target, &sig, &u.message)?);
    }
    let mut tx = r.transaction()?;
    for u in &plan.refs {
        tx.lock_ref(&u.refname).map_err(|e| {
            if e.code() == git2::ErrorCode::Locked {
                let lock = r.path().join(format!("{}.lock", u.refname));
                conflict(plan, &format!("{} is locked by another process", u.tag)).hint(format!(
                    "if no git or promptctl process is running, an interrupted run left the lock behind: remove {}",
                    lock.display()
                ))
            } else {
                Error::from(e)
            }
        })?;
    }
    for u in &plan.refs {
        let current = match r.refname_to_id(&u.refname) {
            Ok(id) => Some(id),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        if current != u.old {
            let what = match (u.old, current) {
                (None, Some(_)) => format!("{} already exists", u.tag),
                (Some(_), None) => format!("{} was deleted", u.tag),
                _ => format!("{} moved", u.tag),
            };
            return Err(conflict(plan, &what));
        }
    }
    let log = format!("promptctl {}", plan.action.as_str());
    for (u, id) in plan.refs.iter().zip(&ids) {
        tx.set_target(&u.refname, *id, Some(&sig), &log)?;
    }
    let push = match push_to {
        Some(remote) => {
            let specs = push_specs(r, plan, &ids)?;
            Some(push::push(&workdir(r), remote, &specs)?)
        }
        None => None,
    };
    tx.commit().map_err(|e| {
        let mut err = Error::external(format!("git: updating the local tags failed: {}", e.message()));
        if push.is_some() {
            err = err.hint("the remote was updated; bring the local tags in line with `git fetch --tags --force`");
        }
        err
    })?;
    let mut push = push;
    if let Some(p) = &mut push
        && r.find_reference(notes::NOTES_REF).is_ok()
    {
        p.notes = Some(push::push_notes(&workdir(r), &p.remote));
    }
    Ok(Applied {
        refs: plan.refs.iter().map(|u| u.tag.clone()).collect(),
        push,
    })
}

/// Every promptctl tag of the prompt: immutable ones plain (the remote
/// refuses to change them), channel tags forced. The new event tag is the
/// guard: if the remote moved on, it already has this event number and the
/// atomic push fails as a whole.
fn push_specs(r: &Repository, plan: &Plan, new_ids: &[Oid]) -> Result<Vec<String>> {
    let mut specs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (u, id) in plan.refs.iter().zip(new_ids) {
        seen.insert(u.refname.clone());
        specs.push(format!("{}{id}:{}", if u.force { "+" } else { "" }, u.refname));
    }
    let glob = format!("{}{}@*", tags::REF_PREFIX, plan.prompt);
    for reference in r.references_glob(&glob)? {
        let reference = reference?;
        let Ok(n) = reference.name() else { continue };
        let Some((_, kind)) = tags::parse(n) else { continue };
        if seen.contains(n) {
            continue;
        }
        let force = matches!(kind, TagKind::Channel(_));
        specs.push(format!("{}{n}:{n}", if force { "+" } else { "" }));
    }
    Ok(specs)
}

fn workdir(r: &Repository) -> std::path::PathBuf {
    r.workdir().unwrap_or_else(|| r.path()).to_path_buf()
}

fn conflict(plan: &Plan, what: &str) -> Error {
    Error::new(
        ErrorKind::External,
        format!(
            "another change to {} happened at the same time: {what}; nothing was changed by this run",
            plan.prompt
        ),
    )
    .hint(format!(
        "check `promptctl status {}` and run the command again",
        plan.prompt
    ))
}

fn is_head(repo: &Repo, commit: Oid) -> bool {
    repo.repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .is_some_and(|c| c.id() == commit)
}

fn check_committed(repo: &Repo, path: &Path) -> Result<()> {
    if repo.repo.is_bare() {
        return Ok(());
    }
    let rp = repo.repo_path(path);
    let status = match repo.repo.status_file(&rp) {
        Ok(s) => s,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if status.is_empty() || status == git2::Status::IGNORED {
        return Ok(());
    }
    let what = if status.intersects(git2::Status::WT_DELETED | git2::Status::INDEX_DELETED) {
        "is deleted but the deletion is not committed"
    } else if status.intersects(git2::Status::INDEX_NEW | git2::Status::INDEX_MODIFIED | git2::Status::INDEX_RENAMED) {
        "has staged changes that are not committed"
    } else {
        "has uncommitted changes"
    };
    Err(Error::input(format!("{} {what}", path.display()))
        .hint("a release tags a commit: commit the prompt first, or stash the changes")
        .hint("to release an earlier commit, pass --rev REV"))
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_string()
}

/// `0.00045`: enough digits for sub-cent prices, no float noise.
pub fn usd_plain(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".to_string() } else { s.to_string() }
}

/// One line of eval figures for the `Eval:` trailer and history.
pub fn eval_line(r: &notes::EvalRun) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &r.provider {
        parts.push(p.clone());
    }
    match (r.pass_rate, r.cases) {
        (Some(p), Some(c)) => parts.push(format!("{:.1}% of {c} cases pass", p * 100.0)),
        (Some(p), None) => parts.push(format!("{:.1}% pass", p * 100.0)),
        (None, Some(c)) => parts.push(format!("{c} cases")),
        _ => {}
    }
    if let (Some(i), Some(o)) = (r.mean_input_tokens, r.mean_output_tokens) {
        parts.push(format!("mean in {i:.0} / out {o:.0} tokens"));
    }
    if let Some(c) = r.cost_per_call_usd {
        parts.push(format!("{}/call", report::usd(c)));
    }
    match (r.latency_p50_ms, r.latency_p95_ms) {
        (Some(a), Some(b)) => parts.push(format!("p50 {a:.0} ms, p95 {b:.0} ms")),
        (Some(a), None) => parts.push(format!("p50 {a:.0} ms")),
        _ => {}
    }
    if let Some(id) = &r.run_id {
        parts.push(format!("run {id}"));
    }
    parts.join(", ")
}

fn head(msg: &mut Message, name: &str) {
    msg.push(MARKER, SCHEME).push("Prompt", name);
}

fn facts(msg: &mut Message, v: &VersionTag) {
    msg.push("Path", &v.path).push("Content-Hash", &v.content_hash);
    msg.push_opt("Model", v.model.as_ref());
    if let Some(t) = v.input_tokens {
        msg.push("Input-Tokens", report::tokens(t, v.exact));
    }
    msg.push_opt("Output-Cap", v.output_cap.map(|c| c.to_string()));
    msg.push_opt("Cost-Per-Call-USD", v.cost_per_call_usd.map(usd_plain));
    msg.push_opt("Eval", v.eval.as_ref());
    for g in &v.gates {
        msg.push("Gate", g.trailer());
    }
}

fn version_message(name: &str, v: &VersionTag, actor: &str) -> String {
    let mut subject = format!("{name} {}", v.label());
    if let Some(r) = &v.reason {
        subject.push_str(&format!(": {r}"));
    }
    let mut msg = Message::new(subject);
    head(&mut msg, name);
    msg.push("Version", v.label());
    facts(&mut msg, v);
    for o in &v.overrides {
        msg.push("Override", o);
    }
    msg.push_opt("Reason", v.reason.as_ref());
    msg.push("Actor", actor);
    msg.format()
}

#[allow(clippy::too_many_arguments)]
fn channel_message(
    name: &str,
    channel: Channel,
    change: Change,
    action: Action,
    event: u32,
    version: Option<&VersionTag>,
    reason: Option<&str>,
    actor: &str,
) -> String {
    let subject = match change.to.version {
        Some(_) => format!("{name} {channel} → {} (was {})", change.to.label(), change.from.label()),
        None => format!("{name} {channel} cleared (was {})", change.from.label()),
    };
    let mut msg = Message::new(subject);
    head(&mut msg, name);
    msg.push("Channel", channel.as_str());
    msg.push("Version", version_label(change.to.version));
    msg.push_opt("Canary-Weight", change.to.weight.map(|w| w.to_string()));
    msg.push("Previous", version_label(change.from.version));
    msg.push_opt("Previous-Canary-Weight", change.from.weight.map(|w| w.to_string()));
    msg.push("Action", action.as_str());
    msg.push("Event", event.to_string());
    if let Some(v) = version {
        facts(&mut msg, v);
    }
    msg.push_opt("Reason", reason);
    msg.push("Actor", actor);
    msg.format()
}

#[allow(clippy::too_many_arguments)]
fn event_message(
    name: &str,
    event: u32,
    action: Action,
    version: Option<u32>,
    stable: Change,
    canary: Change,
    reason: Option<&str>,
    overrides: &[String],
    actor: &str,
) -> String {
    let what = match action {
        Action::Release => {
            let v = version_label(version);
            if stable.changed() {
                format!("release {v} to stable")
            } else {
                format!("release {v} as canary at {}%", canary.to.weight.unwrap_or(0))
            }
        }
        Action::Promote => format!("promote {} to stable", stable.to.label()),
        Action::Rollback => format!("roll back stable {} → {}", stable.from.label(), stable.to.label()),
        Action::CanaryWeight => format!(
            "canary {} weight {}% → {}%",
            version_label(canary.to.version),
            canary.from.weight.unwrap_or(0),
            canary.to.weight.unwrap_or(0)
        ),
    };
    let mut msg = Message::new(format!("{name} event {event}: {what}"));
    head(&mut msg, name);
    msg.push("Event", event.to_string());
    msg.push("Action", action.as_str());
    msg.push_opt("Version", version.map(|v| format!("v{v}")));
    msg.push("Stable", version_label(stable.to.version));
    msg.push("Previous-Stable", version_label(stable.from.version));
    msg.push("Canary", version_label(canary.to.version));
    msg.push_opt("Canary-Weight", canary.to.weight.map(|w| w.to_string()));
    msg.push("Previous-Canary", version_label(canary.from.version));
    msg.push_opt("Previous-Canary-Weight", canary.from.weight.map(|w| w.to_string()));
    for o in overrides {
        msg.push("Override", o);
    }
    msg.push_opt("Reason", reason);
    msg.push("Actor", actor);
    msg.format()
}

fn version_label(v: Option<u32>) -> String {
    v.map(|v| format!("v{v}")).unwrap_or_else(|| "none".to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_git_date;

    #[test]
    fn git_dates_parse() {
        let t = |s: &str| parse_git_date(s).map(|t| (t.seconds(), t.offset_minutes()));
        assert_eq!(t("2026-01-01T00:00:00Z"), Some((1767225600, 0)));
        assert_eq!(t("2026-01-01T01:00:00+01:00"), Some((1767225600, 0)));
        assert_eq!(t("@1767225600 +0130"), Some((1767225600, 90)));
        assert_eq!(t("1767225600 -0500"), Some((1767225600, -300)));
        assert_eq!(t("Thu, 01 Jan 2026 01:00:00 +0100"), Some((1767225600, 60)));
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("1767225600 +01"), None);
    }
}
