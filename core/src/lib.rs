//! lbplay-core: a Kubernetes node's packet path, simulated step by step.
//!
//! Input is a scenario (Kubernetes manifests plus an optional `Cluster` object, see `scenario`),
//! output is data: kube-proxy's rules for a node (`kubeproxy`), rendered as the real tools print
//! them, and the `Trace` of a packet walked through those very rules (`walk`).
//!
//! Architecture invariant: this crate does no I/O and reads no clock or entropy. Time (`now`, in
//! seconds) and randomness (`seed`) are arguments, so the same inputs give the same trace byte for
//! byte, natively and in WebAssembly. No `HashMap` iteration reaches an output.
//!
//! Architecture invariant: a drop is a verdict, not an error. `Err` means malformed input.

pub mod conntrack;
pub mod dataplane;
pub mod dns;
pub mod http;
pub mod ingress;
pub mod ipvs;
pub mod kubeproxy;
pub mod lessons;
pub mod mesh;
pub mod model;
pub mod net;
pub mod netfilter;
pub mod nftables;
pub mod packet;
pub mod pcap;
pub mod rng;
pub mod scenario;
pub mod share;
pub mod sort;
pub mod synthetic;
pub mod tabwrite;
pub mod trace;
pub mod walk;
pub mod yaml;

pub use model::Cluster;
pub use trace::{Direction, Lang, Step, StepKind, Text, Trace};
