//! Subcommands other than `serve`, one file each.

pub mod backup;
pub mod import;
pub mod keys;
