//! A promptctl project: its root, config, catalog, and the prompts and eval
//! suites under it — in the working tree or at any git revision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, Model};
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::prompt::{self, Prompt};

/// Where prompt files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    WorkTree,
    Rev(String),
}

impl Source {
    pub fn from_rev(rev: Option<&str>) -> Source {
        match rev {
            Some(r) => Source::Rev(r.to_string()),
            None => Source::WorkTree,
        }
    }
}

#[derive(Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
    pub catalog: Catalog,
    /// promptctl.toml, when one exists.
    pub config_path: Option<PathBuf>,
}

/// A prompt file found on disk or in a tree, not yet parsed.
#[derive(Debug, Clone)]
pub struct PromptFile {
    pub name: String,
    /// Project-relative path (`prompts/support/triage.prompt`).
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl PromptFile {
    pub fn parse(&self) -> Result<Prompt> {
        Prompt::parse(&self.name, &self.path, &self.bytes)
    }

    /// See [`Prompt::parse_like`].
    pub fn parse_like(&self, like: Option<&Prompt>) -> Result<Prompt> {
        Prompt::parse_like(&self.name, &self.path, &self.bytes, like)
    }
}

impl Project {
    /// The project at `dir`: the nearest ancestor with a promptctl.toml, else
    /// `dir` itself (a missing config means defaults).
    pub fn discover(dir: &Path) -> Result<Project> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if !dir.is_dir() {
            return Err(Error::input(format!("no such directory: {}", dir.display())));
        }
        let root = dir
            .ancestors()
            .find(|d| d.join(config::FILE_NAME).is_file())
            .unwrap_or(dir)
            .to_path_buf();
        Project::open(&root)
    }

    pub fn open(root: &Path) -> Result<Project> {
        let (config, config_path) = Config::load(root)?;
        let catalog = Catalog::with_overrides(&config.models)?;
        Ok(Project {
            root: root.to_path_buf(),
            config,
            catalog,
            config_path,
        })
    }

    pub fn prompts_dir(&self) -> &Path {
        &self.config.project.prompts_dir
    }

    pub fn evals_dir(&self) -> &Path {
        &self.config.project.evals_dir
    }

    pub fn repo(&self) -> Result<Repo> {
        Repo::open(&self.root)
    }

    /// Resolve the model a prompt uses.
    pub fn model_of(&self, p: &Prompt) -> Result<Model> {
        let id = p.model(&self.config.project.default_model);
        self.catalog.resolve(id).map_err(|e| {
            let line = p.front_line("model");
            let mut err = Error::at(&p.path, line, None, e.message);
            err.hints = e.hints;
            err
        })
    }

    /// Every prompt file in the source, sorted by name. Errors on name
    /// collisions (names differing only in case collide as git refs on
    /// case-insensitive file systems).
    pub fn prompt_files(&self, source: &Source) -> Result<Vec<PromptFile>> {
        let files = self.scan_prompt_files(source)?;
        check_collisions(&files)?;
        Ok(files)
    }

    /// Every prompt file in the source, sorted by name, name collisions
    /// included (`check` reports them as findings).
    pub fn scan_prompt_files(&self, source: &Source) -> Result<Vec<PromptFile>> {
        let dir = self.prompts_dir().to_path_buf();
        let mut files = Vec::new();
        match source {
            Source::WorkTree => {
                let abs = self.root.join(&dir);
                if abs.is_dir() {
                    walk(&abs, &mut |p| {
                        if let Ok(rel_in) = p.strip_prefix(&abs)
                            && let Some(name) = prompt::name_from_rel_path(rel_in)
                        {
                            let bytes = std::fs::read(p).map_err(|e| Error::io(p, &e))?;
                            files.push(PromptFile {
                                name,
                                path: dir.join(rel_in),
                                bytes,
                            });
                        }
                        Ok(())
                    })?;
                }
            }
            Source::Rev(rev) => {
                let repo = self.repo()?;
                let tree = repo.tree_at(rev)?;
                for (path, id) in repo.files_under(&tree, &dir)? {
                    let Ok(rel_in) = path.strip_prefix(&dir) else {
                        continue;
                    };
                    if let Some(name) = prompt::name_from_rel_path(rel_in) {
                        files.push(PromptFile {
                            name,
                            path: path.clone(),
                            bytes: repo.blob(id)?,
                        });
                    }
                }
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// One prompt file by name.
    pub fn prompt_file(&self, name: &str, source: &Source) -> Result<PromptFile> {
        let name = normalize_name(name);
        let path = self.prompts_dir().join(format!("{name}.{}", prompt::EXTENSION));
        let bytes = match source {
            Source::WorkTree => match std::fs::read(self.root.join(&path)) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(&path, &e)),
            },
            Source::Rev(rev) => self.repo()?.read_at(rev, &path)?,
        };
        match bytes {
            Some(bytes) => Ok(PromptFile { name, path, bytes }),
            None => {
                let known = self.prompt_files(source).unwrap_or_default();
                let where_ = match source {
                    Source::WorkTree => String::new(),
                    Source::Rev(r) => format!(" at revision '{r}'"),
                };
                let err = Error::input(format!(
                    "no prompt named '{name}'{where_} (looked for {})",
                    path.display()
                ));
                let hint = crate::error::suggest(&name, known.iter().map(|f| f.name.as_str()));
                Err(err.with_hint_opt(hint).hint("`promptctl list` shows the prompts"))
            }
        }
    }

    pub fn load(&self, name: &str, source: &Source) -> Result<Prompt> {
        self.prompt_file(name, source)?.parse()
    }

    /// Eval suite files (`evals/**/*.yaml|yml`), project-relative, sorted.
    pub fn suite_paths(&self) -> Result<Vec<PathBuf>> {
        let dir = self.evals_dir().to_path_buf();
        let abs = self.root.join(&dir);
        let mut out = Vec::new();
        if abs.is_dir() {
            walk(&abs, &mut |p| {
                let ext = p.extension().and_then(|e| e.to_str());
                if matches!(ext, Some("yaml" | "yml"))
                    && !p.to_string_lossy().ends_with(".responses.yaml")
                    && let Ok(rel) = p.strip_prefix(&self.root)
                {
                    out.push(rel.to_path_buf());
                }
                Ok(())
            })?;
        }
        out.sort();
        Ok(out)
    }
}

/// Accept `support/triage`, `support/triage.prompt` and `prompts/support/triage.prompt`.
pub fn normalize_name(name: &str) -> String {
    let n = name.replace('\\', "/");
    let n = n.strip_suffix(".prompt").unwrap_or(&n);
    let n = n.strip_prefix("./").unwrap_or(n);
    n.strip_prefix("prompts/").unwrap_or(n).to_string()
}

fn check_collisions(files: &[PromptFile]) -> Result<()> {
    let mut seen: BTreeMap<String, &PromptFile> = BTreeMap::new();
    for f in files {
        if let Some(prev) = seen.insert(f.name.to_lowercase(), f) {
            return Err(Error::input(format!(
                "prompt name collision: {} and {} both map to the name '{}'",
                prev.path.display(),
                f.path.display(),
                f.name.to_lowercase()
            ))
            .hint("prompt names key tags and results; rename one of the files (names must differ by more than case)"));
        }
    }
    Ok(())
}

/// Depth-first walk of regular files, sorted, skipping hidden entries.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, &e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let ft = e.file_type().map_err(|err| Error::io(&path, &err))?;
        if ft.is_dir() {
            walk(&path, f)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            f(&path)?;
        }
    }
    Ok(())
}
