//! The `[compare]` section of `reprise.toml`, and how it combines with the
//! flags of `reprise compare` and the body of `POST …/comparison`.
//!
//! ```toml
//! [compare]
//! judge = "gpt-judge"          # a [targets.NAME]; none: no judge
//! embeddings = "embedder"      # a [targets.NAME] with /v1/embeddings
//! rubric = false               # grade 1–10 instead of pairwise
//! judge_template = "judge.txt" # overrides the default prompt
//! unparseable_retries = 2
//! worst_count = 10
//! similarity_metric = "token_f1"
//! budget = { max_calls = 1000, max_cost_usd = 5.0 }
//! [compare.verdict]
//! min_n = 30
//! win_margin = 0.05
//! ```
//!
//! The thresholds are [`CompareConfig`]'s fields, checked when the file is
//! loaded so a bad margin fails before anything is scored.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::compare::judge::{DEFAULT_RUBRIC, JudgeTemplate, TemplateError};
use crate::compare::scoring::ScoringOptions;
use crate::compare::summary::aggregate::CompareConfig;
use crate::targets::spec::DEFAULT_CONFIG_FILE;
use crate::targets::{Backoff, Budget, ConfigFile, TargetError, TargetSpec};

/// Retries of an unparseable judge reply unless configured.
pub const DEFAULT_UNPARSEABLE_RETRIES: u32 = 2;

/// The `[compare]` section.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CompareSection {
    #[serde(default)]
    pub judge: Option<String>,
    #[serde(default)]
    pub embeddings: Option<String>,
    #[serde(default)]
    pub rubric: bool,
    #[serde(default)]
    pub judge_template: Option<PathBuf>,
    /// The rubric text the judge is given (`{rubric}` in the templates).
    #[serde(default)]
    pub rubric_text: Option<String>,
    #[serde(default)]
    pub unparseable_retries: Option<u32>,
    /// Limits on the judge's and the embeddings target's calls.
    #[serde(default)]
    pub budget: Budget,
    #[serde(flatten)]
    pub aggregate: CompareConfig,
}

#[derive(Debug, Default, Deserialize)]
struct FileWithCompare {
    #[serde(default)]
    compare: CompareSection,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("the [compare] section of {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read the judge template {path}: {source}")]
    Template {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the judge template {path} is not usable: {source}")]
    BadTemplate {
        path: PathBuf,
        source: TemplateError,
    },
}

/// The config file's targets and its `[compare]` section.
#[derive(Clone, Debug, Default)]
pub struct CompareFile {
    pub targets: ConfigFile,
    pub compare: CompareSection,
}

impl CompareFile {
    /// Reads `path`, or `./reprise.toml` when it exists and no path is given.
    pub fn load(path: Option<&Path>) -> Result<CompareFile, SettingsError> {
        let targets = ConfigFile::load(path)?;
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if !default.exists() {
                    return Ok(CompareFile {
                        targets,
                        compare: CompareSection::default(),
                    });
                }
                default
            }
        };
        // ConfigFile::load has just read it; an error here is a race.
        let text = std::fs::read_to_string(&path).map_err(|source| TargetError::Read {
            path: path.clone(),
            source,
        })?;
        let compare = Self::parse_section(&text).map_err(|message| SettingsError::Invalid {
            path: path.clone(),
            message,
        })?;
        Ok(CompareFile { targets, compare })
    }

    /// The `[compare]` section of a config file's text, validated.
    pub fn parse_section(text: &str) -> Result<CompareSection, String> {
        let file: FileWithCompare = toml::from_str(text).map_err(|error| error.to_string())?;
        file.compare
            .aggregate
            .validate()
            .map_err(|error| error.to_string())?;
        Ok(file.compare)
    }

    /// One named target.
    pub fn target(&self, name: &str) -> Result<TargetSpec, TargetError> {
        let mut specs = self.targets.resolve(&[name.to_owned()])?;
        specs.pop().ok_or_else(|| TargetError::Unknown {
            name: name.to_owned(),
            known: "none".to_owned(),
        })
    }
}

/// What a scoring asks for, with the flags laid over the file.
#[derive(Clone, Debug, Default)]
pub struct ScoringRequest {
    pub judge: Option<String>,
    pub embeddings: Option<String>,
    pub rubric: Option<bool>,
    pub judge_template: Option<PathBuf>,
    pub rescore: bool,
}

impl CompareFile {
    /// The scoring a request asks for: its flags, else the `[compare]` section.
    pub fn scoring_options(
        &self,
        request: &ScoringRequest,
    ) -> Result<ScoringOptions, SettingsError> {
        let section = &self.compare;
        let rubric = request.rubric.unwrap_or(section.rubric);
        let judge = match request.judge.as_ref().or(section.judge.as_ref()) {
            Some(name) => Some(self.target(name)?),
            None => None,
        };
        let embeddings = match request.embeddings.as_ref().or(section.embeddings.as_ref()) {
            Some(name) => Some(self.target(name)?),
            None => None,
        };
        let template_path = request
            .judge_template
            .as_deref()
            .or(section.judge_template.as_deref());
        Ok(ScoringOptions {
            judge,
            template: load_template(template_path, rubric)?,
            rubric_text: rubric_text(section),
            embeddings,
            rescore: request.rescore,
            unparseable_retries: section
                .unparseable_retries
                .unwrap_or(DEFAULT_UNPARSEABLE_RETRIES),
            budget: section.budget.clone(),
            backoff: Backoff::default(),
            // The caller sets the policy of the store and project it scores in.
            redaction: crate::redact::Redactor::built_in()
                .policy_for(crate::model::project::DEFAULT_PROJECT_NAME),
        })
    }
}

/// A judge template from a file, or the default for the mode.
pub fn load_template(path: Option<&Path>, rubric: bool) -> Result<JudgeTemplate, SettingsError> {
    let Some(path) = path else {
        return Ok(if rubric {
            JudgeTemplate::default_rubric()
        } else {
            JudgeTemplate::default_pairwise()
        });
    };
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Template {
        path: path.to_path_buf(),
        source,
    })?;
    let template = if rubric {
        JudgeTemplate::rubric(text)
    } else {
        JudgeTemplate::pairwise(text)
    };
    template.map_err(|source| SettingsError::BadTemplate {
        path: path.to_path_buf(),
        source,
    })
}

/// The rubric text: the configured one or the default.
pub fn rubric_text(section: &CompareSection) -> String {
    section
        .rubric_text
        .clone()
        .unwrap_or_else(|| DEFAULT_RUBRIC.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_reads_thresholds_and_names() {
        let section = CompareFile::parse_section(
            r#"
[targets.j]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "m"

[compare]
judge = "j"
unparseable_retries = 3
worst_count = 4
budget = { max_calls = 7 }
[compare.verdict]
min_n = 5
win_margin = 0.1
"#,
        )
        .expect("section");
        assert_eq!(section.judge.as_deref(), Some("j"));
        assert_eq!(section.unparseable_retries, Some(3));
        assert_eq!(section.aggregate.worst_count, 4);
        assert_eq!(section.aggregate.verdict.min_n, 5);
        assert_eq!(section.aggregate.verdict.win_margin, 0.1);
        assert_eq!(section.budget.max_calls, Some(7));
    }

    #[test]
    fn a_margin_out_of_range_is_refused_with_its_name() {
        let error = CompareFile::parse_section("[compare.verdict]\nwin_margin = 1.5\n")
            .expect_err("bad margin");
        assert!(error.contains("win_margin"), "{error}");
    }

    #[test]
    fn no_section_means_defaults() {
        let section = CompareFile::parse_section("").expect("section");
        assert!(section.judge.is_none());
        assert_eq!(section.aggregate, CompareConfig::default());
    }

    #[test]
    fn a_template_without_its_placeholders_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("judge.txt");
        std::fs::write(&path, "Which is better? {prompt}").expect("write");
        let error = load_template(Some(&path), false).expect_err("missing placeholders");
        assert!(error.to_string().contains("{answer_a}"), "{error}");
        std::fs::write(&path, "{prompt} {answer}").expect("write");
        assert!(load_template(Some(&path), true).is_ok());
    }
}
