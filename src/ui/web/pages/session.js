// A session: every call with this session id in time order, with the
// session's totals, a page of calls at a time.

import { h, link, replace, panel, facts, notice } from "../dom.js";
import { get, ApiError, isAbort } from "../api.js";
import { statusBadge } from "./calls.js";
import * as fmt from "../format.js";

export async function render(main, { params, signal }) {
  const id = params.sessionId;
  const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
  replace(main, notice("loading", "Loading session…"));
  let session;
  try {
    session = await get(path, { limit: 100 }, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(main, h("h1", null, "Session not found"), notice("error", error.message), link("/calls", "Back to calls"));
      return;
    }
    throw error;
  }
  const totals = session.totals || {};
  const tbody = h("tbody");
  const more = h("button", { type: "button", hidden: !session.next_cursor }, "Load more");
  let cursor = session.next_cursor;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await get(path, { limit: 100, cursor }, signal);
      page.calls.forEach((call) => tbody.append(row(call)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (!isAbort(error)) more.after(notice("error", error.message));
    } finally {
      more.disabled = false;
    }
  });
  session.calls.forEach((call) => tbody.append(row(call)));

  replace(main,
    h("div", { class: "page-head" },
      h("div", null,
        h("p", { class: "crumbs" }, link("/calls", "Calls"), " / session"),
        h("h1", { class: "mono" }, id)),
      facts([
        ["Calls", fmt.count(totals.count), "count"],
        ["Errors", totals.count ? `${fmt.count(totals.errors)} (${fmt.percent(totals.error_rate)})` : null],
        ["Tokens", `${fmt.count(totals.input_tokens)} → ${fmt.count(totals.output_tokens)}`],
        ["Cost", totals.priced_calls ? fmt.usd(totals.cost_usd) : null],
        ["Latency p50", totals.latency_ms ? fmt.ms(totals.latency_ms.p50) : null],
        ["In the calls table", link(`/calls?session_id=${encodeURIComponent(id)}`, "filter by this session")],
      ], "facts facts-inline")),
    panel("Calls in order",
      h("div", { class: "table-wrap" },
        h("table", { class: "calls" },
          h("thead", null, h("tr", null, ["#", "Time", "Model", "Status", "Latency", "Tokens in → out", "Cost", "Trace", "Call"].map((t) => h("th", { scope: "col" }, t)))),
          tbody)),
      h("div", { class: "pager" }, more)));

  function row(call) {
    const n = tbody.children.length + 1;
    return h("tr", { dataset: { callId: call.id } },
      h("td", { class: "num muted" }, String(n)),
      h("td", { class: "nowrap" }, link(`/calls/${encodeURIComponent(call.id)}`, fmt.timestamp(call.start_time_unix_nano))),
      h("td", null, call.request_model || call.response_model || fmt.MISSING),
      h("td", null, statusBadge(call)),
      h("td", { class: "num" }, fmt.ms(call.duration_ms)),
      h("td", { class: "num" }, fmt.tokens(call.usage)),
      h("td", { class: "num" }, fmt.usd(call.cost_usd)),
      h("td", { class: "mono" }, call.trace_id ? link(`/traces/${call.trace_id}`, fmt.shortId(call.trace_id, 10)) : fmt.MISSING),
      h("td", { class: "mono" }, link(`/calls/${encodeURIComponent(call.id)}`, fmt.shortId(call.id, 10))));
  }
}
