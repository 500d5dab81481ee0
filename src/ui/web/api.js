// The JSON API, as the pages use it. Errors come back as
// {"error": {"code", "message"}}; they become ApiError with the status, so a
// page can tell "this endpoint does not exist on this server" (404 with
// code not_found for the route) from a failed query.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || null;
  }
}

/** Query string from an object; null, undefined and "" are left out, arrays repeat. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== "") search.append(name, item);
    } else {
      search.append(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// A server with API keys answers 401 without one. The key a person enters
// is kept in this browser's localStorage (never in a URL, where it would
// reach logs and history) and sent as a bearer token.
const KEY_ITEM = "reprise.apiKey";

export function apiKey() {
  try {
    return localStorage.getItem(KEY_ITEM) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_ITEM, key);
    else localStorage.removeItem(KEY_ITEM);
  } catch {
    // Storage disabled: the key lasts until the page is left.
  }
}

async function request(method, path, params, body, signal) {
  const init = { method, headers: { accept: "application/json" }, signal };
  const key = apiKey();
  if (key) init.headers.authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${path}${queryString(params)}`, init);
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (response.status === 401) {
    // Pages handle their own errors; asking for a key is the router's job.
    window.dispatchEvent(new CustomEvent("reprise:unauthorized"));
  }
  if (!response.ok) {
    const error = json && json.error ? json.error : {};
    throw new ApiError(response.status, error.code, error.message || text.slice(0, 200));
  }
  return json;
}

export function get(path, params, signal) {
  return request("GET", path, params, undefined, signal);
}

export function post(path, body, signal) {
  return request("POST", path, null, body, signal);
}

/**
 * GET, or null when the endpoint is not on this server (404): used for
 * features that a server may not have yet, such as replays.
 */
export async function getOptional(path, params, signal) {
  try {
    return await get(path, params, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** True when the error is the page being left (its fetches aborted). */
export function isAbort(error) {
  return error && error.name === "AbortError";
}
