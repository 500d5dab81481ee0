// Models: how each model (or provider) behaves over time — volume, latency
// and time-to-first-token percentiles, tokens, cost and error rate. One
// stats query lists the groups; then one time-bucketed stats query per
// group (the busiest ones) draws its lines. Every number comes from the
// stats API, so the page costs the same with a thousand calls or a million.

import { h, link, replace, panel, notice } from "../dom.js";
import { get, isAbort } from "../api.js";
import { setQuery } from "../app.js";
import { lineChart, PALETTE } from "../chart.js";
import * as fmt from "../format.js";

const MAX_SERIES = 10;

const RANGES = [
  ["24h", "Last 24 hours", "hour"],
  ["7d", "Last 7 days", "hour"],
  ["30d", "Last 30 days", "day"],
  ["90d", "Last 90 days", "day"],
  ["", "All time", "day"],
];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export async function render(main, { query, signal }) {
  const view = {
    since: query.has("since") ? query.get("since") : "7d",
    until: query.get("until") || "",
    group: query.get("group") === "provider" ? "provider" : "model",
    percentile: ["p50", "p90", "p99"].includes(query.get("pct")) ? query.get("pct") : "p50",
    bucket: ["hour", "day"].includes(query.get("bucket")) ? query.get("bucket") : null,
    service: query.get("service") || "",
    provider: query.get("provider") || "",
  };
  const body = h("div");
  let generation = 0;

  const controls = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "filter-row" },
      select("range", "Time range", RANGES.map(([value, label]) => [value, label]), isPresetRange(view.since) ? view.since : "__custom", (value) => {
        if (value === "__custom") return;
        view.since = value; view.until = ""; view.bucket = null; update();
      }, isPresetRange(view.since) ? null : [["__custom", `Since ${view.since}`]]),
      select("group", "Group by", [["model", "Per model"], ["provider", "Per provider"]], view.group, (value) => { view.group = value; update(); }),
      select("pct", "Percentile", [["p50", "p50"], ["p90", "p90"], ["p99", "p99"]], view.percentile, (value) => { view.percentile = value; update(); }),
      select("bucket", "Bucket", [["", "Auto buckets"], ["hour", "Hourly"], ["day", "Daily"]], view.bucket || "", (value) => { view.bucket = value || null; update(); }),
      textInput("service", "Service", view.service, (value) => { view.service = value; update(); }),
      textInput("provider", "Provider", view.provider, (value) => { view.provider = value; update(); })));

  replace(main, h("div", { class: "page-head" }, h("h1", null, "Models")), controls, body);

  function update() {
    const params = new URLSearchParams();
    if (view.since !== "7d") params.set("since", view.since);
    if (view.until) params.set("until", view.until);
    if (view.group !== "model") params.set("group", view.group);
    if (view.percentile !== "p50") params.set("pct", view.percentile);
    if (view.bucket) params.set("bucket", view.bucket);
    if (view.service) params.set("service", view.service);
    if (view.provider) params.set("provider", view.provider);
    setQuery(params);
    return draw().catch((error) => {
      if (!isAbort(error)) replace(body, notice("error", error.message));
    });
  }

  async function draw() {
    const mine = ++generation;
    replace(body, notice("loading", "Loading statistics…"));
    // Production traffic: replay results would count as the models' own.
    const filters = { since: view.since, until: view.until, service: view.service, provider: view.provider, source: "production" };
    const bucket = view.bucket || (RANGES.find(([value]) => value === view.since) || [null, null, "day"])[2];
    const totals = await get("/api/v1/stats", { ...filters, group_by: view.group }, signal);
    if (mine !== generation) return;
    const groups = (totals.groups || []).slice().sort((a, b) => b.count - a.count);
    if (groups.length === 0) {
      replace(body, notice("empty", "No calls in this range. Widen the time range or clear the filters."));
      return;
    }
    const charted = groups.filter((g) => typeof g.key === "string").slice(0, MAX_SERIES);
    const series = await Promise.all(charted.map((group) =>
      get("/api/v1/stats", { ...filters, [view.group]: group.key, group_by: bucket }, signal)));
    if (mine !== generation) return;

    const step = bucket === "hour" ? HOUR_MS : DAY_MS;
    const times = axisTimes(series, step, view.since);
    const colors = new Map(charted.map((g, i) => [g.key, PALETTE[i % PALETTE.length]]));
    const build = (title, id, valueOf, format, zeroWhenMissing, tickFormat) => lineChart({
      title, id, format, times, tickFormat, connectGaps: !zeroWhenMissing,
      series: charted.map((group, i) => {
        const byTime = new Map(series[i].groups.map((g) => [timeOf(g), g]));
        return {
          name: group.key,
          color: colors.get(group.key),
          points: times.map((t) => {
            const g = byTime.get(t);
            if (!g) return [t, zeroWhenMissing ? 0 : null];
            const value = valueOf(g);
            return [t, value === undefined ? null : value];
          }),
        };
      }),
    });
    const pct = view.percentile;
    const perBucket = bucket === "hour" ? "per hour" : "per day";
    replace(body,
      h("div", { class: "charts" },
        build(`Calls ${perBucket}`, "calls", (g) => g.count, fmt.count, true),
        build(`Latency ${pct}`, "latency", (g) => (g.latency_ms ? g.latency_ms[pct] : null), fmt.ms, false),
        build(`Time to first token ${pct}`, "ttft", (g) => (g.ttft_ms ? g.ttft_ms[pct] : null), fmt.ms, false),
        build(`Tokens ${perBucket} (in + out)`, "tokens", (g) => g.input_tokens + g.output_tokens, compact, true),
        build(`Cost ${perBucket}`, "cost", (g) => (g.priced_calls > 0 ? g.cost_usd : null), fmt.usd, true,
          (v) => (v === 0 ? "$0" : `$${Number(v.toPrecision(2))}`)),
        build("Error rate", "errors", (g) => g.error_rate, (v) => fmt.percent(v, 0), false)),
      panel(view.group === "model" ? "Per model" : "Per provider", groupTable(groups, view.group, filters)),
      groups.length > charted.length
        ? h("p", { class: "muted" }, `The charts show the ${charted.length} busiest of ${groups.length}.`)
        : null);
  }

  await update();
}

function isPresetRange(since) {
  return RANGES.some(([value]) => value === since);
}

function timeOf(group) {
  return group.key_time ? Date.parse(group.key_time) : Math.floor(group.key / 1e6);
}

/** Every bucket start from the range's start (or the first data) to the last data or now. */
function axisTimes(series, step, since) {
  let first = Infinity;
  let last = -Infinity;
  for (const s of series) {
    for (const g of s.groups || []) {
      if (g.key === null) continue;
      const t = timeOf(g);
      first = Math.min(first, t);
      last = Math.max(last, t);
    }
  }
  if (!Number.isFinite(first)) return [];
  const rangeMs = durationMs(since);
  if (rangeMs) {
    const now = Date.now();
    first = Math.min(first, Math.floor((now - rangeMs) / step) * step + step);
    last = Math.max(last, Math.floor(now / step) * step);
  }
  const times = [];
  // Bounded so a wide "all time" range with hourly buckets cannot hang the page.
  const stride = Math.max(step, Math.ceil((last - first) / 2000 / step) * step);
  for (let t = first; t <= last; t += stride) times.push(t);
  return times;
}

function durationMs(text) {
  const found = /^(\d+)(m|h|d)$/.exec(text || "");
  if (!found) return null;
  return Number(found[1]) * { m: 60_000, h: HOUR_MS, d: DAY_MS }[found[2]];
}

function compact(value) {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return fmt.count(value);
}

function groupTable(groups, group, filters) {
  const callsLink = (key) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
    params.set(group, key);
    return `/calls?${params}`;
  };
  const pct = (g, field, p) => (g[field] ? fmt.ms(g[field][p]) : fmt.MISSING);
  return h("div", { class: "table-wrap" }, h("table", { class: "compact", dataset: { groupTable: group } },
    h("thead", null, h("tr", null,
      [group === "model" ? "Model" : "Provider", "Calls", "Error rate", "Latency p50", "p90", "p99", "TTFT p50", "p99", "Input tokens", "Output tokens", "Cost"]
        .map((t, i) => h("th", { scope: "col", class: i > 0 ? "num" : null }, t)))),
    h("tbody", null, groups.map((g) => h("tr", { dataset: { group: g.key ?? "" } },
      h("td", null, typeof g.key === "string" ? link(callsLink(g.key), g.key) : h("span", { class: "muted" }, "(none)")),
      h("td", { class: "num" }, fmt.count(g.count)),
      h("td", { class: "num" }, fmt.percent(g.error_rate)),
      h("td", { class: "num" }, pct(g, "latency_ms", "p50")),
      h("td", { class: "num" }, pct(g, "latency_ms", "p90")),
      h("td", { class: "num" }, pct(g, "latency_ms", "p99")),
      h("td", { class: "num" }, pct(g, "ttft_ms", "p50")),
      h("td", { class: "num" }, pct(g, "ttft_ms", "p99")),
      h("td", { class: "num" }, fmt.count(g.input_tokens)),
      h("td", { class: "num" }, fmt.count(g.output_tokens)),
      h("td", { class: "num" }, g.priced_calls > 0 ? fmt.usd(g.cost_usd) : fmt.MISSING))))));
}

function select(name, label, options, value, onChange, extra) {
  const all = [...(extra || []), ...options];
  return h("label", { class: "field" }, h("span", null, label),
    h("select", { name, onchange: (e) => onChange(e.target.value) },
      all.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

function textInput(name, label, value, onChange) {
  return h("label", { class: "field" }, h("span", null, label),
    h("input", { type: "text", name, value, placeholder: "any", autocomplete: "off", onchange: (e) => onChange(e.target.value.trim()) }));
}
