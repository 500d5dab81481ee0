//! Target specs: the models reprise calls (a run's replay targets, a
//! comparison's judge and embeddings), from the optional `reprise.toml` or
//! ad hoc from the command line.
//!
//! ```toml
//! [targets.local]
//! kind = "openai"                      # or "anthropic"
//! base_url = "http://127.0.0.1:8080/v1"
//! model = "tiny"
//! api_key_env = "LOCAL_KEY"            # the variable's name, never the key
//! headers = { "x-team" = "evals" }
//! params = { temperature = 0 }         # merged into every request body last
//! max_tokens = 256                     # sent when the call recorded none
//! allow_drop = ["seed"]                # parameters the target may lose
//! max_concurrency = 4
//! requests_per_second = 10
//! max_retries = 4
//! timeout_s = 120                      # a whole request
//! idle_timeout_s = 60                  # silence inside a stream
//! price = { input_per_1m = 0.15, output_per_1m = 0.60, cached_input_per_1m = 0.075 }
//! ```
//!
//! A target becomes a [`TargetSpec`]: the provider client's
//! [`Target`] (endpoint, key variable, headers,
//! timeouts) plus what shapes requests ([`TargetParams`] fields) and what
//! paces them. The spec is copied into each run when it is created, so a
//! run resumed after a restart talks to the targets it was created with
//! even if the file changed; keys are read from the environment at each
//! request and never stored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::cost::Rates;
use crate::model::Usage;
use crate::providers::translate::merge_patch;
use crate::providers::{ProviderKind, Target, TargetParams};

/// Concurrent requests per target when the config says nothing.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Retries after the first attempt when the config says nothing.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// The config file read when neither `--config` nor `REPRISE_CONFIG` is given.
pub const DEFAULT_CONFIG_FILE: &str = "reprise.toml";

/// Prices in US dollars per million tokens.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_1m: f64,
    pub output_per_1m: f64,
    /// Input tokens read from the provider's cache; priced as input when absent.
    #[serde(default)]
    pub cached_input_per_1m: Option<f64>,
}

impl Price {
    pub fn rates(&self) -> Rates {
        Rates {
            input_per_1m: self.input_per_1m,
            output_per_1m: self.output_per_1m,
            cached_input_per_1m: self.cached_input_per_1m,
        }
    }

    /// The cost of a usage, as [`Rates::cost`] computes every cost.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        self.rates().cost(usage)
    }
}

/// A target as written in the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub kind: ProviderKind,
    pub base_url: String,
    pub model: String,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub params: Map<String, Json>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub allow_drop: BTreeSet<String>,
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    #[serde(default)]
    pub max_retries: Option<u32>,
    #[serde(default)]
    pub timeout_s: Option<f64>,
    #[serde(default)]
    pub idle_timeout_s: Option<f64>,
    #[serde(default)]
    pub price: Option<Price>,
}

/// The config file. Sections other than `targets` belong to other parts of
/// reprise and are left alone here.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("target `{name}`: {reason}")]
    Invalid { name: String, reason: String },
    #[error(
        "no target named `{name}`; configured targets: {known}. Add [targets.{name}] to the config file or use --target-url and --target-model"
    )]
    Unknown { name: String, known: String },
}

impl ConfigFile {
    /// Reads `path`; with no path, reads `reprise.toml` in the current
    /// directory when it exists, else gives an empty config.
    pub fn load(path: Option<&Path>) -> Result<ConfigFile, TargetError> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if !default.exists() {
                    return Ok(ConfigFile::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| TargetError::Read {
            path: path.clone(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|message| TargetError::Parse {
            path: path.clone(),
            message,
        })?;
        // Catch a bad target when the file is loaded, not mid-run.
        config.resolve_all()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }

    /// Every configured target, resolved.
    pub fn resolve_all(&self) -> Result<Vec<TargetSpec>, TargetError> {
        let mut specs = Vec::with_capacity(self.targets.len());
        for (name, config) in &self.targets {
            specs.push(TargetSpec::from_config(name, config)?);
        }
        Ok(specs)
    }

    /// The named targets, in the order given.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<TargetSpec>, TargetError> {
        let mut specs = Vec::with_capacity(names.len());
        for name in names {
            let Some(config) = self.targets.get(name) else {
                let known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
                return Err(TargetError::Unknown {
                    name: name.clone(),
                    known: if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    },
                });
            };
            specs.push(TargetSpec::from_config(name, config)?);
        }
        Ok(specs)
    }
}

/// A target, resolved: where to send, how to shape and pace requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// Endpoint, key variable, headers and timeouts (`name` is the target's name).
    #[serde(flatten)]
    pub endpoint: Target,
    pub model: String,
    /// Merged into every request body last (JSON merge patch).
    #[serde(default)]
    pub overrides: Map<String, Json>,
    #[serde(default)]
    pub default_max_tokens: Option<i64>,
    #[serde(default)]
    pub allow_drop: BTreeSet<String>,
    pub max_concurrency: usize,
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    pub max_retries: u32,
    #[serde(default)]
    pub price: Option<Price>,
}

impl std::ops::Deref for TargetSpec {
    type Target = Target;

    fn deref(&self) -> &Target {
        &self.endpoint
    }
}

impl TargetSpec {
    /// A target with default pacing and no price: for ad hoc targets.
    pub fn new(name: &str, kind: ProviderKind, base_url: &str, model: &str) -> TargetSpec {
        TargetSpec {
            endpoint: Target::new(name, kind, base_url),
            model: model.to_owned(),
            overrides: Map::new(),
            default_max_tokens: None,
            allow_drop: BTreeSet::new(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            requests_per_second: None,
            max_retries: DEFAULT_MAX_RETRIES,
            price: None,
        }
    }

    pub fn from_config(name: &str, config: &TargetConfig) -> Result<TargetSpec, TargetError> {
        let invalid = |reason: &str| TargetError::Invalid {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(invalid("base_url must start with http:// or https://"));
        }
        if config.model.trim().is_empty() {
            return Err(invalid("model must not be empty"));
        }
        let mut spec = TargetSpec::new(name, config.kind, &config.base_url, &config.model);
        spec.endpoint.api_key_env = config.api_key_env.clone();
        spec.endpoint.headers = config.headers.clone();
        if let Some(timeout_s) = config.timeout_s {
            spec.endpoint.request_timeout_ms = positive_ms(timeout_s)
                .ok_or_else(|| invalid("timeout_s must be a positive number of seconds"))?;
        }
        if let Some(idle_timeout_s) = config.idle_timeout_s {
            spec.endpoint.idle_timeout_ms = positive_ms(idle_timeout_s)
                .ok_or_else(|| invalid("idle_timeout_s must be a positive number of seconds"))?;
        }
        spec.overrides = config.params.clone();
        spec.default_max_tokens = config.max_tokens;
        spec.allow_drop = config.allow_drop.clone();
        if let Some(max_concurrency) = config.max_concurrency {
            if max_concurrency == 0 {
                return Err(invalid("max_concurrency must be at least 1"));
            }
            spec.max_concurrency = max_concurrency;
        }
        if let Some(rps) = config.requests_per_second {
            if !(rps.is_finite() && rps > 0.0) {
                return Err(invalid("requests_per_second must be a positive number"));
            }
            spec.requests_per_second = Some(rps);
        }
        if let Some(max_retries) = config.max_retries {
            spec.max_retries = max_retries;
        }
        if let Some(price) = &config.price {
            let prices = [
                price.input_per_1m,
                price.output_per_1m,
                price.cached_input_per_1m.unwrap_or(0.0),
            ];
            if prices.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
                return Err(invalid("prices must be numbers of dollars, 0 or more"));
            }
            spec.price = Some(price.clone());
        }
        Ok(spec)
    }

    /// How to shape requests for this target within a run: the target's
    /// overrides, then the run's on top; the target's `allow_drop` plus the
    /// run's. A key the run sets to `null` stays in the overrides as `null`:
    /// it is removed from the body last, and the translators leave it alone
    /// (the user said not to send it, so it cannot fail the item).
    pub fn params(
        &self,
        stream: bool,
        run_overrides: &Map<String, Json>,
        run_allow_drop: &BTreeSet<String>,
    ) -> TargetParams {
        let mut overrides = Json::Object(self.overrides.clone());
        merge_patch(&mut overrides, &Json::Object(run_overrides.clone()));
        let mut overrides = match overrides {
            Json::Object(map) => map,
            _ => Map::new(),
        };
        for (key, value) in run_overrides {
            if value.is_null() {
                overrides.insert(key.clone(), Json::Null);
            }
        }
        let mut allow_drop = self.allow_drop.clone();
        allow_drop.extend(run_allow_drop.iter().cloned());
        TargetParams {
            model: self.model.clone(),
            overrides,
            default_max_tokens: self.default_max_tokens,
            stream,
            allow_drop,
        }
    }
}

fn positive_ms(seconds: f64) -> Option<u64> {
    (seconds.is_finite() && seconds > 0.0).then(|| (seconds * 1000.0).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"
        [targets.local]
        kind = "openai"
        base_url = "http://127.0.0.1:8080/v1"
        model = "tiny"
        params = { temperature = 0 }
        max_tokens = 64
        max_concurrency = 2
        requests_per_second = 5
        timeout_s = 1.5
        price = { input_per_1m = 1.0, output_per_1m = 2.0 }

        [targets.claude]
        kind = "anthropic"
        base_url = "https://api.anthropic.com/v1"
        model = "claude-sonnet-4"
        api_key_env = "ANTHROPIC_API_KEY"

        [judge]
        something = "owned by another part of reprise"
    "#;

    #[test]
    fn a_config_file_resolves_to_target_specs() {
        let config = ConfigFile::parse(EXAMPLE).expect("parse");
        let specs = config
            .resolve(&["local".to_owned(), "claude".to_owned()])
            .expect("resolve");
        let local = &specs[0];
        assert_eq!(local.kind, ProviderKind::OpenAi);
        assert_eq!(local.model, "tiny");
        assert_eq!(local.max_concurrency, 2);
        assert_eq!(local.requests_per_second, Some(5.0));
        assert_eq!(local.request_timeout_ms, 1500);
        assert_eq!(local.default_max_tokens, Some(64));
        assert_eq!(local.overrides["temperature"], json!(0));
        let claude = &specs[1];
        assert_eq!(claude.api_key_env.as_deref(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(claude.max_concurrency, DEFAULT_MAX_CONCURRENCY);
        assert_eq!(claude.price, None);
    }

    #[test]
    fn an_unknown_target_names_the_configured_ones() {
        let config = ConfigFile::parse(EXAMPLE).expect("parse");
        let error = config.resolve(&["gpt".to_owned()]).expect_err("unknown");
        let message = error.to_string();
        assert!(
            message.contains("`gpt`") && message.contains("claude, local"),
            "{message}"
        );
    }

    #[test]
    fn a_misspelled_field_is_an_error() {
        let text = "[targets.x]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\nmax_concurency = 3\n";
        let error = ConfigFile::parse(text).expect_err("typo");
        assert!(error.contains("max_concurency"), "{error}");
    }

    #[test]
    fn invalid_values_are_refused_with_the_field() {
        let text = "[targets.x]\nkind = \"openai\"\nbase_url = \"h/v1\"\nmodel = \"m\"\n";
        let config = ConfigFile::parse(text).expect("parse");
        let error = config.resolve_all().expect_err("bad url");
        assert!(error.to_string().contains("base_url"), "{error}");
        let text = "[targets.x]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\nrequests_per_second = 0\n";
        let error = ConfigFile::parse(text)
            .expect("parse")
            .resolve_all()
            .expect_err("zero rate");
        assert!(error.to_string().contains("requests_per_second"), "{error}");
    }

    #[test]
    fn run_overrides_go_over_the_target_overrides() {
        let mut spec = TargetSpec::new("t", ProviderKind::OpenAi, "http://h/v1", "m");
        spec.overrides = json!({"temperature": 0, "seed": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let run = json!({"seed": null, "top_p": 0.5})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let run_drop = BTreeSet::from(["maxRetries".to_owned()]);
        spec.allow_drop.insert("seed".to_owned());
        let params = spec.params(false, &run, &run_drop);
        // The run's null stays, so the body loses the key and no
        // translator refuses it.
        assert_eq!(
            Json::Object(params.overrides.clone()),
            json!({"temperature": 0, "seed": null, "top_p": 0.5})
        );
        assert!(params.is_overridden("seed"));
        assert_eq!(
            params.allow_drop,
            BTreeSet::from(["maxRetries".to_owned(), "seed".to_owned()])
        );
        assert!(!params.stream);
    }

    #[test]
    fn cost_prices_cached_input_apart() {
        let price = Price {
            input_per_1m: 2.0,
            output_per_1m: 10.0,
            cached_input_per_1m: Some(0.5),
        };
        let usage = Usage {
            input_tokens: Some(1_000_000),
            cached_input_tokens: Some(400_000),
            output_tokens: Some(100_000),
            reasoning_tokens: None,
        };
        let cost = price.cost(&usage).expect("priced");
        assert!((cost - (1.2 + 0.2 + 1.0)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn a_spec_round_trips_through_json_without_keys() {
        let config = ConfigFile::parse(EXAMPLE).expect("parse");
        let specs = config.resolve_all().expect("resolve");
        let json = serde_json::to_value(&specs).expect("serialize");
        let back: Vec<TargetSpec> = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, specs);
    }
}
