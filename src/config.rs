//! Every setting, read once: command-line flags, each with a `REPRISE_*`
//! environment variable. A flag's doc comment is its `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ingest::derive::{BacklogBounds, DeriveSettings};
use crate::ingest::limits::Limits;
use crate::store::StoreOptions;
use crate::store::prune::RetentionPolicy;

#[derive(Debug, Parser)]
#[command(
    name = "reprise",
    version,
    about = "Prompt/response telemetry and replay store for LLM applications"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: OTLP/HTTP, the API and the UI on one port, OTLP/gRPC on another.
    Serve(Box<ServeArgs>),
    /// Replay recorded calls against other models and summarize the answers.
    Replay(Box<ReplayArgs>),
    /// Score a replay run against the originals and print the comparison.
    Compare(CompareArgs),
    /// Tools for development and demos.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Import raw prompt/response records from a JSONL file (or `-` for stdin).
    Import(crate::cli::import::ImportArgs),
    /// Write a consistent copy of the database, even while a server runs.
    Backup(crate::cli::backup::BackupArgs),
    /// Replace the database with a backup (stop the server first).
    Restore(crate::cli::backup::RestoreArgs),
    /// Check the database's integrity and show where its space went.
    Check(crate::cli::backup::CheckArgs),
    /// Create, list and revoke API keys.
    Keys(crate::cli::keys::KeysArgs),
}

/// When the database file is flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fsync {
    /// Every commit is fsynced: nothing acknowledged is lost, even on power loss.
    Commit,
    /// Leave flushing to the OS: nothing acknowledged is lost if the process
    /// crashes, but a power loss can lose the last commits.
    Os,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// SQLite database file (created if missing).
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Address for OTLP/HTTP, the JSON API and the UI (port 0 picks a free port).
    #[arg(long, env = "REPRISE_HTTP", default_value = "127.0.0.1:4318")]
    pub http: SocketAddr,
    /// Address for OTLP/gRPC (port 0 picks a free port).
    #[arg(long, env = "REPRISE_GRPC", default_value = "127.0.0.1:4317")]
    pub grpc: SocketAddr,
    /// Megabytes of accepted data that may wait for the writer before
    /// ingest answers "retry later" (HTTP 429, gRPC RESOURCE_EXHAUSTED).
    #[arg(long, env = "REPRISE_MAX_QUEUE_MB", default_value_t = 64.0)]
    pub max_queue_mb: f64,
    /// Largest request body accepted, in megabytes (as sent, compressed or not).
    #[arg(long, env = "REPRISE_MAX_BODY_MB", default_value_t = 32)]
    pub max_body_mb: usize,
    /// Largest request body after decompression, in megabytes.
    #[arg(long, env = "REPRISE_MAX_DECOMPRESSED_MB", default_value_t = 128)]
    pub max_decompressed_mb: usize,
    /// Megabytes of request bodies that may be read, decompressed and
    /// decoded at once, across all requests; past it, ingest answers "retry
    /// later" (HTTP 429, gRPC RESOURCE_EXHAUSTED). Each decompressed byte
    /// counts twice, for the bytes and for what decoding builds from them.
    #[arg(long, env = "REPRISE_MAX_INFLIGHT_MB", default_value_t = 64)]
    pub max_inflight_mb: usize,
    /// Most connections open at once on both ports together; newer ones are
    /// closed as soon as they arrive. Default: what the open-file limit
    /// (raised to its hard limit at start) leaves after 256 for the
    /// process itself, at most 16384.
    #[arg(long, env = "REPRISE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// A connection that sends nothing for this long is closed: before its
    /// first byte, partway through an HTTP request's headers, or idle
    /// between HTTP/1 requests.
    #[arg(long, env = "REPRISE_IDLE_TIMEOUT", value_parser = humantime::parse_duration, default_value = "30s")]
    pub idle_timeout: Duration,
    /// Longest a gRPC export may take, the wait for its commit included.
    #[arg(long, env = "REPRISE_REQUEST_TIMEOUT", value_parser = humantime::parse_duration, default_value = "60s")]
    pub request_timeout: Duration,
    /// A TOML price table that extends and overrides the built-in model
    /// prices used to compute each call's cost.
    #[arg(long, env = "REPRISE_PRICES")]
    pub prices: Option<PathBuf>,
    /// When commits are flushed to disk.
    #[arg(long, env = "REPRISE_FSYNC", value_enum, default_value_t = Fsync::Commit)]
    pub fsync: Fsync,
    /// Refuse every request without a valid API key, even before any key
    /// exists. Without it, keys are required as soon as one exists.
    #[arg(long, env = "REPRISE_REQUIRE_KEYS")]
    pub require_keys: bool,
    /// Allow listening on a non-loopback address with no API key: anyone
    /// who can reach the port can then read and write everything.
    #[arg(long, env = "REPRISE_INSECURE")]
    pub insecure: bool,
    /// PEM certificate chain: serve both ports over TLS (with --tls-key).
    #[arg(long, env = "REPRISE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "REPRISE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A TOML file choosing, per project, what is redacted before storage
    /// (see README, "Redaction"). Without it, provider API keys and tokens are.
    #[arg(long, env = "REPRISE_REDACTION")]
    pub redaction: Option<PathBuf>,
    /// Config file with replay targets (`[targets.NAME]`); `./reprise.toml`
    /// is read when it exists and this is not given.
    #[arg(long, env = "REPRISE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Delete data ingested longer ago than this (e.g. `30d`, `12h`).
    #[arg(long, env = "REPRISE_RETENTION", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
    /// Keep the database under this many megabytes by deleting the oldest
    /// data first.
    #[arg(long, env = "REPRISE_MAX_DB_MB")]
    pub max_db_mb: Option<f64>,
    /// Never let the database file grow past this many megabytes: when it
    /// is full, ingest answers 503 with Retry-After until retention frees
    /// space (set it below the free disk space).
    #[arg(long, env = "REPRISE_HARD_LIMIT_MB")]
    pub hard_limit_mb: Option<f64>,
    /// How often retention runs.
    #[arg(long, env = "REPRISE_PRUNE_INTERVAL", value_parser = humantime::parse_duration, default_value = "1m")]
    pub prune_interval: Duration,
    /// Megabytes of acknowledged exports (compressed) that may wait to be
    /// derived into calls; past it, ingest answers "retry later" (HTTP 429,
    /// gRPC RESOURCE_EXHAUSTED) until derivation catches up.
    #[arg(long, env = "REPRISE_MAX_BACKLOG_MB", default_value_t = 256.0)]
    pub max_backlog_mb: f64,
    /// Longest an acknowledged export may wait to be derived before ingest
    /// answers "retry later" as for --max-backlog-mb.
    #[arg(long, env = "REPRISE_MAX_BACKLOG_AGE", value_parser = humantime::parse_duration, default_value = "2m")]
    pub max_backlog_age: Duration,
    /// A pause before each derivation batch (tests hold a backlog with it).
    #[arg(long, env = "REPRISE_DERIVE_PAUSE", hide = true, value_parser = humantime::parse_duration, default_value = "0s")]
    pub derive_pause: Duration,
    /// Most spans and log records derived in one batch (tests make it
    /// small, to stop the server between batches).
    #[arg(long, hide = true, default_value_t = DeriveSettings::default().max_items)]
    pub derive_batch_items: u64,
    /// How long ingest trusts that content it saw is still stored (tests
    /// shorten it to see retention act at once).
    #[arg(long, hide = true, value_parser = humantime::parse_duration, default_value = "10m")]
    pub blob_touch_after: Duration,
}

impl ServeArgs {
    pub fn store_options(&self) -> StoreOptions {
        let mut options = StoreOptions::new(self.db.clone());
        options.max_queue_bytes = ((self.max_queue_mb * 1048576.0) as usize).max(1024);
        options.fsync_every_commit = self.fsync == Fsync::Commit;
        options.hard_limit_bytes = self.hard_limit_mb.map(|mb| (mb * 1048576.0) as u64);
        options.soft_limit_bytes = self.max_db_mb.map(|mb| (mb * 1048576.0) as u64);
        options.touch_after = self.blob_touch_after;
        options
    }

    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_age: self.retention,
            max_bytes: self.max_db_mb.map(|mb| (mb * 1048576.0) as u64),
        }
    }

    pub fn limits(&self) -> Limits {
        // One body never takes more than the whole in-flight budget, so a
        // body too large for it is refused as too large (413), not as
        // "retry later" forever.
        let inflight = self.inflight_bytes();
        Limits {
            max_body_bytes: (self.max_body_mb.max(1) << 20).min(inflight),
            max_decompressed_bytes: (self.max_decompressed_mb.max(1) << 20)
                .min(inflight / crate::ingest::budget::DECODED_FACTOR),
            ..Limits::default()
        }
    }

    pub fn backlog_bounds(&self) -> BacklogBounds {
        BacklogBounds {
            max_stored_bytes: (self.max_backlog_mb * 1048576.0).max(1024.0) as u64,
            max_age: self.max_backlog_age,
        }
    }

    pub fn derive_settings(&self) -> DeriveSettings {
        DeriveSettings {
            pause: self.derive_pause,
            max_items: self.derive_batch_items.max(1),
            ..DeriveSettings::default()
        }
    }

    /// The budget of request bodies in flight, in bytes.
    pub fn inflight_bytes(&self) -> usize {
        self.max_inflight_mb.max(1) << 20
    }
}

/// The API a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// OpenAI Chat Completions, and compatible servers (llama.cpp, Ollama, vLLM, LiteLLM).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// SQLite database file; may be the one a running server uses.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Config file with replay targets (`[targets.NAME]`); `./reprise.toml`
    /// is read when it exists and this is not given.
    #[arg(long, env = "REPRISE_CONFIG")]
    pub config: Option<PathBuf>,
    /// A TOML price table that extends and overrides the built-in model
    /// prices, for answers of targets that configure no price.
    #[arg(long, env = "REPRISE_PRICES")]
    pub prices: Option<PathBuf>,
    /// A target from the config file; repeat the flag for several targets.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Base URL of an ad hoc target, e.g. http://127.0.0.1:8080/v1.
    #[arg(long, value_name = "URL", requires = "target_model")]
    pub target_url: Option<String>,
    /// Model of the ad hoc target.
    #[arg(long, value_name = "MODEL", requires = "target_url")]
    pub target_model: Option<String>,
    /// API of the ad hoc target.
    #[arg(long, value_enum, default_value_t = TargetKind::Openai)]
    pub target_kind: TargetKind,
    /// Environment variable holding the ad hoc target's API key.
    #[arg(long, value_name = "VAR")]
    pub target_key_env: Option<String>,
    /// max_tokens the ad hoc target sends when a call recorded none (Anthropic needs one).
    #[arg(long, value_name = "N")]
    pub target_max_tokens: Option<i64>,
    /// Concurrent requests to the ad hoc target.
    #[arg(long, value_name = "N")]
    pub target_concurrency: Option<usize>,
    /// Replay a random sample of N of the matching calls.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Replays of each call per target.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub repeat: u32,
    /// A name for the run.
    #[arg(long)]
    pub name: Option<String>,
    /// Replay exactly these calls (comma-separated ids) instead of filtering.
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub ids: Vec<String>,
    /// Stop the run before it sends more than N items.
    #[arg(long, value_name = "N")]
    pub max_calls: Option<u64>,
    /// Stop the run before it spends more than USD dollars (estimated before each request).
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Ask for whole answers instead of streams (no time to first token then).
    #[arg(long)]
    pub no_stream: bool,
    /// A request parameter for every target, merged into the body last
    /// (VALUE is JSON, or else a string; `null` removes the key).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Recorded parameters every target may leave out when it cannot send
    /// them (as `allow_drop` of a configured target; the ad hoc target has
    /// no other way to say it); comma-separated or repeated.
    #[arg(long, value_name = "PARAM,...", value_delimiter = ',')]
    pub allow_drop: Vec<String>,
    /// Resume an existing run instead of starting one.
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["targets", "target_url", "ids", "sample"])]
    pub resume: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// The filters of `GET /api/v1/calls`, as flags.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Calls that started at or after this time (RFC 3339, Unix nanoseconds, or a duration back such as 24h).
    #[arg(long)]
    pub since: Option<String>,
    /// Calls that started before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Calls of this trace (32 hex digits).
    #[arg(long)]
    pub trace_id: Option<String>,
    /// Calls of this service (`service.name`).
    #[arg(long)]
    pub service: Option<String>,
    /// Calls to this provider (openai, anthropic, …).
    #[arg(long)]
    pub provider: Option<String>,
    /// Request or response model.
    #[arg(long)]
    pub model: Option<String>,
    /// ok or error.
    #[arg(long)]
    pub status: Option<String>,
    /// Calls of this conversation session.
    #[arg(long)]
    pub session_id: Option<String>,
    /// Calls made for this end user.
    #[arg(long)]
    pub user_id: Option<String>,
    /// Any filter of GET /api/v1/calls by its parameter name.
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub extra: Vec<String>,
}

impl FilterArgs {
    /// The filters by parameter name, as `GET /api/v1/calls` takes them.
    pub fn to_params(&self) -> Result<Vec<(String, String)>, String> {
        let named = [
            ("since", &self.since),
            ("until", &self.until),
            ("trace_id", &self.trace_id),
            ("service", &self.service),
            ("provider", &self.provider),
            ("model", &self.model),
            ("status", &self.status),
            ("session_id", &self.session_id),
            ("user_id", &self.user_id),
        ];
        let mut params = Vec::new();
        for (key, value) in named {
            if let Some(value) = value {
                params.push((key.to_owned(), value.clone()));
            }
        }
        for pair in &self.extra {
            let (key, value) = split_pair(pair)?;
            params.push((key.to_owned(), value.to_owned()));
        }
        Ok(params)
    }
}

/// Splits `KEY=VALUE`.
pub fn split_pair(pair: &str) -> Result<(&str, &str), String> {
    match pair.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value)),
        _ => Err(format!("{pair:?} is not KEY=VALUE")),
    }
}

/// How `reprise compare` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Json,
    Markdown,
    /// One self-contained page.
    Html,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The replay run to compare.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// SQLite database file; may be the one a running server uses.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Config file with targets and the `[compare]` section; `./reprise.toml`
    /// is read when it exists and this is not given.
    #[arg(long, env = "REPRISE_CONFIG")]
    pub config: Option<PathBuf>,
    /// How to print the comparison: a table for the terminal, Markdown,
    /// an HTML page, or the API's JSON.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// A target from the config file that judges the answers (`[compare] judge` otherwise).
    #[arg(long, value_name = "NAME")]
    pub judge: Option<String>,
    /// Grade each answer 1–10 against the rubric instead of judging pairs.
    #[arg(long)]
    pub rubric: bool,
    /// A judge prompt template file overriding the default.
    #[arg(long, value_name = "FILE")]
    pub judge_template: Option<PathBuf>,
    /// A target with an OpenAI-compatible /v1/embeddings for embedding similarity.
    #[arg(long, value_name = "NAME")]
    pub embeddings: Option<String>,
    /// Score every item again in a new scoring (the targets are not called again).
    #[arg(long)]
    pub rescore: bool,
    /// Print without scoring anything new.
    #[arg(long, conflicts_with_all = ["rescore", "judge", "rubric", "judge_template", "embeddings"])]
    pub no_score: bool,
    /// Show this scoring instead of the newest.
    #[arg(long, value_name = "SCORING_ID")]
    pub scoring: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Serve a fake model provider (OpenAI and Anthropic wire formats) for demos and tests.
    FakeProvider(FakeProviderArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FakeProviderArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,
    /// Behavior file (TOML, or JSON when it ends in .json): replies, latency, failures.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every flag a person can see says what it does, in every subcommand.
    #[test]
    fn every_visible_flag_has_help_text() {
        let mut missing = Vec::new();
        let mut commands = vec![(String::from("reprise"), Cli::command())];
        while let Some((path, command)) = commands.pop() {
            for arg in command.get_arguments() {
                let generated = matches!(arg.get_id().as_str(), "help" | "version");
                if arg.is_hide_set() || generated {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                commands.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(missing.is_empty(), "flags without help: {missing:?}");
    }
}
