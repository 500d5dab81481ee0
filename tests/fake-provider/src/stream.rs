//! Server-sent event streams with pacing and scripted breakage.
//!
//! The API modules turn an answer into a list of [`SseEvent`]s; this module
//! turns that list into a list of [`Step`]s (bytes to send after a delay,
//! or "close the connection now") and the steps into a response body. The
//! failure module edits the steps to break a stream part-way.

use std::time::Duration;

use axum::body::{Body, Bytes};

use super::server::ConnectionControl;

/// One event of a stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SseEvent {
    /// The `event:` line (Anthropic names every event; OpenAI none).
    pub name: Option<&'static str>,
    /// The `data:` payload, one line.
    pub data: String,
    /// Whether this event carries content (a text or argument delta): only
    /// those are paced by `chunk_delay_ms`, as a model's tokens are.
    pub is_content: bool,
}

impl SseEvent {
    pub(crate) fn data(data: String) -> Self {
        Self {
            name: None,
            data,
            is_content: false,
        }
    }

    pub(crate) fn named(name: &'static str, data: String) -> Self {
        Self {
            name: Some(name),
            data,
            is_content: false,
        }
    }

    pub(crate) fn content(mut self) -> Self {
        self.is_content = true;
        self
    }

    pub(crate) fn to_bytes(&self) -> Bytes {
        let mut text = String::with_capacity(self.data.len() + 32);
        if let Some(name) = self.name {
            text.push_str("event: ");
            text.push_str(name);
            text.push('\n');
        }
        text.push_str("data: ");
        text.push_str(&self.data);
        text.push_str("\n\n");
        Bytes::from(text)
    }
}

/// One thing the body does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    /// Wait `delay`, then send `bytes`.
    Send { delay: Duration, bytes: Bytes },
    /// Close the connection with no further byte.
    CloseConnection,
}

/// The steps of a well-behaved stream: `chunk_delay` before every content
/// event except the first, so content arrives at the configured pace.
pub(crate) fn paced_steps(events: &[SseEvent], chunk_delay: Duration) -> Vec<Step> {
    let mut steps = Vec::with_capacity(events.len());
    let mut seen_content = false;
    for event in events {
        let mut delay = Duration::ZERO;
        if event.is_content {
            if seen_content {
                delay = chunk_delay;
            }
            seen_content = true;
        }
        steps.push(Step::Send {
            delay,
            bytes: event.to_bytes(),
        });
    }
    steps
}

/// Splits `text` into pieces of `words_per_piece` words, each piece
/// carrying the whitespace that follows its words, so the pieces
/// concatenate back to exactly `text`.
pub(crate) fn split_words(text: &str, words_per_piece: usize) -> Vec<&str> {
    let words_per_piece = words_per_piece.max(1);
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut words_in_piece = 0;
    let mut in_word = false;
    for (index, character) in text.char_indices() {
        if character.is_whitespace() {
            in_word = false;
            continue;
        }
        if !in_word {
            in_word = true;
            if words_in_piece == words_per_piece {
                pieces.push(&text[piece_start..index]);
                piece_start = index;
                words_in_piece = 0;
            }
            words_in_piece += 1;
        }
    }
    if piece_start < text.len() {
        pieces.push(&text[piece_start..]);
    }
    pieces
}

/// Splits `text` into pieces of at most `chars_per_piece` characters (tool
/// arguments are streamed in fragments that are not valid JSON alone).
pub(crate) fn split_chars(text: &str, chars_per_piece: usize) -> Vec<&str> {
    let chars_per_piece = chars_per_piece.max(1);
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    let mut count = 0;
    for (index, _) in text.char_indices() {
        if count == chars_per_piece {
            pieces.push(&text[piece_start..index]);
            piece_start = index;
            count = 0;
        }
        count += 1;
    }
    if piece_start < text.len() {
        pieces.push(&text[piece_start..]);
    }
    pieces
}

/// A response body that plays `steps`. Closing the connection needs the
/// connection's control; without one (a router driven in-process) the body
/// fails instead, which makes hyper abort the response just the same.
pub(crate) fn body(steps: Vec<Step>, connection: Option<ConnectionControl>) -> Body {
    let state = (steps.into_iter(), connection);
    let stream = futures::stream::unfold(state, |(mut steps, connection)| async move {
        match steps.next()? {
            Step::Send { delay, bytes } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok(bytes), (steps, connection)))
            }
            Step::CloseConnection => {
                let Some(control) = connection else {
                    let error =
                        std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "scripted drop");
                    return Some((Err(error), (steps, None)));
                };
                // Let hyper flush what was already sent before the socket goes.
                tokio::time::sleep(Duration::from_millis(10)).await;
                control.close();
                // The connection task drops this body with the connection.
                std::future::pending::<()>().await;
                None
            }
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn split_words_keeps_every_character() {
        let text = "  Hello there,  general\tKenobi! \n";
        for size in 1..5 {
            let pieces = split_words(text, size);
            assert_eq!(pieces.concat(), text, "size {size}");
        }
        assert_eq!(split_words("a b c d e", 2), vec!["a b ", "c d ", "e"]);
        assert!(split_words("", 3).is_empty());
    }

    #[test]
    fn split_chars_respects_char_boundaries() {
        let text = "{\"city\":\"Zürich\"}";
        let pieces = split_chars(text, 4);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|piece| piece.chars().count() <= 4));
    }

    #[test]
    fn only_content_after_the_first_is_delayed() {
        let events = vec![
            SseEvent::named("start", "{}".to_string()),
            SseEvent::data("a".to_string()).content(),
            SseEvent::data("b".to_string()).content(),
            SseEvent::data("[DONE]".to_string()),
        ];
        let delays: Vec<Duration> = paced_steps(&events, Duration::from_millis(7))
            .into_iter()
            .map(|step| match step {
                Step::Send { delay, .. } => delay,
                Step::CloseConnection => Duration::MAX,
            })
            .collect();
        let seven = Duration::from_millis(7);
        assert_eq!(
            delays,
            vec![Duration::ZERO, Duration::ZERO, seven, Duration::ZERO]
        );
    }

    #[test]
    fn named_event_has_event_and_data_lines() {
        let event = SseEvent::named("ping", r#"{"type": "ping"}"#.to_string());
        assert_eq!(
            &event.to_bytes()[..],
            b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
        );
    }
}
