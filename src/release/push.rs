//! `--push`: the user's own `git push`, so their credentials, SSH config,
//! hooks and remote settings apply. promptctl never talks to a remote itself.
//!
//! Tags are pushed with `--atomic`: either every ref is updated or none is.
//! Channel tags are pushed with a leading `+` (a forced update of just that
//! ref), since they move by design; version and event tags are never forced.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::notes::NOTES_REF;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushStatus {
    New,
    Updated,
    Forced,
    UpToDate,
    Deleted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushedRef {
    #[serde(rename = "ref")]
    pub refname: String,
    pub status: PushStatus,
    /// git's words for it: `[new tag]`, `[rejected] (already exists)`...
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushReport {
    pub remote: String,
    pub refs: Vec<PushedRef>,
    /// The notes push, when there are notes (never fails the command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<NotesPush>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotesPush {
    pub pushed: bool,
    pub message: String,
}

/// The command line shown in dry runs and in hints.
pub fn command_line(remote: &str, specs: &[String]) -> String {
    format!("git push --atomic {remote} {}", specs.join(" "))
}

/// Push `specs` to `remote` atomically. A rejection is an error naming each
/// rejected ref and git's reason.
pub fn push(dir: &Path, remote: &str, specs: &[String]) -> Result<PushReport> {
    let mut args = vec!["push", "--atomic", "--porcelain", remote];
    args.extend(specs.iter().map(String::as_str));
    let (ok, stdout, stderr) = run_git(dir, &args)?;
    let refs = parse_porcelain(&stdout);
    if ok {
        return Ok(PushReport {
            remote: remote.to_string(),
            refs,
            notes: None,
        });
    }
    let rejected: Vec<&PushedRef> = refs
        .iter()
        .filter(|r| r.status == PushStatus::Rejected && !r.summary.contains("atomic push failed"))
        .collect();
    let mut err = if rejected.is_empty() {
        let detail = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        Error::external(format!("git push to {remote} failed: {detail}"))
    } else {
        let list: Vec<String> = rejected
            .iter()
            .map(|r| format!("{} {}", r.refname.trim_start_matches("refs/tags/"), r.summary))
            .collect();
        Error::external(format!("{remote} rejected the push: {}", list.join(", ")))
    };
    err = err.hint("nothing changed, locally or on the remote: the push is atomic and the local tags are written only after it succeeds");
    if !rejected.is_empty() {
        err = err.hint(format!(
            "the remote has release tags this clone does not: `git fetch {remote} --tags --force`, check `promptctl status`, then run the command again"
        ));
    }
    Err(err)
}

/// Push the eval notes (not forced). Failure is reported, not fatal: the
/// release itself is complete.
pub fn push_notes(dir: &Path, remote: &str) -> NotesPush {
    let spec = format!("{NOTES_REF}:{NOTES_REF}");
    match run_git(dir, &["push", "--porcelain", remote, &spec]) {
        Ok((true, _, _)) => NotesPush {
            pushed: true,
            message: format!("pushed {NOTES_REF}"),
        },
        Ok((false, stdout, stderr)) => {
            let why = parse_porcelain(&stdout)
                .into_iter()
                .find(|r| r.status == PushStatus::Rejected)
                .map(|r| r.summary)
                .unwrap_or_else(|| stderr.trim().to_string());
            NotesPush {
                pushed: false,
                message: format!(
                    "{NOTES_REF} was not pushed ({why}); merge the remote's notes with `git fetch {remote} {NOTES_REF}:refs/notes/promptctl-remote && git notes --ref=promptctl merge refs/notes/promptctl-remote`, then `git push {remote} {NOTES_REF}`"
                ),
            }
        }
        Err(e) => NotesPush {
            pushed: false,
            message: e.message,
        },
    }
}

fn run_git(dir: &Path, args: &[&str]) -> Result<(bool, String, String)> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // Credential and passphrase prompts read the terminal.
        .stdin(Stdio::inherit())
        .output()
        .map_err(|e| {
            Error::external(format!("could not run git: {e}"))
                .hint("--push runs your `git push`; install git or push the tags yourself")
        })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `git push --porcelain` lines: `<flag>\t<from>:<to>\t<summary>`.
pub fn parse_porcelain(out: &str) -> Vec<PushedRef> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let flag = parts.next()?;
            let spec = parts.next()?;
            let summary = parts.next().unwrap_or("").trim().to_string();
            let status = match flag {
                "*" => PushStatus::New,
                " " => PushStatus::Updated,
                "+" => PushStatus::Forced,
                "=" => PushStatus::UpToDate,
                "-" => PushStatus::Deleted,
                "!" => PushStatus::Rejected,
                _ => return None,
            };
            let to = spec.rsplit_once(':').map(|(_, to)| to).unwrap_or(spec);
            Some(PushedRef {
                refname: to.to_string(),
                status,
                summary,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines_parse() {
        let out = "To ../remote.git\n*\tabc:refs/tags/prompt/a@v2\t[new tag]\n+\tdef:refs/tags/prompt/a@stable\t1234...5678 (forced update)\n=\trefs/tags/prompt/a@v1:refs/tags/prompt/a@v1\t[up to date]\n!\tfed:refs/tags/prompt/a@event/2\t[rejected] (already exists)\nDone\n";
        let refs = parse_porcelain(out);
        assert_eq!(refs.len(), 4);
        assert_eq!(refs[0].status, PushStatus::New);
        assert_eq!(refs[1].status, PushStatus::Forced);
        assert_eq!(refs[2].refname, "refs/tags/prompt/a@v1");
        assert_eq!(refs[3].status, PushStatus::Rejected);
        assert_eq!(refs[3].summary, "[rejected] (already exists)");
    }
}
