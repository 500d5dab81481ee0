// A word-level diff: the longest common subsequence of two texts' words,
// so a replayed answer can be read against the original with what was
// dropped and what was added marked. Whitespace is kept with the word
// before it, so the marked-up text reads like the original.

/** Words with their trailing whitespace; leading whitespace is its own token. */
export function tokenize(text) {
  return (text || "").match(/\s+|\S+\s*/g) || [];
}

/** Largest table (rows × columns) the exact LCS may use; past it the middle is one change. */
const MAX_CELLS = 4_000_000;

/**
 * Diff of two texts as a list of {op: "same" | "del" | "add", text}.
 * Consecutive tokens with the same op are merged. Words compare without
 * their whitespace, so re-wrapped text is not a change.
 */
export function wordDiff(before, after) {
  const a = tokenize(before);
  const b = tokenize(after);
  const key = (token) => token.trim();
  let start = 0;
  while (start < a.length && start < b.length && key(a[start]) === key(b[start])) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && key(a[endA - 1]) === key(b[endB - 1])) { endA--; endB--; }

  const ops = [];
  for (let i = 0; i < start; i++) ops.push(["same", b[i]]);
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length * midB.length > MAX_CELLS) {
    for (const t of midA) ops.push(["del", t]);
    for (const t of midB) ops.push(["add", t]);
  } else {
    ops.push(...lcsOps(midA.map(key), midB.map(key), midA, midB));
  }
  for (let i = endB; i < b.length; i++) ops.push(["same", b[i]]);
  return merge(ops);
}

function lcsOps(keysA, keysB, a, b) {
  const n = keysA.length;
  const m = keysB.length;
  // lengths[i][j] = LCS of a[i..] and b[j..], in one flat array.
  const width = m + 1;
  const lengths = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i * width + j] = keysA[i] === keysB[j]
        ? lengths[(i + 1) * width + j + 1] + 1
        : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (keysA[i] === keysB[j]) {
      ops.push(["same", b[j]]);
      i++; j++;
    } else if (lengths[(i + 1) * width + j] >= lengths[i * width + j + 1]) {
      ops.push(["del", a[i]]);
      i++;
    } else {
      ops.push(["add", b[j]]);
      j++;
    }
  }
  while (i < n) ops.push(["del", a[i++]]);
  while (j < m) ops.push(["add", b[j++]]);
  return ops;
}

function merge(ops) {
  const out = [];
  for (const [op, text] of ops) {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  }
  return out;
}

/** Share of the longer text's words that are unchanged, 0..1 (1 when both are empty). */
export function sameShare(diff) {
  let same = 0;
  let before = 0;
  let after = 0;
  for (const { op, text } of diff) {
    const words = tokenize(text).filter((t) => t.trim()).length;
    if (op === "same") { same += words; before += words; after += words; }
    else if (op === "del") before += words;
    else after += words;
  }
  const longest = Math.max(before, after);
  return longest === 0 ? 1 : same / longest;
}
