// A call's conversation as a chat: system instructions, the input
// messages, and the answer, each part shown as what it is. Tool calls and
// tool results get their own boxes with the arguments or result
// pretty-printed, so an agent step reads as one.

import { h } from "./dom.js";
import { prettyJson } from "./format.js";

const ROLE_LABELS = {
  system: "System",
  developer: "Developer",
  user: "User",
  assistant: "Assistant",
  tool: "Tool",
  function: "Tool",
};

/** The whole conversation of a canonical call. */
export function conversation(call) {
  const list = h("ol", { class: "chat", "aria-label": "Conversation" });
  // Normalization also makes the system instructions the first input
  // message; show them once.
  const first = (call.input_messages || [])[0];
  const repeated = first && first.role === "system" &&
    textOf([first]) === textOf([{ parts: call.system_instructions || [] }]);
  if (call.system_instructions && call.system_instructions.length > 0 && !repeated) {
    list.append(message({ role: "system", parts: call.system_instructions }, "system", 0));
  }
  (call.input_messages || []).forEach((m, i) => list.append(message(m, "input", i)));
  (call.output_messages || []).forEach((m, i) => list.append(message(m, "output", i)));
  if (!list.firstChild) {
    list.append(h("li", { class: "notice notice-empty" }, "The telemetry carried no message content for this call."));
  }
  return list;
}

/** One message; `section` is system, input or output. */
export function message(msg, section, index) {
  const role = msg.role || "unknown";
  const label = ROLE_LABELS[role] || role;
  const kind = ROLE_LABELS[role] ? role.replace("developer", "system").replace("function", "tool") : "other";
  return h("li", {
    class: `msg msg-${kind}${section === "output" ? " msg-answer" : ""}`,
    dataset: { section, index, role },
  },
  h("div", { class: "msg-head" },
    h("span", { class: "msg-role" }, label),
    msg.name ? h("span", { class: "muted" }, msg.name) : null,
    section === "output" ? h("span", { class: "badge" }, "response") : null,
    msg.finish_reason ? h("span", { class: "muted", title: "finish reason" }, msg.finish_reason) : null),
  h("div", { class: "msg-body" }, (msg.parts || []).map(part)));
}

/** One part of a message, per the OTel GenAI part schema. */
export function part(p) {
  switch (p.type) {
    case "text":
      return h("div", { class: "part part-text", dataset: { part: "text" } }, p.content);
    case "reasoning":
      return h("details", { class: "part part-reasoning", dataset: { part: "reasoning" } },
        h("summary", null, "Reasoning"), h("div", { class: "part-text" }, p.content));
    case "tool_call":
      return h("div", { class: "part tool-call", dataset: { part: "tool_call", toolCallId: p.id, toolName: p.name } },
        h("div", { class: "tool-head" },
          h("span", { class: "tool-kind" }, "Tool call"),
          h("code", { class: "tool-name" }, p.name),
          p.id ? h("code", { class: "muted" }, p.id) : null),
        h("pre", { class: "json" }, prettyJson(p.arguments ?? null)));
    case "tool_call_response":
      return h("div", { class: "part tool-result", dataset: { part: "tool_call_response", toolCallId: p.id } },
        h("div", { class: "tool-head" },
          h("span", { class: "tool-kind" }, "Tool result"),
          p.id ? h("code", { class: "muted" }, p.id) : null),
        h("pre", { class: "json" }, prettyJson(p.response ?? null)));
    default: {
      const { type, ...rest } = p;
      return h("div", { class: "part part-other", dataset: { part: type || "unknown" } },
        h("div", { class: "tool-head" }, h("span", { class: "tool-kind" }, type || "part")),
        h("pre", { class: "json" }, prettyJson(rest)));
    }
  }
}

/** The text of a message list's text parts, for diffs and previews. */
export function textOf(messages) {
  const texts = [];
  for (const m of messages || []) {
    for (const p of m.parts || []) {
      if (p.type === "text" && p.content) texts.push(p.content);
    }
  }
  return texts.join("\n");
}
