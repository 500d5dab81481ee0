//! Many scored pairs made into one answer per target: paired statistics
//! with intervals ([`stats`]), the per-target comparison ([`aggregate`]),
//! the decision rule ([`verdict`]) and the report the API returns and the
//! CLI prints ([`report`]).

pub mod aggregate;
pub mod report;
pub mod stats;
pub mod verdict;
