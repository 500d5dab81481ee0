// Building DOM nodes. Everything shown comes from recorded LLM traffic, so
// text is always set as text (never parsed as HTML).

/**
 * h("a", {href: "/x", class: "link", dataset: {id: "1"}, onclick: fn}, "text", child)
 * Attributes whose value is null, undefined or false are left out; children
 * may be strings, numbers, nodes, arrays of those, or null (skipped).
 */
export function h(tag, props, ...children) {
  const node = tag === "svg" || SVG_TAGS.has(tag)
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "dataset") {
        for (const [key, data] of Object.entries(value)) {
          if (data !== null && data !== undefined) node.dataset[key] = String(data);
        }
      } else if (name === "style" && typeof value === "object") {
        for (const [key, style] of Object.entries(value)) node.style.setProperty(key, style);
      } else if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "value" && "value" in node && !(node instanceof SVGElement)) {
        node.value = value;
      } else if (name === "checked" || name === "selected" || name === "disabled") {
        node[name] = Boolean(value);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(node, children);
  return node;
}

const SVG_TAGS = new Set(["g", "path", "line", "rect", "circle", "text", "polyline", "title"]);

export function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(node, child);
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }
  return node;
}

/** Replaces a node's children. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A link handled by the client-side router (no page reload). */
export function link(href, ...children) {
  return h("a", { href, "data-nav": true }, ...children);
}

/** A section with a heading. */
export function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", null, title) : null, ...children);
}

/** A line of label/value pairs: [[label, value], …]; null values are skipped. */
export function facts(pairs, className = "facts") {
  const list = h("dl", { class: className });
  for (const [label, value, key] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(h("div", { dataset: { fact: key || label } }, h("dt", null, label), h("dd", null, value)));
  }
  return list;
}

/** A message in place of content: loading, empty, or an error. */
export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null }, ...children);
}
