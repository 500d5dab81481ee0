//! OpenAI Chat Completions, both ways.
//!
//! In: [`parse_request`] reads a `/chat/completions` request body,
//! [`parse_response`] a `chat.completion` body or an error body, and
//! [`ChatStream`] the `chat.completion.chunk` events of a stream,
//! reassembling text, reasoning and tool-call fragments by index.
//!
//! Out: [`to_openai_chat`] writes a canonical call as a request body for any
//! Chat Completions server (OpenAI, llama.cpp, Ollama, vLLM, LiteLLM).

mod request;
mod response;
mod stream;
mod write;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::ChatStream;
pub use write::to_openai_chat;
