//! The run file: `.promptctl/runs/<run-id>.jsonl`, one JSON object per line,
//! written as cases finish so a run's results never have to fit in memory
//! and a killed run can be resumed.
//!
//! Lines, each with a `type`:
//! - `run`: the header: run id, start time, the prompt source, what was
//!   selected (suites, providers, mode) and, per suite × target, a
//!   fingerprint of the suite and prompt files;
//! - `case`: a [`CaseRecord`];
//! - `resume`: a resumed run continues here;
//! - `end`: the run finished (absent after a kill).
//!
//! Every line is flushed as it is written. A line cut short by a kill is
//! skipped when the file is read back.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eval::result::CaseRecord;

/// Under the project root.
pub const DIR: &str = ".promptctl/runs";

/// `20260101T120000Z-3f9a`: sortable by start time, unique enough per machine.
pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    format!("{stamp}-{:04x}", fastrand::u16(..))
}

pub fn path(root: &Path, run_id: &str) -> PathBuf {
    root.join(DIR).join(format!("{run_id}.jsonl"))
}

/// Project-relative path of a run file, for messages.
pub fn rel_path(run_id: &str) -> PathBuf {
    Path::new(DIR).join(format!("{run_id}.jsonl"))
}

/// What a run was asked to do; a resumed run does it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Suite arguments as given (paths or prompt names); empty: every suite.
    pub suites: Vec<String>,
    /// Provider override; empty: each suite's own.
    pub providers: Vec<String>,
    /// `live`, `record` or `offline`.
    pub mode: String,
    pub cache: bool,
    /// `worktree` or the revision the prompts were read at.
    pub source: String,
}

/// One suite × target of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairHeader {
    pub suite: String,
    pub target: String,
    pub prompt: String,
    /// blake3 of the suite file and the prompt file: a resumed run refuses
    /// to mix results of different versions.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub run_id: String,
    pub started: String,
    pub promptctl: String,
    pub selection: Selection,
    pub pairs: Vec<PairHeader>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Run(Header),
    Case(Box<CaseRecord>),
    Resume { at: String },
    End { at: String },
}

pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Appends lines to a run file.
pub struct RunWriter {
    out: BufWriter<std::fs::File>,
    path: PathBuf,
}

impl RunWriter {
    /// A new run file, starting with its header.
    pub fn create(root: &Path, header: &Header) -> Result<RunWriter> {
        let path = path(root, &header.run_id);
        let dir = root.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, &e))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, &e))?;
        let mut w = RunWriter {
            out: BufWriter::new(file),
            path,
        };
        w.write(&Line::Run(header.clone()))?;
        Ok(w)
    }

    /// Continue an existing run file.
    pub fn append(root: &Path, run_id: &str) -> Result<RunWriter> {
        let path = path(root, run_id);
        let bytes_end = std::fs::read(&path).map_err(|e| Error::io(&path, &e))?.last().copied();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, &e))?;
        let mut w = RunWriter {
            out: BufWriter::new(file),
            path,
        };
        // A line cut short by a kill must not swallow the next one.
        if bytes_end.is_some_and(|b| b != b'\n') {
            w.out.write_all(b"\n").map_err(|e| Error::io(&w.path, &e))?;
        }
        w.write(&Line::Resume { at: now() })?;
        Ok(w)
    }

    pub fn write(&mut self, line: &Line) -> Result<()> {
        let io = |e: std::io::Error, p: &Path| Error::io(p, &e);
        serde_json::to_writer(&mut self.out, line)
            .map_err(|e| Error::external(format!("{}: {e}", self.path.display())))?;
        self.out.write_all(b"\n").map_err(|e| io(e, &self.path))?;
        self.out.flush().map_err(|e| io(e, &self.path))
    }
}

/// Read a run file: its header, then every case record in order, through
/// `each`. Torn or unknown lines are skipped.
pub fn read(root: &Path, run_id: &str, each: &mut dyn FnMut(CaseRecord)) -> Result<Header> {
    if run_id.is_empty() || !run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Error::input(format!("'{run_id}' is not a run id")).hint(format!(
            "run ids are the file names under {DIR}/ without .jsonl, printed at the end of every run"
        )));
    }
    let path = path(root, run_id);
    let rel = rel_path(run_id);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut err = Error::input(format!("no run '{run_id}' ({} does not exist)", rel.display()));
            if let Some(latest) = latest(root) {
                err = err.hint(format!("the latest run is {latest}"));
            }
            return Err(err);
        }
        Err(e) => return Err(Error::io(&rel, &e)),
    };
    let mut header = None;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(&rel, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(Line::Run(h)) if header.is_none() => header = Some(h),
            Ok(Line::Case(c)) => each(*c),
            Ok(_) => {}
            Err(_) if i == 0 => {
                return Err(Error::input(format!("{}:1: not a promptctl run file", rel.display())));
            }
            Err(_) => {}
        }
    }
    header.ok_or_else(|| Error::input(format!("{}: the run header is missing", rel.display())))
}

/// The header of a run file.
pub fn read_header(root: &Path, run_id: &str) -> Result<Header> {
    // Reading every line is cheap next to running the cases again.
    read(root, run_id, &mut |_| {})
}

/// The most recent run id, if any.
pub fn latest(root: &Path) -> Option<String> {
    let dir = root.join(DIR);
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".jsonl").map(str::to_string)
        })
        .max()
}

/// A run header for tests.
#[cfg(test)]
pub(crate) fn test_header(id: &str) -> Header {
    Header {
        run_id: id.into(),
        started: now(),
        promptctl: "0".into(),
        selection: Selection {
            suites: vec![],
            providers: vec![],
            mode: "live".into(),
            cache: true,
            source: "worktree".into(),
        },
        pairs: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::result::Status;

    #[test]
    fn write_kill_append_read() {
        let dir = tempfile::tempdir().unwrap();
        let id = new_run_id();
        assert_eq!(id.len(), "20260101T120000Z-3f9a".len(), "{id}");
        let mut w = RunWriter::create(dir.path(), &test_header(&id)).unwrap();
        let mut r = CaseRecord::new("evals/a.yaml", "echo", 0, "one", 1.0);
        r.status = Status::Pass;
        w.write(&Line::Case(Box::new(r.clone()))).unwrap();
        drop(w);
        // A kill in the middle of a line.
        let p = path(dir.path(), &id);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"type\":\"case\",\"suite\":\"evals/a.ya").unwrap();
        drop(f);

        let mut w = RunWriter::append(dir.path(), &id).unwrap();
        let mut r2 = r.clone();
        r2.index = 1;
        r2.case = "two".into();
        w.write(&Line::Case(Box::new(r2))).unwrap();
        drop(w);

        let mut seen = Vec::new();
        let h = read(dir.path(), &id, &mut |c| seen.push(c.case)).unwrap();
        assert_eq!(h.run_id, id);
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(latest(dir.path()), Some(id));

        let e = read(dir.path(), "nope", &mut |_| {}).unwrap_err();
        assert!(e.message.contains("no run 'nope'"), "{}", e.message);
        assert!(e.hints[0].starts_with("the latest run is "), "{:?}", e.hints);
        let e = read(dir.path(), "../x", &mut |_| {}).unwrap_err();
        assert!(e.message.contains("is not a run id"), "{}", e.message);
    }
}
