//! `reprise replay`: creates a run on the database file, executes it in
//! this process with a progress bar, and prints the per-target summary.
//!
//! It works beside a running server on the same file: SQLite serializes
//! the writers, and the run's lease keeps the server's executor off it for
//! as long as this process works on it. Interrupted (Ctrl-C), the run is
//! released with its remaining items pending; `reprise replay --resume ID`
//! or a running server picks it up again.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value as Json};
use tokio::sync::watch;

use super::executor::{Engine, RunEnd};
use super::run::{Run, RunState, Selection};
use super::{RunRequest, create_run, summary};
use crate::config::{ReplayArgs, TargetKind, split_pair};
use crate::cost::PriceTable;
use crate::ingest::Ingest;
use crate::ingest::limits::Limits;
use crate::model::CallId;
use crate::providers::ProviderKind;
use crate::store::{Store, StoreOptions};
use crate::targets::{Budget, ConfigFile, TargetSpec};

/// How often the progress bar reads the item counts.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Runs `reprise replay` until its run ends or Ctrl-C.
pub async fn run(args: &ReplayArgs, interrupt: impl Future<Output = ()>) -> anyhow::Result<()> {
    let request = if args.resume.is_none() {
        Some(run_request(args)?)
    } else {
        None
    };
    let store = Store::open(&StoreOptions::existing(args.db.clone())).await?;
    let prices = Arc::new(PriceTable::load(args.prices.as_deref())?);
    // Replayed answers are content: redacted as the server would.
    let redactor = Arc::new(crate::redact::stored::for_store(&store, None).await?);
    let ingest = Ingest::new(store.clone(), Limits::default(), prices).with_redactor(redactor);
    let project_id = ingest.project_id;
    let (engine, sink_task) = Engine::new(ingest)?;
    let run = match (&args.resume, request) {
        (Some(run_id), _) => super::run::read_run(&store.reader, project_id, run_id)
            .await?
            .with_context(|| format!("no replay run {run_id} in {}", args.db.display()))?,
        (None, Some(request)) => {
            let created = create_run(&store, project_id, request, Some(engine.owner())).await?;
            for warning in &created.warnings {
                eprintln!("warning: {}", warning.message);
            }
            created.run
        }
        (None, None) => anyhow::bail!("nothing to replay"),
    };
    eprintln!(
        "replay run {} ({} items)",
        run.id,
        run_total(&store, &run).await?
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let bar = progress_bar(args.quiet, run_total(&store, &run).await?);
    let watcher = tokio::spawn(watch_progress(store.clone(), run.clone(), bar.clone()));
    let end = {
        let execution = engine.execute(&run.id, stop_rx);
        tokio::pin!(execution);
        tokio::select! {
            end = &mut execution => end?,
            _ = interrupt => {
                let _ = stop_tx.send(true);
                execution.await?
            }
        }
    };
    watcher.abort();
    let final_progress = summary::progress(&store.reader, &run).await?;
    bar.set_position(final_progress.finished());
    bar.finish_and_clear();
    let summary = summary::summarize(&store.reader, &run).await?;
    println!("{}", summary::table(&summary));
    match end {
        RunEnd::Finished(state) => println!("run {} {}", run.id, state.as_str()),
        RunEnd::Released => println!(
            "run {} interrupted with {} items left; resume it with `reprise replay --resume {}` (a running server also resumes it)",
            run.id, final_progress.pending, run.id
        ),
        RunEnd::Lost => println!("run {} is being executed elsewhere", run.id),
    }
    if let Some(reason) = store
        .reader
        .replay_run(project_id, &run.id)
        .await?
        .and_then(|run| run.stop_reason)
    {
        println!("stopped: {reason}");
    }
    drop(engine);
    let _ = sink_task.await;
    store.close().await;
    if end == RunEnd::Finished(RunState::Failed) {
        // Scripts and CI see it in the exit status; the table above says why.
        anyhow::bail!("replay run {} failed: no item was answered", run.id);
    }
    Ok(())
}

async fn run_total(store: &Store, run: &Run) -> anyhow::Result<u64> {
    Ok(summary::progress(&store.reader, run).await?.total)
}

fn progress_bar(quiet: bool, total: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} items ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn watch_progress(store: Store, run: Run, bar: ProgressBar) {
    loop {
        if let Ok(progress) = summary::progress(&store.reader, &run).await {
            bar.set_position(progress.finished());
            bar.set_message(format!(
                "{} done, {} failed, {} running",
                progress.done, progress.failed, progress.running
            ));
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
    }
}

/// The run the flags ask for.
pub fn run_request(args: &ReplayArgs) -> anyhow::Result<RunRequest> {
    let config = ConfigFile::load(args.config.as_deref())?;
    let mut targets = config.resolve(&args.targets)?;
    if let (Some(url), Some(model)) = (&args.target_url, &args.target_model) {
        targets.push(adhoc_target(args, url, model));
    }
    let mut selection = Selection::default();
    if !args.ids.is_empty() {
        let mut ids = Vec::with_capacity(args.ids.len());
        for id in &args.ids {
            let id: CallId = id
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("--ids: {e}"))?;
            ids.push(id);
        }
        selection.ids = Some(ids);
    }
    for (key, value) in args.filters.to_params().map_err(anyhow::Error::msg)? {
        // A repeated parameter (`--filter tag=a --filter tag=b`) becomes a
        // list, as a repeated query parameter does.
        match selection.filters.get_mut(&key) {
            Some(Json::Array(values)) => values.push(Json::String(value)),
            Some(first) => *first = Json::Array(vec![first.take(), Json::String(value)]),
            None => {
                selection.filters.insert(key, Json::String(value));
            }
        }
    }
    selection.sample = args.sample;
    Ok(RunRequest {
        name: args.name.clone(),
        selection,
        targets,
        repeat: args.repeat,
        overrides: overrides(&args.overrides)?,
        budget: Budget {
            max_calls: args.max_calls,
            max_cost_usd: args.max_cost,
        },
        stream: !args.no_stream,
        allow_drop: args
            .allow_drop
            .iter()
            .map(|param| param.trim().to_owned())
            .filter(|param| !param.is_empty())
            .collect(),
    })
}

fn adhoc_target(args: &ReplayArgs, url: &str, model: &str) -> TargetSpec {
    let kind = match args.target_kind {
        TargetKind::Openai => ProviderKind::OpenAi,
        TargetKind::Anthropic => ProviderKind::Anthropic,
    };
    let mut target = TargetSpec::new(model, kind, url, model);
    target.endpoint.api_key_env = args.target_key_env.clone();
    target.default_max_tokens = args.target_max_tokens;
    if let Some(concurrency) = args.target_concurrency {
        target.max_concurrency = concurrency.max(1);
    }
    target
}

/// `KEY=VALUE` pairs; a value that parses as JSON is taken as JSON.
fn overrides(pairs: &[String]) -> anyhow::Result<Map<String, Json>> {
    let mut map = Map::new();
    for pair in pairs {
        let (key, value) = split_pair(pair).map_err(anyhow::Error::msg)?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Json::String(value.to_owned()));
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;
    use serde_json::json;

    fn args(line: &[&str]) -> ReplayArgs {
        let mut argv = vec!["reprise", "replay"];
        argv.extend_from_slice(line);
        match crate::config::Cli::parse_from(argv).command {
            crate::config::Command::Replay(args) => *args,
            other => panic!("not a replay: {other:?}"),
        }
    }

    #[test]
    fn flags_become_a_run_request() {
        let request = run_request(&args(&["--config", "/nonexistent/but/unused.toml"]));
        assert!(
            request.is_err(),
            "a missing config file named explicitly is an error"
        );

        let request = run_request(&args(&[
            "--target-url",
            "http://127.0.0.1:9/v1",
            "--target-model",
            "tiny",
            "--service",
            "support-bot",
            "--filter",
            "user_id=u1",
            "--filter",
            "tag=prod",
            "--filter",
            "tag=eu",
            "--sample",
            "5",
            "--repeat",
            "3",
            "--set",
            "temperature=0",
            "--set",
            "stop=END",
            "--max-calls",
            "10",
            "--no-stream",
            "--allow-drop",
            "maxRetries,seed",
        ]))
        .expect("request");
        assert_eq!(request.targets.len(), 1);
        assert_eq!(request.targets[0].name, "tiny");
        assert_eq!(request.targets[0].base_url, "http://127.0.0.1:9/v1");
        assert_eq!(request.selection.filters["service"], "support-bot");
        assert_eq!(request.selection.filters["user_id"], "u1");
        assert_eq!(request.selection.filters["tag"], json!(["prod", "eu"]));
        assert_eq!(request.selection.sample, Some(5));
        assert_eq!(request.repeat, 3);
        assert_eq!(request.overrides["temperature"], 0);
        assert_eq!(request.overrides["stop"], "END");
        assert_eq!(request.budget.max_calls, Some(10));
        assert!(!request.stream);
        assert_eq!(
            request.allow_drop.iter().collect::<Vec<_>>(),
            ["maxRetries", "seed"]
        );
    }

    #[test]
    fn ids_must_be_call_ids() {
        let error =
            run_request(&args(&["--ids", "01JD3T8Q3W9J5M6Z4X8Y2K7B1C,nope"])).expect_err("bad id");
        assert!(error.to_string().contains("nope"), "{error}");
    }
}
