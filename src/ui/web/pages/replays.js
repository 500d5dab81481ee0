// Replays: the runs, newest first, with their progress. A server without
// the replay API (404) shows the same "no replays yet" as one with no runs,
// and the page refreshes itself while a run is going.

import { h, link, replace, notice } from "../dom.js";
import { getOptional, isAbort } from "../api.js";
import * as fmt from "../format.js";

const POLL_MS = 3000;

export async function render(main, { signal }) {
  const body = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  replace(main, h("div", { class: "page-head" }, h("h1", null, "Replays")), body, h("div", { class: "pager" }, more));
  let cursor = null;
  let timer = null;
  const tbody = h("tbody");

  async function load() {
    const page = await getOptional("/api/v1/replays", { limit: 50 }, signal);
    const runs = page ? runsOf(page) : [];
    if (runs.length === 0) {
      replace(body, empty(page === null));
      main.dataset.replays = page === null ? "unavailable" : "none";
      more.hidden = true;
      return runs;
    }
    main.dataset.replays = "some";
    tbody.replaceChildren(...runs.map(runRow));
    replace(body, h("div", { class: "table-wrap" }, h("table", { class: "calls", "aria-label": "Replay runs" },
      h("thead", null, h("tr", null, ["Run", "State", "Progress", "Targets", "Calls × repeat", "Created", "Finished"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)));
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    return runs;
  }

  more.addEventListener("click", async () => {
    try {
      const page = await getOptional("/api/v1/replays", { limit: 50, cursor }, signal);
      if (!page) return;
      tbody.append(...runsOf(page).map(runRow));
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
    } catch (error) {
      if (!isAbort(error)) more.after(notice("error", error.message));
    }
  });

  const schedule = (runs) => {
    clearTimeout(timer);
    if (runs.some((run) => run.state === "running")) {
      timer = setTimeout(async () => {
        try { schedule(await load()); } catch (error) { if (!isAbort(error)) schedule(runs); }
      }, POLL_MS);
    }
  };
  schedule(await load());
  return () => clearTimeout(timer);
}

export function runsOf(page) {
  if (Array.isArray(page)) return page;
  return page.replays || page.runs || [];
}

function empty(unavailable) {
  return notice("empty",
    h("strong", null, "No replays yet."),
    h("p", null, "A replay sends recorded prompts to other models and compares their answers with the originals. Start one from a call's page, with ",
      h("code", null, "reprise replay --target NAME"), ", or with ", h("code", null, "POST /api/v1/replays"), "."),
    unavailable ? h("p", { class: "muted" }, "This server does not offer the replay API.") : null);
}

function runRow(run) {
  const targets = (run.targets || []).map((t) => (typeof t === "string" ? t : t.name)).join(", ");
  const selection = run.selection || {};
  const size = selection.ids ? `${selection.ids.length} ids` : selection.sample ? `sample ${selection.sample}` : "filter";
  return h("tr", { dataset: { runId: run.id } },
    h("td", null, link(`/replays/${encodeURIComponent(run.id)}`, run.name || h("span", { class: "mono" }, run.id)),
      run.name ? h("div", { class: "mono muted small" }, run.id) : null),
    h("td", null, stateBadge(run.state), run.stop_reason ? h("div", { class: "muted small" }, run.stop_reason) : null),
    h("td", null, progressBar(run.progress)),
    h("td", null, targets || fmt.MISSING),
    h("td", null, `${size} × ${run.repeat ?? 1}`),
    h("td", { class: "nowrap" }, fmt.timestamp(run.created_at_unix_nano)),
    h("td", { class: "nowrap" }, run.finished_at_unix_nano ? fmt.timestamp(run.finished_at_unix_nano) : fmt.MISSING));
}

export function stateBadge(state) {
  const kind = { running: "run", done: "ok", cancelled: "muted", stopped: "warn", failed: "error" }[state] || "muted";
  return h("span", { class: `badge badge-${kind}`, dataset: { state } }, state || "unknown");
}

/** A bar of finished items out of all, with the counts by state. */
export function progressBar(progress) {
  if (!progress) return fmt.MISSING;
  const total = progress.total || 0;
  const finished = (progress.done || 0) + (progress.failed || 0) + (progress.cancelled || 0);
  const share = total > 0 ? finished / total : 0;
  const parts = [];
  for (const state of ["done", "failed", "cancelled", "running", "pending"]) {
    if (progress[state]) parts.push(`${progress[state]} ${state}`);
  }
  return h("div", { class: "progress", dataset: { finished, total } },
    h("div", { class: "progress-track", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total), "aria-valuenow": String(finished) },
      h("div", { class: "progress-done", style: { width: `${total ? ((progress.done || 0) / total) * 100 : 0}%` } }),
      h("div", { class: "progress-failed", style: { width: `${total ? ((progress.failed || 0) / total) * 100 : 0}%` } })),
    h("span", { class: "small muted" }, `${finished}/${total} (${Math.round(share * 100)}%)${parts.length ? ` · ${parts.join(", ")}` : ""}`));
}
