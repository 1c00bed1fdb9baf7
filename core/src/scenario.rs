//! Scenario input: YAML streams of Kubernetes objects (plus lbplay's `Cluster`) into a `Cluster`.
//!
//! PLACEHOLDER: being written (issue 3). The API below is the contract the rest of the crate uses.

use crate::model::Cluster;

/// One YAML stream and the name errors point at (a file path, `-`, or `editor`).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found in the input, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub file: String,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// `Kind/namespace/name` of the object, when known.
    pub object: Option<String>,
    /// The field's path, such as `spec.ports[0].targetPort`.
    pub field: Option<String>,
    pub message: String,
}

/// A loaded scenario: the model, plus warnings and the kinds that were ignored.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub cluster: Cluster,
    pub warnings: Vec<Problem>,
    /// `Kind/name` of objects lbplay does not model.
    pub ignored: Vec<String>,
}

/// Loads one or more YAML streams into a cluster model.
pub fn load(_sources: &[Source<'_>]) -> Result<Loaded, Vec<Problem>> {
    Err(Vec::new())
}
