//! Text that compresses like real prompts and answers do.
//!
//! Random characters would make every byte incompressible, and one repeated
//! sentence would make everything compress to nothing; either way the
//! storage figures would say nothing about real traffic. [`TextGen`] writes
//! sentences from a built-in vocabulary of a few thousand English words
//! drawn with Zipf–Mandelbrot frequencies (as word frequencies are in
//! English), with punctuation, numbers and identifiers, and mixes in the
//! other things LLM traffic carries: bullet lists, fenced code blocks and
//! JSON documents.

use serde_json::{Map, Value, json};

use crate::rng::{Rng, Zipf};

const WORDS: &str = include_str!("words.txt");

/// Identifiers in code and JSON keys are drawn from the most common words
/// only, as real identifiers reuse a small domain vocabulary.
const IDENTIFIER_WORDS: usize = 600;

pub struct TextGen {
    words: Vec<&'static str>,
    zipf: Zipf,
    identifier_zipf: Zipf,
}

impl TextGen {
    pub fn new() -> TextGen {
        let mut words: Vec<&'static str> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // The file lists words roughly from most to least common; a word's
        // first appearance is its rank.
        for word in WORDS.split_whitespace() {
            if seen.insert(word) {
                words.push(word);
            }
        }
        let zipf = Zipf::new(words.len(), 1.0, 2.7);
        let identifier_zipf = Zipf::new(IDENTIFIER_WORDS.min(words.len()), 0.9, 5.0);
        TextGen {
            words,
            zipf,
            identifier_zipf,
        }
    }

    pub fn vocabulary_len(&self) -> usize {
        self.words.len()
    }

    fn word(&self, rng: &mut Rng) -> &'static str {
        self.words[self.zipf.sample(rng)]
    }

    fn identifier_word(&self, rng: &mut Rng) -> &'static str {
        // Skip the top ranks (articles, prepositions): nobody names a
        // variable `the`.
        let rank = self.identifier_zipf.sample(rng);
        self.words[(rank + 60).min(self.words.len() - 1)]
    }

    /// `snake_case` of one to three common words.
    pub fn identifier(&self, rng: &mut Rng) -> String {
        let parts = rng.weighted(&[5, 4, 1]) + 1;
        let mut out = String::new();
        for index in 0..parts {
            if index > 0 {
                out.push('_');
            }
            out.push_str(self.identifier_word(rng));
        }
        out
    }

    /// A token that is not a word: a number, an amount, a date, an id.
    fn number_token(&self, rng: &mut Rng, out: &mut String) {
        match rng.below(6) {
            0 => out.push_str(&rng.between(2, 99).to_string()),
            1 => out.push_str(&format!("{}.{}", rng.between(0, 40), rng.below(100))),
            2 => out.push_str(&format!(
                "2026-{:02}-{:02}",
                rng.between(1, 12),
                rng.between(1, 28)
            )),
            3 => out.push_str(&format!("#{}", rng.between(10_000, 99_999))),
            4 => out.push_str(&format!("${}.{:02}", rng.between(5, 2_000), rng.below(100))),
            _ => out.push_str(&format!("{}%", rng.between(1, 100))),
        }
    }

    /// One sentence of 4–26 words, capitalised and punctuated.
    pub fn sentence(&self, rng: &mut Rng, out: &mut String, question: bool) {
        let length = if rng.chance(0.7) {
            rng.between(6, 16)
        } else {
            rng.between(4, 26)
        };
        for index in 0..length {
            if index > 0 {
                out.push(' ');
            }
            if index > 0 && rng.chance(0.025) {
                self.number_token(rng, out);
            } else if index > 0 && rng.chance(0.01) {
                out.push('`');
                out.push_str(&self.identifier(rng));
                out.push('`');
            } else if index == 0 {
                push_capitalised(out, self.word(rng));
            } else {
                out.push_str(self.word(rng));
            }
            if index + 1 < length && index > 1 && rng.chance(0.07) {
                out.push(',');
            }
        }
        let end = if question {
            '?'
        } else if rng.chance(0.02) {
            '!'
        } else if rng.chance(0.05) {
            ':'
        } else {
            '.'
        };
        out.push(end);
    }

    /// Paragraphs of sentences, about `target_bytes` long.
    pub fn prose(&self, rng: &mut Rng, target_bytes: usize, out: &mut String) {
        let stop = out.len() + target_bytes;
        let mut in_paragraph = 0;
        while out.len() < stop {
            if in_paragraph > 0 {
                let paragraph_break = in_paragraph >= 3 && rng.chance(0.3);
                out.push_str(if paragraph_break { "\n\n" } else { " " });
                if paragraph_break {
                    in_paragraph = 0;
                }
            }
            self.sentence(rng, out, false);
            in_paragraph += 1;
        }
    }

    /// A bulleted or numbered list of short sentences.
    pub fn list(&self, rng: &mut Rng, target_bytes: usize, out: &mut String) {
        let stop = out.len() + target_bytes;
        let numbered = rng.chance(0.4);
        let mut item = 1;
        while out.len() < stop {
            if numbered {
                out.push_str(&format!("{item}. "));
            } else {
                out.push_str("- ");
            }
            self.sentence(rng, out, false);
            out.push('\n');
            item += 1;
        }
    }

    /// A fenced code block in one of a few languages.
    pub fn code_block(&self, rng: &mut Rng, target_bytes: usize, out: &mut String) {
        let language = *rng.pick(&["python", "rust", "sql", "javascript", "bash"]);
        out.push_str("```");
        out.push_str(language);
        out.push('\n');
        let stop = out.len() + target_bytes;
        while out.len() < stop {
            self.code_line(rng, language, out);
            out.push('\n');
        }
        out.push_str("```");
    }

    fn code_line(&self, rng: &mut Rng, language: &str, out: &mut String) {
        let a = self.identifier(rng);
        let b = self.identifier(rng);
        let c = self.identifier(rng);
        let line = match (language, rng.below(6)) {
            ("python", 0) => format!("def {a}({b}, {c}=None):"),
            ("python", 1) => format!("    {a} = {b}.{c}({})", rng.between(0, 100)),
            ("python", 2) => format!("    if {a} is None:\n        return {b}"),
            ("python", 3) => format!("    for {a} in {b}:\n        {c}.append({a})"),
            ("python", 4) => format!("    # {}", self.short_phrase(rng)),
            ("python", _) => format!("    return {{\"{a}\": {b}, \"{c}\": {}}}", rng.below(10)),
            ("rust", 0) => format!("fn {a}({b}: &{}) -> Result<(), Error> {{", camel(&c)),
            ("rust", 1) => format!("    let {a} = {b}.{c}()?;"),
            ("rust", 2) => format!("    if {a}.is_empty() {{\n        return Ok(());\n    }}"),
            ("rust", 3) => format!("    // {}", self.short_phrase(rng)),
            ("rust", 4) => {
                format!("    for {a} in &{b} {{\n        {c}.push({a}.clone());\n    }}")
            }
            ("rust", _) => "}".to_owned(),
            ("sql", 0) => format!("SELECT {a}, {b}, count(*) AS {c}"),
            ("sql", 1) => format!("FROM {a} JOIN {b} ON {a}.id = {b}.{a}_id"),
            ("sql", 2) => format!("WHERE {a} > {} AND {b} IS NOT NULL", rng.between(1, 500)),
            ("sql", 3) => format!(
                "GROUP BY {a} ORDER BY {c} DESC LIMIT {}",
                rng.between(5, 100)
            ),
            ("sql", 4) => format!("-- {}", self.short_phrase(rng)),
            ("sql", _) => format!("UPDATE {a} SET {b} = '{c}' WHERE id = {};", rng.below(9999)),
            ("javascript", 0) => format!("async function {}({}) {{", camel(&a), camel(&b)),
            ("javascript", 1) => format!(
                "  const {} = await {}.{}();",
                camel(&a),
                camel(&b),
                camel(&c)
            ),
            ("javascript", 2) => format!(
                "  if (!{}) throw new Error('{}');",
                camel(&a),
                self.short_phrase(rng)
            ),
            ("javascript", 3) => format!("  // {}", self.short_phrase(rng)),
            ("javascript", 4) => format!("  return {{ {}: {} }};", camel(&a), camel(&b)),
            ("javascript", _) => "}".to_owned(),
            (_, 0) => format!("{a}=$({b} --{} {c})", b.replace('_', "-")),
            (_, 1) => format!("echo \"{}\"", self.short_phrase(rng)),
            (_, 2) => format!("if [ -z \"${a}\" ]; then exit 1; fi"),
            (_, 3) => format!("# {}", self.short_phrase(rng)),
            (_, 4) => format!("cp -r ./{a} /var/lib/{b}/"),
            (_, _) => format!(
                "{} --{} {}",
                b.replace('_', "-"),
                c.replace('_', "-"),
                rng.below(64)
            ),
        };
        out.push_str(&line);
    }

    pub fn short_phrase(&self, rng: &mut Rng) -> String {
        let mut out = String::new();
        let length = rng.between(3, 9);
        for index in 0..length {
            if index > 0 {
                out.push(' ');
            }
            out.push_str(self.word(rng));
        }
        out
    }

    /// A JSON object of roughly `target_bytes` when serialized: records
    /// with snake_case keys, strings, numbers, booleans and nesting, as
    /// tool results and API payloads look.
    pub fn json_document(&self, rng: &mut Rng, target_bytes: usize) -> Value {
        let mut document = Map::new();
        document.insert(
            "status".into(),
            json!(rng.pick(&["ok", "ok", "ok", "partial"])),
        );
        let mut records = Vec::new();
        let mut size = 40;
        while size < target_bytes {
            let record = self.json_record(rng, 0);
            size += record.to_string().len() + 1;
            records.push(record);
        }
        document.insert("count".into(), json!(records.len()));
        document.insert(self.identifier(rng), Value::Array(records));
        Value::Object(document)
    }

    fn json_record(&self, rng: &mut Rng, depth: usize) -> Value {
        let mut record = Map::new();
        record.insert("id".into(), json!(rng.between(1_000, 999_999)));
        let fields = rng.between(2, 6);
        for _ in 0..fields {
            let key = self.identifier(rng);
            let value = match rng.below(7) {
                0 | 1 => json!(self.short_phrase(rng)),
                2 => json!(rng.between(0, 10_000)),
                3 => json!((rng.unit() * 1000.0 * 100.0).round() / 100.0),
                4 => json!(rng.chance(0.5)),
                5 if depth < 1 => self.json_record(rng, depth + 1),
                _ => json!(format!(
                    "2026-{:02}-{:02}T{:02}:{:02}:00Z",
                    rng.between(1, 12),
                    rng.between(1, 28),
                    rng.below(24),
                    rng.below(60)
                )),
            };
            record.insert(key, value);
        }
        Value::Object(record)
    }

    /// A user's message: a question in prose, sometimes with pasted code, a
    /// log excerpt or JSON.
    pub fn user_message(&self, rng: &mut Rng, target_bytes: usize) -> String {
        let mut out = String::with_capacity(target_bytes + 64);
        let paste = target_bytes > 600 && rng.chance(0.25);
        let prose_bytes = if paste {
            target_bytes / 3
        } else {
            target_bytes
        };
        self.prose(rng, prose_bytes.saturating_sub(80), &mut out);
        if paste {
            out.push_str("\n\n");
            if rng.chance(0.6) {
                self.code_block(rng, target_bytes - prose_bytes, &mut out);
            } else {
                let document = self.json_document(rng, target_bytes - prose_bytes);
                out.push_str(&serde_json::to_string_pretty(&document).unwrap_or_default());
            }
            out.push_str("\n\n");
        } else {
            out.push(' ');
        }
        self.sentence(rng, &mut out, true);
        out
    }

    /// An assistant's answer: prose, often a list, sometimes a code block.
    pub fn answer(&self, rng: &mut Rng, target_bytes: usize) -> String {
        let mut out = String::with_capacity(target_bytes + 64);
        let code = target_bytes > 500 && rng.chance(0.2);
        let list = rng.chance(0.4);
        let mut rest = target_bytes;
        let opening = if code || list { rest / 3 } else { rest };
        self.prose(rng, opening, &mut out);
        rest = rest.saturating_sub(opening);
        if list && rest > 0 {
            out.push_str("\n\n");
            let list_bytes = if code { rest / 2 } else { rest };
            self.list(rng, list_bytes, &mut out);
            rest = rest.saturating_sub(list_bytes);
        }
        if code && rest > 0 {
            out.push_str("\n\n");
            self.code_block(rng, rest, &mut out);
        }
        out
    }

    /// A system prompt: who the assistant is, then rules and background.
    pub fn system_prompt(&self, rng: &mut Rng, role: &str, target_bytes: usize) -> String {
        let mut out = String::with_capacity(target_bytes + 64);
        out.push_str("You are ");
        out.push_str(role);
        out.push_str(". ");
        let stop = target_bytes;
        let mut section = 0;
        while out.len() < stop {
            let remaining = stop - out.len();
            match section % 3 {
                0 => {
                    let bytes = remaining.min(rng.between(200, 600));
                    self.prose(rng, bytes, &mut out);
                }
                1 => {
                    out.push_str("\n\n## ");
                    push_capitalised(&mut out, &self.short_phrase(rng));
                    out.push_str("\n\n");
                    let bytes = remaining.min(rng.between(200, 700));
                    self.list(rng, bytes, &mut out);
                }
                _ => {
                    out.push_str("\n\n");
                    let bytes = remaining.min(rng.between(100, 400));
                    self.prose(rng, bytes, &mut out);
                }
            }
            section += 1;
        }
        out
    }
}

fn push_capitalised(out: &mut String, word: &str) {
    let mut chars = word.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// `camelCase` from `snake_case`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
