// The filters of GET /api/v1/calls as the UI shows them: read from and
// written to the page URL (so a view can be shared as a link), and turned
// into API query parameters unchanged, since the names are the API's.

import { h } from "./dom.js";
import { get } from "./api.js";

/** Time ranges offered; the value is the API's `since` (a duration back from now). */
export const RANGES = [
  ["", "All time"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["custom", "Custom range…"],
];

/** Text filters, in the order shown. `suggest` names the stats grouping that lists values. */
export const TEXT_FILTERS = [
  { name: "service", label: "Service", suggest: "service" },
  { name: "provider", label: "Provider", suggest: "provider" },
  { name: "model", label: "Model", suggest: "model" },
  { name: "session_id", label: "Session" },
  { name: "user_id", label: "User" },
  { name: "tag", label: "Tag" },
];

export const NUMBER_FILTERS = [
  { name: "min_duration_ms", label: "Latency ≥ ms" },
  { name: "max_duration_ms", label: "Latency ≤ ms" },
  { name: "min_tokens", label: "Tokens ≥" },
  { name: "max_tokens", label: "Tokens ≤" },
];

export const CHOICE_FILTERS = [
  { name: "status", label: "Status", options: [["", "Any status"], ["ok", "OK"], ["error", "Error"]] },
  { name: "source", label: "Source", options: [["production", "Production"], ["all", "Any source"], ["otlp", "OTLP"], ["raw", "Raw"], ["replay", "Replay"]] },
];

/**
 * The source shown when the URL names none: what applications sent, not
 * the calls replays made. `all` (any source) is the UI's own value and is
 * not sent to the API.
 */
export const DEFAULT_SOURCE = "production";

/** Every filter parameter name the calls API takes that the UI shows. */
export const FILTER_NAMES = [
  "q", "since", "until",
  ...TEXT_FILTERS.map((f) => f.name),
  ...NUMBER_FILTERS.map((f) => f.name),
  ...CHOICE_FILTERS.map((f) => f.name),
];

/** The filters in a URL's query, as API parameters. */
export function readFilters(query) {
  const filters = {};
  for (const name of FILTER_NAMES) {
    const value = query.get(name);
    if (value !== null && value !== "") filters[name] = value;
  }
  if (!filters.source) filters.source = DEFAULT_SOURCE;
  return filters;
}

/** The filters as API parameters: `source=all` means no source filter. */
export function apiFilters(filters) {
  const params = { ...filters };
  if (params.source === "all") delete params.source;
  return params;
}

/** Whether any filter narrows the view beyond the default source. */
export function narrowed(filters) {
  return Object.entries(filters).some(([name, value]) => !(name === "source" && value === DEFAULT_SOURCE));
}

/** Whether `since` is one of the presets. */
export function isPreset(since) {
  return RANGES.some(([value]) => value === (since || "") && value !== "custom");
}

/** A datetime-local input's value as RFC 3339 (UTC), or "". */
export function localToRfc3339(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** RFC 3339 (or Unix nanoseconds) as a datetime-local input value, or "". */
export function rfc3339ToLocal(text) {
  if (!text) return "";
  let date = /^\d+$/.test(text) ? new Date(Number(BigInt(text) / 1_000_000n)) : new Date(text);
  if (Number.isNaN(date.getTime())) return "";
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 19);
}

/**
 * The filter form. `onChange(filters)` is called with the new filters
 * whenever one changes (text inputs after a pause in typing).
 */
export function filterForm(filters, onChange, { signal } = {}) {
  const state = { ...filters };
  let timer = null;
  const changed = (immediate) => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange({ ...state }), immediate ? 0 : 350);
  };
  const set = (name, value, immediate) => {
    if (value === "" || value === null) delete state[name];
    else state[name] = value;
    changed(immediate);
  };

  const search = h("input", {
    type: "search", name: "q", value: state.q || "", placeholder: "Search prompts and answers…",
    "aria-label": "Full-text search", autocomplete: "off", spellcheck: "false",
    oninput: (e) => set("q", e.target.value.trim(), false),
    onkeydown: (e) => { if (e.key === "Enter") set("q", e.target.value.trim(), true); },
  });

  const customSince = h("input", {
    type: "datetime-local", step: "1", name: "since_custom", "aria-label": "Since",
    value: isPreset(state.since) ? "" : rfc3339ToLocal(state.since),
    onchange: (e) => set("since", localToRfc3339(e.target.value), true),
  });
  const customUntil = h("input", {
    type: "datetime-local", step: "1", name: "until", "aria-label": "Until",
    value: rfc3339ToLocal(state.until),
    onchange: (e) => set("until", localToRfc3339(e.target.value), true),
  });
  const custom = h("span", { class: "custom-range", hidden: isPreset(state.since) && !state.until },
    customSince, h("span", { "aria-hidden": "true" }, "→"), customUntil);
  const range = h("select", {
    name: "range", "aria-label": "Time range",
    onchange: (e) => {
      const value = e.target.value;
      custom.hidden = value !== "custom";
      if (value === "custom") return customSince.focus();
      delete state.until;
      customUntil.value = "";
      set("since", value, true);
    },
  }, RANGES.map(([value, label]) => h("option", {
    value,
    selected: value === "custom" ? !isPreset(state.since) || Boolean(state.until) : value === (state.since || "") && !state.until,
  }, label)));

  const choices = CHOICE_FILTERS.map((filter) => h("select", {
    name: filter.name, "aria-label": filter.label,
    onchange: (e) => set(filter.name, e.target.value, true),
  }, filter.options.map(([value, label]) => h("option", { value, selected: (state[filter.name] || "") === value }, label))));

  const lists = [];
  const texts = TEXT_FILTERS.map((filter) => {
    const listId = filter.suggest ? `suggest-${filter.name}` : null;
    const input = h("input", {
      type: "text", name: filter.name, value: state[filter.name] || "", placeholder: filter.label,
      "aria-label": filter.label, list: listId, autocomplete: "off", spellcheck: "false",
      oninput: (e) => set(filter.name, e.target.value.trim(), false),
      onchange: (e) => set(filter.name, e.target.value.trim(), true),
    });
    if (filter.suggest) {
      const list = h("datalist", { id: listId });
      lists.push(list);
      // Values are listed from stats only when asked for, so a page load
      // costs one query, not four.
      input.addEventListener("focus", () => suggest(list, filter.suggest, state, signal), { once: true });
    }
    return input;
  });

  const numbers = NUMBER_FILTERS.map((filter) => h("input", {
    type: "number", min: "0", name: filter.name, value: state[filter.name] || "", placeholder: filter.label,
    "aria-label": filter.label, class: "narrow",
    oninput: (e) => set(filter.name, e.target.value, false),
  }));

  const clear = h("button", {
    type: "button", class: "quiet",
    onclick: () => {
      for (const key of Object.keys(state)) delete state[key];
      state.source = DEFAULT_SOURCE;
      for (const input of form.querySelectorAll("input")) input.value = "";
      // The first option of each choice is its default (production for source).
      for (const select of form.querySelectorAll("select")) select.selectedIndex = 0;
      custom.hidden = true;
      changed(true);
    },
  }, "Clear");

  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "filter-row" }, search, range, custom, choices, clear),
    h("div", { class: "filter-row" }, texts, numbers),
    lists);
  form.search = search;
  return form;
}

async function suggest(list, groupBy, state, signal) {
  try {
    const params = { group_by: groupBy };
    if (state.since) params.since = state.since;
    if (state.until) params.until = state.until;
    const stats = await get("/api/v1/stats", params, signal);
    const groups = (stats.groups || []).filter((g) => typeof g.key === "string");
    groups.sort((a, b) => b.count - a.count);
    list.replaceChildren(...groups.slice(0, 200).map((g) => h("option", { value: g.key }, `${g.count} calls`)));
  } catch {
    // Suggestions are a convenience; typing still works without them.
  }
}
