// A trace: the span waterfall. Spans are drawn in the tree the API
// returns (roots, each span's children, in start order), each bar placed
// by its start and end relative to the trace's start. Spans that are LLM
// calls are marked and link to the call; selecting a span shows its
// attributes and events.

import { h, link, replace, panel, facts, notice } from "../dom.js";
import { get, ApiError } from "../api.js";
import { attributeTable } from "./call.js";
import { statusBadge } from "./calls.js";
import * as fmt from "../format.js";

export async function render(main, { params, signal }) {
  replace(main, notice("loading", "Loading trace…"));
  let trace;
  try {
    trace = await get(`/api/v1/traces/${encodeURIComponent(params.traceId)}`, null, signal);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
      replace(main, h("h1", null, "Trace not found"), notice("error", error.message), link("/calls", "Back to calls"));
      return;
    }
    throw error;
  }

  const spans = new Map(trace.spans.map((s) => [s.span_id, s]));
  const calls = new Map((trace.calls || []).map((c) => [c.id, c]));
  let start = Infinity;
  let end = -Infinity;
  for (const span of trace.spans) {
    start = Math.min(start, span.start_time_ms);
    end = Math.max(end, span.end_time_ms, span.start_time_ms);
  }
  // In milliseconds; a trace of instantaneous spans still has a width.
  const total = Math.max(end - start, 1e-6);
  const services = new Set(trace.spans.map(serviceOf).filter(Boolean));

  const detail = h("div", { class: "span-detail" }, h("p", { class: "muted" }, "Select a span to see its attributes."));
  const rows = h("div", { class: "waterfall-rows", role: "tree", "aria-label": "Spans" });
  const visited = new Set();
  const walk = (id, depth) => {
    const span = spans.get(id);
    if (!span || visited.has(id)) return;
    visited.add(id);
    rows.append(spanRow(span, depth));
    for (const child of span.children || []) walk(child, depth + 1);
  };
  for (const root of trace.roots || []) walk(root, 0);
  // Spans the tree did not reach (should not happen) are still shown.
  for (const span of trace.spans) walk(span.span_id, 0);

  function spanRow(span, depth) {
    const offset = ((span.start_time_ms - start) / total) * 100;
    const duration = fmt.msBetween(span.start_time_unix_nano, span.end_time_unix_nano);
    const width = Math.max((duration / total) * 100, 0.3);
    const call = span.call_id ? calls.get(span.call_id) : null;
    const failed = span.status && span.status.code === 2;
    const row = h("div", {
      class: `span-row${span.call_id ? " is-llm" : ""}${failed ? " is-error" : ""}`,
      role: "treeitem", tabindex: "0", "aria-level": depth + 1,
      dataset: { spanId: span.span_id, callId: span.call_id },
      onclick: (event) => { if (!event.target.closest("a")) choose(span, row); },
      onkeydown: (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(span, row); }
        else if (event.key === "ArrowDown" && row.nextElementSibling) { event.preventDefault(); row.nextElementSibling.focus(); }
        else if (event.key === "ArrowUp" && row.previousElementSibling) { event.preventDefault(); row.previousElementSibling.focus(); }
      },
    },
    h("div", { class: "span-label", style: { "padding-left": `${depth * 14 + 6}px` } },
      span.call_id ? link(`/calls/${encodeURIComponent(span.call_id)}`, h("span", { class: "badge badge-llm", title: "LLM call: open it" }, "LLM")) : null,
      h("span", { class: "span-name", title: span.name }, span.name),
      h("span", { class: "muted span-service" }, serviceOf(span) || "")),
    h("div", { class: "span-track" },
      h("div", { class: "span-bar", style: { left: `${offset}%`, width: `${Math.min(width, 100 - offset)}%` },
        title: `${span.name}: ${fmt.ms(duration)}` }),
      durationLabel(offset, width, `${fmt.ms(duration)}${call ? ` · ${call.request_model || call.response_model || ""}` : ""}`)));
    return row;
  }

  function choose(span, row) {
    for (const other of rows.querySelectorAll("[aria-selected]")) other.removeAttribute("aria-selected");
    row.setAttribute("aria-selected", "true");
    const attributes = Object.entries(span.attributes || {}).map(([k, v]) => [k, fmt.otlpValue(v)]);
    replace(detail,
      h("h3", null, span.name),
      facts([
        ["Span", h("span", { class: "mono" }, span.span_id)],
        ["Parent", span.parent_span_id ? h("span", { class: "mono" }, span.parent_span_id) : null],
        ["Kind", kindName(span.kind)],
        ["Start", fmt.timestamp(span.start_time_unix_nano)],
        ["Duration", fmt.ms(fmt.msBetween(span.start_time_unix_nano, span.end_time_unix_nano))],
        ["Status", span.status ? `${["unset", "ok", "error"][span.status.code] || span.status.code}${span.status.message ? `: ${span.status.message}` : ""}` : null],
        ["Scope", span.scope && span.scope.name],
        ["LLM call", span.call_id ? link(`/calls/${encodeURIComponent(span.call_id)}`, h("span", { class: "mono" }, span.call_id)) : null],
      ]),
      attributes.length > 0 ? attributeTable(attributes) : h("p", { class: "muted" }, "No attributes."),
      (span.events || []).length > 0
        ? h("details", null, h("summary", null, `Events (${span.events.length})`),
          span.events.map((event) => h("div", { class: "event" }, h("code", null, event.name),
            attributeTable(Object.entries(event.attributes || {}).map(([k, v]) => [k, fmt.otlpValue(v)])))))
        : null);
  }

  const llmCalls = trace.calls || [];
  replace(main,
    h("div", { class: "page-head" },
      h("div", null,
        h("p", { class: "crumbs" }, link("/calls", "Calls"), " / trace"),
        h("h1", { class: "mono" }, trace.trace_id)),
      facts([
        ["Spans", fmt.count(trace.spans.length), "spans"],
        ["LLM calls", fmt.count(llmCalls.length), "calls"],
        ["Duration", fmt.ms(total / 1e6)],
        ["Started", fmt.timestamp(start)],
        ["Services", [...services].join(", ")],
        ["Log records", (trace.logs || []).length ? fmt.count(trace.logs.length) : null],
      ], "facts facts-inline")),
    panel("Waterfall",
      h("div", { class: "waterfall" }, axis(total), rows),
      h("p", { class: "legend muted" }, h("span", { class: "swatch swatch-llm" }), " LLM call  ",
        h("span", { class: "swatch swatch-span" }), " other span  ", h("span", { class: "swatch swatch-error" }), " error")),
    h("div", { class: "trace-lower" },
      panel("Span", detail),
      llmCalls.length > 0 ? panel("LLM calls in this trace", callList(llmCalls)) : null));
}

/** The duration beside its bar: after it, before it, or inside a bar that fills the row. */
function durationLabel(offset, width, text) {
  const end = offset + width;
  if (end < 72) return h("span", { class: "span-duration", style: { left: `${end}%` } }, text);
  if (offset > 35) return h("span", { class: "span-duration before", style: { left: `${offset}%` } }, text);
  return h("span", { class: "span-duration inside", style: { left: `${Math.min(end, 100)}%` } }, text);
}

function axis(total) {
  const ticks = [];
  for (let i = 0; i <= 4; i++) {
    ticks.push(h("span", { class: "tick", style: { left: `${i * 25}%` } }, fmt.ms((total / 1e6) * (i / 4))));
  }
  return h("div", { class: "span-row axis", "aria-hidden": "true" }, h("div", { class: "span-label muted" }, "span"), h("div", { class: "span-track" }, ticks));
}

function callList(calls) {
  return h("table", { class: "compact" },
    h("thead", null, h("tr", null, ["Call", "Model", "Status", "Latency", "Tokens", "Cost"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, calls.map((call) => h("tr", { dataset: { callId: call.id } },
      h("td", { class: "mono" }, link(`/calls/${encodeURIComponent(call.id)}`, fmt.shortId(call.id, 10))),
      h("td", null, call.request_model || call.response_model || fmt.MISSING),
      h("td", null, statusBadge(call)),
      h("td", { class: "num" }, fmt.ms(call.duration_ms)),
      h("td", { class: "num" }, fmt.tokens(call.usage)),
      h("td", { class: "num" }, fmt.usd(call.cost_usd))))));
}

function serviceOf(span) {
  const attributes = span.resource && span.resource.attributes;
  const name = attributes && attributes["service.name"];
  return name ? fmt.otlpValue(name) : null;
}

function kindName(kind) {
  return ["unspecified", "internal", "server", "client", "producer", "consumer"][kind] || String(kind);
}
