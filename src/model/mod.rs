//! Domain types, free of I/O: ids, attribute values, spans and log records as
//! received, and the canonical LLM call that normalization produces.
//!
//! Everything the receivers decode becomes these types before anything else
//! looks at it, so the rest of the pipeline never touches wire formats.

pub mod call;
pub mod comparison;
pub mod filter;
pub mod finish;
pub mod ids;
pub mod nanos;
pub mod project;
pub mod replay;
pub mod search;
pub mod summary;
pub mod telemetry;
pub mod time;
pub mod tool_choice;
pub mod value;

pub use call::{
    Call, CallError, CallStatus, Message, Part, RawExchange, RequestParams, Source, Usage,
};
pub use ids::{CallId, IdError, SpanId, TraceId};
pub use summary::CallSummary;
pub use telemetry::{Event, Link, LogRecord, Resource, Scope, Span, SpanStatus};
pub use tool_choice::{ToolChoice, canonical_tool_choice};
pub use value::{Attributes, KeyValue, Value};
