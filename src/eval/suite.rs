//! Eval suite files (`evals/**/*.yaml`): which prompt they test, with which
//! providers, and the cases (variables + assertions).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::project::Project;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDefaults {
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The prompt under test, by name.
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Providers to run (`openai:gpt-4o-mini`, `replay`, `echo`); default: the prompt's model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    /// Fraction of weighted cases that must pass (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub defaults: CaseDefaults,
    #[serde(default)]
    pub cases: Vec<Case>,
}

/// A suite file read from disk.
#[derive(Debug, Clone)]
pub struct SuiteFile {
    /// Project-relative path.
    pub path: PathBuf,
    pub suite: Suite,
}

impl Suite {
    pub fn parse(text: &str, path: &Path) -> Result<Suite> {
        let suite: Suite = crate::yaml::from_str(text, path, 0)?;
        if let Some(t) = suite.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(Error::at(
                path,
                line_of(text, "threshold"),
                None,
                format!("threshold must be between 0 and 1, got {t}"),
            ));
        }
        for (i, c) in suite.cases.iter().enumerate() {
            if let Some(w) = c.weight
                && !(w.is_finite() && w >= 0.0)
            {
                return Err(Error::at(
                    path,
                    None,
                    None,
                    format!("case {} weight must be a non-negative number", i + 1),
                ));
            }
        }
        Ok(suite)
    }

    /// Each case's variables: suite defaults overlaid by the case's own.
    pub fn case_vars(&self) -> Vec<BTreeMap<String, Value>> {
        self.cases
            .iter()
            .map(|c| {
                let mut v = self.defaults.vars.clone();
                v.extend(c.vars.iter().map(|(k, x)| (k.clone(), x.clone())));
                v
            })
            .collect()
    }
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().strip_prefix(key).is_some_and(|r| r.starts_with(':')))
        .map(|i| i + 1)
}

/// Load every suite of the project. Unparseable suites are errors.
pub fn load_all(project: &Project) -> Result<Vec<SuiteFile>> {
    project
        .suite_paths()?
        .into_iter()
        .map(|path| {
            let abs = project.root.join(&path);
            let text = std::fs::read_to_string(&abs).map_err(|e| Error::io(&path, &e))?;
            Ok(SuiteFile {
                suite: Suite::parse(&text, &path)?,
                path,
            })
        })
        .collect()
}

/// Suites testing `prompt`.
pub fn for_prompt<'a>(suites: &'a [SuiteFile], prompt: &str) -> Vec<&'a SuiteFile> {
    suites
        .iter()
        .filter(|s| crate::project::normalize_name(&s.suite.prompt) == prompt)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_vars_overlay_defaults() {
        let s = Suite::parse(
            "prompt: a\ndefaults:\n  vars: {lang: en, tone: calm}\ncases:\n  - vars: {tone: angry}\n  - name: b\n",
            Path::new("evals/a.yaml"),
        )
        .unwrap();
        let v = s.case_vars();
        assert_eq!(v[0]["tone"], "angry");
        assert_eq!(v[0]["lang"], "en");
        assert_eq!(v[1]["tone"], "calm");
    }

    #[test]
    fn unknown_key_and_bad_threshold_are_errors() {
        let e = Suite::parse("prompt: a\ncasez: []\n", Path::new("evals/a.yaml")).unwrap_err();
        assert!(e.message.starts_with("evals/a.yaml:2:"), "{}", e.message);
        assert_eq!(e.hints[0], "did you mean 'cases'?");
        let e = Suite::parse("prompt: a\nthreshold: 1.5\n", Path::new("evals/a.yaml")).unwrap_err();
        assert!(e.message.starts_with("evals/a.yaml:2:"), "{}", e.message);
    }
}
