//! Sends a request body to a target model and reads the answer.
//!
//! A [`Target`] is an endpoint: its kind (`openai` for Chat Completions at
//! `{base_url}/chat/completions`, which llama.cpp, Ollama, vLLM and LiteLLM
//! also speak; `anthropic` for `{base_url}/messages`), extra headers, the
//! name of the environment variable that holds its API key, and timeouts.
//! The key is read when a request is made, travels as a [`Secret`] whose
//! `Debug` prints nothing of it, is marked sensitive in the header map, and
//! is scrubbed from any provider text that ends up in an error.
//!
//! Whether the answer streams is the body's business (`"stream": true`, as
//! the translators write it); the client follows what the server actually
//! sends (`text/event-stream` or JSON), so a server that ignores `stream`
//! still works. Streams are parsed as the bytes arrive; time to first token
//! is taken at the first event that carries output (text, reasoning or a
//! tool-call fragment), not at the first byte, since servers send a role or
//! `message_start` event before the model has produced anything.
//!
//! Errors are a [`ProviderError`]. Retryable: HTTP 408, 429 and 5xx
//! (Anthropic's 529 included), connection failures, timeouts, a stream cut
//! before its final event, and an overload or server error reported inside
//! a stream. Not retryable: a missing key, a misconfigured target, other
//! 4xx, and a malformed body: a success status with a body that does not
//! parse is a server speaking another format, which a retry would only
//! repeat (a truncated stream is a cut, not a malformed body).

mod error;
mod send;
mod stream;
mod target;

pub use error::ProviderError;
pub use send::{ProviderResponse, build_client, retry_after, send, send_with_key};
pub use target::{ProviderKind, Secret, Target, read_api_key};
