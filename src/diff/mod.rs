//! The prompt-aware diff between two versions of a project: which prompts
//! were added, deleted, modified or renamed, and for each the text diff per
//! role section, the token and cost change of the rendered request (per
//! message, per hunk, in total), the front-matter field changes and the
//! projected monthly cost change.
//!
//! [`compare`] is the entry point; it returns a [`DiffReport`], plain data
//! that `report::diff` renders and `--format json` serializes (the JSON
//! schema is this module's types, in field order). Work grows with the number
//! of changed prompt files: one tree-to-tree diff restricted to the prompts
//! directory (`git::changes`), then only the changed files are read, parsed
//! and measured. Eval suites (for sample variables) are listed once per
//! evals tree and parsed only for the changed prompts that use them
//! (`suites`).
//!
//! Project settings (default model, catalog overrides, traffic) come from
//! the working tree's promptctl.toml for both sides.

pub mod fields;
pub mod side;
pub mod suite_index;
mod suites;
pub mod text;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use crate::catalog::TokenizerKind;
use crate::error::{Error, ErrorKind, Result};
use crate::eval::suite::SuiteFile;
use crate::git::Repo;
use crate::git::changes::{ChangeKind, FileVersion, Target};
use crate::project::{Project, PromptFile};
use crate::prompt::{self, Prompt, SectionKind};
use crate::tokens::count_text;

pub use fields::{FieldChange, FieldKind};
pub use side::{SideSummary, SuitesFrom};
pub use text::{DiffLine, Hunk, LineOp};

/// The older side: a revision, or the merge base of two (`A...B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Rev(String),
    MergeBase(String, String),
}

/// The newer side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    Rev(String),
    /// Staged content (`--cached`).
    Index,
    /// Files on disk, untracked prompt files included.
    WorkTree,
}

/// What to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffSpec {
    pub base: Base,
    pub head: Head,
    /// Prompt names (`support/triage`), directories under the prompts
    /// directory (`support`), or globs over names and paths (`support/*`).
    pub limits: Vec<String>,
    /// Unchanged lines shown around each hunk.
    pub context: usize,
}

impl DiffSpec {
    pub fn new(base: Base, head: Head) -> DiffSpec {
        DiffSpec {
            base,
            head,
            limits: Vec::new(),
            context: 3,
        }
    }

    /// Read git-style revision arguments: none (HEAD against the working
    /// tree), one (REV against the working tree; `A...B` the merge base of A
    /// and B against B; `A..B` A against B), or two (A against B). With
    /// `cached`, the index takes the working tree's place.
    pub fn parse(revs: &[String], cached: bool) -> Result<DiffSpec> {
        let or_head = |s: &str| {
            if s.is_empty() {
                "HEAD".to_string()
            } else {
                s.to_string()
            }
        };
        let range = |s: &str| -> Option<(Base, Head)> {
            if let Some((a, b)) = s.split_once("...") {
                Some((Base::MergeBase(or_head(a), or_head(b)), Head::Rev(or_head(b))))
            } else {
                s.split_once("..")
                    .map(|(a, b)| (Base::Rev(or_head(a)), Head::Rev(or_head(b))))
            }
        };
        if let Some(empty) = revs.iter().find(|r| r.trim().is_empty()) {
            return Err(Error::input(format!("empty revision '{empty}'")));
        }
        let current = if cached { Head::Index } else { Head::WorkTree };
        let (base, head) = match revs {
            [] => (Base::Rev("HEAD".into()), current),
            [one] => match range(one) {
                Some(_) if cached => {
                    return Err(
                        Error::input(format!("--cached compares the index with one revision, not '{one}'"))
                            .hint("promptctl diff --cached [REV]"),
                    );
                }
                Some(r) => r,
                None => (Base::Rev(one.clone()), current),
            },
            [a, b] => {
                if let Some(r) = [a, b].into_iter().find(|r| range(r).is_some()) {
                    return Err(
                        Error::input(format!("'{r}' is a range; give either one range or two revisions"))
                            .hint("promptctl diff A...B, or promptctl diff A B"),
                    );
                }
                if cached {
                    return Err(Error::input("--cached compares the index with one revision, not two")
                        .hint("promptctl diff --cached [REV]"));
                }
                (Base::Rev(a.clone()), Head::Rev(b.clone()))
            }
            more => {
                return Err(
                    Error::input(format!("expected at most two revisions, got {}", more.len())).hint(
                        "to limit the diff to prompts, list them after `--`: promptctl diff main -- support/triage",
                    ),
                );
            }
        };
        Ok(DiffSpec::new(base, head))
    }
}

// ----------------------------------------------------------------- report

/// `promptctl diff`'s report. Key order is field order; the JSON Schema is
/// `schema/diff.schema.json` (the tests hold every report to it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    pub base: Endpoint,
    pub head: Endpoint,
    /// Date of the built-in price catalog.
    pub catalog_date: String,
    pub summary: Summary,
    /// One entry per changed prompt, by name.
    pub prompts: Vec<PromptDiff>,
    /// Changed prompt files that were not compared (binary, not UTF-8).
    pub skipped: Vec<Skipped>,
    /// Problems that did not stop the diff (an eval suite that does not parse).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Commit,
    Index,
    WorkTree,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoint {
    /// As given: `HEAD`, `main...HEAD` (the base is their merge base),
    /// `index`, `working tree`.
    pub spec: String,
    pub kind: EndpointKind,
    /// The commit id, for commits.
    pub commit: Option<String>,
}

impl Endpoint {
    /// `HEAD (1a2b3c4)`, `index`, `working tree`.
    pub fn label(&self) -> String {
        match &self.commit {
            Some(id) => format!("{} ({})", self.spec, &id[..id.len().min(7)]),
            None => self.spec.clone(),
        }
    }
}

/// A before/after figure. `pct` is `null` when `before` is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BeforeAfter {
    pub before: f64,
    pub after: f64,
    pub delta: f64,
    pub pct: Option<f64>,
}

impl BeforeAfter {
    pub fn new(before: f64, after: f64) -> BeforeAfter {
        BeforeAfter {
            before,
            after,
            delta: after - before,
            pct: (before != 0.0).then(|| (after - before) / before * 100.0),
        }
    }

    fn add(self, other: BeforeAfter) -> BeforeAfter {
        BeforeAfter::new(self.before + other.before, self.after + other.after)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub prompts_changed: usize,
    pub added: usize,
    pub deleted: usize,
    pub modified: usize,
    pub renamed: usize,
    pub skipped: usize,
    /// Prompts that failed to parse or measure at one side.
    pub with_errors: usize,
    /// False when any figure is an estimate.
    pub exact: bool,
    /// Sum of the mean input tokens per call over prompts measured at both
    /// sides (an added prompt counts from 0, a deleted one to 0).
    pub tokens: BeforeAfter,
    pub cost_per_1k_calls_usd: BeforeAfter,
    /// Over prompts with traffic in promptctl.toml; `null` when none has.
    pub monthly_usd: Option<BeforeAfter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Added,
    Deleted,
    Modified,
    Renamed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Deleted => "deleted",
            Status::Modified => "modified",
            Status::Renamed => "renamed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    Base,
    Head,
}

/// A side that could not be parsed or measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideError {
    pub side: Which,
    pub message: String,
    pub hints: Vec<String>,
}

/// One changed prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    /// The head's name (the base's for a deleted prompt).
    pub name: String,
    pub status: Status,
    /// Base name and path; `null` for an added prompt.
    pub old_name: Option<String>,
    pub old_path: Option<PathBuf>,
    /// Head name and path; `null` for a deleted prompt.
    pub new_name: Option<String>,
    pub new_path: Option<PathBuf>,
    /// Renames: how alike the two files are, 0–100.
    pub similarity_pct: Option<u32>,
    /// `null` when absent at that side or when it failed (see `errors`).
    pub base: Option<SideSummary>,
    pub head: Option<SideSummary>,
    pub errors: Vec<SideError>,
    /// Mean input tokens per call (0 on a missing side); `null` when a side failed.
    pub tokens: Option<BeforeAfter>,
    pub cost_per_call_usd: Option<BeforeAfter>,
    pub cost_per_1k_calls_usd: Option<BeforeAfter>,
    /// Where promptctl.toml sets the prompt's traffic.
    pub projection: Option<Projection>,
    /// Front-matter changes (both sides parsed).
    pub fields: Vec<FieldChange>,
    /// Role sections in order, aligned by role; or one `file` section with
    /// the raw text diff when a side failed to parse.
    pub messages: Vec<SectionDiff>,
}

impl PromptDiff {
    /// Whether the effective model differs between two measured sides.
    pub fn model_change(&self) -> Option<(&str, &str)> {
        match (&self.base, &self.head) {
            (Some(a), Some(b)) if a.model != b.model => Some((&a.model, &b.model)),
            _ => None,
        }
    }

    /// The model to show: the head's, else the base's.
    pub fn model(&self) -> Option<&str> {
        self.head.as_ref().or(self.base.as_ref()).map(|s| s.model.as_str())
    }

    pub fn exact(&self) -> bool {
        self.base.iter().chain(self.head.iter()).all(|s| s.exact)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    pub requests_per_day: f64,
    /// 30-day month at the cost per call of each side.
    pub monthly_usd: BeforeAfter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionStatus {
    Added,
    Removed,
    Modified,
    Unchanged,
}

/// One role section (one message; the history section is every history
/// message) compared across the two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionDiff {
    /// system | user | assistant | history, or `file` for a raw diff.
    pub role: String,
    pub status: SectionStatus,
    /// File line of the section's first template line at each side.
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    /// Mean tokens of the rendered message(s), framing included; `null` for `file`.
    pub tokens: Option<BeforeAfter>,
    /// The same without the per-message framing.
    pub content_tokens: Option<BeforeAfter>,
    /// Tokens of the template text itself: what the hunks account for.
    pub template_tokens: TemplateTokens,
    pub hunks: Vec<Hunk>,
}

/// Template-text tokens of a section. The hunks' `tokens_delta` plus
/// `tokenizer_delta` sum to `delta` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TemplateTokens {
    /// Counted with the base model's tokenizer.
    pub before: u64,
    /// Counted with the head model's tokenizer.
    pub after: u64,
    pub delta: i64,
    /// The part of `delta` from counting the old text with the head's
    /// tokenizer instead of the base's (0 unless the tokenizer changed).
    pub tokenizer_delta: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub side: Which,
    pub reason: String,
}

impl DiffReport {
    /// Whether any prompt differs (what `--exit-code` tests).
    pub fn differs(&self) -> bool {
        !self.prompts.is_empty() || !self.skipped.is_empty()
    }

    /// Prompts or files that cannot be read at the head side (what
    /// `--strict` fails on): a broken base that the change fixes is fine.
    pub fn head_failures(&self) -> usize {
        let errs = self
            .prompts
            .iter()
            .filter(|p| p.errors.iter().any(|e| e.side == Which::Head))
            .count();
        errs + self.skipped.iter().filter(|s| s.side == Which::Head).count()
    }
}

// ------------------------------------------------------------- comparing

/// Compare the prompts of two versions of the project.
pub fn compare(project: &Project, spec: &DiffSpec) -> Result<DiffReport> {
    let repo = project.repo()?;
    if repo.is_unborn() {
        return Err(
            Error::input("the repository has no commits yet: there is nothing to compare against").hint(
                "commit the prompts first (git add prompts && git commit); `promptctl list` measures the working tree",
            ),
        );
    }
    let named = |e: Error, rev: &str| rev_hint(project, e, rev);
    let (base_commit, base_spec) = match &spec.base {
        Base::Rev(r) => (repo.commit(r).map_err(|e| named(e, r))?, r.clone()),
        Base::MergeBase(a, b) => {
            let c = repo.merge_base(a, b).map_err(|e| named(named(e, a), b))?;
            (c, format!("{a}...{b}"))
        }
    };
    let base = Endpoint {
        spec: base_spec,
        kind: EndpointKind::Commit,
        commit: Some(base_commit.id().to_string()),
    };
    let base_tree = base_commit.tree()?;
    let (target, head) = match &spec.head {
        Head::Rev(r) => {
            let c = repo.commit(r).map_err(|e| named(e, r))?;
            let ep = Endpoint {
                spec: r.clone(),
                kind: EndpointKind::Commit,
                commit: Some(c.id().to_string()),
            };
            (Target::Tree(c.tree()?), ep)
        }
        Head::Index => (
            Target::Index,
            Endpoint {
                spec: "index".into(),
                kind: EndpointKind::Index,
                commit: None,
            },
        ),
        Head::WorkTree => (
            Target::WorkTree,
            Endpoint {
                spec: "working tree".into(),
                kind: EndpointKind::WorkTree,
                commit: None,
            },
        ),
    };

    let limits = Limits::new(project, &spec.limits)?;
    limits.check_names_exist(project, &repo, &base_tree, &target)?;

    let dir = project.prompts_dir();
    let base_tree_id = base_tree.id();
    let head_tree_id = match &target {
        Target::Tree(t) => Some(t.id()),
        _ => None,
    };
    let labels = (base.label(), head.label());
    // Two threads share the work, and neither waits for the other on the
    // critical path (on small VMs waking a sleeping thread costs up to a
    // millisecond or two; see BENCHMARKS.md). The second thread (own
    // repository handle) lists the eval suites while this one diffs the
    // trees; then both take changed prompts in turn, read both sides, parse
    // the suites those need (each suite once, whichever thread asks first)
    // and measure. A prompt read before the suite listing is ready waits in
    // `ready` for whichever thread gets to it first.
    let shared = std::sync::Arc::new(Shared::default());
    let trees = (base_tree_id, head_tree_id);
    let (mut done, helper_done) = {
        // Whatever happens on this thread, the other must not wait for the
        // changed prompts forever: an early return leaves `None` for it.
        let _unblock = SetOnDrop(&shared.batch);
        // The second thread owns what it uses (its own repository handle
        // and copy of the project), so that it can be placed on another CPU
        // as soon as it exists (`affinity`); it is joined below.
        let helper = {
            let shared = std::sync::Arc::clone(&shared);
            let project = project.clone();
            let location = repo.location();
            let context = spec.context;
            #[cfg(test)]
            let spawner = std::thread::current().id();
            std::thread::Builder::new()
                .name("promptctl-diff".into())
                .spawn(move || -> Done {
                    // Nothing changed and already known: nothing to open.
                    let nothing = |b: &Option<Batch>| b.as_ref().is_none_or(|b| b.cands.is_empty());
                    if shared.batch.get().is_some_and(nothing) {
                        return Done::default();
                    }
                    match location.open() {
                        Ok(repo) => {
                            let done = help(&shared, &project, context, trees, &repo);
                            #[cfg(test)]
                            tests::helper_ran_on(spawner, crate::affinity::allowed_cpus());
                            repo.close();
                            done
                        }
                        Err(e) => {
                            // Listed as failed: the caller reports it.
                            let _ = shared.listing.set(Err(e));
                            Done::default()
                        }
                    }
                })
        };
        // On a VM whose idle vCPUs are slow to wake (or a scheduler that
        // packs threads onto one CPU) a new thread can wait a millisecond or
        // two for a CPU; each thread keeps a CPU of its own until the join.
        let _pinned = helper.as_ref().ok().and_then(crate::affinity::split);
        let helper = helper.map_err(|e| Error::external(format!("cannot start a thread: {e}")))?;

        let mut cands = Vec::new();
        for c in repo.changes(&base_tree, &target, dir)? {
            let old = c.old.and_then(|v| Some((name_of(dir, &v.path)?, v)));
            let new = c.new.and_then(|v| Some((name_of(dir, &v.path)?, v)));
            let status = match (&old, &new) {
                (None, None) => continue,
                (Some(_), None) => Status::Deleted,
                (None, Some(_)) => Status::Added,
                (Some((_, o)), Some((_, n))) if c.kind == ChangeKind::Renamed && o.path != n.path => Status::Renamed,
                _ => Status::Modified,
            };
            let hit = old.iter().chain(new.iter()).any(|(n, v)| limits.matches(n, &v.path));
            if hit {
                cands.push(Candidate {
                    status,
                    old,
                    new,
                    similarity: c.similarity,
                });
            }
        }
        let names = cands
            .iter()
            .flat_map(|c| c.old.iter().chain(c.new.iter()).map(|(n, _)| n.clone()))
            .collect();
        let _ = shared.batch.set(Some(Batch { cands, names }));
        let mut done = Done::default();
        if let Some(Some(batch)) = shared.batch.get() {
            Work::new(project, spec.context, &shared, trees).run(&repo, batch, &mut done);
        }
        let helper_done = helper
            .join()
            .map_err(|_| Error::external("measuring the changed prompts failed"))?;
        (done, helper_done)
    };
    done.merge(helper_done);
    let any = shared
        .batch
        .get()
        .is_some_and(|b| b.as_ref().is_some_and(|b| !b.cands.is_empty()));
    if any {
        match shared.listing.get() {
            Some(Err(e)) => return Err(e.clone()),
            Some(Ok(listing)) => listing.save_index(),
            None => {}
        }
    }
    if let Some((_, e)) = done.errors.into_iter().min_by_key(|(i, _)| *i) {
        return Err(e);
    }
    let warnings = match (shared.listing.get(), shared.batch.get()) {
        (Some(Ok(listing)), Some(Some(batch))) => {
            suites::Suites::new(project, listing, &batch.names, &shared.memo).warnings((&labels.0, &labels.1))
        }
        _ => Vec::new(),
    };
    let (mut prompts, mut skipped) = (done.prompts, done.skipped);
    drop((target, base_tree, base_commit));
    repo.close();
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let summary = summarize(&prompts, skipped.len());
    Ok(DiffReport {
        base,
        head,
        catalog_date: project.catalog.date.clone(),
        summary,
        prompts,
        skipped,
        warnings,
    })
}

/// An unknown revision that names a prompt: the user meant to limit the diff.
fn rev_hint(project: &Project, e: Error, rev: &str) -> Error {
    if e.kind != ErrorKind::Input || !e.message.starts_with(&format!("unknown revision '{rev}'")) {
        return e;
    }
    let name = strip_dir(project.prompts_dir(), rev);
    let dir = project.root.join(project.prompts_dir());
    let is_prompt =
        !name.is_empty() && (dir.join(&name).is_dir() || dir.join(format!("{name}.{}", prompt::EXTENSION)).is_file());
    if is_prompt {
        e.hint(format!(
            "'{rev}' is a prompt: to limit the diff to it, list it after `--`: promptctl diff -- {rev}"
        ))
    } else {
        e
    }
}

struct Candidate {
    status: Status,
    old: Option<(String, FileVersion)>,
    new: Option<(String, FileVersion)>,
    similarity: Option<u32>,
}

/// The changed prompts, and every name they have (old and new).
#[derive(Default)]
struct Batch {
    cands: Vec<Candidate>,
    names: Vec<String>,
}

/// A changed prompt with both sides' files read.
struct ReadCandidate {
    status: Status,
    similarity: Option<u32>,
    old: Option<PromptFile>,
    new: Option<PromptFile>,
}

/// What the two threads share.
#[derive(Default)]
struct Shared {
    listing: std::sync::OnceLock<Result<suites::Listing>>,
    /// `None`: the thread that diffs the trees stopped early.
    batch: std::sync::OnceLock<Option<Batch>>,
    /// The next changed prompt to take.
    next: std::sync::atomic::AtomicUsize,
    /// Prompts read before the suite listing was ready, by position.
    ready: std::sync::Mutex<Vec<(usize, ReadCandidate)>>,
    /// The suites either thread parsed.
    memo: suites::Memo,
}

/// The suite files of both trees (no head tree: the index or the working
/// tree), placed by prompt.
fn list_at(project: &Project, repo: &Repo, (base, head): Trees, index: Option<&Path>) -> Result<suites::Listing> {
    let base_tree = repo.find_tree(base)?;
    let head_tree = head.map(|id| repo.find_tree(id)).transpose()?;
    suites::Listing::list(project, repo, (&base_tree, head_tree.as_ref()), index)
}

/// The second thread's part, its repository open: the suite listing (unless
/// it is there), then changed prompts until none is left.
fn help(shared: &Shared, project: &Project, context: usize, trees: Trees, repo: &Repo) -> Done {
    let mut done = Done::default();
    let work = Work::new(project, context, shared, trees);
    shared.listing.get_or_init(|| work.list(repo));
    if let Some(batch) = shared.batch.wait() {
        work.run(repo, batch, &mut done);
    }
    done
}

/// The base tree and the head tree (none: the index or the working tree).
type Trees = (git2::Oid, Option<git2::Oid>);

/// One thread's share of the measuring.
struct Work<'s> {
    project: &'s Project,
    context: usize,
    shared: &'s Shared,
    /// This thread's view of the suites (what is parsed is shared).
    suites: std::sync::OnceLock<suites::Suites<'s>>,
    trees: Trees,
}

/// What one thread measured; errors by the changed prompt's position.
#[derive(Default)]
struct Done {
    prompts: Vec<PromptDiff>,
    skipped: Vec<Skipped>,
    errors: Vec<(usize, Error)>,
}

impl Done {
    fn merge(&mut self, other: Done) {
        self.prompts.extend(other.prompts);
        self.skipped.extend(other.skipped);
        self.errors.extend(other.errors);
    }
}

impl<'s> Work<'s> {
    fn new(project: &'s Project, context: usize, shared: &'s Shared, trees: Trees) -> Work<'s> {
        Work {
            project,
            context,
            shared,
            suites: std::sync::OnceLock::new(),
            trees,
        }
    }

    /// The suite listing of the two trees, made with this thread's `repo`.
    fn list(&self, repo: &Repo) -> Result<suites::Listing> {
        list_at(self.project, repo, self.trees, index_path())
    }

    /// Take changed prompts until none is left: read both sides, then
    /// measure, or leave the prompt to `ready` while the suite listing is
    /// not there yet (it is made on the other thread meanwhile). Returns
    /// once every prompt is taken and none waits; `repo` is this thread's.
    fn run(&self, repo: &Repo, batch: &'s Batch, done: &mut Done) {
        loop {
            if let Some(suites) = self.suites_if_listed(batch) {
                let waiting = self.shared.ready.lock().ok().and_then(|mut q| q.pop());
                if let Some((i, r)) = waiting {
                    self.measure(repo, suites, (i, r), done);
                    continue;
                }
            }
            let i = self.shared.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(c) = batch.cands.get(i) {
                match read_candidate(repo, c, &mut done.skipped) {
                    Err(e) => done.errors.push((i, e)),
                    Ok(None) => {}
                    Ok(Some(r)) => match self.suites_if_listed(batch) {
                        Some(suites) => self.measure(repo, suites, (i, r), done),
                        None => {
                            if let Ok(mut q) = self.shared.ready.lock() {
                                q.push((i, r));
                            }
                        }
                    },
                }
                continue;
            }
            // Every prompt is taken. Some may wait for the listing: wait for
            // the other thread to finish it, or make it here if that thread
            // has not started it.
            if self.shared.ready.lock().map_or(true, |q| q.is_empty()) {
                return;
            }
            if self.shared.listing.get_or_init(|| self.list(repo)).is_err() {
                // The listing failed (reported by the caller): measure nothing.
                if let Ok(mut q) = self.shared.ready.lock() {
                    q.clear();
                }
                return;
            }
        }
    }

    fn suites_if_listed(&self, batch: &'s Batch) -> Option<&suites::Suites<'s>> {
        if let Some(s) = self.suites.get() {
            return Some(s);
        }
        match self.shared.listing.get() {
            Some(Ok(listing)) => Some(
                self.suites
                    .get_or_init(|| suites::Suites::new(self.project, listing, &batch.names, &self.shared.memo)),
            ),
            _ => None,
        }
    }

    fn measure(&self, repo: &Repo, suites: &suites::Suites<'_>, (i, r): (usize, ReadCandidate), done: &mut Done) {
        match build(
            self.project,
            (repo, suites),
            self.context,
            (r.status, r.similarity),
            r.old,
            r.new,
        ) {
            Ok(p) => done.prompts.push(p),
            Err(e) => done.errors.push((i, e)),
        }
    }
}

/// Read both sides of a changed prompt. A side that is not text skips the
/// whole prompt (reported).
fn read_candidate(repo: &Repo, c: &Candidate, skipped: &mut Vec<Skipped>) -> Result<Option<ReadCandidate>> {
    let read = |side: &Option<(String, FileVersion)>, which: Which, skipped: &mut Vec<Skipped>| {
        let Some((name, v)) = side else {
            return Ok(None);
        };
        let bytes = repo.read_version(v)?;
        if let Err(reason) = check_text(&bytes) {
            skipped.push(Skipped {
                path: v.path.clone(),
                side: which,
                reason,
            });
            return Ok(Some(None));
        }
        Ok::<_, Error>(Some(Some(PromptFile {
            name: name.clone(),
            path: v.path.clone(),
            bytes,
        })))
    };
    let old_file = read(&c.old, Which::Base, skipped)?;
    let new_file = read(&c.new, Which::Head, skipped)?;
    if matches!(old_file, Some(None)) || matches!(new_file, Some(None)) {
        return Ok(None);
    }
    Ok(Some(ReadCandidate {
        status: c.status,
        similarity: (c.status == Status::Renamed).then_some(c.similarity).flatten(),
        old: old_file.flatten(),
        new: new_file.flatten(),
    }))
}

/// Leaves `None` for the other thread if nothing else was set (this thread
/// returned early or panicked), so it does not wait for the changed prompts
/// forever.
struct SetOnDrop<'a>(&'a std::sync::OnceLock<Option<Batch>>);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

fn name_of(dir: &Path, path: &Path) -> Option<String> {
    prompt::name_from_rel_path(path.strip_prefix(dir).ok()?)
}

/// Prompt files must be text: no NUL byte, valid UTF-8.
fn check_text(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.iter().take(8000).any(|b| *b == 0) {
        return Err("binary file".into());
    }
    std::str::from_utf8(bytes).map(|_| ()).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        format!("not valid UTF-8 (line {line})")
    })
}

fn build(
    project: &Project,
    (repo, suites): (&Repo, &suites::Suites<'_>),
    context: usize,
    (status, similarity_pct): (Status, Option<u32>),
    old: Option<PromptFile>,
    new: Option<PromptFile>,
) -> Result<PromptDiff> {
    let old_name = old.as_ref().map(|f| f.name.as_str());
    let new_name = new.as_ref().map(|f| f.name.as_str());
    // The suites each side uses. The prompt's name on the other side, when
    // it was renamed: suites that still (or already) use that name apply.
    let pick = |f: &PromptFile, which: Which| {
        let counterpart = match which {
            Which::Base => new_name,
            Which::Head => old_name,
        };
        let also = counterpart.filter(|o| *o != f.name);
        suites.pick(repo, which, &f.name, also)
    };
    let old_suites = old.as_ref().map(|f| pick(f, Which::Base)).transpose()?;
    let new_suites = new.as_ref().map(|f| pick(f, Which::Head)).transpose()?;
    let measure =
        |f: &PromptFile, (chosen, from): (Vec<SuiteFile>, Option<SuitesFrom>), other_side: Option<&Prompt>| {
            side::measure_side(project, f, &chosen, from, other_side)
        };
    let mut errors = Vec::new();
    let mut fail = |which: Which, e: Error| {
        errors.push(SideError {
            side: which,
            message: e.message,
            hints: e.hints,
        });
    };
    let a = old.as_ref().zip(old_suites).map(|(f, s)| measure(f, s, None));
    let base_prompt = a.as_ref().and_then(|r| r.as_ref().ok()).map(|m| &m.prompt);
    let b = new.as_ref().zip(new_suites).map(|(f, s)| measure(f, s, base_prompt));
    let a = match a {
        Some(Err(e)) => {
            fail(Which::Base, e);
            None
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let b = match b {
        Some(Err(e)) => {
            fail(Which::Head, e);
            None
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let failed = !errors.is_empty();

    let figure = |f: fn(&SideSummary) -> f64| -> Option<BeforeAfter> {
        if failed {
            return None;
        }
        let x = a.as_ref().map(|m| f(&m.summary)).unwrap_or(0.0);
        let y = b.as_ref().map(|m| f(&m.summary)).unwrap_or(0.0);
        Some(BeforeAfter::new(x, y))
    };
    let tokens = figure(|s| s.input_tokens);
    let cost_per_call_usd = figure(|s| s.cost_per_call_usd);
    let cost_per_1k_calls_usd = figure(|s| s.cost_per_1k_calls_usd);

    let name = new
        .as_ref()
        .or(old.as_ref())
        .map(|f| f.name.clone())
        .unwrap_or_default();
    // Traffic keyed by the new name, else (a rename) the old one, else "*".
    let traffic = &project.config.traffic.requests_per_day;
    let per_day = traffic
        .get(&name)
        .or_else(|| old_name.and_then(|o| traffic.get(o)))
        .or_else(|| traffic.get("*"))
        .copied();
    let projection = match (cost_per_call_usd, per_day) {
        (Some(c), Some(per_day)) => Some(Projection {
            requests_per_day: per_day,
            monthly_usd: BeforeAfter::new(per_day * 30.0 * c.before, per_day * 30.0 * c.after),
        }),
        _ => None,
    };

    let messages = if failed {
        let text = |f: &Option<PromptFile>| {
            f.as_ref()
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default()
        };
        vec![raw_section(&text(&old), &text(&new), context)]
    } else {
        sections(a.as_ref(), b.as_ref(), context)
    };
    let fields = match (&a, &b) {
        (Some(x), Some(y)) => fields::changes(&x.prompt, &y.prompt, &x.model.id, &y.model.id),
        _ => Vec::new(),
    };
    Ok(PromptDiff {
        name,
        status,
        old_name: old.as_ref().map(|f| f.name.clone()),
        old_path: old.as_ref().map(|f| f.path.clone()),
        new_name: new.as_ref().map(|f| f.name.clone()),
        new_path: new.as_ref().map(|f| f.path.clone()),
        similarity_pct,
        base: a.map(|m| m.summary),
        head: b.map(|m| m.summary),
        errors,
        tokens,
        cost_per_call_usd,
        cost_per_1k_calls_usd,
        projection,
        fields,
        messages,
    })
}

fn role_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Message(r) => r.as_str(),
        SectionKind::History => "history",
    }
}

/// Section-by-section comparison of two measured sides (either may be absent).
fn sections(a: Option<&side::Measured>, b: Option<&side::Measured>, context: usize) -> Vec<SectionDiff> {
    let roles = |m: Option<&side::Measured>| -> Vec<&'static str> {
        m.map(|m| m.prompt.sections.iter().map(|s| role_name(s.kind)).collect())
            .unwrap_or_default()
    };
    let base_kind = a.map(|m| m.tokenizer());
    let head_kind = b
        .map(|m| m.tokenizer())
        .or(base_kind)
        .unwrap_or(TokenizerKind::O200kBase);
    let base_kind = base_kind.unwrap_or(head_kind);
    let count_head = |s: &str| count_text(head_kind, s);

    let mut out = Vec::new();
    for (i, j) in text::align(&roles(a), &roles(b)) {
        let old = i.and_then(|i| a.map(|m| (&m.prompt.sections[i], m.sections[i])));
        let new = j.and_then(|j| b.map(|m| (&m.prompt.sections[j], m.sections[j])));
        let role = old.or(new).map(|(s, _)| role_name(s.kind)).unwrap_or("user");
        let old_text = old.map(|(s, _)| s.template.as_str()).unwrap_or("");
        let new_text = new.map(|(s, _)| s.template.as_str()).unwrap_or("");
        let before = count_text(base_kind, old_text);
        let after = count_head(new_text);
        let tokenizer_delta = if base_kind == head_kind || old.is_none() {
            0
        } else {
            count_head(old_text) as i64 - before as i64
        };
        let hunks = text::hunks(
            old_text,
            new_text,
            old.map(|(s, _)| s.line).unwrap_or(0),
            new.map(|(s, _)| s.line).unwrap_or(0),
            context,
            &count_head,
        );
        let tok = |f: fn(&side::SectionTokens) -> f64| {
            BeforeAfter::new(
                old.map(|(_, t)| f(&t)).unwrap_or(0.0),
                new.map(|(_, t)| f(&t)).unwrap_or(0.0),
            )
        };
        let status = match (old, new) {
            (None, _) => SectionStatus::Added,
            (_, None) => SectionStatus::Removed,
            _ if hunks.is_empty() => SectionStatus::Unchanged,
            _ => SectionStatus::Modified,
        };
        out.push(SectionDiff {
            role: role.to_string(),
            status,
            old_line: old.map(|(s, _)| s.line),
            new_line: new.map(|(s, _)| s.line),
            tokens: Some(tok(|t| t.total)),
            content_tokens: Some(tok(|t| t.content)),
            template_tokens: TemplateTokens {
                before,
                after,
                delta: after as i64 - before as i64,
                tokenizer_delta,
            },
            hunks,
        });
    }
    out
}

/// The whole file's text diff, for a prompt that failed at one side.
fn raw_section(old: &str, new: &str, context: usize) -> SectionDiff {
    let count = |s: &str| count_text(TokenizerKind::O200kBase, s);
    let (before, after) = (count(old), count(new));
    SectionDiff {
        role: "file".into(),
        status: match (old.is_empty(), new.is_empty()) {
            (true, _) => SectionStatus::Added,
            (_, true) => SectionStatus::Removed,
            _ if old == new => SectionStatus::Unchanged,
            _ => SectionStatus::Modified,
        },
        old_line: (!old.is_empty()).then_some(1),
        new_line: (!new.is_empty()).then_some(1),
        tokens: None,
        content_tokens: None,
        template_tokens: TemplateTokens {
            before,
            after,
            delta: after as i64 - before as i64,
            tokenizer_delta: 0,
        },
        hunks: text::hunks(old, new, 1, 1, context, &count),
    }
}

fn summarize(prompts: &[PromptDiff], skipped: usize) -> Summary {
    let count = |s: Status| prompts.iter().filter(|p| p.status == s).count();
    let zero = BeforeAfter::new(0.0, 0.0);
    let mut tokens = zero;
    let mut per_1k = zero;
    let mut monthly: Option<BeforeAfter> = None;
    for p in prompts {
        if let Some(t) = p.tokens {
            tokens = tokens.add(t);
        }
        if let Some(c) = p.cost_per_1k_calls_usd {
            per_1k = per_1k.add(c);
        }
        if let Some(pr) = &p.projection {
            monthly = Some(monthly.unwrap_or(zero).add(pr.monthly_usd));
        }
    }
    Summary {
        prompts_changed: prompts.len(),
        added: count(Status::Added),
        deleted: count(Status::Deleted),
        modified: count(Status::Modified),
        renamed: count(Status::Renamed),
        skipped,
        with_errors: prompts.iter().filter(|p| !p.errors.is_empty()).count(),
        exact: prompts.iter().all(PromptDiff::exact),
        tokens,
        cost_per_1k_calls_usd: per_1k,
        monthly_usd: monthly,
    }
}

// ------------------------------------------------------------ eval suites

static INDEX_PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Keep the suite index at `path` (the CLI does, under `.promptctl/cache`);
/// without it the index lives for one diff only.
pub fn enable_index(path: &Path) {
    let _ = INDEX_PATH.set(path.to_path_buf());
}

fn index_path() -> Option<&'static Path> {
    INDEX_PATH.get().map(PathBuf::as_path)
}

// ------------------------------------------------------------------ limits

/// Which prompts to show: names, directories or globs.
struct Limits {
    names: Vec<String>,
    globs: Option<GlobSet>,
}

fn strip_dir(dir: &Path, s: &str) -> String {
    let s = s.replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s);
    let d = format!("{}/", dir.to_string_lossy().trim_end_matches('/'));
    let s = s.strip_prefix(&d).unwrap_or(s);
    let s = s.strip_suffix(&format!(".{}", prompt::EXTENSION)).unwrap_or(s);
    let s = s.trim_end_matches('/');
    // The prompts directory itself: everything.
    if s == d.trim_end_matches('/') {
        String::new()
    } else {
        s.to_string()
    }
}

impl Limits {
    fn new(project: &Project, raw: &[String]) -> Result<Limits> {
        let mut names = Vec::new();
        let mut globs = GlobSetBuilder::new();
        let mut any_glob = false;
        for l in raw {
            if l.contains(['*', '?', '[', '{']) {
                let g = Glob::new(l).map_err(|e| {
                    Error::input(format!("bad glob '{l}': {e}"))
                        .hint("globs match prompt names (support/*) or paths (prompts/**/*.prompt)")
                })?;
                globs.add(g);
                any_glob = true;
            } else {
                names.push(strip_dir(project.prompts_dir(), l));
            }
        }
        let globs = if any_glob {
            Some(globs.build().map_err(|e| Error::input(format!("bad glob: {e}")))?)
        } else {
            None
        };
        Ok(Limits { names, globs })
    }

    fn matches(&self, name: &str, path: &Path) -> bool {
        if self.names.is_empty() && self.globs.is_none() {
            return true;
        }
        let by_name = self
            .names
            .iter()
            .any(|n| n.is_empty() || name == n || name.strip_prefix(n.as_str()).is_some_and(|r| r.starts_with('/')));
        by_name
            || self
                .globs
                .as_ref()
                .is_some_and(|g| g.is_match(name) || g.is_match(path))
    }

    /// A plain name that is neither a prompt nor a directory at either side
    /// is a typo: say so instead of printing an empty diff.
    fn check_names_exist(
        &self,
        project: &Project,
        repo: &Repo,
        base: &git2::Tree<'_>,
        target: &Target<'_>,
    ) -> Result<()> {
        let dir = project.prompts_dir();
        for n in &self.names {
            if n.is_empty() {
                continue;
            }
            let file = dir.join(format!("{n}.{}", prompt::EXTENSION));
            let sub = dir.join(n);
            let in_tree = |t: &git2::Tree<'_>| {
                t.get_path(&repo.repo_path(&file)).is_ok() || t.get_path(&repo.repo_path(&sub)).is_ok()
            };
            let on_disk = project.root.join(&file).is_file() || project.root.join(&sub).is_dir();
            let at_head = match target {
                Target::Tree(t) => in_tree(t),
                Target::Index | Target::WorkTree => on_disk,
            };
            if in_tree(base) || at_head || on_disk {
                continue;
            }
            let known = project
                .prompt_files(&crate::project::Source::WorkTree)
                .unwrap_or_default();
            let hint = crate::error::suggest(n, known.iter().map(|f| f.name.as_str()));
            return Err(Error::input(format!(
                "no prompt or prompt directory named '{n}' (looked for {} and {}/)",
                file.display(),
                sub.display()
            ))
            .with_hint_opt(hint)
            .hint("limits are prompt names (support/triage), directories (support) or globs ('support/*')"));
        }
        Ok(())
    }
}
