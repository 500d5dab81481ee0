// The page router. Each page is a module with
// `render(main, {params, query, signal}) -> optional cleanup()`; moving to
// another URL aborts the previous page's fetches (signal) and runs its
// cleanup (timers). Links marked data-nav are followed without a reload.

import { h, replace, notice } from "./dom.js";
import { ApiError, apiKey, isAbort, setApiKey } from "./api.js";

const routes = [
  { pattern: /^\/$/, page: "calls", section: "calls" },
  { pattern: /^\/calls\/?$/, page: "calls", section: "calls" },
  { pattern: /^\/calls\/([^/]+)\/?$/, page: "call", section: "calls", names: ["id"] },
  { pattern: /^\/traces\/([^/]+)\/?$/, page: "trace", section: "calls", names: ["traceId"] },
  { pattern: /^\/sessions\/([^/]+)\/?$/, page: "session", section: "calls", names: ["sessionId"] },
  { pattern: /^\/models\/?$/, page: "models", section: "models" },
  { pattern: /^\/replays\/?$/, page: "replays", section: "replays" },
  { pattern: /^\/replays\/([^/]+)\/?$/, page: "replay", section: "replays", names: ["runId"] },
];

let current = null;

function match(pathname) {
  for (const route of routes) {
    const found = route.pattern.exec(pathname);
    if (!found) continue;
    const params = {};
    (route.names || []).forEach((name, i) => {
      params[name] = decodeURIComponent(found[i + 1]);
    });
    return { route, params };
  }
  return { route: { page: "not_found", section: null }, params: {} };
}

async function show() {
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === "function") current.cleanup();
  }
  const controller = new AbortController();
  const state = { controller, cleanup: null };
  current = state;
  const { route, params } = match(location.pathname);
  for (const item of document.querySelectorAll(".topbar nav a")) {
    if (item.dataset.section === route.section) item.setAttribute("aria-current", "page");
    else item.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  status("");
  main.dataset.page = route.page;
  main.dataset.ready = "false";
  try {
    const module = await import(`./pages/${route.page}.js`);
    if (current !== state) return;
    const query = new URLSearchParams(location.search);
    state.cleanup = await module.render(main, { params, query, signal: controller.signal });
    if (current === state) main.dataset.ready = "true";
  } catch (error) {
    if (isAbort(error) || current !== state) return;
    if (error instanceof ApiError && error.status === 401) {
      askForKey();
      return;
    }
    replace(main, notice("error", `This page failed: ${error.message}`));
    main.dataset.ready = "error";
    console.error(error);
  }
}

/** Stops the current page and shows the key form in its place. */
function askForKey() {
  const main = document.getElementById("main");
  if (main.dataset.ready === "key") return;
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === "function") current.cleanup();
    current = null;
  }
  replace(main, keyForm());
  main.dataset.ready = "key";
}

window.addEventListener("reprise:unauthorized", askForKey);

/** Asks for an API key (the server has keys and this browser sent none, or a revoked one). */
function keyForm() {
  const input = h("input", {
    type: "password",
    name: "api-key",
    autocomplete: "off",
    placeholder: "rpk_…",
    "aria-label": "API key",
  });
  const form = h(
    "form",
    {
      class: "api-key",
      onsubmit: (event) => {
        event.preventDefault();
        setApiKey(input.value.trim());
        show();
      },
    },
    h("p", null, apiKey() ? "This API key was refused. " : "This server needs an API key. ",
      "Enter a key with the read scope (reprise keys create --scope read); it is kept in this browser."),
    input,
    h("button", { type: "submit" }, "Use key"),
  );
  return notice("error", form);
}

/** Goes to a URL inside the UI, adding a history entry. */
export function navigate(url) {
  history.pushState(null, "", url);
  show();
  window.scrollTo(0, 0);
}

/** Changes the query string of the current page without re-rendering it. */
export function setQuery(params) {
  const search = params.toString();
  const url = `${location.pathname}${search ? `?${search}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.target.closest("a[data-nav]");
  if (!anchor || anchor.target) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(`${url.pathname}${url.search}${url.hash}`);
});

window.addEventListener("popstate", show);

/** A short message in the top bar (polling state, last refresh). */
export function status(text) {
  const node = document.getElementById("status");
  if (node) node.textContent = text;
}

show();
