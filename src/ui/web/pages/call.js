// One call: its conversation as a chat, its figures (latency, time to
// first token, tokens, cost), parameters, error, tags and attributes, the
// raw telemetry it came from (the span's attributes, or the recorded
// provider exchange of a raw record), links to its trace and session, and
// a control that replays it against a configured target when the server
// has replays.

import { h, link, replace, panel, facts, notice } from "../dom.js";
import { get, getOptional, post, ApiError, isAbort } from "../api.js";
import { conversation } from "../chat.js";
import { statusBadge } from "./calls.js";
import * as fmt from "../format.js";

export async function render(main, { params, signal }) {
  replace(main, notice("loading", "Loading call…"));
  let call;
  try {
    call = await get(`/api/v1/calls/${encodeURIComponent(params.id)}`, null, signal);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
      replace(main, h("h1", null, "Call not found"), notice("error", error.message), link("/calls", "Back to calls"));
      return;
    }
    throw error;
  }

  const rawPanel = panel("Raw telemetry", notice("loading", "Loading…"));
  const replayPanel = h("div");
  replace(main,
    header(call),
    call.status === "error" ? errorBox(call) : null,
    h("div", { class: "call-layout" },
      h("div", { class: "call-main" },
        panel("Conversation", conversation(call)),
        tools(call),
        rawPanel),
      h("aside", { class: "call-side" },
        panel("Figures", figures(call)),
        replayPanel,
        panel("Parameters", parameters(call)),
        details(call))));

  await Promise.all([
    raw(call, rawPanel, signal),
    replayControl(call, replayPanel, signal),
  ]);
}

function header(call) {
  const model = call.request_model || call.response_model || "unknown model";
  return h("div", { class: "page-head" },
    h("div", null,
      h("p", { class: "crumbs" }, link("/calls", "Calls"), " / ", h("span", { class: "mono" }, call.id)),
      h("h1", null, model, " ", statusBadge(call))),
    facts([
      ["Started", h("span", { title: fmt.ago(call.start_time_unix_nano) }, fmt.timestamp(call.start_time_unix_nano))],
      ["Service", call.service],
      ["Provider", call.provider],
      ["Operation", call.operation],
      ["Source", call.source],
      ["Trace", call.trace_id ? link(`/traces/${call.trace_id}`, h("span", { class: "mono" }, fmt.shortId(call.trace_id, 12))) : null, "trace"],
      ["Session", call.session_id ? link(`/sessions/${encodeURIComponent(call.session_id)}`, h("span", { class: "mono" }, call.session_id)) : null, "session"],
      ["User", call.user_id ? link(`/calls?user_id=${encodeURIComponent(call.user_id)}`, call.user_id) : null],
    ], "facts facts-inline"));
}

function errorBox(call) {
  const error = call.error || {};
  return notice("error",
    h("strong", null, error.type || "Error"),
    error.message ? h("pre", { class: "error-message" }, error.message) : null);
}

function figures(call) {
  const usage = call.usage || {};
  const tokensPerSecond = usage.output_tokens && call.duration_ms
    ? `${(usage.output_tokens / (call.duration_ms / 1000)).toFixed(1)} tok/s`
    : null;
  return facts([
    ["Latency", fmt.ms(call.duration_ms), "latency"],
    ["Time to first token", fmt.ms(call.ttft_ms), "ttft"],
    ["Streaming", call.streaming === null || call.streaming === undefined ? fmt.MISSING : call.streaming ? "yes" : "no"],
    ["Input tokens", fmt.count(usage.input_tokens), "input_tokens"],
    ["Output tokens", fmt.count(usage.output_tokens), "output_tokens"],
    ["Cached input tokens", usage.cached_input_tokens != null ? fmt.count(usage.cached_input_tokens) : null],
    ["Reasoning tokens", usage.reasoning_tokens != null ? fmt.count(usage.reasoning_tokens) : null],
    ["Throughput", tokensPerSecond],
    ["Cost", fmt.usd(call.cost_usd), "cost"],
    ["Finish reasons", call.finish_reasons ? call.finish_reasons.join(", ") : null],
    ["Response model", call.response_model],
    ["Response id", call.response_id ? h("span", { class: "mono" }, call.response_id) : null],
  ]);
}

function parameters(call) {
  const entries = Object.entries(call.request_params || {});
  if (entries.length === 0) return h("p", { class: "muted" }, "None recorded.");
  return facts(entries.map(([name, value]) => [
    name,
    typeof value === "object" ? h("pre", { class: "json" }, fmt.prettyJson(value)) : String(value),
  ]));
}

function tools(call) {
  const definitions = call.tool_definitions || [];
  if (definitions.length === 0) return null;
  return panel(`Tools offered (${definitions.length})`,
    h("div", { class: "tool-defs" }, definitions.map((tool) => {
      const name = tool.name || (tool.function && tool.function.name) || "tool";
      return h("details", { class: "tool-def" },
        h("summary", null, h("code", null, name)),
        h("pre", { class: "json" }, fmt.prettyJson(tool)));
    })));
}

function details(call) {
  const tags = call.tags || [];
  const attributes = Object.entries(call.attributes || {});
  if (tags.length === 0 && attributes.length === 0) return null;
  return panel("Tags and attributes",
    tags.length > 0 ? h("p", { class: "tags" }, tags.map((tag) => link(`/calls?tag=${encodeURIComponent(tag)}`, h("span", { class: "tag" }, tag)))) : null,
    attributes.length > 0 ? attributeTable(attributes.map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)])) : null);
}

/** Key/value rows; long values wrap, JSON values are pretty-printed on demand. */
export function attributeTable(pairs) {
  return h("table", { class: "attrs" },
    h("tbody", null, pairs.map(([key, value]) => h("tr", { dataset: { attr: key } },
      h("th", { scope: "row", class: "mono" }, key),
      h("td", null, valueCell(value))))));
}

function valueCell(text) {
  const pretty = fmt.prettyJson(text);
  if (pretty !== text || text.length > 300) {
    return h("details", null, h("summary", { class: "mono" }, text.length > 120 ? `${text.slice(0, 120)}…` : text),
      h("pre", { class: "json" }, pretty));
  }
  return h("span", { class: "mono" }, text);
}

/** The span's attributes (for telemetry) or the recorded exchange (for raw records). */
async function raw(call, container, signal) {
  if (call.raw) {
    replace(container, h("h2", null, "Raw exchange"),
      h("p", { class: "muted" }, `Recorded as ${call.raw.format}.`),
      h("details", { open: true, class: "raw", dataset: { raw: "request" } }, h("summary", null, "Request"), h("pre", { class: "json" }, fmt.prettyJson(call.raw.request))),
      call.raw.response !== undefined && call.raw.response !== null
        ? h("details", { class: "raw", dataset: { raw: "response" } }, h("summary", null, "Response"), h("pre", { class: "json" }, fmt.prettyJson(call.raw.response)))
        : null);
    return;
  }
  if (!call.trace_id || !call.span_id) {
    replace(container, h("h2", null, "Raw telemetry"), h("p", { class: "muted" }, "This call came with no span or recorded exchange."));
    return;
  }
  try {
    const trace = await get(`/api/v1/traces/${call.trace_id}`, null, signal);
    const span = (trace.spans || []).find((s) => s.span_id === call.span_id);
    if (!span) {
      replace(container, h("h2", null, "Span attributes"), h("p", { class: "muted" }, "The call's span is not stored (its content arrived as log events)."));
      return;
    }
    const pairs = Object.entries(span.attributes || {}).map(([key, value]) => [key, fmt.otlpValue(value)]);
    const resource = Object.entries((span.resource && span.resource.attributes) || {}).map(([key, value]) => [key, fmt.otlpValue(value)]);
    replace(container,
      h("h2", null, "Span attributes"),
      h("p", { class: "muted" }, "Span ", h("code", null, span.name), " ", h("span", { class: "mono" }, span.span_id),
        span.scope && span.scope.name ? [" from ", h("code", null, span.scope.name)] : null),
      h("div", { dataset: { spanAttributes: span.span_id } }, attributeTable(pairs)),
      resource.length > 0 ? h("details", null, h("summary", null, `Resource (${resource.length})`), attributeTable(resource)) : null,
      span.events && span.events.length > 0
        ? h("details", null, h("summary", null, `Events (${span.events.length})`),
          span.events.map((event) => h("div", { class: "event" }, h("code", null, event.name),
            attributeTable(Object.entries(event.attributes || {}).map(([k, v]) => [k, fmt.otlpValue(v)])))))
        : null);
  } catch (error) {
    if (isAbort(error)) return;
    replace(container, h("h2", null, "Span attributes"), notice("error", `Could not read the trace: ${error.message}`));
  }
}

/** "Replay this call": hidden when the server has no replay API (404). */
async function replayControl(call, container, signal) {
  let answer;
  try {
    answer = await getOptional("/api/v1/replays/targets", null, signal);
  } catch (error) {
    if (isAbort(error)) return;
    answer = null;
  }
  if (!answer) return;
  const targets = Array.isArray(answer) ? answer : answer.targets || [];
  if (targets.length === 0) {
    replace(container, panel("Replay", h("p", { class: "muted" }, "No replay targets are configured. Add [targets.NAME] to reprise.toml.")));
    return;
  }
  const boxes = targets.map((target, i) => {
    const name = typeof target === "string" ? target : target.name;
    const detail = typeof target === "string" ? null : [target.kind, target.model].filter(Boolean).join(" · ");
    return h("label", { class: "check" },
      h("input", { type: "checkbox", name: "target", value: name, checked: i === 0 }),
      h("span", null, name), detail ? h("span", { class: "muted" }, ` ${detail}`) : null);
  });
  const result = h("div", { role: "status", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Replay this call");
  const form = h("form", {
    class: "replay-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const chosen = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      if (chosen.length === 0) return replace(result, notice("error", "Pick at least one target."));
      button.disabled = true;
      try {
        const run = await post("/api/v1/replays", { name: `call ${call.id}`, ids: [call.id], targets: chosen });
        replace(result, notice("ok", "Replay started: ", link(`/replays/${encodeURIComponent(run.id)}`, `run ${run.id}`)));
      } catch (error) {
        replace(result, notice("error", error.message));
      } finally {
        button.disabled = false;
      }
    },
  }, h("fieldset", null, h("legend", null, "Targets"), boxes), button, result);
  replace(container, panel("Replay", form));
}
