//! Targets: how to talk to a model that reprise calls itself.
//!
//! Replay sends recorded calls to targets, and compare asks its judge and
//! embeddings targets; both need the same pieces, kept here so they obey
//! the same rules by construction:
//!
//! - [`spec`]: a target as configured (`reprise.toml` or the command line)
//!   and resolved into a [`TargetSpec`], with its price;
//! - [`limits`]: its concurrency and rate limits ([`Limiter`]) and the
//!   [`Backoff`] between retries;
//! - [`budget`]: the [`Budget`] a caller may spend and the [`Ledger`] that
//!   refuses a call before it would break it;
//! - [`request`]: the provider request body for a call;
//! - [`send`]: one request sent within those limits, with retries, and
//!   within the budget when the caller asks ([`Sender`]).
//!
//! The layer's rule: `targets` imports `model`, `providers`, `cost`,
//! `error_code` and `metrics` as it needs them, and never `replay`,
//! `compare`, `api`, `store` or `server`, which all sit above it.

pub mod budget;
pub mod limits;
pub mod request;
pub mod send;
pub mod spec;

pub use budget::{Budget, Ledger};
pub use limits::{Backoff, Limiter};
pub use send::{Sender, Sent, Slots};
pub use spec::{ConfigFile, TargetError, TargetSpec};
