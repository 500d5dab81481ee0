//! The comparison as people read it: one [`ComparisonReport`] per run,
//! returned as JSON by `GET /api/v1/replays/{id}/comparison` and printed by
//! `reprise compare` as a table, Markdown, a self-contained HTML page, or
//! the same JSON.
//!
//! The report shows one scoring: the one named, else the newest finished
//! one, else the newest. Its `scoring` field is the state of the run's
//! newest scoring, so a client that started a scoring sees `running` until
//! it is `done`. Besides the per-target [`Comparison`]s it counts what the
//! judge could not decide (unparseable or failed verdicts are counted here,
//! never turned into outcomes) and lists the worst regressions with both
//! answers' first lines and the judge's rationale.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::compare::judge::Outcome;
use crate::compare::judge::ask::JudgeStatus;
use crate::compare::scoring::{ScoredItem, ScoringSpec};
use crate::compare::summary::aggregate::{CompareConfig, Comparison, build_comparisons};
use crate::compare::summary::stats::{Interval, PairedSummary, Proportion};
use crate::model::comparison::ScoringState;
use crate::replay::run::Run;
use crate::store::read::comparisons::ScoringRow;
use crate::store::{ReadError, Store};

/// The scoring a report shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoringInfo {
    pub scoring_id: String,
    pub state: ScoringState,
    #[serde(with = "crate::model::nanos::string")]
    pub created_at_unix_nano: u64,
    #[serde(with = "crate::model::nanos::optional_string")]
    pub finished_at_unix_nano: Option<u64>,
    pub error: Option<String>,
    pub spec: Option<ScoringSpec>,
}

/// What was scored per target, and what the judge could not decide.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetCounts {
    pub target: String,
    /// Items stored in the scoring.
    pub items: u64,
    /// Items with scores (both answers were there).
    pub scored: u64,
    /// Items whose candidate failed.
    pub candidate_errors: u64,
    /// Pairs with a combined judge outcome.
    pub judged: u64,
    /// Pairs where an order's replies never held a valid verdict.
    pub unparseable: u64,
    /// Pairs where a judge request failed (target errors, budget).
    pub judge_failed: u64,
    /// Judge requests sent again because a reply did not parse.
    pub judge_retries: u64,
    /// Items replayed without tools: the original answered with a tool
    /// call but its tool definitions were not recorded.
    #[serde(default)]
    pub tools_missing: u64,
}

/// One of the worst regressions, with what it is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionDetail {
    pub target: String,
    pub item_id: String,
    pub kind: crate::compare::summary::aggregate::RegressionKind,
    pub similarity: Option<f64>,
    pub judge: Option<Outcome>,
    pub original: Option<String>,
    pub candidate: Option<String>,
    pub rationale: Option<String>,
}

/// Everything `reprise compare` and the comparison API show for a run:
/// the comparison of a replay run's targets with the originals, from
/// paired per-call differences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComparisonReport {
    pub run_id: String,
    /// State of the run's newest scoring: `none`, `running`, `done` or `failed`.
    #[schema(pattern = "^(none|running|done|failed)$")]
    pub scoring: String,
    /// The scoring shown (the newest unless `scoring` names one): its id,
    /// state, times, error and spec.
    #[schema(value_type = Option<Object>)]
    pub shown: Option<ScoringInfo>,
    /// Per target: items scored, candidate errors, judged pairs,
    /// unparseable verdicts, judge failures and retries, and
    /// `tools_missing`.
    pub counts: Vec<TargetCounts>,
    /// Per target: win/tie/loss with 95% Wilson intervals, similarity mean
    /// and median with bootstrap intervals, paired latency and TTFT deltas
    /// (p50/p95), tokens/s, tokens, cost per 1,000 calls, error rate, and
    /// the verdict.
    #[schema(value_type = Vec<Object>)]
    pub comparisons: Vec<Comparison>,
    /// The worst items: lowest similarity and judge losses, with both
    /// answers' snippets and the judge's rationale.
    #[schema(value_type = Vec<Object>)]
    pub regressions: Vec<RegressionDetail>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("run {run_id} has no scoring {scoring_id}")]
    NoSuchScoring { run_id: String, scoring_id: String },
}

/// Reads the scoring to show and builds the report.
pub async fn load_report(
    store: &Store,
    run: &Run,
    scoring_id: Option<&str>,
    config: &CompareConfig,
) -> Result<ComparisonReport, ReportError> {
    let scorings = store.reader.comparison_scorings(run.row_id).await?;
    let shown = match scoring_id {
        Some(wanted) => match scorings.iter().find(|s| s.scoring_id == wanted) {
            Some(scoring) => Some(scoring),
            None => {
                return Err(ReportError::NoSuchScoring {
                    run_id: run.id.clone(),
                    scoring_id: wanted.to_owned(),
                });
            }
        },
        None => scorings
            .iter()
            .find(|s| s.state == ScoringState::Done)
            .or(scorings.first()),
    };
    let mut items = Vec::new();
    if let Some(scoring) = shown {
        for (item, record) in store.reader.comparison_items(scoring.row_id).await? {
            match serde_json::from_str::<ScoredItem>(&record) {
                Ok(scored) => items.push(scored),
                Err(error) => {
                    return Err(ReadError::Corrupt(format!(
                        "scored item {item} of scoring {}: {error}",
                        scoring.scoring_id
                    ))
                    .into());
                }
            }
        }
    }
    let newest = scorings.first().map(|s| s.state.as_str()).unwrap_or("none");
    Ok(build_report(
        &run.id,
        newest,
        shown.map(scoring_info),
        &items,
        config,
    ))
}

fn scoring_info(row: &ScoringRow) -> ScoringInfo {
    ScoringInfo {
        scoring_id: row.scoring_id.clone(),
        state: row.state,
        created_at_unix_nano: row.created_at_unix_nano,
        finished_at_unix_nano: row.finished_at_unix_nano,
        error: row.error.clone(),
        spec: serde_json::from_str(&row.spec).ok(),
    }
}

/// The report for a scoring's items.
pub fn build_report(
    run_id: &str,
    newest_state: &str,
    shown: Option<ScoringInfo>,
    items: &[ScoredItem],
    config: &CompareConfig,
) -> ComparisonReport {
    let mut records = Vec::with_capacity(items.len());
    for item in items {
        records.push(item.to_record());
    }
    let comparisons = build_comparisons(&records, config);
    let mut regressions = Vec::new();
    for comparison in &comparisons {
        for regression in &comparison.worst_regressions {
            let item = items
                .iter()
                .find(|i| i.target == comparison.target && i.item_id == regression.item_id);
            regressions.push(RegressionDetail {
                target: comparison.target.clone(),
                item_id: regression.item_id.clone(),
                kind: regression.kind,
                similarity: regression.similarity,
                judge: regression.judge,
                original: item.and_then(|i| i.original_snippet.clone()),
                candidate: item.and_then(|i| i.candidate_snippet.clone()),
                rationale: item.and_then(rationale),
            });
        }
    }
    ComparisonReport {
        run_id: run_id.to_owned(),
        scoring: newest_state.to_owned(),
        shown,
        counts: count_targets(items),
        comparisons,
        regressions,
    }
}

/// The judge's reason for an item: its pairwise rationale, else the
/// candidate's rubric rationale, else why it has no verdict.
fn rationale(item: &ScoredItem) -> Option<String> {
    if let Some(judge) = &item.judge {
        if let Some(text) = judge.rationale() {
            return Some(text.to_owned());
        }
        return judge
            .candidate_as_a
            .error
            .clone()
            .or(judge.candidate_as_b.error.clone());
    }
    if let Some(rubric) = &item.rubric {
        return rubric.candidate.rationale.clone();
    }
    item.note.clone()
}

fn count_targets(items: &[ScoredItem]) -> Vec<TargetCounts> {
    let mut by_target: std::collections::BTreeMap<&str, TargetCounts> =
        std::collections::BTreeMap::new();
    for item in items {
        let counts = by_target
            .entry(item.target.as_str())
            .or_insert_with(|| TargetCounts {
                target: item.target.clone(),
                ..TargetCounts::default()
            });
        counts.items += 1;
        if item.scores.is_some() {
            counts.scored += 1;
        }
        if item.candidate.error {
            counts.candidate_errors += 1;
        }
        if item.tools_missing {
            counts.tools_missing += 1;
        }
        let mut replies = Vec::new();
        if let Some(judge) = &item.judge {
            if judge.judgement.is_some() {
                counts.judged += 1;
            }
            if judge.unparseable() {
                counts.unparseable += 1;
            } else if judge.failed() {
                counts.judge_failed += 1;
            }
            replies.push(&judge.candidate_as_a);
            replies.push(&judge.candidate_as_b);
        }
        if let Some(rubric) = &item.rubric {
            if rubric.grades.is_some() {
                counts.judged += 1;
            }
            let statuses = [rubric.original.status, rubric.candidate.status];
            if statuses.contains(&JudgeStatus::Unparseable) {
                counts.unparseable += 1;
            } else if statuses.contains(&JudgeStatus::Failed) {
                counts.judge_failed += 1;
            }
            replies.push(&rubric.original);
            replies.push(&rubric.candidate);
        }
        for reply in replies {
            counts.judge_retries += (reply.raw_replies.len() as u64).saturating_sub(1);
        }
    }
    by_target.into_values().collect()
}

// ---------------------------------------------------------------------------
// Rendering. Every format shows the same rows, built once by `rows`.

/// The output formats of `reprise compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Html,
}

pub fn render(report: &ComparisonReport, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".to_owned()),
        Format::Table => render_table(report),
        Format::Markdown => render_markdown(report),
        Format::Html => render_html(report),
    }
}

/// The metric rows: a label, then one cell per target.
fn rows(report: &ComparisonReport) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["".to_owned()];
    for comparison in &report.comparisons {
        header.push(comparison.target.clone());
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, cell: &dyn Fn(&Comparison, Option<&TargetCounts>) -> String| {
        let mut cells = vec![label.to_owned()];
        for comparison in &report.comparisons {
            let counts = report.counts.iter().find(|c| c.target == comparison.target);
            cells.push(cell(comparison, counts));
        }
        rows.push(cells);
    };
    row("verdict", &|c, _| c.verdict.label.clone());
    row("items", &|c, _| c.n_items.to_string());
    row("judge win", &|c, _| judge_cell(c, |j| &j.wins));
    row("judge tie", &|c, _| judge_cell(c, |j| &j.ties));
    row("judge loss", &|c, _| judge_cell(c, |j| &j.losses));
    row("position-inconsistent", &|c, _| {
        judge_cell(c, |j| &j.position_inconsistent)
    });
    row("unparseable verdicts", &|_, counts| {
        counts.map_or("-".to_owned(), |c| {
            format!("{} ({} retries)", c.unparseable, c.judge_retries)
        })
    });
    row("rubric Δ (cand − orig)", &|c, _| {
        c.rubric.as_ref().map_or("-".to_owned(), |r| {
            mean_ci(&r.difference.mean, &r.difference.mean_ci95, 2)
        })
    });
    row("similarity mean", &|c, _| {
        c.similarity.as_ref().map_or("-".to_owned(), |s| {
            format!(
                "{} {}",
                s.metric.as_str(),
                mean_ci(&s.summary.mean, &s.summary.mean_ci95, 3)
            )
        })
    });
    row("similarity median", &|c, _| {
        c.similarity
            .as_ref()
            .map_or("-".to_owned(), |s| match &s.summary.median_ci95 {
                Some(ci) => mean_ci(&s.summary.median, ci, 3),
                None => format!("{:.3}", s.summary.median),
            })
    });
    row("latency Δ p50 / p95 (ms)", &|c, _| {
        delta_cell(c.latency_ms.as_ref(), 0)
    });
    row("TTFT Δ p50 / p95 (ms)", &|c, _| {
        delta_cell(c.ttft_ms.as_ref(), 0)
    });
    row("output tokens/s (orig → cand)", &|c, _| {
        sides_cell(c.output_tokens_per_s.as_ref(), 1)
    });
    row("input tokens (orig → cand)", &|c, _| {
        sides_cell(c.input_tokens.as_ref(), 0)
    });
    row("output tokens (orig → cand)", &|c, _| {
        sides_cell(c.output_tokens.as_ref(), 0)
    });
    row("cost / 1k calls USD (orig → cand)", &|c, _| {
        sides_cell(c.cost_per_1000_calls_usd.as_ref(), 4)
    });
    row("error rate (orig → cand)", &|c, _| {
        c.errors.as_ref().map_or("-".to_owned(), |e| {
            format!(
                "{:.1}% → {:.1}%",
                e.original.rate * 100.0,
                e.candidate.rate * 100.0
            )
        })
    });
    if report.counts.iter().any(|c| c.tools_missing > 0) {
        row("replayed without tools", &|_, counts| {
            counts.map_or("-".to_owned(), |c| {
                format!("{} of {}", c.tools_missing, c.items)
            })
        });
    }
    (header, rows)
}

/// What a reader must know before trusting a target's figures, under the
/// verdicts in every format.
fn notes(report: &ComparisonReport) -> Vec<String> {
    report
        .counts
        .iter()
        .filter(|c| c.tools_missing > 0)
        .map(|c| {
            format!(
                "{}: {} of {} items were replayed without tools: {}",
                c.target,
                c.tools_missing,
                c.items,
                crate::replay::summary::TOOLS_MISSING_ADVICE
            )
        })
        .collect()
}

fn judge_cell(
    comparison: &Comparison,
    pick: impl Fn(&crate::compare::summary::aggregate::JudgeSummary) -> &Proportion,
) -> String {
    match &comparison.judge {
        Some(judge) => proportion(pick(judge)),
        None => "-".to_owned(),
    }
}

fn proportion(p: &Proportion) -> String {
    format!(
        "{}/{} ({:.0}% [{:.0}–{:.0}%])",
        p.count,
        p.n,
        p.rate * 100.0,
        p.ci95.lower * 100.0,
        p.ci95.upper * 100.0
    )
}

fn mean_ci(value: &f64, ci: &Interval, decimals: usize) -> String {
    format!(
        "{value:.decimals$} [{:.decimals$}, {:.decimals$}]",
        ci.lower, ci.upper
    )
}

fn delta_cell(summary: Option<&PairedSummary>, decimals: usize) -> String {
    match summary {
        Some(s) => format!(
            "{:+.decimals$} / {:+.decimals$}",
            s.difference.median, s.difference.p95
        ),
        None => "-".to_owned(),
    }
}

fn sides_cell(summary: Option<&PairedSummary>, decimals: usize) -> String {
    match summary {
        Some(s) => format!(
            "{:.decimals$} → {:.decimals$}",
            s.original.mean, s.candidate.mean
        ),
        None => "-".to_owned(),
    }
}

fn heading(report: &ComparisonReport) -> String {
    match &report.shown {
        Some(shown) => {
            let judge = shown
                .spec
                .as_ref()
                .and_then(|s| s.judge.as_ref())
                .map_or("no judge".to_owned(), |j| {
                    format!("judge {} ({})", j.target, j.model)
                });
            format!(
                "Run {} — scoring {} ({}, {}); newest scoring: {}",
                report.run_id,
                shown.scoring_id,
                shown.state.as_str(),
                judge,
                report.scoring
            )
        }
        None => format!("Run {} — not scored yet", report.run_id),
    }
}

fn regression_line(r: &RegressionDetail) -> (String, String, String, String) {
    let score = match (r.similarity, r.judge) {
        (Some(s), Some(j)) => format!("sim {s:.3}, judge {}", outcome_word(j)),
        (Some(s), None) => format!("sim {s:.3}"),
        (None, Some(j)) => format!("judge {}", outcome_word(j)),
        (None, None) => "-".to_owned(),
    };
    (
        format!("{} {} ({})", r.target, r.item_id, kind_name(r.kind)),
        score,
        one_line(r.original.as_deref()),
        one_line(r.candidate.as_deref()),
    )
}

/// The kind as the JSON spells it (`judge_loss`).
fn kind_name(kind: crate::compare::summary::aggregate::RegressionKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{kind:?}"),
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Win => "win",
        Outcome::Tie => "tie",
        Outcome::Loss => "loss",
    }
}

fn one_line(text: Option<&str>) -> String {
    let text = text.unwrap_or("-");
    crate::compare::scoring::truncate_chars(&text.replace(['\n', '\r'], " "), 80)
}

fn render_table(report: &ComparisonReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", heading(report));
    if report.comparisons.is_empty() {
        return out;
    }
    let (header, rows) = rows(report);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let _ = writeln!(out);
    write_aligned(&mut out, &header, &widths);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    write_aligned(&mut out, &rule, &widths);
    for row in &rows {
        write_aligned(&mut out, row, &widths);
    }
    for comparison in &report.comparisons {
        let _ = writeln!(
            out,
            "\n{}: {} — {}",
            comparison.target, comparison.verdict.label, comparison.verdict.reason
        );
    }
    for note in notes(report) {
        let _ = writeln!(out, "\nNote — {note}");
    }
    if !report.regressions.is_empty() {
        let _ = writeln!(out, "\nWorst regressions:");
        for r in &report.regressions {
            let (item, score, original, candidate) = regression_line(r);
            let _ = writeln!(out, "  {item}  {score}");
            let _ = writeln!(out, "    original:  {original}");
            let _ = writeln!(out, "    candidate: {candidate}");
            if let Some(rationale) = &r.rationale {
                let _ = writeln!(out, "    reason:    {}", one_line(Some(rationale)));
            }
        }
    }
    out
}

fn write_aligned(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        let pad = widths[i].saturating_sub(cell.chars().count());
        line.push_str(&" ".repeat(pad));
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn render_markdown(report: &ComparisonReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", md_cell(&heading(report)));
    if report.comparisons.is_empty() {
        return out;
    }
    let (header, rows) = rows(report);
    let cells: Vec<String> = header.iter().map(|h| md_cell(h)).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in &rows {
        let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(out);
    for comparison in &report.comparisons {
        let _ = writeln!(
            out,
            "- **{}**: {} — {}",
            md_cell(&comparison.target),
            md_cell(&comparison.verdict.label),
            md_cell(&comparison.verdict.reason)
        );
    }
    for note in notes(report) {
        let _ = writeln!(out, "\n> **Note** — {}", md_cell(&note));
    }
    if !report.regressions.is_empty() {
        let _ = writeln!(out, "\n### Worst regressions\n");
        let _ = writeln!(out, "| item | score | original | candidate | reason |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for r in &report.regressions {
            let (item, score, original, candidate) = regression_line(r);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md_cell(&item),
                md_cell(&score),
                md_cell(&original),
                md_cell(&candidate),
                md_cell(&one_line(r.rationale.as_deref()))
            );
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One page, styles inline, no scripts, no external assets.
fn render_html(report: &ComparisonReport) -> String {
    let mut out = String::new();
    let title = escape_html(&heading(report));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}\
         th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         th{{background:#f3f3f3}} .worse{{color:#b00}} .ok{{color:#070}}\
         </style></head><body>\n<h1>{title}</h1>\n"
    );
    if !report.comparisons.is_empty() {
        let (header, rows) = rows(report);
        out.push_str("<table>\n<tr>");
        for cell in &header {
            let _ = write!(out, "<th>{}</th>", escape_html(cell));
        }
        out.push_str("</tr>\n");
        for row in &rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let tag = if i == 0 { "th" } else { "td" };
                let _ = write!(out, "<{tag}>{}</{tag}>", escape_html(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n<ul>\n");
        for comparison in &report.comparisons {
            let class = match comparison.verdict.decision {
                crate::compare::summary::verdict::Decision::Worse => "worse",
                crate::compare::summary::verdict::Decision::NotWorse
                | crate::compare::summary::verdict::Decision::Better => "ok",
                _ => "",
            };
            let _ = writeln!(
                out,
                "<li><b>{}</b>: <span class=\"{class}\">{}</span> — {}</li>",
                escape_html(&comparison.target),
                escape_html(&comparison.verdict.label),
                escape_html(&comparison.verdict.reason)
            );
        }
        out.push_str("</ul>\n");
        for note in notes(report) {
            let _ = writeln!(out, "<p><b>Note</b> — {}</p>", escape_html(&note));
        }
    }
    if !report.regressions.is_empty() {
        out.push_str(
            "<h2>Worst regressions</h2>\n<table>\n<tr><th>item</th><th>score</th>\
             <th>original</th><th>candidate</th><th>reason</th></tr>\n",
        );
        for r in &report.regressions {
            let (item, score, _, _) = regression_line(r);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&item),
                escape_html(&score),
                escape_html(r.original.as_deref().unwrap_or("-")),
                escape_html(r.candidate.as_deref().unwrap_or("-")),
                escape_html(r.rationale.as_deref().unwrap_or("-"))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::judge::ask::{JudgeReply, PairwiseRecord};
    use crate::compare::judge::{Winner, combine_orders};
    use crate::compare::score::Scores;
    use crate::compare::summary::aggregate::CallOutcome;
    use crate::model::CallId;

    fn reply(status: JudgeStatus, winner: Option<Winner>, raw: &[&str]) -> JudgeReply {
        JudgeReply {
            status,
            winner,
            score: None,
            rationale: winner.map(|_| "because".to_owned()),
            raw_replies: raw.iter().map(|r| r.to_string()).collect(),
            error: None,
        }
    }

    fn item(index: u64, first: JudgeReply, second: JudgeReply) -> ScoredItem {
        let judgement = match (first.winner, second.winner) {
            (Some(a), Some(b)) => Some(combine_orders(a, b)),
            _ => None,
        };
        let outcome = CallOutcome {
            duration_ms: Some(100.0),
            output_tokens: Some(10),
            ..CallOutcome::default()
        };
        ScoredItem {
            item_id: format!("item-{index:02}"),
            original_call_id: CallId::random(index),
            result_call_id: None,
            target: "cand".to_owned(),
            repetition: 0,
            original: outcome.clone(),
            candidate: outcome,
            scores: Some(Scores {
                token_f1: Some(0.5),
                ..Scores::default()
            }),
            judge: Some(PairwiseRecord {
                candidate_as_a: first,
                candidate_as_b: second,
                judgement,
            }),
            rubric: None,
            original_snippet: Some("the original | answer".to_owned()),
            candidate_snippet: Some("<b>candidate</b>".to_owned()),
            note: None,
            tools_missing: false,
        }
    }

    fn sample_report() -> ComparisonReport {
        let items = vec![
            // Candidate shown first wins, shown second loses: position bias.
            item(
                1,
                reply(JudgeStatus::Ok, Some(Winner::A), &["a"]),
                reply(JudgeStatus::Ok, Some(Winner::A), &["a"]),
            ),
            // The original wins in both orders.
            item(
                2,
                reply(JudgeStatus::Ok, Some(Winner::B), &["x", "b"]),
                reply(JudgeStatus::Ok, Some(Winner::A), &["a"]),
            ),
            item(
                3,
                reply(JudgeStatus::Unparseable, None, &["hmm", "hmm", "hmm"]),
                reply(JudgeStatus::Ok, Some(Winner::B), &["b"]),
            ),
        ];
        build_report("RUN", "done", None, &items, &CompareConfig::default())
    }

    #[test]
    fn counts_keep_unparseable_verdicts_out_of_the_outcomes() {
        let report = sample_report();
        let counts = &report.counts[0];
        assert_eq!(counts.items, 3);
        assert_eq!(counts.judged, 2);
        assert_eq!(counts.unparseable, 1);
        assert_eq!(counts.judge_retries, 1 + 2);
        let judge = report.comparisons[0].judge.as_ref().expect("judge");
        assert_eq!(judge.n, 2);
        assert_eq!(judge.ties.count, 1);
        assert_eq!(judge.losses.count, 1);
        assert_eq!(judge.position_inconsistent.count, 1);
    }

    #[test]
    fn regressions_carry_both_answers_and_the_rationale() {
        let report = sample_report();
        let loss = report
            .regressions
            .iter()
            .find(|r| r.judge == Some(Outcome::Loss))
            .expect("the judge's loss is listed");
        assert_eq!(loss.item_id, "item-02");
        assert_eq!(loss.original.as_deref(), Some("the original | answer"));
        assert_eq!(loss.rationale.as_deref(), Some("because"));
    }

    #[test]
    fn every_format_shows_the_same_counts_and_escapes_what_it_must() {
        let report = sample_report();
        let json: ComparisonReport =
            serde_json::from_str(&render(&report, Format::Json)).expect("JSON reads back");
        assert_eq!(json, report);
        let table = render(&report, Format::Table);
        assert!(table.contains("judge loss"), "{table}");
        assert!(table.contains("1/2 (50%"), "{table}");
        let markdown = render(&report, Format::Markdown);
        assert!(markdown.contains("| judge loss | 1/2 (50%"), "{markdown}");
        assert!(markdown.contains("the original \\| answer"), "{markdown}");
        let html = render(&report, Format::Html);
        assert!(html.contains("<td>1/2 (50%"), "{html}");
        assert!(html.contains("&lt;b&gt;candidate&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>candidate</b>"));
    }
}
