// One replay run: its state and progress, the per-target figures, the
// comparison (the aggregate table with 95% intervals and verdicts, from
// /comparison when the server computes it), and per original call the
// original answer beside each candidate's, with a word-level diff, the
// scores and the judge's outcome and rationale.

import { h, link, replace, panel, facts, notice } from "../dom.js";
import { get, getOptional, post, ApiError, isAbort } from "../api.js";
import { part, textOf } from "../chat.js";
import { wordDiff, sameShare } from "../diff.js";
import { stateBadge, progressBar } from "./replays.js";
import * as fmt from "../format.js";

const POLL_MS = 3000;
const RESULTS_PAGE = 10;

export async function render(main, { params, signal }) {
  const id = params.runId;
  const base = `/api/v1/replays/${encodeURIComponent(id)}`;
  replace(main, notice("loading", "Loading replay…"));
  let run;
  try {
    run = await get(base, null, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(main, h("h1", null, "Replay not found"),
        notice("empty", `There is no replay run ${id} on this server.`), link("/replays", "All replays"));
      return;
    }
    throw error;
  }

  const head = h("div");
  const summary = h("div");
  const comparison = h("div");
  const results = h("div", { class: "results" });
  const more = h("button", { type: "button", hidden: true }, "More calls");
  replace(main, head, summary, comparison,
    panel("Calls side by side", h("p", { class: "muted" }, "Each candidate's answer is diffed word by word against the original: ",
      h("del", null, "dropped"), " and ", h("ins", null, "added"), " words are marked."), results, h("div", { class: "pager" }, more)));

  let cursor = null;
  let timer = null;

  const drawRun = () => {
    replace(head, runHeader(run, async () => {
      try {
        run = await post(`${base}/cancel`, {});
        drawRun();
      } catch (error) {
        head.append(notice("error", error.message));
      }
    }));
    replace(summary, targetSummary(run));
  };

  const loadComparison = async () => {
    const answer = await getOptional(`${base}/comparison`, null, signal);
    const list = comparisonsOf(answer);
    // The comparison API says whether the run was scored (`scoring`:
    // none, running, done, failed); an older server has no such field.
    const scoring = answer && answer.scoring;
    let why = "No comparison is available for this run.";
    if (run.state === "running") why = "The comparison is computed when the run has answers to score.";
    else if (scoring === "running") why = "The run is being scored; the comparison appears when scoring is done.";
    else if (scoring === "failed") why = "Scoring this run failed; see the server's log, then score it again.";
    else if (scoring === "none") why = `This run has not been scored yet: run reprise compare ${run.id}, or POST ${base}/comparison.`;
    replace(comparison, panel("Comparison", list.length > 0
      ? comparisonTable(list)
      : h("p", { class: "muted", dataset: { comparison: "none", scoring: scoring || "" } }, why)));
  };

  const loadResults = async (next) => {
    const page = await getOptional(`${base}/results`, { limit: RESULTS_PAGE, cursor: next }, signal);
    if (!next) results.replaceChildren();
    const groups = page ? page.results || [] : [];
    for (const group of groups) results.append(resultCard(group));
    if (!next && groups.length === 0) results.append(h("p", { class: "muted" }, "No results yet."));
    cursor = page ? page.next_cursor || null : null;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => loadResults(cursor).catch((error) => {
    if (!isAbort(error)) more.after(notice("error", error.message));
  }));

  const poll = async () => {
    try {
      const wasRunning = run.state === "running";
      run = await get(base, null, signal);
      drawRun();
      if (wasRunning && run.state !== "running") await Promise.all([loadComparison(), loadResults()]);
    } catch (error) {
      if (isAbort(error)) return;
    }
    if (run.state === "running") timer = setTimeout(poll, POLL_MS);
  };

  drawRun();
  await Promise.all([loadComparison(), loadResults()]);
  if (run.state === "running") timer = setTimeout(poll, POLL_MS);
  return () => clearTimeout(timer);
}

function runHeader(run, cancel) {
  const targets = (run.targets || []).map((t) => (typeof t === "string" ? t : `${t.name} (${t.model})`));
  return h("div", { class: "page-head" },
    h("div", null,
      h("p", { class: "crumbs" }, link("/replays", "Replays"), " / ", h("span", { class: "mono" }, run.id)),
      h("h1", null, run.name || "Replay run", " ", stateBadge(run.state))),
    progressBar(run.progress),
    facts([
      ["Targets", targets.join(", ")],
      ["Repeat", run.repeat],
      ["Streaming", run.stream === undefined ? null : run.stream ? "yes" : "no"],
      ["Created", fmt.timestamp(run.created_at_unix_nano)],
      ["Finished", run.finished_at_unix_nano ? fmt.timestamp(run.finished_at_unix_nano) : null],
      ["Stopped because", run.stop_reason],
      ["Budget", run.budget && (run.budget.max_calls || run.budget.max_cost_usd)
        ? [run.budget.max_calls ? `${run.budget.max_calls} calls` : null, run.budget.max_cost_usd ? fmt.usd(run.budget.max_cost_usd) : null].filter(Boolean).join(", ")
        : null],
    ], "facts facts-inline"),
    run.state === "running" ? h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel run") : null);
}

function targetSummary(run) {
  const rows = run.summary || [];
  if (rows.length === 0) return null;
  return panel("Targets", summaryTable(rows), failures(rows), runNotes(run));
}

/** What to know before trusting the figures (items replayed without their tools). */
function runNotes(run) {
  const notes = run.notes || [];
  if (notes.length === 0) return null;
  return h("div", { dataset: { notes: "" } },
    notes.map((text) => notice("warning", h("span", { dataset: { note: "" } }, text))));
}

/** Why items failed: per target, each error class with its count and the first message. */
function failures(rows) {
  const failing = rows.filter((t) => (t.errors || []).length > 0);
  if (failing.length === 0) return null;
  return h("div", { dataset: { failures: "" } },
    h("h3", null, "Why items failed"),
    failing.map((t) => h("div", { dataset: { target: t.target } },
      h("p", { class: "small" }, h("strong", null, t.target)),
      h("ul", null, t.errors.map((e) => h("li", { dataset: { errorClass: e.class } },
        h("span", { class: "badge badge-error" }, e.class), ` ×${e.count} `,
        h("span", { class: "mono small" }, e.first_message || "(no message)")))))));
}

function summaryTable(rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "compact", dataset: { targetSummary: "" } },
      h("thead", null, h("tr", null, ["Target", "Model", "Progress", "Latency p50", "p95", "TTFT p50", "Tokens in → out", "Output tok/s", "Cost"]
        .map((t, i) => h("th", { scope: "col", class: i > 2 ? "num" : null }, t)))),
      h("tbody", null, rows.map((t) => h("tr", { dataset: { target: t.target } },
        h("td", null, t.target),
        h("td", null, t.model),
        h("td", null, progressBar(t.progress)),
        h("td", { class: "num" }, fmt.ms(t.latency_p50_ms)),
        h("td", { class: "num" }, fmt.ms(t.latency_p95_ms)),
        h("td", { class: "num" }, fmt.ms(t.ttft_p50_ms)),
        h("td", { class: "num" }, `${fmt.count(t.input_tokens)} → ${fmt.count(t.output_tokens)}`),
        h("td", { class: "num" }, t.output_tokens_per_s ? t.output_tokens_per_s.toFixed(1) : fmt.MISSING),
        h("td", { class: "num" }, fmt.usd(t.cost_usd)))))));
}

/** The comparisons in an answer of /comparison, whatever it wraps them in. */
export function comparisonsOf(answer) {
  if (!answer) return [];
  if (Array.isArray(answer)) return answer;
  return answer.comparisons || answer.targets || [];
}

const interval = (ci, format) => (ci ? ` [${format(ci.lower)}, ${format(ci.upper)}]` : "");

/** A paired quantity: candidate vs original medians, and the median difference with its interval. */
function paired(summary, format, { mean = false } = {}) {
  if (!summary) return fmt.MISSING;
  const d = summary.difference;
  const centre = mean ? d.mean : d.median;
  const ci = mean ? d.mean_ci95 : d.median_ci95 || d.mean_ci95;
  const o = mean ? summary.original.mean : summary.original.median;
  const c = mean ? summary.candidate.mean : summary.candidate.median;
  return h("div", null,
    h("div", null, `${format(o)} → ${format(c)}`),
    h("div", { class: "small muted" }, `Δ ${fmt.signed(centre, format)}${interval(ci, (v) => fmt.signed(v, format))}`, ` · n=${summary.n}`));
}

function proportion(p) {
  if (!p) return fmt.MISSING;
  return h("div", null, fmt.percent(p.rate), h("div", { class: "small muted" }, `${p.count}/${p.n}${interval(p.ci95, (v) => fmt.percent(v))}`));
}

export function comparisonTable(comparisons) {
  const rows = [
    ["Verdict", (c) => h("div", { class: `verdict verdict-${c.verdict ? c.verdict.decision : "none"}`, dataset: { verdict: c.verdict ? c.verdict.decision : "" } },
      h("strong", null, c.verdict ? c.verdict.label : fmt.MISSING),
      c.verdict && c.verdict.reason ? h("div", { class: "small" }, c.verdict.reason) : null)],
    ["Items", (c) => fmt.count(c.n_items)],
    ["Judge: win / tie / loss", (c) => c.judge
      ? h("div", null, `${fmt.percent(c.judge.wins.rate, 0)} / ${fmt.percent(c.judge.ties.rate, 0)} / ${fmt.percent(c.judge.losses.rate, 0)}`,
        h("div", { class: "small muted" }, `win − loss ${fmt.signed(c.judge.win_minus_loss.estimate, (v) => fmt.percent(v, 0))}${interval(c.judge.win_minus_loss.ci95, (v) => fmt.percent(v, 0))} · n=${c.judge.n}`))
      : fmt.MISSING],
    ["Rubric grade Δ", (c) => paired(c.rubric, (v) => v.toFixed(1), { mean: true })],
    ["Similarity", (c) => c.similarity
      ? h("div", null, `${c.similarity.metric}: ${c.similarity.mean.toFixed(3)}`, h("div", { class: "small muted" }, `${interval(c.similarity.mean_ci95, (v) => v.toFixed(3)).trim()} · n=${c.similarity.n}`))
      : fmt.MISSING],
    ["Exact match", (c) => proportion(c.exact_match)],
    ["Valid JSON", (c) => proportion(c.json_valid)],
    ["Error rate", (c) => c.errors
      ? h("div", null, `${fmt.percent(c.errors.original.rate)} → ${fmt.percent(c.errors.candidate.rate)}`,
        h("div", { class: "small muted" }, `Δ ${fmt.signed(c.errors.difference.estimate, (v) => fmt.percent(v))}${interval(c.errors.difference.ci95, (v) => fmt.signed(v, (x) => fmt.percent(x)))}`))
      : fmt.MISSING],
    ["New refusals", (c) => (c.refusals ? String(c.refusals.new_refusals) : fmt.MISSING)],
    ["Latency (median)", (c) => paired(c.latency_ms, fmt.ms)],
    ["TTFT (median)", (c) => paired(c.ttft_ms, fmt.ms)],
    ["Output tokens/s", (c) => paired(c.output_tokens_per_s, (v) => v.toFixed(1))],
    ["Output tokens", (c) => paired(c.output_tokens, (v) => v.toFixed(0))],
    ["Cost per 1,000 calls", (c) => paired(c.cost_per_1000_calls_usd, fmt.usd, { mean: true })],
    ["Worst regressions", (c) => (c.worst_regressions && c.worst_regressions.length > 0
      ? h("ul", { class: "plain small" }, c.worst_regressions.map((r) => h("li", null,
        h("a", { href: `#item-${r.item_id}` }, h("span", { class: "mono" }, fmt.shortId(r.item_id, 10))), ` ${r.kind.replaceAll("_", " ")}`)))
      : "none")],
  ];
  return h("div", { class: "table-wrap" }, h("table", { class: "compare", dataset: { comparison: "table" } },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Candidate vs original"),
      comparisons.map((c) => h("th", { scope: "col", dataset: { target: c.target } }, c.target)))),
    h("tbody", null, rows.map(([label, cell]) => h("tr", null, h("th", { scope: "row" }, label),
      comparisons.map((c) => h("td", { dataset: { target: c.target } }, cell(c))))))));
}

/** One original call and its replays, side by side. */
export function resultCard(group) {
  const original = group.original || {};
  const originalText = original.output_text ?? textOf(original.output_messages);
  const lastUser = [...(original.input_messages || [])].reverse().find((m) => m.role === "user");
  const columns = [answerColumn("Original", original.request_model || original.response_model, original, null, originalText, null)];
  for (const replay of group.replays || []) {
    const call = replay.call || null;
    const text = call ? call.output_text ?? textOf(call.output_messages) : "";
    columns.push(answerColumn(replay.target, call && (call.response_model || call.request_model), call, replay, text, originalText));
  }
  return h("article", { class: "result", id: `item-${group.original_call_id}`, dataset: { originalCallId: group.original_call_id } },
    h("header", { class: "result-head" },
      link(`/calls/${encodeURIComponent(group.original_call_id)}`, h("span", { class: "mono" }, fmt.shortId(group.original_call_id, 12))),
      lastUser ? h("span", { class: "prompt-preview", title: textOf([lastUser]) }, textOf([lastUser]).slice(0, 200)) : null),
    h("div", { class: "result-grid", style: { "--columns": String(columns.length) } }, columns));
}

function answerColumn(title, model, call, replay, text, originalText) {
  const state = replay ? replay.state : call ? call.status : null;
  const figures = h("div", { class: "small muted answer-figures" },
    [fmt.ms(replay ? replay.latency_ms ?? (call && call.duration_ms) : call && call.duration_ms),
      `TTFT ${fmt.ms(replay ? replay.ttft_ms ?? (call && call.ttft_ms) : call && call.ttft_ms)}`,
      `${fmt.count(replay ? replay.output_tokens ?? (call && call.usage && call.usage.output_tokens) : call && call.usage && call.usage.output_tokens)} tok`,
      fmt.usd(replay ? replay.cost_usd ?? (call && call.cost_usd) : call && call.cost_usd)].join(" · "));
  let body;
  const error = (replay && replay.error) || (call && call.error && (call.error.message || call.error.type));
  if (!call && replay) {
    body = h("p", { class: "muted" }, replay.state === "pending" || replay.state === "running" ? "Waiting for the answer…" : "No answer.");
  } else if (originalText !== null && originalText !== undefined) {
    const diff = wordDiff(originalText, text || "");
    body = h("div", { class: "answer-text diff", dataset: { diff: "" } },
      diff.map((piece) => (piece.op === "same" ? piece.text : h(piece.op === "add" ? "ins" : "del", null, piece.text))));
    figures.append(` · ${fmt.percent(sameShare(diff), 0)} same words`);
  } else {
    body = h("div", { class: "answer-text" }, text || "");
  }
  const toolCalls = [];
  for (const m of (call && call.output_messages) || []) {
    for (const p of m.parts || []) if (p.type !== "text") toolCalls.push(part(p));
  }
  return h("section", { class: "answer", dataset: { answer: replay ? replay.target : "original" } },
    h("header", null, h("strong", null, title), model ? h("span", { class: "muted" }, ` ${model}`) : null,
      state ? [" ", stateBadge(state === "ok" ? "done" : state)] : null,
      replay && replay.repetition ? h("span", { class: "muted small" }, ` #${replay.repetition + 1}`) : null,
      call && call.id ? [" ", link(`/calls/${encodeURIComponent(call.id)}`, h("span", { class: "mono small" }, "call"))] : null),
    figures,
    error ? notice("error", error) : null,
    body,
    toolCalls,
    replay ? scores(replay) : null);
}

const SCORE_LABELS = {
  exact_match: "exact", normalized_match: "normalized", rouge_l: "ROUGE-L", chrf: "chrF", length_ratio: "length ×",
  json_valid: "JSON valid", json_structure: "JSON structure", json_values: "JSON values", embedding_cosine: "cosine",
};

/** The pair's scores and the judge's outcome and rationale, when the API gives them. */
function scores(replay) {
  const values = replay.scores || {};
  const chips = [];
  for (const [key, label] of Object.entries(SCORE_LABELS)) {
    const value = values[key];
    if (value === null || value === undefined) continue;
    chips.push(h("span", { class: "chip", dataset: { score: key } }, `${label} `,
      h("strong", null, typeof value === "boolean" ? (value ? "yes" : "no") : value.toFixed(2))));
  }
  if (values.tool_calls && typeof values.tool_calls === "object") {
    const agreement = values.tool_calls.score ?? values.tool_calls.f1 ?? values.tool_calls.agreement;
    if (typeof agreement === "number") chips.push(h("span", { class: "chip", dataset: { score: "tool_calls" } }, "tool calls ", h("strong", null, agreement.toFixed(2))));
  }
  const judgement = replay.judgement || replay.judge || null;
  const outcome = judgement && (judgement.outcome || judgement.winner);
  const rationale = replay.rationale || (judgement && judgement.rationale) || null;
  if (chips.length === 0 && !outcome && !rationale) return null;
  return h("div", { class: "scores" },
    chips,
    outcome ? h("span", { class: `chip judge-${outcome}`, dataset: { judge: outcome } }, "judge ", h("strong", null, outcome),
      judgement.position_inconsistent ? " (orders disagreed)" : "") : null,
    rationale ? h("blockquote", { class: "rationale", dataset: { rationale: "" } }, rationale) : null);
}
