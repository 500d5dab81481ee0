//! The stored encoding of telemetry: protobuf messages (prost) that mirror
//! the domain types, except that large strings and byte values are held by
//! reference to content-addressed blobs.
//!
//! A large string is split into segments: literal text and references to
//! blobs. When the string is JSON (OTel GenAI puts whole conversations into
//! one JSON string attribute), each long string literal inside it becomes a
//! blob holding the *unescaped* text, with a note of how it was escaped.
//! The canonical call's message texts are stored as blobs of the same
//! unescaped text, so a prompt is stored once however many spans, log
//! records and calls carry it, and each turn of a chat only adds its new
//! messages. Reconstruction is checked at encode time: a value that would
//! not come back byte for byte is stored literally instead.
//!
//! Encoding happens in two steps so no database access is needed while
//! encoding: [`Encoder`] returns the encoded message and the blobs it
//! references; decoding first lists the hashes a message needs
//! ([`collect_hashes`]), the caller fetches them, then [`Decoder`] rebuilds
//! the domain value.

use std::collections::HashMap;

use crate::model::{Attributes, KeyValue, Value};

/// Strings and byte values at least this long are stored as blobs.
pub const MIN_BLOB_BYTES: usize = 128;

/// First 16 bytes of a BLAKE3 hash: the address of a blob.
pub type BlobHash = [u8; 16];

pub fn blob_hash(content: &[u8]) -> BlobHash {
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&blake3::hash(content).as_bytes()[..16]);
    hash
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredValue {
    #[prost(oneof = "stored_value::Kind", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub kind: Option<stored_value::Kind>,
}

pub mod stored_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(string, tag = "1")]
        String(String),
        #[prost(bool, tag = "2")]
        Bool(bool),
        #[prost(sint64, tag = "3")]
        Int(i64),
        #[prost(double, tag = "4")]
        Double(f64),
        #[prost(bytes, tag = "5")]
        Bytes(Vec<u8>),
        #[prost(message, tag = "6")]
        Array(super::StoredArray),
        #[prost(message, tag = "7")]
        KvList(super::StoredKvList),
        /// A large string, as segments.
        #[prost(message, tag = "8")]
        Text(super::StoredText),
        /// A large byte value, held whole in one blob.
        #[prost(message, tag = "9")]
        BytesRef(super::BlobRef),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredArray {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<StoredValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredKvList {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<StoredKeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredKeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<StoredValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredText {
    #[prost(message, repeated, tag = "1")]
    pub segments: Vec<Segment>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Segment {
    #[prost(oneof = "segment::Kind", tags = "1, 2")]
    pub kind: Option<segment::Kind>,
}

pub mod segment {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(string, tag = "1")]
        Literal(String),
        #[prost(message, tag = "2")]
        Blob(super::BlobRef),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobRef {
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
    /// How the blob's text is escaped where it stands: see [`Escape`].
    #[prost(uint32, tag = "2")]
    pub escape: u32,
}

/// How a blob's text was escaped inside the value that referenced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Not escaped: the blob is the value itself.
    Raw = 0,
    /// A JSON string literal's body, escaped minimally (serde_json, JavaScript).
    Json = 1,
    /// JSON with every non-ASCII character as `\uXXXX` (Python's default).
    JsonAscii = 2,
    /// JSON with `<`, `>`, `&`, U+2028 and U+2029 escaped too (Go's default).
    JsonHtml = 3,
}

impl Escape {
    fn from_u32(value: u32) -> Option<Escape> {
        match value {
            0 => Some(Escape::Raw),
            1 => Some(Escape::Json),
            2 => Some(Escape::JsonAscii),
            3 => Some(Escape::JsonHtml),
            _ => None,
        }
    }

    fn apply(self, text: &str, out: &mut String) {
        match self {
            Escape::Raw => out.push_str(text),
            Escape::Json => escape_json(text, out, false, false),
            Escape::JsonAscii => escape_json(text, out, true, false),
            Escape::JsonHtml => escape_json(text, out, false, true),
        }
    }
}

fn escape_json(text: &str, out: &mut String, ascii_only: bool, html_safe: bool) {
    use std::fmt::Write as _;
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if html_safe => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ascii_only && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
            c => out.push(c),
        }
    }
}

/// Encodes domain values, collecting the blobs they reference.
pub struct Encoder {
    /// Content of every blob referenced so far, by hash.
    pub blobs: HashMap<BlobHash, Vec<u8>>,
    min_blob_bytes: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            blobs: HashMap::new(),
            min_blob_bytes: MIN_BLOB_BYTES,
        }
    }

    /// An encoder that keeps everything inline, for small records that must
    /// stand alone (resources, scopes).
    pub fn inline() -> Self {
        Self {
            blobs: HashMap::new(),
            min_blob_bytes: usize::MAX,
        }
    }

    pub fn value(&mut self, value: &Value) -> StoredValue {
        use stored_value::Kind;
        let kind = match value {
            Value::Empty => None,
            Value::String(s) => Some(self.string(s)),
            Value::Bool(b) => Some(Kind::Bool(*b)),
            Value::Int(i) => Some(Kind::Int(*i)),
            Value::Double(d) => Some(Kind::Double(*d)),
            Value::Bytes(b) if b.len() >= self.min_blob_bytes => {
                Some(Kind::BytesRef(self.blob(b, Escape::Raw)))
            }
            Value::Bytes(b) => Some(Kind::Bytes(b.clone())),
            Value::Array(values) => Some(Kind::Array(StoredArray {
                values: values.iter().map(|v| self.value(v)).collect(),
            })),
            Value::KvList(kvs) => Some(Kind::KvList(StoredKvList {
                values: self.key_values(kvs),
            })),
        };
        StoredValue { kind }
    }

    pub fn attributes(&mut self, attributes: &Attributes) -> Vec<StoredKeyValue> {
        self.key_values(&attributes.0)
    }

    fn key_values(&mut self, kvs: &[KeyValue]) -> Vec<StoredKeyValue> {
        kvs.iter()
            .map(|kv| StoredKeyValue {
                key: kv.key.clone(),
                value: Some(self.value(&kv.value)),
            })
            .collect()
    }

    fn string(&mut self, s: &str) -> stored_value::Kind {
        if s.len() < self.min_blob_bytes {
            return stored_value::Kind::String(s.to_owned());
        }
        let segments = self.segments(s);
        stored_value::Kind::Text(StoredText { segments })
    }

    fn blob(&mut self, content: &[u8], escape: Escape) -> BlobRef {
        let hash = blob_hash(content);
        // A chat resends its history: most content of a batch is already
        // here, and needs no copy.
        self.blobs.entry(hash).or_insert_with(|| content.to_vec());
        blob_ref(hash, escape)
    }

    /// [`Encoder::blob`] for content the caller owns and gives up.
    fn owned_blob(&mut self, content: String, escape: Escape) -> BlobRef {
        let hash = blob_hash(content.as_bytes());
        self.blobs
            .entry(hash)
            .or_insert_with(|| content.into_bytes());
        blob_ref(hash, escape)
    }

    /// Splits a large string into literals and blob references.
    fn segments(&mut self, s: &str) -> Vec<Segment> {
        let whole = |reference: BlobRef| {
            vec![Segment {
                kind: Some(segment::Kind::Blob(reference)),
            }]
        };
        if !looks_like_json(s) {
            return whole(self.blob(s.as_bytes(), Escape::Raw));
        }
        let pieces = split_json_literals(s);
        if !pieces.iter().any(|p| matches!(p, Piece::Text(..))) {
            // JSON without long strings (tool definitions, say): the whole
            // value is the unit that repeats.
            return whole(self.blob(s.as_bytes(), Escape::Raw));
        }
        let mut segments = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let kind = match piece {
                Piece::Literal(text) => segment::Kind::Literal(text.to_owned()),
                Piece::Text(text, escape) => segment::Kind::Blob(self.owned_blob(text, escape)),
            };
            segments.push(Segment { kind: Some(kind) });
        }
        segments
    }
}

fn blob_ref(hash: BlobHash, escape: Escape) -> BlobRef {
    BlobRef {
        hash: hash.to_vec(),
        escape: escape as u32,
    }
}

fn looks_like_json(s: &str) -> bool {
    matches!(s.trim_start().as_bytes().first(), Some(b'[' | b'{'))
}

enum Piece<'a> {
    Literal(&'a str),
    /// An unescaped string literal and how it was escaped.
    Text(String, Escape),
}

/// Cuts `s` at the long JSON string literals it contains. Literals between
/// them stay as they are; the cut points are ASCII quotes, so every literal
/// piece is valid UTF-8.
fn split_json_literals(s: &str) -> Vec<Piece<'_>> {
    let bytes = s.as_bytes();
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'"', &bytes[i..]) {
        let open = i + offset;
        let Some(close) = closing_quote(bytes, open + 1) else {
            break;
        };
        let body = &s[open + 1..close];
        if let Some((text, escape)) = long_unescaped(body) {
            if literal_start < open + 1 {
                pieces.push(Piece::Literal(&s[literal_start..open + 1]));
            }
            pieces.push(Piece::Text(text, escape));
            literal_start = close;
        }
        i = close + 1;
    }
    if literal_start < s.len() {
        pieces.push(Piece::Literal(&s[literal_start..]));
    }
    pieces
}

/// Index of the quote that ends a string literal whose body starts at `from`.
fn closing_quote(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The text of a long literal body and the escaping that reproduces it exactly.
fn long_unescaped(body: &str) -> Option<(String, Escape)> {
    if body.len() < MIN_BLOB_BYTES {
        return None;
    }
    let (text, escape) = unescape(body)?;
    (text.len() >= MIN_BLOB_BYTES).then_some((text, escape))
}

/// Which of the escaping styles are still consistent with what was read.
#[derive(Clone, Copy)]
struct Styles {
    json: bool,
    ascii: bool,
    html: bool,
}

impl Styles {
    fn first(self) -> Option<Escape> {
        if self.json {
            Some(Escape::Json)
        } else if self.ascii {
            Some(Escape::JsonAscii)
        } else if self.html {
            Some(Escape::JsonHtml)
        } else {
            None
        }
    }
}

/// Unescapes a JSON string literal's body in one pass, working out which
/// escaping style ([`escape_json`]) produces it exactly, byte for byte.
/// `None` when no style does (or the body is not valid JSON): the literal
/// then stays as it is.
fn unescape(body: &str) -> Option<(String, Escape)> {
    let mut styles = Styles {
        json: true,
        ascii: true,
        html: true,
    };
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        // Prose is mostly bytes that every style writes as they are: copy
        // those in runs, and look at the others one character at a time.
        let run = rest
            .bytes()
            .position(|b| !is_plain(b))
            .unwrap_or(rest.len());
        out.push_str(&rest[..run]);
        rest = &rest[run..];
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            break;
        };
        if c != '\\' {
            match c {
                '"' => return None,
                c if (c as u32) < 0x20 => return None,
                '<' | '>' | '&' => styles.html = false,
                '\u{2028}' | '\u{2029}' => {
                    styles.html = false;
                    styles.ascii = false;
                }
                c if !c.is_ascii() => styles.ascii = false,
                _ => {}
            }
            out.push(c);
            rest = chars.as_str();
            continue;
        }
        let decoded = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'u' => {
                let c = unicode_escape(&mut chars)?;
                classify_unicode_escape(c, &mut styles)?;
                c
            }
            _ => return None,
        };
        out.push(decoded);
        rest = chars.as_str();
    }
    Some((out, styles.first()?))
}

/// An ASCII byte that every escaping style writes as itself.
fn is_plain(byte: u8) -> bool {
    (0x20..0x80).contains(&byte) && !matches!(byte, b'"' | b'\\' | b'<' | b'>' | b'&')
}

/// Reads the four lower-case hex digits of a `\u` escape, and a second
/// escape when the first is a high surrogate.
fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Option<char> {
    let first = hex4(chars)?;
    if (0xD800..0xDC00).contains(&first) {
        if chars.next()? != '\\' || chars.next()? != 'u' {
            return None;
        }
        let second = hex4(chars)?;
        if !(0xDC00..0xE000).contains(&second) {
            return None;
        }
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        return char::from_u32(code);
    }
    char::from_u32(first)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        // Every style writes lower-case hex; upper case reproduces in none.
        let digit = chars.next()?;
        let nibble = match digit {
            '0'..='9' => digit as u32 - '0' as u32,
            'a'..='f' => digit as u32 - 'a' as u32 + 10,
            _ => return None,
        };
        value = value * 16 + nibble;
    }
    Some(value)
}

/// Which styles write `c` as a `\u` escape; `None` when none does.
fn classify_unicode_escape(c: char, styles: &mut Styles) -> Option<()> {
    match c {
        '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => return None,
        c if (c as u32) < 0x20 => {}
        '<' | '>' | '&' => {
            styles.json = false;
            styles.ascii = false;
        }
        '\u{2028}' | '\u{2029}' => styles.json = false,
        c if !c.is_ascii() => {
            styles.json = false;
            styles.html = false;
        }
        _ => return None,
    }
    (styles.json || styles.ascii || styles.html).then_some(())
}

/// Why a stored value could not be turned back into a domain value.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] prost::DecodeError),
    #[error("blob {} is missing from the store", const_hex::encode(.0))]
    MissingBlob(Vec<u8>),
    #[error("blob {} is not valid UTF-8 text", const_hex::encode(.0))]
    NotText(Vec<u8>),
    #[error("stored record has an invalid {0}")]
    Invalid(&'static str),
    #[error("unknown escape mode {0} in a stored value")]
    UnknownEscape(u32),
}

/// Lists the blob hashes a stored value references.
pub fn collect_hashes(value: &StoredValue, out: &mut Vec<Vec<u8>>) {
    use stored_value::Kind;
    match &value.kind {
        Some(Kind::Text(text)) => {
            for segment in &text.segments {
                if let Some(segment::Kind::Blob(blob)) = &segment.kind {
                    out.push(blob.hash.clone());
                }
            }
        }
        Some(Kind::BytesRef(blob)) => out.push(blob.hash.clone()),
        Some(Kind::Array(array)) => {
            for v in &array.values {
                collect_hashes(v, out);
            }
        }
        Some(Kind::KvList(list)) => collect_kv_hashes(&list.values, out),
        _ => {}
    }
}

pub fn collect_kv_hashes(kvs: &[StoredKeyValue], out: &mut Vec<Vec<u8>>) {
    for kv in kvs {
        if let Some(value) = &kv.value {
            collect_hashes(value, out);
        }
    }
}

/// Rebuilds domain values from stored ones, given the referenced blobs.
pub struct Decoder<'a> {
    pub blobs: &'a HashMap<Vec<u8>, Vec<u8>>,
}

impl Decoder<'_> {
    pub fn value(&self, value: &StoredValue) -> Result<Value, DecodeError> {
        use stored_value::Kind;
        Ok(match &value.kind {
            None => Value::Empty,
            Some(Kind::String(s)) => Value::String(s.clone()),
            Some(Kind::Bool(b)) => Value::Bool(*b),
            Some(Kind::Int(i)) => Value::Int(*i),
            Some(Kind::Double(d)) => Value::Double(*d),
            Some(Kind::Bytes(b)) => Value::Bytes(b.clone()),
            Some(Kind::BytesRef(blob)) => Value::Bytes(self.blob(&blob.hash)?.to_vec()),
            Some(Kind::Array(array)) => Value::Array(
                array
                    .values
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Some(Kind::KvList(list)) => Value::KvList(self.key_values(&list.values)?),
            Some(Kind::Text(text)) => Value::String(self.text(text)?),
        })
    }

    pub fn attributes(&self, kvs: &[StoredKeyValue]) -> Result<Attributes, DecodeError> {
        Ok(Attributes(self.key_values(kvs)?))
    }

    fn key_values(&self, kvs: &[StoredKeyValue]) -> Result<Vec<KeyValue>, DecodeError> {
        let mut out = Vec::with_capacity(kvs.len());
        for kv in kvs {
            let value = match &kv.value {
                Some(v) => self.value(v)?,
                None => Value::Empty,
            };
            out.push(KeyValue::new(kv.key.clone(), value));
        }
        Ok(out)
    }

    fn blob(&self, hash: &[u8]) -> Result<&[u8], DecodeError> {
        self.blobs
            .get(hash)
            .map(Vec::as_slice)
            .ok_or_else(|| DecodeError::MissingBlob(hash.to_vec()))
    }

    fn text(&self, text: &StoredText) -> Result<String, DecodeError> {
        let mut out = String::new();
        for segment in &text.segments {
            match &segment.kind {
                Some(segment::Kind::Literal(s)) => out.push_str(s),
                Some(segment::Kind::Blob(blob)) => {
                    let bytes = self.blob(&blob.hash)?;
                    let content = std::str::from_utf8(bytes)
                        .map_err(|_| DecodeError::NotText(blob.hash.clone()))?;
                    let escape = Escape::from_u32(blob.escape)
                        .ok_or(DecodeError::UnknownEscape(blob.escape))?;
                    escape.apply(content, &mut out);
                }
                None => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: &Value) -> (Value, Encoder) {
        let mut encoder = Encoder::new();
        let stored = encoder.value(value);
        let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
            .blobs
            .iter()
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect();
        let decoded = Decoder { blobs: &blobs }.value(&stored).expect("decodes");
        (decoded, encoder)
    }

    fn long(text: &str) -> String {
        text.repeat(MIN_BLOB_BYTES / text.len() + 1)
    }

    #[test]
    fn json_conversation_shares_message_blobs_with_plain_text() {
        let answer = long("Whisk two eggs, add salt. ");
        let messages = serde_json::json!([
            {"role": "user", "parts": [{"type": "text", "content": long("How do I make an omelette? ")}]},
            {"role": "assistant", "parts": [{"type": "text", "content": answer}]},
        ]);
        let value = Value::String(messages.to_string());
        let (decoded, encoder) = round_trip(&value);
        assert_eq!(decoded, value);
        assert!(encoder.blobs.contains_key(&blob_hash(answer.as_bytes())));
        assert_eq!(encoder.blobs.len(), 2);
    }

    #[test]
    fn python_and_go_escaping_round_trip_exactly() {
        let text = long("Ünïcödé \"quoted\" <b>&</b>\n\ttab 😀 ");
        let python_style = {
            let mut s = String::from("[\"");
            Escape::JsonAscii.apply(&text, &mut s);
            s.push_str("\"]");
            s
        };
        let go_style = {
            let mut s = String::from("{\"k\": \"");
            Escape::JsonHtml.apply(&text, &mut s);
            s.push_str("\"}");
            s
        };
        for json in [python_style, go_style] {
            let value = Value::String(json);
            let (decoded, encoder) = round_trip(&value);
            assert_eq!(decoded, value);
            assert!(encoder.blobs.contains_key(&blob_hash(text.as_bytes())));
        }
    }

    #[test]
    fn unusual_escapes_are_kept_literally_and_still_exact() {
        // Upper-case hex escapes match no known encoder: kept as a literal.
        let body = long("caf\\u00E9 ");
        let value = Value::String(format!("[\"{body}\"]"));
        let (decoded, _) = round_trip(&value);
        assert_eq!(decoded, value);
    }

    #[test]
    fn invalid_json_and_plain_text_round_trip() {
        for text in [
            long("plain prose "),
            format!("[\"{}", long("unterminated ")),
        ] {
            let value = Value::String(text);
            let (decoded, _) = round_trip(&value);
            assert_eq!(decoded, value);
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_unescaping_agrees_with_every_escaping_style(text in "\\PC{0,40}[\\x00-\\x1f<>&\u{2028}\u{e9}\u{1f600}\"\\\\]{0,8}\\PC{0,20}") {
            for style in [Escape::Json, Escape::JsonAscii, Escape::JsonHtml] {
                let mut body = String::new();
                style.apply(&text, &mut body);
                let (back, found) = unescape(&body).expect("a style reproduces it");
                proptest::prop_assert_eq!(&back, &text);
                let mut again = String::new();
                found.apply(&back, &mut again);
                proptest::prop_assert_eq!(again, body);
            }
        }
    }

    #[test]
    fn escapes_no_style_writes_are_left_alone() {
        for body in ["a\\/b", "caf\\u00E9", "\\u0041", "tab\\u0009", "x\\ud800"] {
            assert!(unescape(body).is_none(), "{body}");
        }
    }

    #[test]
    fn large_bytes_become_a_blob() {
        let value = Value::Bytes(vec![7u8; 500]);
        let (decoded, encoder) = round_trip(&value);
        assert_eq!(decoded, value);
        assert_eq!(encoder.blobs.len(), 1);
    }

    mod properties {
        //! Round trips through the whole stored form: `Encoder`, prost bytes,
        //! `Decoder`. The strings that matter most are JSON documents whose
        //! long literals were escaped by real encoders, so the strategies
        //! build those with escapers written here independently of
        //! [`Escape`]: serde_json itself, Python's `json.dumps` rules and
        //! Go's `encoding/json` rules.

        use super::*;
        use proptest::prelude::*;
        use prost::Message as _;

        /// Python's `ensure_ascii`: everything outside printable ASCII as `\uXXXX`.
        fn python_escaped(text: &str) -> String {
            let mut out = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    ' '..='~' => out.push(c),
                    c => {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
            out.push('"');
            out
        }

        /// Go's `json.Marshal`: serde_json's escaping plus HTML-safe characters.
        fn go_escaped(text: &str) -> String {
            serde_json::to_string(text)
                .expect("a string serializes")
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
        }

        /// Text that every style can reproduce exactly. DEL (U+007F) is left
        /// out: Python escapes it and the `JsonAscii` mode does not, so such
        /// a literal is kept inline (still exact, only not shared).
        fn message_text() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9 .,!?\"\\\\<>&\n\t\u{1}\u{1f}é中😀\u{2028}]{1,40}"
                .prop_map(|text| text.repeat(MIN_BLOB_BYTES / text.len() + 1))
        }

        #[derive(Clone, Debug)]
        enum Style {
            Serde,
            Python,
            Go,
        }

        fn escaped(text: &str, style: &Style) -> String {
            match style {
                Style::Serde => serde_json::to_string(text).expect("a string serializes"),
                Style::Python => python_escaped(text),
                Style::Go => go_escaped(text),
            }
        }

        fn style() -> impl Strategy<Value = Style> {
            prop_oneof![Just(Style::Serde), Just(Style::Python), Just(Style::Go)]
        }

        /// A chat as one JSON string attribute, each message escaped in its
        /// own style, and the texts it carries.
        fn json_conversation() -> impl Strategy<Value = (String, Vec<String>)> {
            prop::collection::vec((message_text(), style(), "[a-z]{0,8}"), 1..5).prop_map(
                |messages| {
                    let mut json = String::from("[");
                    let mut texts = Vec::new();
                    for (i, (text, style, role)) in messages.into_iter().enumerate() {
                        if i > 0 {
                            json.push_str(", ");
                        }
                        json.push_str(&format!(
                            "{{\"role\": \"{role}\", \"content\": {}}}",
                            escaped(&text, &style)
                        ));
                        texts.push(text);
                    }
                    json.push(']');
                    (json, texts)
                },
            )
        }

        /// Strings the splitter must not get wrong: anything at all, long
        /// prose, JSON of real encoders, and JSON-looking text with odd or
        /// broken escapes and unterminated literals.
        fn any_string() -> impl Strategy<Value = String> {
            let odd_escapes = prop::collection::vec(
                prop_oneof![
                    message_text(),
                    Just("\\u00E9".to_owned()),
                    Just("\\ud83d\\ude00".to_owned()),
                    Just("\\ud800".to_owned()),
                    Just("\\/".to_owned()),
                    Just("\\".to_owned()),
                    Just("\"".to_owned()),
                    Just("\\u007f".to_owned()),
                ],
                1..6,
            )
            .prop_map(|pieces| format!("{{\"k\": \"{}\"}}", pieces.concat()));
            prop_oneof![
                any::<String>(),
                message_text(),
                json_conversation().prop_map(|(json, _)| json),
                odd_escapes,
            ]
        }

        fn double() -> impl Strategy<Value = f64> {
            use prop::num::f64;
            // NaN round-trips too (see `nan_round_trips_bit_for_bit`), but
            // is not equal to itself, so `==` cannot compare trees holding it.
            f64::POSITIVE | f64::NEGATIVE | f64::NORMAL | f64::SUBNORMAL | f64::ZERO | f64::INFINITE
        }

        fn any_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Empty),
                any_string().prop_map(Value::String),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::Int),
                double().prop_map(Value::Double),
                prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(("[a-z._]{0,12}", inner), 0..6).prop_map(|kvs| {
                        Value::KvList(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
                    }),
                ]
            })
        }

        /// Encodes, serializes with prost, parses and decodes.
        fn through_storage(value: &Value) -> (Value, Encoder) {
            let mut encoder = Encoder::new();
            let bytes = encoder.value(value).encode_to_vec();
            let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
                .blobs
                .iter()
                .map(|(k, v)| (k.to_vec(), v.clone()))
                .collect();
            let stored = StoredValue::decode(bytes.as_slice()).expect("stored bytes parse");
            let decoded = Decoder { blobs: &blobs }.value(&stored).expect("decodes");
            (decoded, encoder)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_value_round_trips_exactly(value in any_value()) {
                let (decoded, _) = through_storage(&value);
                prop_assert_eq!(decoded, value);
            }

            #[test]
            fn every_referenced_blob_is_handed_to_the_caller(value in any_value()) {
                let mut encoder = Encoder::new();
                let stored = encoder.value(&value);
                let mut hashes = Vec::new();
                collect_hashes(&stored, &mut hashes);
                for hash in hashes {
                    let hash: BlobHash = hash.as_slice().try_into().expect("16-byte hash");
                    prop_assert!(encoder.blobs.contains_key(&hash));
                }
            }

            #[test]
            fn escaped_message_texts_become_blobs_of_their_plain_text(
                (json, texts) in json_conversation(),
            ) {
                let value = Value::String(json);
                let (decoded, encoder) = through_storage(&value);
                prop_assert_eq!(&decoded, &value);
                for text in texts {
                    prop_assert!(
                        encoder.blobs.contains_key(&blob_hash(text.as_bytes())),
                        "no blob of {:?}", text
                    );
                }
            }
        }

        #[test]
        fn nan_round_trips_bit_for_bit() {
            let nan = f64::from_bits(0x7ff8_0000_0000_0001);
            let (decoded, _) = through_storage(&Value::Double(nan));
            let Value::Double(back) = decoded else {
                panic!("a double comes back as a double, got {decoded:?}");
            };
            assert_eq!(back.to_bits(), nan.to_bits());
        }
    }
}
