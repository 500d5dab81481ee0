//! An incremental Server-Sent Events parser, per the WHATWG
//! `text/event-stream` rules, for streamed provider answers.
//!
//! Bytes arrive in whatever pieces the network cut them into: an event, a
//! line, a UTF-8 character or a CRLF pair may be split across two reads.
//! [`SseParser::feed`] keeps the unfinished tail and returns the events that
//! became complete. Lines end in LF, CRLF or a lone CR; lines starting with
//! `:` are comments (keep-alives); several `data:` lines of one event are
//! joined with `\n`; an event is dispatched at a blank line, and one with no
//! data is not dispatched at all. A line longer than the parser's limit is
//! an error, so a server that never ends a line cannot fill memory.

use std::mem;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error(
        "a stream line exceeded {max_line_bytes} bytes without ending; the server is not sending Server-Sent Events"
    )]
    LineTooLong { max_line_bytes: usize },
}

/// Parses a byte stream into events, one chunk at a time.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of the line being read (kept as bytes so a UTF-8 character
    /// split between reads is decoded whole).
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF starting the next one belongs to
    /// the same line break.
    after_cr: bool,
    at_start: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    max_line_bytes: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(16 << 20)
    }
}

impl SseParser {
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            max_line_bytes,
        }
    }

    /// Feeds the next bytes; returns the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            if mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => {
                    if self.line.len() >= self.max_line_bytes {
                        return Err(SseError::LineTooLong {
                            max_line_bytes: self.max_line_bytes,
                        });
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(events)
    }

    /// Ends the stream. An event not closed by a blank line is dispatched
    /// too: providers' last event is sometimes followed by the connection
    /// closing instead (the WHATWG rules would discard it, but losing the
    /// final event of an answer is worse than keeping it).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.end_line(&mut events);
        events.pop()
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let raw = mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&raw).into_owned();
        if mem::take(&mut self.at_start)
            && let Some(rest) = line.strip_prefix('\u{feff}')
        {
            line = rest.to_owned();
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !mem::take(&mut self.has_data) {
            return;
        }
        events.push(SseEvent {
            event,
            data: mem::take(&mut self.data),
            id: self.id.clone(),
        });
    }
}

/// Splits a whole recorded `text/event-stream` body into events.
pub fn parse_text(text: &str) -> Result<Vec<SseEvent>, SseError> {
    let mut parser = SseParser::default();
    let mut events = parser.feed(text.as_bytes())?;
    events.extend(parser.finish());
    Ok(events)
}

/// The `data` of each event of a recorded stream as JSON, ready for
/// [`super::wire::parse_stream`]: JSON data is parsed, anything else (such
/// as OpenAI's `[DONE]`) is kept as a string.
pub fn data_values(text: &str) -> Result<Vec<serde_json::Value>, SseError> {
    let mut values = Vec::new();
    for event in parse_text(text)? {
        let value = serde_json::from_str(&event.data)
            .unwrap_or_else(|_| serde_json::Value::String(event.data.clone()));
        values.push(value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = ": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: line one\ndata: line two\n\nevent: ping\n\ndata: é\r\rdata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into(),
                id: None,
            },
            SseEvent {
                event: None,
                data: "line one\nline two".into(),
                id: None,
            },
            SseEvent {
                event: None,
                data: "é".into(),
                id: None,
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
                id: None,
            },
        ]
    }

    #[test]
    fn whole_stream_parses_comments_crlf_cr_and_multiline_data() {
        assert_eq!(parse_text(STREAM).expect("parse"), expected());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        for split in 0..=bytes.len() {
            let mut parser = SseParser::default();
            let mut events = parser.feed(&bytes[..split]).expect("first half");
            events.extend(parser.feed(&bytes[split..]).expect("second half"));
            events.extend(parser.finish());
            assert_eq!(events, expected(), "split at byte {split}");
        }
    }

    #[test]
    fn byte_by_byte_feeding_gives_the_same_events() {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for byte in STREAM.as_bytes() {
            events.extend(parser.feed(std::slice::from_ref(byte)).expect("feed"));
        }
        events.extend(parser.finish());
        assert_eq!(events, expected());
    }

    #[test]
    fn a_last_event_without_blank_line_is_kept_at_the_end() {
        let events = parse_text("data: {\"type\":\"message_stop\"}").expect("parse");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "{\"type\":\"message_stop\"}");
    }

    #[test]
    fn an_endless_line_is_an_error() {
        let mut parser = SseParser::new(8);
        assert_eq!(
            parser.feed(b"data: 0123456789"),
            Err(SseError::LineTooLong { max_line_bytes: 8 })
        );
    }
}
