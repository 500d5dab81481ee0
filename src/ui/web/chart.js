// A small SVG line chart for time series: one line per series, nice round
// y ticks from zero, time ticks along x, a legend that hides and shows
// series, and a crosshair with the values at the nearest time (mouse or
// arrow keys). Missing values (null) leave a gap instead of a drop to zero.

import { h } from "./dom.js";

export const PALETTE = ["#3b82f6", "#f97316", "#10b981", "#e11d48", "#8b5cf6", "#0ea5e9", "#ca8a04", "#db2777", "#14b8a6", "#64748b"];

const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { left: 58, right: 14, top: 12, bottom: 26 };

/**
 * lineChart({title, unit, series: [{name, color, points: [[timeMs, value|null], …]}],
 *            format: (value) => string, times: [timeMs, …]})
 * `times` lists every x position (bucket starts) so hovering works on all;
 * `tickFormat` (default `format`) writes the y axis labels. With
 * `connectGaps`, a line runs on over missing values (for measures like
 * percentiles, where an empty bucket says nothing about its neighbours).
 */
export function lineChart({ title, series, format, times, id, tickFormat, connectGaps }) {
  const tickText = tickFormat || format;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xs = times.length > 0 ? times : [0];
  const xMin = xs[0];
  const xMax = xs[xs.length - 1];
  let yMax = 0;
  for (const s of series) for (const [, v] of s.points) if (v !== null && Number.isFinite(v)) yMax = Math.max(yMax, v);
  const ticks = niceTicks(yMax);
  const yTop = ticks[ticks.length - 1] || 1;
  const x = (t) => MARGIN.left + (xMax === xMin ? plotWidth / 2 : ((t - xMin) / (xMax - xMin)) * plotWidth);
  const y = (v) => MARGIN.top + plotHeight - (v / yTop) * plotHeight;

  const svg = h("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart-svg", role: "img",
    "aria-label": `${title}: ${series.map((s) => s.name).join(", ")}`,
  });
  const grid = h("g", { class: "chart-grid" });
  for (const tick of ticks) {
    grid.append(
      h("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }),
      h("text", { x: MARGIN.left - 6, y: y(tick) + 4, "text-anchor": "end" }, tickText(tick)));
  }
  for (const t of timeTicks(xs)) {
    grid.append(h("text", { x: x(t), y: HEIGHT - 6, "text-anchor": "middle" }, timeLabel(t, xMax - xMin)));
  }
  svg.append(grid);

  const lines = new Map();
  for (const s of series) {
    const group = h("g", { class: "chart-series", dataset: { series: s.name } });
    let segment = [];
    const flush = () => {
      if (segment.length === 1) {
        group.append(h("circle", { cx: segment[0][0], cy: segment[0][1], r: 2.5, fill: s.color }));
      } else if (segment.length > 1) {
        group.append(h("polyline", { points: segment.map((p) => p.join(",")).join(" "), fill: "none", stroke: s.color, "stroke-width": 1.8, "stroke-linejoin": "round" }));
      }
      segment = [];
    };
    for (const [t, v] of s.points) {
      if (v === null || !Number.isFinite(v)) { if (!connectGaps) flush(); }
      else segment.push([x(t).toFixed(1), y(v).toFixed(1)]);
    }
    flush();
    svg.append(group);
    lines.set(s.name, group);
  }

  const cross = h("line", { class: "chart-cross", y1: MARGIN.top, y2: MARGIN.top + plotHeight, x1: -10, x2: -10 });
  svg.append(cross);
  const tip = h("div", { class: "chart-tip", hidden: true, role: "status" });
  const hidden = new Set();

  const figure = h("figure", { class: "chart", tabindex: "0", dataset: { chart: id || title } },
    h("figcaption", null, title),
    h("div", { class: "chart-area" }, svg, tip),
    h("ul", { class: "chart-legend" }, series.map((s) => h("li", null,
      h("button", {
        type: "button", class: "legend-item", dataset: { series: s.name }, "aria-pressed": "true",
        onclick: (event) => {
          const button = event.currentTarget;
          const visible = hidden.has(s.name);
          if (visible) hidden.delete(s.name); else hidden.add(s.name);
          button.setAttribute("aria-pressed", String(visible));
          lines.get(s.name).style.display = visible ? "" : "none";
        },
      }, h("span", { class: "swatch", style: { background: s.color } }), s.name)))));

  let index = -1;
  const show = (i) => {
    if (xs.length === 0 || times.length === 0) return;
    index = Math.max(0, Math.min(xs.length - 1, i));
    const t = xs[index];
    cross.setAttribute("x1", x(t));
    cross.setAttribute("x2", x(t));
    const rows = [];
    for (const s of series) {
      if (hidden.has(s.name)) continue;
      const point = s.points.find(([pt]) => pt === t);
      const value = point ? point[1] : null;
      rows.push(h("div", null, h("span", { class: "swatch", style: { background: s.color } }), `${s.name}: `,
        h("strong", null, value === null || value === undefined ? "–" : format(value))));
    }
    tip.replaceChildren(h("div", { class: "chart-tip-time" }, new Date(t).toLocaleString()), ...rows);
    tip.hidden = false;
    const left = (x(t) / WIDTH) * 100;
    tip.style.left = left > 60 ? "" : `${left + 2}%`;
    tip.style.right = left > 60 ? `${100 - left + 2}%` : "";
  };
  const hide = () => { tip.hidden = true; cross.setAttribute("x1", -10); cross.setAttribute("x2", -10); index = -1; };
  svg.addEventListener("mousemove", (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    let best = 0;
    for (let i = 1; i < xs.length; i++) if (Math.abs(x(xs[i]) - px) < Math.abs(x(xs[best]) - px)) best = i;
    show(best);
  });
  svg.addEventListener("mouseleave", hide);
  figure.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { event.preventDefault(); show(index + 1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); show(index < 0 ? xs.length - 1 : index - 1); }
    else if (event.key === "Escape") hide();
  });
  figure.addEventListener("blur", hide);
  return figure;
}

/** Round tick values from 0 to at least max. */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function timeTicks(xs) {
  if (xs.length <= 1) return xs;
  const wanted = 6;
  const every = Math.max(1, Math.ceil(xs.length / wanted));
  const ticks = [];
  for (let i = 0; i < xs.length; i += every) ticks.push(xs[i]);
  return ticks;
}

function timeLabel(t, span) {
  const date = new Date(t);
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  if (span > 3 * 86_400_000) return day;
  if (span > 86_400_000) return `${day} ${pad(date.getHours())}h`;
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
