//! Long JSON string literals: cutting a JSON text at them, unescaping
//! their bodies, and the escaping style that writes each back byte for
//! byte.

use super::*;

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
    pub(super) fn from_u32(value: u32) -> Option<Escape> {
        match value {
            0 => Some(Escape::Raw),
            1 => Some(Escape::Json),
            2 => Some(Escape::JsonAscii),
            3 => Some(Escape::JsonHtml),
            _ => None,
        }
    }

    pub(super) fn apply(self, text: &str, out: &mut String) {
        match self {
            Escape::Raw => out.push_str(text),
            Escape::Json => escape_json(text, out, false, false),
            Escape::JsonAscii => escape_json(text, out, true, false),
            Escape::JsonHtml => escape_json(text, out, false, true),
        }
    }
}

pub(super) fn escape_json(text: &str, out: &mut String, ascii_only: bool, html_safe: bool) {
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

pub(super) fn looks_like_json(s: &str) -> bool {
    matches!(s.trim_start().as_bytes().first(), Some(b'[' | b'{'))
}

pub(super) enum Piece<'a> {
    Literal(&'a str),
    /// An unescaped string literal and how it was escaped.
    Text(String, Escape),
}

/// Cuts `s` at the long JSON string literals it contains. Literals between
/// them stay as they are; the cut points are ASCII quotes, so every literal
/// piece is valid UTF-8.
pub(super) fn split_json_literals(s: &str) -> Vec<Piece<'_>> {
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
pub(super) fn closing_quote(bytes: &[u8], from: usize) -> Option<usize> {
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
pub(super) fn long_unescaped(body: &str) -> Option<(String, Escape)> {
    if body.len() < MIN_BLOB_BYTES {
        return None;
    }
    let (text, escape) = unescape(body)?;
    (text.len() >= MIN_BLOB_BYTES).then_some((text, escape))
}

/// Which of the escaping styles are still consistent with what was read.
#[derive(Clone, Copy)]
pub(super) struct Styles {
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
pub(super) fn unescape(body: &str) -> Option<(String, Escape)> {
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
pub(super) fn is_plain(byte: u8) -> bool {
    (0x20..0x80).contains(&byte) && !matches!(byte, b'"' | b'\\' | b'<' | b'>' | b'&')
}

/// Reads the four lower-case hex digits of a `\u` escape, and a second
/// escape when the first is a high surrogate.
pub(super) fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Option<char> {
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

pub(super) fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
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
pub(super) fn classify_unicode_escape(c: char, styles: &mut Styles) -> Option<()> {
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
