//! Eval suites for sample variables. A revision side uses the suites at that
//! revision that test the prompt; when there are none, the other side's (the
//! other revision's, or the working tree's when that is the other side), so
//! both sides are measured on the same cases. The index and the working tree
//! use the working tree's, else the base revision's. A diff between two
//! revisions depends on those two revisions only.
//!
//! Suites are parsed when a prompt that needs them is measured, on whichever
//! thread measures it, and each file once: [`Listing`] places every suite
//! file of a revision by the prompt it tests (the suite index, else a scan),
//! and [`Suites`] parses only the files placed at a changed prompt (or that
//! cannot be placed and mention one), remembering each by path and blob.
//! What parsing a placed file gave (its prompt and case variables) is kept
//! in the suite index by blob id, so a later diff neither reads nor parses
//! that file again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::diff::suite_index::{Samples, SuiteIndex};
use crate::diff::{SuitesFrom, Which};
use crate::error::{Error, Result};
use crate::eval::suite::{self, Case, CaseDefaults, Cases, Suite, SuiteFile};
use crate::git::Repo;
use crate::project::{Project, normalize_name};

/// The suite files of both revisions, placed by the prompt each tests.
pub(super) struct Listing {
    base: Side,
    /// `None`: the head is the index or the working tree; `Some(None)`: the
    /// head's evals tree is the base's.
    head: Option<Option<Side>>,
    index: Mutex<SuiteIndex>,
}

/// The suite files of one revision.
struct Side {
    files: Vec<(PathBuf, git2::Oid)>,
    /// Positions in `files`, by the (normalized) prompt the index says each
    /// file tests.
    by_prompt: HashMap<String, Vec<usize>>,
    /// Positions of files the index cannot place: looked at for every name.
    unplaced: Vec<usize>,
}

impl Listing {
    /// List the suite files of both sides and place each by the prompt it
    /// tests; needs no changed names, so it runs while the trees are diffed.
    /// A file the index does not know is read once here and learnt.
    pub(super) fn list(
        project: &Project,
        repo: &Repo,
        (base_tree, head_tree): (&git2::Tree<'_>, Option<&git2::Tree<'_>>),
        index_path: Option<&Path>,
    ) -> Result<Listing> {
        let evals = project.evals_dir();
        let mut index = SuiteIndex::open(index_path);
        let base_id = repo.subtree_id(base_tree, evals);
        let base = Side::new(
            repo,
            files_under(repo, (base_tree, base_id), evals, &mut index)?,
            &mut index,
        )?;
        let head = match head_tree.map(|t| (t, repo.subtree_id(t, evals))) {
            // The same evals tree on both sides (the common case): no walk.
            Some((_, id)) if id == base_id => Some(None),
            Some(t) => Some(Some(Side::new(
                repo,
                files_under(repo, t, evals, &mut index)?,
                &mut index,
            )?)),
            None => None,
        };
        Ok(Listing {
            base,
            head,
            index: Mutex::new(index),
        })
    }

    /// Write the suite index if it learnt something.
    pub(super) fn save_index(&self) {
        if let Ok(mut i) = self.index.lock() {
            i.save();
        }
    }

    fn side(&self, which: Which) -> Option<&Side> {
        match which {
            Which::Base => Some(&self.base),
            Which::Head => match &self.head {
                Some(Some(s)) => Some(s),
                Some(None) => Some(&self.base),
                None => None,
            },
        }
    }
}

impl Side {
    fn new(repo: &Repo, files: Vec<(PathBuf, git2::Oid)>, index: &mut SuiteIndex) -> Result<Side> {
        let files: Vec<_> = files.into_iter().filter(|(p, _)| is_suite_file(p)).collect();
        let mut by_prompt: HashMap<String, Vec<usize>> = HashMap::new();
        let mut unplaced = Vec::new();
        for (i, (_, id)) in files.iter().enumerate() {
            if index.get(*id).is_none() {
                index.learn(*id, &repo.blob(*id)?);
            }
            match index.get(*id) {
                Some(p) => by_prompt.entry(p.to_string()).or_default().push(i),
                None => unplaced.push(i),
            }
        }
        Ok(Side {
            files,
            by_prompt,
            unplaced,
        })
    }

    /// The files that may test `name`, in listing order.
    fn candidates(&self, name: &str) -> Vec<usize> {
        let mut v: Vec<usize> = self.by_prompt.get(name).into_iter().flatten().copied().collect();
        v.extend(&self.unplaced);
        v.sort_unstable();
        v
    }
}

/// The files under the evals directory at a tree (with the id of its evals
/// tree): from the index when it knows that evals tree, else walked (and
/// learnt).
fn files_under(
    repo: &Repo,
    (tree, evals_id): (&git2::Tree<'_>, Option<git2::Oid>),
    evals: &Path,
    index: &mut SuiteIndex,
) -> Result<Vec<(PathBuf, git2::Oid)>> {
    let Some(id) = evals_id else {
        // No evals directory (or one that cannot be read: the walk says).
        return repo.files_under(tree, evals);
    };
    if let Some(files) = index.tree(id, evals) {
        return Ok(files);
    }
    let files = repo.files_under(tree, evals)?;
    let under: Vec<(PathBuf, git2::Oid)> = files
        .iter()
        .filter_map(|(p, b)| Some((p.strip_prefix(evals).ok()?.to_path_buf(), *b)))
        .collect();
    if under.len() == files.len() {
        index.learn_tree(id, &under);
    }
    Ok(files)
}

fn is_suite_file(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str());
    matches!(ext, Some("yaml" | "yml")) && !path.to_string_lossy().ends_with(".responses.yaml")
}

/// A suite file read for the diff.
enum Parsed {
    /// It does not mention a changed prompt: not parsed.
    NotAbout,
    Suite(Box<SuiteFile>),
    /// It mentions one but does not parse: a warning, not a failure (a
    /// broken suite in history must not make the diff impossible).
    Broken(String),
}

/// The suites of a diff, parsed on demand by the threads that measure the
/// changed prompts, each file once: what was parsed lives in a [`Memo`] the
/// threads share; each thread reads through its own `Suites`, with its own
/// (equal) project.
pub(super) struct Suites<'a> {
    project: &'a Project,
    listing: &'a Listing,
    /// Every changed prompt's names (old and new): a file the index cannot
    /// place is parsed when it mentions one of them.
    names: &'a [String],
    parsed: &'a Mutex<HashMap<(PathBuf, git2::Oid), ParsedRef>>,
    /// The working tree's suites that mention a changed prompt (when the
    /// head is the index or the working tree), read once, with warnings.
    work: &'a WorkSuites,
}

/// What the threads of one diff have parsed.
#[derive(Default)]
pub(super) struct Memo {
    parsed: Mutex<HashMap<(PathBuf, git2::Oid), ParsedRef>>,
    work: WorkSuites,
}

type WorkSuites = OnceLock<Result<(Vec<SuiteFile>, Vec<String>)>>;

type ParsedRef = std::sync::Arc<Parsed>;

impl<'a> Suites<'a> {
    pub(super) fn new(project: &'a Project, listing: &'a Listing, names: &'a [String], memo: &'a Memo) -> Suites<'a> {
        Suites {
            project,
            listing,
            names,
            parsed: &memo.parsed,
            work: &memo.work,
        }
    }

    /// Suites for `name` at one side, and where they came from. A renamed
    /// prompt whose suites still name it by its old name (`also`) uses
    /// those, retargeted to the new name, so the rename alone does not
    /// change the samples. `repo` reads blobs on the calling thread.
    pub(super) fn pick(
        &self,
        repo: &Repo,
        which: Which,
        name: &str,
        also: Option<&str>,
    ) -> Result<(Vec<SuiteFile>, Option<SuitesFrom>)> {
        let mine = |at: Option<&Side>| -> Result<Vec<SuiteFile>> {
            let of = |n: &str| match at {
                Some(side) => self.at(repo, side, n),
                None => Ok(suite::for_prompt(self.work()?, n).into_iter().cloned().collect()),
            };
            let mut found = of(name)?;
            if found.is_empty()
                && let Some(old) = also
            {
                found = of(old)?;
                for f in &mut found {
                    f.suite.prompt = name.to_string();
                }
            }
            Ok(found)
        };
        let other = match which {
            Which::Base => Which::Head,
            Which::Head => Which::Base,
        };
        // This side's suites (no side: the head is the index or the working
        // tree, which read the working tree's).
        let own = self.listing.side(which);
        let found = mine(own)?;
        if !found.is_empty() {
            let from = match own {
                Some(_) => SuitesFrom::Revision,
                None => SuitesFrom::WorkingTree,
            };
            return Ok((found, Some(from)));
        }
        // None here (or none that parses): the other side's, so both sides
        // are measured on the same cases.
        let (found, from) = match self.listing.side(other) {
            Some(o) => (mine(Some(o))?, SuitesFrom::OtherRevision),
            None => (mine(None)?, SuitesFrom::WorkingTree),
        };
        let from = (!found.is_empty()).then_some(from);
        Ok((found, from))
    }

    /// The suites at a revision that test `name`.
    fn at(&self, repo: &Repo, side: &Side, name: &str) -> Result<Vec<SuiteFile>> {
        let mut out = Vec::new();
        for i in side.candidates(name) {
            let (path, id) = &side.files[i];
            if let Parsed::Suite(f) = &*self.read(repo, path, *id)?
                && normalize_name(&f.suite.prompt) == name
            {
                out.push(SuiteFile::clone(f));
            }
        }
        Ok(out)
    }

    /// One suite file, read and parsed once whichever thread asks first (two
    /// that ask at once may both parse it; the first result is kept). A file
    /// the index places at a prompt mentions that prompt, so what parsing it
    /// gave is kept in the index by blob id, and a later diff neither reads
    /// nor parses it.
    fn read(&self, repo: &Repo, path: &Path, id: git2::Oid) -> Result<ParsedRef> {
        let key = (path.to_path_buf(), id);
        if let Some(p) = self.parsed.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(p);
        }
        let (placed, known) = match self.listing.index.lock() {
            Ok(index) => (index.get(id).is_some(), index.samples(id)),
            Err(_) => (false, None),
        };
        let parsed = match known.filter(|_| placed) {
            Some(samples) => from_samples(path, samples),
            None => {
                let bytes = repo.blob(id)?;
                let parsed = parse_if_mentioned(self.names, path, &bytes);
                if let Ok(mut index) = self.listing.index.lock() {
                    if let Parsed::Suite(f) = &parsed {
                        index.confirm(id, &normalize_name(&f.suite.prompt));
                    }
                    if let Some(samples) = to_samples(&parsed) {
                        index.learn_samples(id, &samples);
                    }
                }
                parsed
            }
        };
        let parsed = std::sync::Arc::new(parsed);
        Ok(match self.parsed.lock() {
            Ok(mut m) => m.entry(key).or_insert(parsed).clone(),
            Err(_) => parsed,
        })
    }

    fn work(&self) -> Result<&[SuiteFile]> {
        let loaded = self.work.get_or_init(|| {
            let mut files = Vec::new();
            let mut warnings = Vec::new();
            for path in self.project.suite_paths()? {
                let bytes = std::fs::read(self.project.root.join(&path)).map_err(|e| Error::io(&path, &e))?;
                match parse_if_mentioned(self.names, &path, &bytes) {
                    Parsed::Suite(f) => files.push(*f),
                    Parsed::Broken(m) => warnings.push(warning(&m, "working tree")),
                    Parsed::NotAbout => {}
                }
            }
            Ok((files, warnings))
        });
        match loaded {
            Ok((files, _)) => Ok(files),
            Err(e) => Err(e.clone()),
        }
    }

    /// Warnings for the suites that were read and do not parse: each file
    /// once, the base revision's first, then the head's, then the working
    /// tree's, each in path order.
    pub(super) fn warnings(&self, (base, head): (&str, &str)) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(parsed) = self.parsed.lock() else { return out };
        if !parsed.values().any(|p| matches!(**p, Parsed::Broken(_))) {
            // Nothing broken: no need to go through the listing.
            out.extend(
                self.work
                    .get()
                    .into_iter()
                    .flatten()
                    .flat_map(|(_, w)| w.iter().cloned()),
            );
            return out;
        }
        let mut said = std::collections::HashSet::new();
        let sides = [(Which::Base, base), (Which::Head, head)];
        for (which, label) in sides {
            let Some(side) = self.listing.side(which) else { continue };
            for key in &side.files {
                if let Some(Parsed::Broken(m)) = parsed.get(key).map(|p| &**p)
                    && said.insert(key)
                {
                    out.push(warning(m, label));
                }
            }
        }
        if let Some(Ok((_, w))) = self.work.get() {
            out.extend(w.iter().cloned());
        }
        out
    }
}

fn warning(message: &str, label: &str) -> String {
    format!("{message} (at {label}); its cases are not used as samples")
}

/// What a parsed suite gives a diff; `None` when that depends on more than
/// the file (cases in a file of their own) or it did not parse.
fn to_samples(parsed: &Parsed) -> Option<Samples> {
    match parsed {
        Parsed::Suite(f) if matches!(f.suite.cases, Cases::Inline(_)) => Some(Samples {
            prompt: f.suite.prompt.clone(),
            vars: f.suite.case_vars(),
        }),
        _ => None,
    }
}

/// A suite as a diff uses it, from what parsing it once gave: its prompt and
/// one case per variable set (defaults already applied).
fn from_samples(path: &Path, Samples { prompt, vars }: Samples) -> Parsed {
    let cases = vars
        .into_iter()
        .map(|vars| Case {
            name: None,
            vars,
            asserts: Vec::new(),
            weight: None,
            tags: Vec::new(),
        })
        .collect();
    Parsed::Suite(Box::new(SuiteFile {
        path: path.to_path_buf(),
        suite: Suite {
            prompt,
            description: None,
            providers: Vec::new(),
            threshold: None,
            defaults: CaseDefaults::default(),
            cases: Cases::Inline(cases),
            models: Vec::new(),
            gates: None,
        },
    }))
}

/// Parse a suite that mentions one of the names (a suite names its prompt
/// inside the file).
fn parse_if_mentioned(names: &[String], path: &Path, bytes: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    if !names.iter().any(|n| text.contains(n.as_str())) {
        return Parsed::NotAbout;
    }
    let parsed = std::str::from_utf8(bytes)
        .map_err(|_| Error::at(path, None, None, "file is not valid UTF-8"))
        .and_then(|text| Suite::parse(text, path));
    match parsed {
        Ok(suite) => Parsed::Suite(Box::new(SuiteFile {
            path: path.to_path_buf(),
            suite,
        })),
        Err(e) => Parsed::Broken(e.message),
    }
}
