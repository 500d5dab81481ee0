//! A streamed answer, read as its bytes arrive: Server-Sent Events parsed
//! incrementally, each event's data fed to the target format's
//! [`StreamAssembler`] and kept raw, under the idle timeout, the deadline
//! and the size cap. Time to first token is taken at the first event that
//! carries output.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::Value as Json;
use tokio::time::timeout_at;

use super::ProviderError;
use super::send::{
    Attempt, MAX_RESPONSE_BYTES, ProviderResponse, elapsed_ms, error_chain, provider_response,
    truncate,
};
use crate::providers::sse::{SseEvent, SseParser};
use crate::providers::wire::{RecordedResponse, StreamAssembler};

impl Attempt<'_> {
    pub(super) async fn read_stream<S: StreamAssembler>(
        &self,
        response: reqwest::Response,
        started: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<ProviderResponse, ProviderError> {
        let mut parser = SseParser::default();
        let mut reader = StreamReader::<S>::new(started);
        let mut bytes = response.bytes_stream();
        let idle = Duration::from_millis(self.target.idle_timeout_ms);
        let mut received_bytes = 0usize;
        loop {
            let idle_deadline = tokio::time::Instant::now() + idle;
            let wait_until = idle_deadline.min(deadline);
            let next = match timeout_at(wait_until, bytes.next()).await {
                Ok(next) => next,
                Err(_) if wait_until == deadline => {
                    return Err(self.timeout("reading the stream", self.target.request_timeout_ms));
                }
                Err(_) => {
                    return Err(self.timeout(
                        "waiting for the next stream event",
                        self.target.idle_timeout_ms,
                    ));
                }
            };
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(error)) => {
                    return Err(ProviderError::StreamCut {
                        url: self.url.clone(),
                        events: reader.raw.len(),
                        reason: self.redact(&error_chain(&error)),
                    });
                }
            };
            received_bytes += chunk.len();
            if received_bytes > MAX_RESPONSE_BYTES {
                return Err(self.malformed("event stream", "the stream is larger than 64 MiB"));
            }
            let events = parser
                .feed(&chunk)
                .map_err(|error| self.malformed("event stream", &error.to_string()))?;
            for event in events {
                self.take_event(&mut reader, &event)?;
            }
        }
        if let Some(event) = parser.finish() {
            self.take_event(&mut reader, &event)?;
        }
        let latency_ms = elapsed_ms(started);
        if !reader.assembler.is_complete() {
            return Err(ProviderError::StreamCut {
                url: self.url.clone(),
                events: reader.raw.len(),
                reason: "the server closed the stream before its final event".to_owned(),
            });
        }
        let StreamReader {
            assembler,
            ttft_ms,
            raw,
            ..
        } = reader;
        let parsed = assembler
            .finish()
            .map_err(|error| self.malformed("stream", &error.to_string()))?;
        Ok(provider_response(
            parsed,
            latency_ms,
            ttft_ms,
            true,
            RecordedResponse::Stream(raw),
        ))
    }

    fn take_event<S: StreamAssembler>(
        &self,
        reader: &mut StreamReader<S>,
        event: &SseEvent,
    ) -> Result<(), ProviderError> {
        let data = event.data.trim();
        let value = if data == "[DONE]" {
            Json::String(data.to_owned())
        } else {
            serde_json::from_str(data).map_err(|error| {
                self.malformed(
                    "stream event",
                    &format!("{error} in `{}`", truncate(data, 200)),
                )
            })?
        };
        reader.push(value);
        match reader.assembler.error() {
            Some(error) => Err(self.provider_error(error)),
            None => Ok(()),
        }
    }
}

/// The target format's stream assembler, plus timing and the raw events.
struct StreamReader<S> {
    assembler: S,
    started: Instant,
    ttft_ms: Option<f64>,
    raw: Vec<Json>,
}

impl<S: StreamAssembler> StreamReader<S> {
    fn new(started: Instant) -> Self {
        Self {
            assembler: S::default(),
            started,
            ttft_ms: None,
            raw: Vec::new(),
        }
    }

    fn push(&mut self, value: Json) {
        let carried_output = self.assembler.push(&value);
        if carried_output && self.ttft_ms.is_none() {
            self.ttft_ms = Some(elapsed_ms(self.started));
        }
        self.raw.push(value);
    }
}
