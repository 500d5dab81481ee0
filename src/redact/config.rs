//! The redaction file (`--redaction FILE`): which detectors each project
//! uses, extra regex rules, and the replacement text.
//!
//! ```toml
//! [default]                       # every project without its own section
//! detectors = ["secrets"]         # groups (secrets, email, card, phone) or detector names
//! replacement = "[REDACTED:{name}]"
//!
//! [[default.rules]]
//! name = "employee_id"
//! pattern = "EMP-[0-9]{6}"
//!
//! [projects.support]              # a project, by the name its keys were created with
//! detectors = ["secrets", "email", "card", "phone"]
//! ```
//!
//! A project's `detectors` and `replacement`, when given, replace the
//! default's; its `rules` come after the default's, which apply to every
//! project. Without a file, every project uses the `secrets` group.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use serde::Deserialize;

use super::Redactor;
use super::detectors::{BUILT_IN, Check, Group};
use super::rule::{Policy, Rule};

pub const DEFAULT_REPLACEMENT: &str = "[REDACTED:{name}]";

#[derive(Debug, thiserror::Error)]
pub enum RedactionConfigError {
    #[error("cannot read the redaction file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the redaction file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "unknown detector {name:?} in [{section}]: use a group (secrets, email, card, phone) or one of: {known}"
    )]
    UnknownDetector {
        section: String,
        name: String,
        known: String,
    },
    #[error("rule {rule:?} in [{section}] has an invalid pattern: {message}")]
    BadPattern {
        section: String,
        rule: String,
        message: String,
    },
    #[error(
        "rule {rule:?} in [{section}] matches empty text, which would insert its replacement everywhere: make it match at least one character"
    )]
    EmptyMatch { section: String, rule: String },
    #[error(
        "the replacement {replacement:?} in [{section}] contains a quote, a backslash or a control character; these would corrupt JSON-encoded attributes, so use plain text like \"[REDACTED:{{name}}]\""
    )]
    UnsafeReplacement {
        section: String,
        replacement: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    default: Option<SectionConfig>,
    #[serde(default)]
    projects: BTreeMap<String, SectionConfig>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionConfig {
    detectors: Option<Vec<String>>,
    replacement: Option<String>,
    #[serde(default)]
    rules: Vec<RuleConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    name: String,
    pattern: String,
    replacement: Option<String>,
}

/// Reads and compiles a redaction file; `None` gives the built-in default.
pub fn load(path: Option<&Path>) -> Result<Redactor, RedactionConfigError> {
    let Some(path) = path else {
        return Ok(Redactor::built_in());
    };
    let text = std::fs::read_to_string(path).map_err(|source| RedactionConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|error| match error {
        RedactionConfigError::Parse { message, .. } => RedactionConfigError::Parse {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })
}

/// Compiles the text of a redaction file.
pub fn parse(text: &str) -> Result<Redactor, RedactionConfigError> {
    let file: FileConfig = toml::from_str(text).map_err(|e| RedactionConfigError::Parse {
        path: PathBuf::new(),
        message: e.to_string(),
    })?;
    let default = file.default.unwrap_or_default();
    let default_policy = compile("default", &default, None)?;
    let mut projects = HashMap::new();
    for (name, section) in &file.projects {
        let policy = compile(&format!("projects.{name}"), section, Some(&default))?;
        projects.insert(name.clone(), Arc::new(policy));
    }
    Ok(Redactor::new(Arc::new(default_policy), projects))
}

fn compile(
    section_name: &str,
    section: &SectionConfig,
    default: Option<&SectionConfig>,
) -> Result<Policy, RedactionConfigError> {
    let detectors = section
        .detectors
        .clone()
        .or_else(|| default.and_then(|d| d.detectors.clone()))
        .unwrap_or_else(|| vec![Group::Secrets.name().to_owned()]);
    let replacement = section
        .replacement
        .clone()
        .or_else(|| default.and_then(|d| d.replacement.clone()))
        .unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned());
    check_replacement(section_name, &replacement)?;

    let mut rules = Vec::new();
    for detector in BUILT_IN {
        if enabled(section_name, &detectors, detector.name, detector.group)? {
            let regex =
                Regex::new(detector.pattern).map_err(|e| RedactionConfigError::BadPattern {
                    section: section_name.to_owned(),
                    rule: detector.name.to_owned(),
                    message: e.to_string(),
                })?;
            rules.push(Rule::new(
                detector.name.to_owned(),
                regex,
                detector.check,
                true,
                replacement.replace("{name}", detector.name),
            ));
        }
    }
    let mut user_rules: Vec<(&str, &RuleConfig)> = Vec::new();
    if let Some(default) = default {
        for rule in &default.rules {
            user_rules.push(("default", rule));
        }
    }
    for rule in &section.rules {
        user_rules.push((section_name, rule));
    }
    for (rule_section, rule) in user_rules {
        rules.push(compile_rule(rule_section, rule, &replacement)?);
    }
    Policy::new(rules).map_err(|e| RedactionConfigError::BadPattern {
        section: section_name.to_owned(),
        rule: "(all rules together)".into(),
        message: e.to_string(),
    })
}

fn compile_rule(
    section: &str,
    rule: &RuleConfig,
    replacement: &str,
) -> Result<Rule, RedactionConfigError> {
    let regex = Regex::new(&rule.pattern).map_err(|e| RedactionConfigError::BadPattern {
        section: section.to_owned(),
        rule: rule.name.clone(),
        message: e.to_string(),
    })?;
    if regex.is_match("") {
        return Err(RedactionConfigError::EmptyMatch {
            section: section.to_owned(),
            rule: rule.name.clone(),
        });
    }
    let replacement = rule.replacement.as_deref().unwrap_or(replacement);
    check_replacement(section, replacement)?;
    Ok(Rule::new(
        rule.name.clone(),
        regex,
        Check::None,
        false,
        replacement.replace("{name}", &rule.name),
    ))
}

fn enabled(
    section: &str,
    wanted: &[String],
    detector: &str,
    group: Group,
) -> Result<bool, RedactionConfigError> {
    let mut on = false;
    for name in wanted {
        let is_group = Group::ALL.iter().any(|g| g.name() == name);
        let is_detector = BUILT_IN.iter().any(|d| d.name == name);
        if !is_group && !is_detector {
            let known: Vec<&str> = BUILT_IN.iter().map(|d| d.name).collect();
            return Err(RedactionConfigError::UnknownDetector {
                section: section.to_owned(),
                name: name.clone(),
                known: known.join(", "),
            });
        }
        if name == group.name() || name == detector {
            on = true;
        }
    }
    Ok(on)
}

/// Replacements land inside JSON-encoded attribute values as they are, so
/// they must not need escaping.
fn check_replacement(section: &str, replacement: &str) -> Result<(), RedactionConfigError> {
    if replacement
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(RedactionConfigError::UnsafeReplacement {
            section: section.to_owned(),
            replacement: replacement.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_file_only_secrets_are_redacted() {
        let redactor = Redactor::built_in();
        let policy = redactor.policy_for("anything");
        assert!(policy.rule_names().any(|n| n == "openai_key"));
        assert!(!policy.rule_names().any(|n| n == "email"));
    }

    #[test]
    fn a_project_section_overrides_detectors_and_adds_rules_after_the_defaults() {
        let redactor = parse(
            r#"
            [default]
            replacement = "<{name}>"
            [[default.rules]]
            name = "ticket"
            pattern = "TICKET-[0-9]+"

            [projects.support]
            detectors = ["email", "card"]
            [[projects.support.rules]]
            name = "order"
            pattern = "ORD[0-9]{4}"
            replacement = "<order>"
            "#,
        )
        .expect("valid");
        let support = redactor.policy_for("support");
        let names: Vec<&str> = support.rule_names().collect();
        assert_eq!(names, ["email", "card", "ticket", "order"]);
        assert_eq!(
            support.redact("a@b.io TICKET-12 ORD1234").as_deref(),
            Some("<email> <ticket> <order>")
        );
        let other = redactor.policy_for("other");
        let names: Vec<&str> = other.rule_names().collect();
        assert!(names.contains(&"openai_key") && names.contains(&"ticket"));
        assert!(!names.contains(&"email"));
    }

    #[test]
    fn mistakes_in_the_file_are_refused_with_what_to_do() {
        let unknown = parse("[default]\ndetectors = [\"emails\"]").expect_err("unknown");
        assert!(unknown.to_string().contains("unknown detector \"emails\""));
        let bad = parse("[[default.rules]]\nname = \"x\"\npattern = \"(\"").expect_err("bad");
        assert!(bad.to_string().contains("invalid pattern"));
        let empty = parse("[[default.rules]]\nname = \"x\"\npattern = \"a*\"").expect_err("empty");
        assert!(empty.to_string().contains("matches empty text"));
        let quote = parse("[default]\nreplacement = 'say \"no\"'").expect_err("quote");
        assert!(quote.to_string().contains("quote"));
        let typo = parse("[defaults]\n").expect_err("typo");
        assert!(typo.to_string().contains("not valid"));
    }

    #[test]
    fn no_detectors_and_no_rules_turns_redaction_off_for_a_project() {
        let redactor = parse("[projects.raw]\ndetectors = []").expect("valid");
        assert!(redactor.policy_for("raw").is_empty());
    }
}
