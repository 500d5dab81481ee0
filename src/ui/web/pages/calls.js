// Calls: the recorded LLM calls, newest first (or by latency, tokens,
// cost), with the API's filters and full-text search. Pages come 50 at a
// time by cursor; the first page is fetched again every few seconds and
// new calls are slotted in where they sort, without re-drawing the rows
// already shown, so scroll position, focus and selection stay put.

import { h, link, replace, notice } from "../dom.js";
import { get, isAbort } from "../api.js";
import { navigate, setQuery, status } from "../app.js";
import { DEFAULT_SOURCE, apiFilters, filterForm, narrowed, readFilters } from "../filters.js";
import * as fmt from "../format.js";

const PAGE_SIZE = 50;
const POLL_MS = 4000;

const SORTS = {
  time: (c) => c.start_time_ms ?? -1,
  latency: (c) => c.duration_ms ?? -1,
  tokens: (c) => fmt.totalTokens(c.usage) ?? 0,
  cost: (c) => c.cost_usd ?? -1,
};

const COLUMNS = [
  { label: "Time", sort: "time" },
  { label: "Service" },
  { label: "Model" },
  { label: "Provider" },
  { label: "Source" },
  { label: "Status" },
  { label: "Latency", sort: "latency", numeric: true },
  { label: "TTFT", numeric: true },
  { label: "Tokens in → out", sort: "tokens", numeric: true },
  { label: "Cost", sort: "cost", numeric: true },
  { label: "Session" },
  { label: "Call" },
];

export async function render(main, { query, signal }) {
  const view = {
    filters: readFilters(query),
    sort: SORTS[query.get("sort")] ? query.get("sort") : "time",
    order: query.get("order") === "asc" ? "asc" : "desc",
    rows: new Map(),
    cursor: null,
    selected: query.get("selected"),
    generation: 0,
  };

  const tbody = h("tbody");
  const header = h("tr");
  const table = h("table", { class: "calls", "aria-label": "Calls" }, h("thead", null, header), tbody);
  const more = h("button", { type: "button", hidden: true, onclick: () => loadMore() }, "Load more");
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const message = h("div");
  const form = filterForm(view.filters, (filters) => {
    view.filters = filters;
    syncUrl();
    reload();
  }, { signal });

  replace(main,
    h("div", { class: "page-head" }, h("h1", null, "Calls"), summary),
    form,
    message,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, more));

  drawHeader();

  function syncUrl() {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(view.filters)) {
      if (!(name === "source" && value === DEFAULT_SOURCE)) params.set(name, value);
    }
    if (view.sort !== "time") params.set("sort", view.sort);
    if (view.order !== "desc") params.set("order", view.order);
    if (view.selected) params.set("selected", view.selected);
    setQuery(params);
  }

  function drawHeader() {
    replace(header, COLUMNS.map((column) => {
      if (!column.sort) return h("th", { scope: "col", class: column.numeric ? "num" : null }, column.label);
      const active = view.sort === column.sort;
      const direction = active ? (view.order === "asc" ? "ascending" : "descending") : null;
      return h("th", { scope: "col", class: column.numeric ? "num" : null, "aria-sort": direction || "none" },
        h("button", {
          type: "button", class: "sort", dataset: { sort: column.sort },
          onclick: () => {
            if (view.sort === column.sort) view.order = view.order === "desc" ? "asc" : "desc";
            else { view.sort = column.sort; view.order = "desc"; }
            drawHeader();
            syncUrl();
            reload();
          },
        }, column.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (view.order === "asc" ? " ▲" : " ▼") : "")));
    }));
  }

  function params(cursor) {
    return { ...apiFilters(view.filters), sort: view.sort, order: view.order, limit: PAGE_SIZE, cursor };
  }

  async function reload() {
    const generation = ++view.generation;
    summary.textContent = "Loading…";
    try {
      const page = await get("/api/v1/calls", params(), signal);
      if (generation !== view.generation) return;
      view.rows.clear();
      tbody.replaceChildren();
      replace(message);
      for (const call of page.calls) tbody.append(rowFor(call));
      view.cursor = page.next_cursor;
      finish();
    } catch (error) {
      if (isAbort(error) || generation !== view.generation) return;
      view.rows.clear();
      tbody.replaceChildren();
      view.cursor = null;
      replace(message, notice("error", error.message));
      finish();
    }
  }

  async function loadMore() {
    if (!view.cursor) return;
    const generation = view.generation;
    more.disabled = true;
    try {
      const page = await get("/api/v1/calls", params(view.cursor), signal);
      if (generation !== view.generation) return;
      for (const call of page.calls) {
        if (!view.rows.has(call.id)) tbody.append(rowFor(call));
      }
      view.cursor = page.next_cursor;
      finish();
    } catch (error) {
      if (!isAbort(error)) replace(message, notice("error", error.message));
    } finally {
      more.disabled = false;
    }
  }

  function finish() {
    more.hidden = !view.cursor;
    const shown = view.rows.size;
    summary.textContent = shown === 0 ? "" : `${fmt.count(shown)} calls shown${view.cursor ? ", more below" : ""}`;
    if (shown === 0 && !message.firstChild) {
      const filtered = narrowed(view.filters);
      replace(message, notice("empty", filtered
        ? "No calls match these filters."
        : "No calls recorded yet. Point an OpenTelemetry exporter at this server, or POST records to /api/v1/calls."));
    } else if (shown > 0 && message.querySelector(".notice-empty")) {
      replace(message);
    }
  }

  /** The new calls of the first page, put where they sort; changed ones updated. */
  async function poll() {
    if (document.hidden) return;
    const generation = view.generation;
    try {
      const page = await get("/api/v1/calls", params(), signal);
      if (generation !== view.generation) return;
      const anchor = firstVisibleRow();
      const before = anchor ? anchor.getBoundingClientRect().top : 0;
      let added = 0;
      for (const call of page.calls) {
        const existing = view.rows.get(call.id);
        if (existing) {
          if (existing.json !== JSON.stringify(call)) fillRow(existing.row, call);
          continue;
        }
        const position = insertionPoint(call);
        if (position === undefined) continue;
        const row = rowFor(call);
        row.classList.add("fresh");
        tbody.insertBefore(row, position);
        added += 1;
      }
      if (added > 0) {
        // Keep what the reader was looking at in the same place on screen.
        if (anchor && window.scrollY > 0) {
          window.scrollBy(0, anchor.getBoundingClientRect().top - before);
        }
        finish();
      }
      status(`Updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (!isAbort(error)) status(`Refresh failed: ${error.message}`);
    }
  }

  function compare(a, b) {
    const key = SORTS[view.sort];
    const diff = key(a) - key(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return view.order === "asc" ? diff : -diff;
  }

  /** The row a new call goes before (null: at the end), or undefined when it belongs to a page not loaded. */
  function insertionPoint(call) {
    for (const row of tbody.children) {
      const shown = view.rows.get(row.dataset.callId);
      if (shown && compare(call, shown.call) < 0) return row;
    }
    return view.cursor ? undefined : null;
  }

  function firstVisibleRow() {
    for (const row of tbody.children) {
      if (row.getBoundingClientRect().bottom > 0) return row;
    }
    return null;
  }

  function rowFor(call) {
    const row = h("tr", {
      tabindex: "0", dataset: { callId: call.id },
      onclick: (event) => {
        if (event.target.closest("a, button")) return;
        select(row);
        navigate(`/calls/${encodeURIComponent(call.id)}`);
      },
      onkeydown: (event) => {
        if (event.key === "Enter") navigate(`/calls/${encodeURIComponent(call.id)}`);
        else if (event.key === "ArrowDown" && row.nextElementSibling) { event.preventDefault(); row.nextElementSibling.focus(); }
        else if (event.key === "ArrowUp" && row.previousElementSibling) { event.preventDefault(); row.previousElementSibling.focus(); }
      },
      onfocus: () => select(row),
    });
    fillRow(row, call);
    if (call.id === view.selected) row.setAttribute("aria-selected", "true");
    view.rows.set(call.id, { row, call, json: JSON.stringify(call) });
    return row;
  }

  function select(row) {
    if (view.selected === row.dataset.callId) return;
    for (const other of tbody.querySelectorAll("tr[aria-selected]")) other.removeAttribute("aria-selected");
    row.setAttribute("aria-selected", "true");
    view.selected = row.dataset.callId;
    syncUrl();
  }

  function fillRow(row, call) {
    const entry = view.rows.get(call.id);
    if (entry) { entry.call = call; entry.json = JSON.stringify(call); }
    const href = `/calls/${encodeURIComponent(call.id)}`;
    const model = call.request_model || call.response_model || fmt.MISSING;
    const modelTitle = call.response_model && call.response_model !== model ? `answered by ${call.response_model}` : null;
    replace(row,
      h("td", { class: "nowrap", title: fmt.timestamp(call.start_time_unix_nano) }, link(href, fmt.timestamp(call.start_time_unix_nano))),
      h("td", { class: "clip", title: call.service }, call.service || fmt.MISSING),
      h("td", { class: "clip", title: modelTitle }, model),
      h("td", null, call.provider || fmt.MISSING),
      h("td", { class: "source" }, call.source || fmt.MISSING),
      h("td", null, statusBadge(call)),
      h("td", { class: "num" }, fmt.ms(call.duration_ms)),
      h("td", { class: "num" }, fmt.ms(call.ttft_ms)),
      h("td", { class: "num" }, fmt.tokens(call.usage)),
      h("td", { class: "num" }, fmt.usd(call.cost_usd)),
      h("td", { class: "mono" }, call.session_id
        ? link(`/sessions/${encodeURIComponent(call.session_id)}`, fmt.shortId(call.session_id, 14))
        : fmt.MISSING),
      h("td", { class: "mono" }, link(href, fmt.shortId(call.id, 10))));
  }

  await reload();
  const timer = setInterval(poll, POLL_MS);
  return () => clearInterval(timer);
}

export function statusBadge(call) {
  if (call.status === "error") {
    return h("span", { class: "badge badge-error", title: call.error_type || (call.error && call.error.type) || "error" }, "error");
  }
  return h("span", { class: "badge badge-ok" }, "ok");
}
