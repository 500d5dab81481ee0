// How numbers, times and ids are written on every page, so the same value
// reads the same everywhere. Missing values (null: the telemetry did not
// carry them) are shown as an en dash, never as zero.

export const MISSING = "–";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function count(value) {
  return value === null || value === undefined ? MISSING : integer.format(value);
}

/** Milliseconds: 840 ms, 1.24 s, 2 m 05 s. */
export function ms(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  if (value === 0) return "0 ms";
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(value / 60_000);
  const seconds = Math.round((value % 60_000) / 1000);
  return `${minutes} m ${String(seconds).padStart(2, "0")} s`;
}

/** US dollars with enough digits for fractions of a cent. */
export function usd(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  if (value === 0) return "$0";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 2 : abs >= 1 ? 3 : abs >= 0.01 ? 4 : 6;
  return `${value < 0 ? "-" : ""}$${abs.toFixed(digits)}`;
}

export function percent(rate, digits = 1) {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return MISSING;
  return `${(rate * 100).toFixed(digits)}%`;
}

/** A number with a sign, for differences. */
export function signed(value, formatter) {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const text = formatter(Math.abs(value));
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

/** Tokens "in → out". */
export function tokens(usage) {
  if (!usage) return MISSING;
  const input = usage.input_tokens;
  const output = usage.output_tokens;
  if (input == null && output == null) return MISSING;
  return `${count(input)} → ${count(output)}`;
}

export function totalTokens(usage) {
  if (!usage || (usage.input_tokens == null && usage.output_tokens == null)) return null;
  return (usage.input_tokens || 0) + (usage.output_tokens || 0);
}

/** Unix nanoseconds (number or string) to a Date; precision below ms is dropped. */
export function dateOf(nanos) {
  if (nanos === null || nanos === undefined) return null;
  const millis = typeof nanos === "string" ? Number(BigInt(nanos) / 1_000_000n) : nanos / 1e6;
  return new Date(millis);
}

/**
 * Milliseconds between two Unix nanosecond times, exact to the nanosecond:
 * the API writes them as strings, which Numbers could not hold exactly.
 */
export function msBetween(startNanos, endNanos) {
  if (startNanos == null || endNanos == null) return null;
  return Number(BigInt(endNanos) - BigInt(startNanos)) / 1e6;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** Local time "2026-11-28 10:04:05.123". */
export function timestamp(nanos) {
  const date = dateOf(nanos);
  if (!date || Number.isNaN(date.getTime())) return MISSING;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** "3 min ago", for recency at a glance; the title carries the exact time. */
export function ago(nanos, now = Date.now()) {
  const date = dateOf(nanos);
  if (!date) return MISSING;
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 0) return "in the future";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** The first and last characters of a long id. */
export function shortId(id, keep = 8) {
  if (!id) return MISSING;
  return id.length > keep + 3 ? `${id.slice(0, keep)}…` : id;
}

/** JSON for reading: pretty, and strings that hold JSON shown as that JSON. */
export function prettyJson(value) {
  if (typeof value === "string") {
    const parsed = parseJsonString(value);
    if (parsed !== undefined) return JSON.stringify(parsed, null, 2);
    return value;
  }
  return JSON.stringify(value, null, 2);
}

/** The JSON in a string, or undefined when it holds none (only objects and arrays count). */
export function parseJsonString(text) {
  const trimmed = text.trim();
  if (!(trimmed.startsWith("{") || trimmed.startsWith("["))) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

/** An OTLP typed value ({"stringValue": …}, {"intValue": "13"}, …) as plain text. */
export function otlpValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  if ("stringValue" in value) return value.stringValue;
  if ("intValue" in value) return String(value.intValue);
  if ("doubleValue" in value) return String(value.doubleValue);
  if ("boolValue" in value) return String(value.boolValue);
  if ("bytesValue" in value) return `bytes ${value.bytesValue}`;
  if ("arrayValue" in value) {
    const values = (value.arrayValue.values || []).map(otlpValue);
    return JSON.stringify(values);
  }
  if ("kvlistValue" in value) {
    const object = {};
    for (const entry of value.kvlistValue.values || []) object[entry.key] = otlpValue(entry.value);
    return JSON.stringify(object);
  }
  return JSON.stringify(value);
}
