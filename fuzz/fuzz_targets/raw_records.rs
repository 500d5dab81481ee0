//! Raw provider exchanges: request and response bodies (or recorded
//! streams) of every wire format parsed into canonical calls, and the
//! Server-Sent Events parser fed the same bytes in arbitrary pieces.
//!
//! The input is used three ways: as a `text/event-stream` body; as one JSON
//! document read as a request, a response body and (when it is an array) a
//! list of streamed events in every format; and, when that document is
//! `{"request": …, "response": …}`, as a whole exchange made into a call,
//! which must then come back from its stored encoding unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprise::model::{Call, CallId, RawExchange, Source};
use reprise::providers::sse::{SseEvent, SseParser, data_values};
use reprise::providers::{RecordedResponse, WireFormat, fill_call, parse_request, parse_response};
use serde_json::Value as Json;

const FORMATS: [WireFormat; 3] = [
    WireFormat::OpenAiChat,
    WireFormat::OpenAiResponses,
    WireFormat::Anthropic,
];

/// Small enough that the fuzzer reaches the line limit.
const MAX_LINE_BYTES: usize = 1024;

fuzz_target!(|data: &[u8]| {
    sse_in_pieces(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(events) = data_values(text)
    {
        for format in FORMATS {
            let _ = parse_response(format, &RecordedResponse::Stream(events.clone()));
        }
    }
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let _ = WireFormat::detect(&json);
    for format in FORMATS {
        let _ = parse_request(format, &json);
        let _ = parse_response(format, &RecordedResponse::Body(json.clone()));
        if let Json::Array(events) = &json {
            let _ = parse_response(format, &RecordedResponse::Stream(events.clone()));
        }
        if let Some(request) = json.get("request") {
            exchange(format, request, json.get("response"));
        }
    }
});

/// A whole exchange made into a call as the raw-record path does, then
/// stored and read back.
fn exchange(format: WireFormat, request: &Json, response: Option<&Json>) {
    let recorded = response.map(|response| match response {
        Json::Array(events) => RecordedResponse::Stream(events.clone()),
        body => RecordedResponse::Body(body.clone()),
    });
    let mut call = Call::new(CallId::derived(0, b"fuzz"), Source::Raw, 0);
    if fill_call(&mut call, format, request, recorded.as_ref()).is_err() {
        return;
    }
    call.raw = Some(RawExchange {
        format: format.as_str().to_owned(),
        request: request.clone(),
        response: response.cloned(),
    });
    reprise_fuzz::check_call(&call);
}

/// Feeding the bytes whole and in pieces must give the same events: the
/// network decides where a stream is cut, not the sender.
fn sse_in_pieces(data: &[u8]) {
    let whole = parse(data, |_| data.len());
    let Ok(whole) = whole else {
        return;
    };
    let in_pieces = parse(data, |at| 1 + usize::from(data[at] % 7));
    assert_eq!(
        Ok(whole),
        in_pieces,
        "cutting the stream changed its events"
    );
}

fn parse(
    data: &[u8],
    piece_len: impl Fn(usize) -> usize,
) -> Result<Vec<SseEvent>, reprise::providers::sse::SseError> {
    let mut parser = SseParser::new(MAX_LINE_BYTES);
    let mut events = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let end = (at + piece_len(at)).min(data.len());
        events.extend(parser.feed(&data[at..end])?);
        at = end;
    }
    events.extend(parser.finish());
    Ok(events)
}
