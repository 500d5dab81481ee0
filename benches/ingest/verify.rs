//! A cheap correctness check after the run: a sample of traces is read
//! back through `GET /api/v1/traces/{trace_id}` and every span that was
//! sent in them must be there. Fast numbers mean nothing if data is lost.
//! Their calls are counted too (`GET /api/v1/calls?trace_id=`), against
//! the model-call spans sent: that is reported rather than enforced, since
//! which spans a convention turns into calls is the server's to decide
//! and the figure to watch, not a loss.

use std::collections::HashSet;

use serde_json::Value;

use crate::backlog;
use crate::error::BenchError;
use crate::traffic::SampledTrace;

/// The most calls one page of the calls API holds.
const MAX_PAGE: usize = 1000;

pub struct Verified {
    pub traces: usize,
    pub spans: usize,
    /// Model-call spans sent in the sampled traces.
    pub calls_expected: usize,
    /// Calls the server lists for them.
    pub calls_found: usize,
}

pub async fn read_back(base_url: &str, samples: &[SampledTrace]) -> Result<Verified, BenchError> {
    let client = reqwest::Client::new();
    // A restarted server may still be deriving what it had appended
    // before it stopped.
    backlog::wait_until_drained(&client, base_url).await?;
    let mut verified = Verified {
        traces: 0,
        spans: 0,
        calls_expected: 0,
        calls_found: 0,
    };
    for sample in samples {
        let stored = stored_span_ids(&client, base_url, &sample.trace_id).await?;
        for span_id in &sample.span_ids {
            if !stored.contains(span_id) {
                return Err(BenchError::Verify {
                    trace_id: sample.trace_id.clone(),
                    message: format!(
                        "span {span_id} was acknowledged but is not stored ({} of {} spans found)",
                        stored.len(),
                        sample.span_ids.len()
                    ),
                });
            }
        }
        verified.traces += 1;
        verified.spans += sample.span_ids.len();
        verified.calls_expected += sample.llm_calls;
        verified.calls_found += calls_in_trace(&client, base_url, &sample.trace_id, MAX_PAGE)
            .await
            .map_err(|message| BenchError::Verify {
                trace_id: sample.trace_id.clone(),
                message,
            })?;
    }
    Ok(verified)
}

/// How many calls `GET /api/v1/calls?trace_id=` lists for a trace, up to
/// `limit`.
pub async fn calls_in_trace(
    client: &reqwest::Client,
    base_url: &str,
    trace_id: &str,
    limit: usize,
) -> Result<usize, String> {
    let url = format!("{base_url}/api/v1/calls?trace_id={trace_id}&limit={limit}");
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer of GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}: {text}"));
    }
    let page: Value =
        serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON: {e}"))?;
    page.get("calls")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| "the answer has no `calls` array".to_owned())
}

async fn stored_span_ids(
    client: &reqwest::Client,
    base_url: &str,
    trace_id: &str,
) -> Result<HashSet<String>, BenchError> {
    let failed = |message: String| BenchError::Verify {
        trace_id: trace_id.to_owned(),
        message,
    };
    let url = format!("{base_url}/api/v1/traces/{trace_id}");
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| failed(format!("GET {url}: {e}")))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| failed(format!("reading the answer: {e}")))?;
    if !status.is_success() {
        return Err(failed(format!("GET {url} answered {status}: {text}")));
    }
    let trace: Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("the answer is not JSON: {e}")))?;
    let Some(spans) = trace.get("spans").and_then(Value::as_array) else {
        return Err(failed("the answer has no `spans` array".into()));
    };
    let mut ids = HashSet::with_capacity(spans.len());
    for span in spans {
        if let Some(id) = span.get("span_id").and_then(Value::as_str) {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids)
}
