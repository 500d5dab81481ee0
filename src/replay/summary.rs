//! A run's progress and per-target figures, read back from its items:
//! how many are in each state, latency p50/p95 and time to first token p50
//! (type-7 percentiles, [`crate::quantile`]) over
//! the items that got an answer, tokens, cost, and why items failed: their
//! error classes, each with its count and first message.

use std::collections::BTreeMap;

use serde::Serialize;

use super::run::{Item, ItemState, Run};
use crate::quantile::percentile;
use crate::store::{ReadError, Reader};

/// Item counts by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub total: u64,
    pub pending: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl Progress {
    fn add(&mut self, state: ItemState, count: u64) {
        self.total += count;
        match state {
            ItemState::Pending => self.pending += count,
            ItemState::Running => self.running += count,
            ItemState::Done => self.done += count,
            ItemState::Failed => self.failed += count,
            ItemState::Cancelled => self.cancelled += count,
        }
    }

    /// Items that reached an end state.
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.cancelled
    }
}

/// One target's figures: progress, latency and TTFT percentiles, tokens,
/// tokens/s and cost of the replayed calls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetSummary {
    pub target: String,
    pub model: String,
    pub progress: Progress,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Output tokens per second of answering time, over the answered items.
    pub output_tokens_per_s: Option<f64>,
    pub cost_usd: Option<f64>,
    /// Why items failed, most frequent class first.
    pub errors: Vec<ErrorClass>,
    /// Finished items sent without tools: their original answered with a
    /// tool call but recorded no tool definitions.
    pub tools_missing: u64,
}

/// Failed items of one error class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErrorClass {
    /// `untranslatable` (the target's format cannot express the call; the
    /// message says what to drop or override), `original_unavailable`,
    /// `connect`, `timeout`, `stream_cut`, `malformed_response`,
    /// `missing_api_key`, the provider's error type or HTTP status; `error`
    /// for items failed before classes were recorded.
    pub class: String,
    pub count: u64,
    /// The message of the first item that failed so.
    pub first_message: Option<String>,
}

/// Items failed before error classes were recorded.
const UNCLASSIFIED: &str = "error";

/// The failed items among `items` (in row order), grouped by class.
fn error_classes(items: &[&Item]) -> Vec<ErrorClass> {
    let mut classes: Vec<ErrorClass> = Vec::new();
    for item in items.iter().filter(|item| item.state == ItemState::Failed) {
        let class = item.error_class.as_deref().unwrap_or(UNCLASSIFIED);
        match classes.iter_mut().find(|c| c.class == class) {
            Some(entry) => entry.count += 1,
            None => classes.push(ErrorClass {
                class: class.to_owned(),
                count: 1,
                first_message: item.error.clone(),
            }),
        }
    }
    // Stable: classes of equal count keep the order they first failed in.
    classes.sort_by_key(|class| std::cmp::Reverse(class.count));
    classes
}

/// A run's progress and its targets' figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunSummary {
    pub progress: Progress,
    pub targets: Vec<TargetSummary>,
}

/// Counts only: cheap enough to poll for a progress bar.
pub async fn progress(reader: &Reader, run: &Run) -> Result<Progress, ReadError> {
    let counts = reader.replay_item_counts(run.row_id).await?;
    let mut progress = Progress::default();
    for ((_, state), count) in counts {
        progress.add(state, count);
    }
    Ok(progress)
}

pub async fn summarize(reader: &Reader, run: &Run) -> Result<RunSummary, ReadError> {
    let counts = reader.replay_item_counts(run.row_id).await?;
    let finished = reader.replay_finished_items(run.row_id).await?;
    let mut by_target: BTreeMap<&str, TargetSummary> = BTreeMap::new();
    for target in &run.spec.targets {
        by_target.insert(
            &target.name,
            TargetSummary {
                target: target.name.clone(),
                model: target.model.clone(),
                ..TargetSummary::default()
            },
        );
    }
    let mut summary = RunSummary::default();
    for ((target, state), count) in &counts {
        summary.progress.add(*state, *count);
        if let Some(entry) = by_target.get_mut(target.as_str()) {
            entry.progress.add(*state, *count);
        }
    }
    for entry in by_target.values_mut() {
        let items: Vec<_> = finished
            .iter()
            .filter(|item| item.target == entry.target)
            .collect();
        let answered: Vec<_> = items
            .iter()
            .filter(|item| item.state == ItemState::Done)
            .collect();
        let latencies: Vec<f64> = answered.iter().filter_map(|i| i.latency_ms).collect();
        let ttfts: Vec<f64> = answered.iter().filter_map(|i| i.ttft_ms).collect();
        entry.latency_p50_ms = percentile(&latencies, 0.5);
        entry.latency_p95_ms = percentile(&latencies, 0.95);
        entry.ttft_p50_ms = percentile(&ttfts, 0.5);
        entry.errors = error_classes(&items);
        entry.tools_missing = items.iter().filter(|item| item.tools_missing).count() as u64;
        let mut answering_ms = 0.0;
        let mut answered_tokens = 0;
        for item in &items {
            entry.input_tokens += item.input_tokens.unwrap_or(0);
            entry.output_tokens += item.output_tokens.unwrap_or(0);
            if let Some(cost) = item.cost_usd {
                *entry.cost_usd.get_or_insert(0.0) += cost;
            }
        }
        for item in &answered {
            if let (Some(latency), Some(tokens)) = (item.latency_ms, item.output_tokens) {
                answering_ms += latency - item.ttft_ms.unwrap_or(0.0);
                answered_tokens += tokens;
            }
        }
        if answering_ms > 0.0 && answered_tokens > 0 {
            entry.output_tokens_per_s = Some(answered_tokens as f64 / (answering_ms / 1000.0));
        }
    }
    summary.targets = run
        .spec
        .targets
        .iter()
        .filter_map(|target| by_target.remove(target.name.as_str()))
        .collect();
    Ok(summary)
}

/// The summary as a plain-text table, one row per target.
pub fn table(summary: &RunSummary) -> String {
    let header = [
        "target",
        "model",
        "done",
        "failed",
        "cancelled",
        "p50 ms",
        "p95 ms",
        "ttft p50",
        "tok in",
        "tok out",
        "cost $",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for target in &summary.targets {
        rows.push(vec![
            target.target.clone(),
            target.model.clone(),
            target.progress.done.to_string(),
            target.progress.failed.to_string(),
            target.progress.cancelled.to_string(),
            number(target.latency_p50_ms, 0),
            number(target.latency_p95_ms, 0),
            number(target.ttft_p50_ms, 0),
            target.input_tokens.to_string(),
            target.output_tokens.to_string(),
            number(target.cost_usd, 4),
        ]);
    }
    let mut widths = vec![0; header.len()];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            // Names left, figures right.
            if i < 2 {
                line.push_str(&format!("{cell:<width$}", width = widths[i]));
            } else {
                line.push_str(&format!("{cell:>width$}", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&failures(summary));
    for note in notes(summary) {
        out.push_str(&format!("\n{note}\n"));
    }
    out
}

/// What a reader should know before trusting a target's figures: items
/// replayed without the tools their original had.
pub fn notes(summary: &RunSummary) -> Vec<String> {
    summary
        .targets
        .iter()
        .filter(|target| target.tools_missing > 0)
        .map(|target| {
            format!(
                "{}: {} {} sent without tools: {}",
                target.target,
                target.tools_missing,
                if target.tools_missing == 1 {
                    "item was"
                } else {
                    "items were"
                },
                TOOLS_MISSING_ADVICE
            )
        })
        .collect()
}

/// Why tools were missing and what to do, said the same way at run
/// creation, under the CLI's table and in the API.
pub const TOOLS_MISSING_ADVICE: &str = "the original answered with a tool call, but its tool \
    definitions were not recorded, so the candidate can only answer in text. Record them \
    (`gen_ai.tool.definitions` in OpenTelemetry GenAI instrumentations, or post raw records \
    with the request body) to compare tool use.";

/// Why items failed, under the table: per target, each error class with
/// its count and first message.
fn failures(summary: &RunSummary) -> String {
    let mut out = String::new();
    for target in &summary.targets {
        if target.errors.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{} failed items:\n", target.target));
        for class in &target.errors {
            let message = class.first_message.as_deref().unwrap_or("(no message)");
            out.push_str(&format!("  {} ×{}: {message}\n", class.class, class.count));
        }
    }
    out
}

fn number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) => format!("{value:.decimals$}"),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_one_row_per_target() {
        let summary = RunSummary {
            progress: Progress::default(),
            targets: vec![TargetSummary {
                target: "local".into(),
                model: "tiny".into(),
                progress: Progress {
                    total: 3,
                    done: 2,
                    failed: 1,
                    ..Progress::default()
                },
                latency_p50_ms: Some(51.4),
                latency_p95_ms: Some(80.0),
                ttft_p50_ms: None,
                input_tokens: 10,
                output_tokens: 20,
                output_tokens_per_s: None,
                cost_usd: Some(0.00123),
                errors: Vec::new(),
                tools_missing: 0,
            }],
        };
        let text = table(&summary);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("target"));
        assert!(lines[1].starts_with("local"));
        assert!(
            lines[1].contains(" 51 ") && lines[1].contains("0.0012"),
            "{text}"
        );
        assert!(lines[1].contains(" - "), "missing TTFT shows as -: {text}");
    }

    fn failed(class: Option<&str>, message: &str) -> Item {
        Item {
            row_id: 0,
            original_call_id: crate::model::CallId(1),
            target: "local".into(),
            repetition: 0,
            state: ItemState::Failed,
            attempts: 1,
            error: Some(message.into()),
            error_class: class.map(str::to_owned),
            result_call_id: None,
            latency_ms: None,
            ttft_ms: None,
            input_tokens: None,
            output_tokens: None,
            cost_usd: None,
            estimated_cost_usd: None,
            tools_missing: false,
        }
    }

    #[test]
    fn failures_group_by_class_with_their_first_message_most_frequent_first() {
        let items = [
            failed(Some("timeout"), "timed out after 1s"),
            failed(Some("untranslatable"), "`seed` cannot be sent"),
            failed(Some("untranslatable"), "`top_k` cannot be sent"),
            failed(None, "old failure"),
        ];
        let refs: Vec<&Item> = items.iter().collect();
        let classes = error_classes(&refs);
        let seen: Vec<(&str, u64, Option<&str>)> = classes
            .iter()
            .map(|c| (c.class.as_str(), c.count, c.first_message.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("untranslatable", 2, Some("`seed` cannot be sent")),
                ("timeout", 1, Some("timed out after 1s")),
                ("error", 1, Some("old failure")),
            ]
        );
        let summary = RunSummary {
            progress: Progress::default(),
            targets: vec![TargetSummary {
                target: "local".into(),
                model: "tiny".into(),
                errors: classes,
                ..TargetSummary::default()
            }],
        };
        let text = table(&summary);
        assert!(
            text.contains("local failed items:\n  untranslatable ×2: `seed` cannot be sent\n"),
            "{text}"
        );
    }
}
