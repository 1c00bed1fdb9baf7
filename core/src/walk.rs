//! The packet walk: one connection's first packet from its sender to its receiver, and the reply back.
//!
//! PLACEHOLDER while being written: the API is the contract the CLI and the web app use.

use crate::model::Cluster;
use crate::net::Proto;
use crate::trace::Trace;

/// What to walk: `from` is `pod/NAME`, `node/NAME`, `client/NAME` or an IP; `to` is `IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub from: String,
    pub to: String,
    pub proto: Proto,
    /// Seeds every random choice (the statistic draws, ephemeral and MASQUERADE ports).
    pub seed: u64,
    /// The scenario clock, in seconds.
    pub now: u64,
}

/// Why a walk could not start: the request names something the scenario does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError(pub String);

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WalkError {}

/// Walks the request's first packet there and its reply back.
pub fn trace(_cluster: &Cluster, _request: &Request) -> Result<Trace, WalkError> {
    Err(WalkError("the walk is not written yet".into()))
}
