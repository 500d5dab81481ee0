//! The stored value encoding: arbitrary `Value` trees, with many strings
//! that are JSON documents whose long string literals are escaped the way
//! serde_json, Python's `json.dumps` and Go's `encoding/json` escape them
//! (and sometimes in no known way at all), go through `Encoder`, prost and
//! `Decoder`, and must come back exactly.
//!
//! The raw input bytes are also decoded as a stored value, as a corrupt
//! database row would be: that may fail, but must not panic.
#![no_main]

use std::collections::HashMap;
use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use reprise::model::{KeyValue, Value};
use reprise::store::encoding::codec::{Decoder, StoredValue, collect_hashes};

const MAX_DEPTH: usize = 8;

/// Escape sequences that stress the literal splitter: upper-case hex, a
/// surrogate pair, lone surrogates, the optional `\/`, a cut-off `\u`, and
/// a backslash at the very end of a literal.
const ESCAPES: &[&str] = &[
    "\\u00E9",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\\uD83D\\uDE00",
    "\\ud800",
    "\\udc00x",
    "\\/",
    "\\u002",
    "\\",
    "\\\\",
    "\\\"",
    "\\n",
    "\\u0000",
    "\\u001f",
    "\\u007f",
    "\\u2028",
    "\\u003c",
    "\\x41",
];

const PUNCTUATION: &[&str] = &[
    "[", "]", "{", "}", ",", ":", " ", "\n", "\"k\":", "null", "true", "\"",
];

#[derive(Arbitrary, Debug)]
enum Style {
    /// serde_json and JavaScript: minimal escaping.
    Serde,
    /// Python `json.dumps` default: everything outside printable ASCII as `\uXXXX`.
    PythonAscii,
    /// Go `encoding/json` default: HTML-safe as well.
    GoHtml,
    /// Not escaped at all, which is invalid JSON when the text needs it.
    Verbatim,
}

#[derive(Arbitrary, Debug)]
enum LiteralPart {
    Text(String),
    Escape(u8),
}

#[derive(Arbitrary, Debug)]
enum JsonPiece {
    Punctuation(u8),
    Literal {
        parts: Vec<LiteralPart>,
        /// How often the text is repeated: most literals should reach the
        /// blob threshold of 128 bytes.
        repeat: u8,
        style: Style,
    },
    Number(f64),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum StringInput {
    Short(String),
    Long {
        text: String,
        repeat: u8,
    },
    Json {
        object: bool,
        pieces: Vec<JsonPiece>,
    },
}

#[derive(Arbitrary, Debug)]
enum ValueInput {
    Empty,
    String(StringInput),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    LongBytes { byte: u8, len: u16 },
    Array(Vec<ValueInput>),
    KvList(Vec<(String, ValueInput)>),
}

fn escape(text: &str, style: &Style, out: &mut String) {
    for c in text.chars() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            _ => None,
        };
        if let (Some(short), false) = (short, matches!(style, Style::Verbatim)) {
            out.push_str(short);
            continue;
        }
        let needs_unicode_escape = match style {
            Style::Verbatim => false,
            Style::Serde => (c as u32) < 0x20,
            Style::PythonAscii => !(' '..='~').contains(&c),
            Style::GoHtml => {
                (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')
            }
        };
        if needs_unicode_escape {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
}

fn json_document(object: bool, pieces: &[JsonPiece]) -> String {
    let mut out = String::from(if object { "{" } else { "[" });
    for piece in pieces {
        match piece {
            JsonPiece::Punctuation(i) => {
                out.push_str(PUNCTUATION[usize::from(*i) % PUNCTUATION.len()]);
            }
            JsonPiece::Literal {
                parts,
                repeat,
                style,
            } => {
                out.push('"');
                for _ in 0..=(repeat % 16) {
                    for part in parts {
                        match part {
                            LiteralPart::Text(text) => escape(text, style, &mut out),
                            LiteralPart::Escape(i) => {
                                out.push_str(ESCAPES[usize::from(*i) % ESCAPES.len()]);
                            }
                        }
                    }
                }
                out.push('"');
            }
            JsonPiece::Number(n) => {
                let _ = write!(out, "{n}");
            }
            JsonPiece::Raw(raw) => out.push_str(raw),
        }
    }
    out.push_str(if object { "}" } else { "]" });
    out
}

fn string(input: &StringInput) -> String {
    match input {
        StringInput::Short(s) => s.clone(),
        StringInput::Long { text, repeat } => {
            let times = 128 / text.len().max(1) + usize::from(*repeat % 4);
            text.repeat(times)
        }
        StringInput::Json { object, pieces } => json_document(*object, pieces),
    }
}

fn value(input: &ValueInput, depth: usize) -> Value {
    match input {
        ValueInput::Empty => Value::Empty,
        ValueInput::String(s) => Value::String(string(s)),
        ValueInput::Bool(b) => Value::Bool(*b),
        ValueInput::Int(i) => Value::Int(*i),
        ValueInput::Double(d) => Value::Double(*d),
        ValueInput::Bytes(b) => Value::Bytes(b.clone()),
        ValueInput::LongBytes { byte, len } => Value::Bytes(vec![*byte; usize::from(*len % 1024)]),
        ValueInput::Array(_) | ValueInput::KvList(_) if depth >= MAX_DEPTH => Value::Empty,
        ValueInput::Array(items) => {
            Value::Array(items.iter().map(|i| value(i, depth + 1)).collect())
        }
        ValueInput::KvList(fields) => Value::KvList(
            fields
                .iter()
                .map(|(key, v)| KeyValue::new(key.clone(), value(v, depth + 1)))
                .collect(),
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    corrupt_row(data);
    let Ok(input) = ValueInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let original = value(&input, 0);
    let decoded = reprise_fuzz::value_round_trip(&original);
    reprise_fuzz::assert_same("value", &original, &decoded);
});

/// Bytes read back as a stored value, with no blobs (all missing) and with
/// every referenced blob present but holding the input itself.
fn corrupt_row(data: &[u8]) {
    let Ok(stored) = StoredValue::decode(data) else {
        return;
    };
    let none = HashMap::new();
    let _ = Decoder { blobs: &none }.value(&stored);
    let mut hashes = Vec::new();
    collect_hashes(&stored, &mut hashes);
    let blobs: HashMap<Vec<u8>, Vec<u8>> = hashes
        .into_iter()
        .map(|hash| (hash, data.to_vec()))
        .collect();
    let _ = Decoder { blobs: &blobs }.value(&stored);
}
