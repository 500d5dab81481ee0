//! What the fake provider does, per model name.
//!
//! A [`FakeConfig`] holds a default [`Behavior`] and per-model overrides.
//! Everything is plain data, deserializable from TOML or JSON, so the CLI
//! can load it from a file and a test can `PUT /_fake/config` at runtime.
//! In a file, a model's table only needs the fields it changes: it is laid
//! over the `[default]` table before being read, so
//!
//! ```toml
//! [default]
//! reply = "lorem"
//! timing = { latency_ms = 50 }
//!
//! [models."worse-model"]
//! reply = "refusal"
//! ```
//!
//! gives `worse-model` the default's 50 ms latency and its own reply. Built
//! in Rust, a model's behavior is a whole [`Behavior`]; start it from
//! `config.default.clone()` to inherit.
//!
//! Everything here is deterministic: the same request to the same config
//! gives the same answer, token counts and timing (jitter included, since
//! it comes from a seeded generator).

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value as Json};

/// How many requests are kept for `/_fake/requests` unless configured.
const DEFAULT_MAX_RECORDED_REQUESTS: usize = 10_000;

/// The whole configuration of a fake provider.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FakeConfig {
    /// Behavior for every model without an entry in `models`.
    pub default: Behavior,
    /// Behavior per model name (the request's `model` field, exactly).
    pub models: BTreeMap<String, Behavior>,
    /// When true, requests without `Authorization` or `x-api-key` get a 401
    /// in the provider's error format. Any non-empty key is accepted.
    pub require_api_key: bool,
    /// How many requests `/_fake/requests` keeps; older ones are dropped
    /// first (and counted in the stats) so a long benchmark stays bounded.
    pub max_recorded_requests: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            default: Behavior::default(),
            models: BTreeMap::new(),
            require_api_key: false,
            max_recorded_requests: DEFAULT_MAX_RECORDED_REQUESTS,
        }
    }
}

impl FakeConfig {
    /// A config where every model behaves as `behavior`.
    pub fn with_default(behavior: Behavior) -> Self {
        Self {
            default: behavior,
            ..Self::default()
        }
    }

    /// Adds (or replaces) the behavior of one model.
    pub fn with_model(mut self, model: impl Into<String>, behavior: Behavior) -> Self {
        self.models.insert(model.into(), behavior);
        self
    }

    /// The behavior that applies to requests for `model`.
    pub fn behavior_for(&self, model: &str) -> &Behavior {
        self.models.get(model).unwrap_or(&self.default)
    }

    /// Reads a config from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Toml {
            message: source.to_string(),
        })
    }

    /// Reads a config from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(text).map_err(|source| ConfigError::Json {
            message: source.to_string(),
        })
    }

    /// Reads a config file: `.json` files as JSON, anything else as TOML.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_json = path.extension().is_some_and(|ext| ext == "json");
        let parsed = if is_json {
            Self::from_json_str(&text)
        } else {
            Self::from_toml_str(&text)
        };
        parsed.map_err(|error| ConfigError::InFile {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read fake provider config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid fake provider config (TOML): {message}")]
    Toml { message: String },
    #[error("invalid fake provider config (JSON): {message}")]
    Json { message: String },
    #[error("{path}: {message}")]
    InFile { path: PathBuf, message: String },
}

/// The config as written: behaviors still as loose tables, so model
/// overrides can be laid over the default before they are typed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    default: Option<Json>,
    #[serde(default)]
    models: BTreeMap<String, Json>,
    #[serde(default)]
    require_api_key: bool,
    #[serde(default = "default_max_recorded_requests")]
    max_recorded_requests: usize,
}

fn default_max_recorded_requests() -> usize {
    DEFAULT_MAX_RECORDED_REQUESTS
}

impl<'de> Deserialize<'de> for FakeConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(deserializer)?;
        let default_table = raw.default.unwrap_or_else(|| Json::Object(Map::new()));
        let default: Behavior = serde_json::from_value(default_table.clone())
            .map_err(|error| D::Error::custom(format!("in [default]: {error}")))?;
        let mut models = BTreeMap::new();
        for (name, table) in raw.models {
            let mut merged = default_table.clone();
            overlay(&mut merged, table);
            let behavior: Behavior = serde_json::from_value(merged)
                .map_err(|error| D::Error::custom(format!("in [models.\"{name}\"]: {error}")))?;
            models.insert(name, behavior);
        }
        Ok(Self {
            default,
            models,
            require_api_key: raw.require_api_key,
            max_recorded_requests: raw.max_recorded_requests,
        })
    }
}

/// Lays `top` over `base`: tables merge key by key, anything else (arrays
/// included, so an override's `failures = []` clears the default's) replaces.
fn overlay(base: &mut Json, top: Json) {
    match (base, top) {
        (Json::Object(base_map), Json::Object(top_map)) => {
            for (key, value) in top_map {
                match base_map.get_mut(&key) {
                    Some(existing) => overlay(existing, value),
                    None => {
                        base_map.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// Everything one model does: what it answers, how fast, and how it fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behavior {
    /// The style of answer when no `script` rule matches.
    pub reply: ReplyStyle,
    /// The answer for `reply = "fixed"`.
    pub text: String,
    /// How many words `reply = "lorem"` writes.
    pub words: usize,
    /// The object `reply = "json"` answers with; when absent, a small object
    /// derived from the prompt.
    pub json: Option<Json>,
    /// What `reply = "tool_call"` calls.
    pub tool: ToolReply,
    /// How `reply = "judge"` decides.
    pub judge: JudgeSettings,
    /// Rules tried first, in order: the first whose `contains` is a substring
    /// of the last user message picks the answer. This is how a test makes
    /// one candidate worse on specific items.
    pub script: Vec<ScriptRule>,
    /// The model name put in responses; the request's model when absent
    /// (real APIs often answer with a dated snapshot name).
    pub response_model: Option<String>,
    /// Cache and reasoning token counts to report.
    pub usage: UsageSettings,
    /// Latency and stream pacing.
    pub timing: Timing,
    /// Scripted failures, tried in order; the first that fires wins.
    pub failures: Vec<FailureRule>,
    /// Length of embedding vectors when the request gives no `dimensions`.
    pub embedding_dimensions: usize,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            reply: ReplyStyle::EchoLastUser,
            text: "This is a fixed answer from the fake provider.".to_string(),
            words: 24,
            json: None,
            tool: ToolReply::default(),
            judge: JudgeSettings::default(),
            script: Vec::new(),
            response_model: None,
            usage: UsageSettings::default(),
            timing: Timing::default(),
            failures: Vec::new(),
            embedding_dimensions: 256,
        }
    }
}

impl Behavior {
    /// A behavior answering in `reply` style, everything else default.
    pub fn replying(reply: ReplyStyle) -> Self {
        Self {
            reply,
            ..Self::default()
        }
    }
}

/// The style of a chat answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStyle {
    /// The last user message, verbatim.
    #[default]
    EchoLastUser,
    /// `Behavior::text`.
    Fixed,
    /// `Behavior::words` pseudo-Latin words, seeded by the prompt.
    Lorem,
    /// `Behavior::json` (or a derived object) as compact JSON text.
    Json,
    /// A call of the tool in `Behavior::tool`, or the request's first tool.
    ToolCall,
    /// A polite refusal.
    Refusal,
    /// No content at all.
    Empty,
    /// A verdict between two answers found in the prompt (`Behavior::judge`).
    Judge,
}

/// One `script` rule: a substring of the last user message and the answer
/// it selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptRule {
    /// Matched case-sensitively against the last user message.
    pub contains: String,
    /// The style used when this rule matches.
    #[serde(default = "fixed_style")]
    pub reply: ReplyStyle,
    /// For `reply = "fixed"`: the answer (the behavior's `text` when absent).
    #[serde(default)]
    pub text: Option<String>,
}

fn fixed_style() -> ReplyStyle {
    ReplyStyle::Fixed
}

/// The tool called by `reply = "tool_call"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ToolReply {
    /// The tool to call; the first tool of the request when absent (or the
    /// one `tool_choice` names).
    pub name: Option<String>,
    /// The arguments; when absent they are derived from the tool's JSON
    /// schema, one deterministic value per property.
    pub arguments: Option<Json>,
}

/// Token counts that words cannot give.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct UsageSettings {
    /// Prompt tokens reported as read from the cache (capped at the prompt).
    pub cached_input_tokens: u64,
    /// Prompt tokens reported as written to the cache (Anthropic only).
    pub cache_creation_input_tokens: u64,
    /// Reasoning tokens, added to the completion tokens as real APIs do.
    pub reasoning_tokens: u64,
}

/// Latency and pacing. A request first waits `latency_ms` plus up to
/// `jitter_ms`; a stream then waits `chunk_delay_ms` between content deltas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Delay before the response headers (the first byte).
    pub latency_ms: u64,
    /// Extra delay, uniform in `0..=jitter_ms`, drawn per request from a
    /// generator seeded with `seed` and the request's sequence number.
    pub jitter_ms: u64,
    /// Seed of the jitter generator.
    pub seed: u64,
    /// Delay between two content deltas of a stream.
    pub chunk_delay_ms: u64,
    /// Words per streamed text delta; 0 counts as 1.
    pub chunk_words: usize,
}

/// A scripted failure. It counts the requests it matches (per model, since
/// the server started or was last reset or reconfigured) and fires on the
/// first `first` of them, on every `every`-th, or on all when neither is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRule {
    /// What goes wrong.
    pub kind: FailureKind,
    /// Fire on the first N matching requests.
    #[serde(default)]
    pub first: Option<u64>,
    /// Fire on every k-th matching request (the k-th, 2k-th, …).
    #[serde(default)]
    pub every: Option<NonZeroU64>,
    /// Only requests whose last user message (or embedding input) contains
    /// this match.
    #[serde(default)]
    pub contains: Option<String>,
    /// `Retry-After` seconds for `rate_limit`.
    #[serde(default = "default_retry_after_s")]
    pub retry_after_s: u64,
    /// HTTP status for `server_error` (default 500) and `unavailable`
    /// (default 503), e.g. 529 for Anthropic's overloaded error.
    #[serde(default)]
    pub status: Option<u16>,
}

fn default_retry_after_s() -> u64 {
    1
}

impl FailureRule {
    /// A rule of `kind` that fires on every matching request.
    pub fn always(kind: FailureKind) -> Self {
        Self {
            kind,
            first: None,
            every: None,
            contains: None,
            retry_after_s: default_retry_after_s(),
            status: None,
        }
    }

    /// A rule of `kind` that fires on the first `count` matching requests.
    pub fn first(kind: FailureKind, count: u64) -> Self {
        Self {
            first: Some(count),
            ..Self::always(kind)
        }
    }

    /// A rule of `kind` that fires on every `period`-th matching request.
    pub fn every(kind: FailureKind, period: NonZeroU64) -> Self {
        Self {
            every: Some(period),
            ..Self::always(kind)
        }
    }
}

/// The ways a request can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// HTTP 429 with `Retry-After` and the provider's rate-limit error.
    RateLimit,
    /// HTTP 500 (or `status`) with the provider's server error.
    ServerError,
    /// HTTP 503 (or `status`) with the provider's overloaded error.
    Unavailable,
    /// HTTP 200 whose body is not valid JSON; for a stream, valid events
    /// that break off mid-way with a garbled one.
    Malformed,
    /// The connection closes before any response byte.
    DropConnection,
    /// The response starts (headers and part of the body or stream), then
    /// the connection closes.
    DropMidStream,
    /// No response until the server shuts down.
    Hang,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::RateLimit => "rate_limit",
            FailureKind::ServerError => "server_error",
            FailureKind::Unavailable => "unavailable",
            FailureKind::Malformed => "malformed",
            FailureKind::DropConnection => "drop_connection",
            FailureKind::DropMidStream => "drop_mid_stream",
            FailureKind::Hang => "hang",
        }
    }
}

/// How `reply = "judge"` answers. The prompt is expected to hold two
/// answers, each after its marker; "first" and "second" mean the order in
/// which the markers appear, so a position-biased judge can be built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeSettings {
    /// The decision.
    pub decision: JudgeDecision,
    /// For `unparseable_then_ok`: how many attempts at the same prompt get
    /// prose before the verdict comes.
    pub failing_attempts: u32,
    /// For `unparseable_then_ok`: the decision once the failing attempts are
    /// used up.
    pub after_failures: JudgeDecision,
    /// The two answers' markers and the choice label each stands for.
    pub answers: [AnswerMarker; 2],
    /// The label of a tie.
    pub tie_choice: String,
    /// The verdict text; `{choice}` becomes the label and `{rationale}` a
    /// short reason. Emitted as is, so it can be any format the caller asks.
    pub template: String,
    /// The answer of `unparseable` (prose without a verdict).
    pub unparseable_text: String,
    /// Where the last answer ends for `prefer_longer` (end of prompt when
    /// absent or not found), so trailing instructions do not count.
    pub end_marker: Option<String>,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        Self {
            decision: JudgeDecision::PreferFirst,
            failing_attempts: 1,
            after_failures: JudgeDecision::PreferFirst,
            answers: [
                AnswerMarker {
                    marker: "[Answer A]".to_string(),
                    choice: "A".to_string(),
                },
                AnswerMarker {
                    marker: "[Answer B]".to_string(),
                    choice: "B".to_string(),
                },
            ],
            tie_choice: "tie".to_string(),
            template: r#"{"winner": "{choice}", "rationale": "{rationale}"}"#.to_string(),
            unparseable_text: "Both answers have their merits, and it is hard to say which \
                               one is better without more context."
                .to_string(),
            end_marker: None,
        }
    }
}

/// One answer in a judge prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerMarker {
    /// The text that precedes the answer in the prompt.
    pub marker: String,
    /// The label emitted as `{choice}` when this answer wins.
    pub choice: String,
}

/// What a judge decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JudgeDecision {
    /// The answer whose marker comes first in the prompt wins.
    #[default]
    PreferFirst,
    /// The answer whose marker comes second wins.
    PreferSecond,
    /// The answer with more characters wins (a tie when equal or when a
    /// marker is missing).
    PreferLonger,
    /// Always a tie.
    Tie,
    /// Prose with no verdict.
    Unparseable,
    /// Prose for the first `failing_attempts` attempts at a prompt, then the
    /// `after_failures` decision.
    UnparseableThenOk,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn model_tables_inherit_unset_fields_from_default() {
        let config = FakeConfig::from_toml_str(
            r#"
            [default]
            reply = "lorem"
            words = 7
            timing = { latency_ms = 50, chunk_words = 2 }

            [models."worse"]
            reply = "refusal"
            timing = { chunk_words = 5 }
            "#,
        )
        .unwrap();
        let worse = config.behavior_for("worse");
        assert_eq!(worse.reply, ReplyStyle::Refusal);
        assert_eq!(worse.words, 7);
        assert_eq!(worse.timing.latency_ms, 50);
        assert_eq!(worse.timing.chunk_words, 5);
        assert_eq!(
            config.behavior_for("anything-else").reply,
            ReplyStyle::Lorem
        );
    }

    #[test]
    fn override_arrays_replace_default_arrays() {
        let config = FakeConfig::from_json_str(
            r#"{"default": {"failures": [{"kind": "hang"}]},
                "models": {"calm": {"failures": []}}}"#,
        )
        .unwrap();
        assert_eq!(config.default.failures.len(), 1);
        assert!(config.behavior_for("calm").failures.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_place() {
        let error = FakeConfig::from_toml_str("[models.m]\nrepply = \"fixed\"\n").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("models.\"m\""), "{message}");
        assert!(message.contains("repply"), "{message}");
    }

    #[test]
    fn every_zero_is_rejected() {
        let error = FakeConfig::from_json_str(
            r#"{"default": {"failures": [{"kind": "rate_limit", "every": 0}]}}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("nonzero"), "{error}");
    }

    #[test]
    fn serialized_config_reads_back_equal() {
        let mut judge = Behavior::replying(ReplyStyle::Judge);
        judge.judge.decision = JudgeDecision::UnparseableThenOk;
        judge
            .failures
            .push(FailureRule::first(FailureKind::RateLimit, 2));
        let config = FakeConfig::default().with_model("judge", judge);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(FakeConfig::from_json_str(&json).unwrap(), config);
        let toml_text = toml::to_string(&config).unwrap();
        assert_eq!(FakeConfig::from_toml_str(&toml_text).unwrap(), config);
    }

    #[test]
    fn from_file_picks_the_format_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let json_path = dir.path().join("fake.json");
        std::fs::write(&json_path, r#"{"default": {"reply": "empty"}}"#).unwrap();
        assert_eq!(
            FakeConfig::from_file(&json_path).unwrap().default.reply,
            ReplyStyle::Empty
        );
        let toml_path = dir.path().join("fake.toml");
        std::fs::write(&toml_path, "[default]\nreply = \"judge\"\n").unwrap();
        assert_eq!(
            FakeConfig::from_file(&toml_path).unwrap().default.reply,
            ReplyStyle::Judge
        );
        let missing = FakeConfig::from_file(&dir.path().join("missing.toml")).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }
}
