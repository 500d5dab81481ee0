//! Provider wire formats and client: raw exchanges into canonical calls,
//! canonical calls into target requests, and the HTTP client against a
//! local server that misbehaves on purpose.

mod client;
mod support;
mod translate;
mod wire;
