//! Scenario input: YAML streams of Kubernetes objects (plus lbplay's `Cluster`) into a `Cluster`.
//!
//! This module owns the contract of design.md, "Contract: scenario input": it reads every
//! document of every stream, decodes the kinds lbplay models (`objects`), then plays the part of
//! the Kubernetes control plane (`controllers`): the scheduler places Pods, IPAM gives them
//! addresses, the Service allocators hand out ClusterIPs and NodePorts, the EndpointSlice
//! controllers write slices, and CoreDNS's view is computed. Explicit values always win over
//! allocated ones. Every problem names its file, line, column, object and field; problems are
//! collected, never panicked on, and reported together.
//!
//! Limits (refused with a clear message rather than freezing a browser tab): 32 MiB of YAML per
//! stream, 64 levels of nesting, 100 nodes, 1,000 clients, 20,000 Services, 200,000 Pods after
//! workloads are expanded (a workload asking for more is refused before anything is expanded),
//! 1,000 ports per Service and 100,000 in all, and 200,000 endpoint ports (pods selected times
//! the ports of the Service selecting them, counted before slices are written).

mod controllers;
mod fields;
mod ingress;
pub mod ingress_nginx;
mod mesh_refs;
mod objects;
mod report;
mod schema;

use std::fmt;

use crate::model::{Cluster, ClusterExtras};
use crate::yaml::{self, Pos};

pub use controllers::{CLUSTER_DOMAIN, MAX_ENDPOINTS_PER_SLICE, NODE_PORT_MAX, NODE_PORT_MIN};
pub use report::report;

/// At most this many nodes in a `Cluster` object.
pub const MAX_NODES: usize = 100;
/// At most this many external clients.
pub const MAX_CLIENTS: usize = 1_000;
/// At most this many Services.
pub const MAX_SERVICES: usize = 20_000;
/// At most this many Pods, counting those a workload's replicas expand to.
pub const MAX_PODS: usize = 200_000;
/// At most this many ports in one Service.
pub const MAX_SERVICE_PORTS: usize = 1_000;
/// At most this many Service ports in all (each is a chain of rules on every node).
pub const MAX_SERVICE_PORTS_TOTAL: usize = 100_000;
/// At most this many endpoint ports, a selected pod times a port of its Service, in all: twice the
/// 10,000 Services × 10 endpoints of the scale test. Many Services selecting the same many Pods
/// cross it at the Service that would, before any slice or rule is built.
pub const MAX_ENDPOINT_PORTS: usize = 200_000;

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
    /// An error the API server would answer by refusing this one object: `kubectl apply` prints
    /// it and creates the rest, so lbplay leaves the object out and the scenario still runs.
    Rejected,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Rejected | Severity::Error => "error",
        }
    }
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

impl fmt::Display for Problem {
    /// `file:line:column: error: Service/default/web: spec.ports[0].targetPort: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: ", self.file, self.line, self.column, self.severity.as_str())?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A loaded scenario: the model, plus warnings and the kinds that were ignored.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub cluster: Cluster,
    /// Ingresses, Istio objects and the DNS view.
    pub extras: ClusterExtras,
    pub warnings: Vec<Problem>,
    /// `Kind/namespace/name` (or `Kind/name`) of objects lbplay does not model.
    pub ignored: Vec<String>,
}

/// Loads one or more YAML streams into a cluster model.
///
/// On success the warnings are in `Loaded::warnings`; on failure every problem found, errors and
/// warnings alike, is returned in the order of the input.
pub fn load(sources: &[Source<'_>]) -> Result<Loaded, Vec<Problem>> {
    let mut cx = fields::Cx::default();
    let mut parsed: Vec<(String, Vec<yaml::Node>)> = Vec::new();
    for source in sources {
        match yaml::parse_stream(source.text) {
            Ok(docs) => parsed.push((source.name.to_string(), docs)),
            Err(error) => cx.push(Severity::Error, source.name, error.pos, None, None, error.message),
        }
    }
    // A scenario with Ingresses gets the controller that serves them (`ingress_nginx`), as one
    // more stream after the user's, so that nothing the user wrote moves.
    let settings = {
        let user: Vec<(&str, &yaml::Node)> =
            parsed.iter().flat_map(|(file, nodes)| nodes.iter().map(move |node| (file.as_str(), node))).collect();
        let settings = ingress_nginx::settings(&mut cx, &user);
        let wanted = ingress_nginx::wanted(&user, &settings);
        (settings, wanted)
    };
    let (settings, installed) = settings;
    if installed && let Ok(nodes) = yaml::parse_stream(&ingress_nginx::manifests(&settings)) {
        parsed.push((ingress_nginx::SOURCE.to_string(), nodes));
    }
    let mut docs = Vec::new();
    for (file, nodes) in &parsed {
        for node in nodes {
            docs.push((file.as_str(), node));
        }
    }
    // An input with no object at all is a mistake (an empty file, the wrong file, a pipe that
    // carried nothing), not a request for the default cluster: `kubectl apply` refuses it with
    // `no objects passed to apply`. One empty file among others is only a warning.
    let holds_objects = |nodes: &[yaml::Node]| nodes.iter().any(|node| !node.is_null());
    if !cx.has_errors() && !parsed.iter().any(|(_, nodes)| holds_objects(nodes)) {
        let file = sources.first().map_or("-", |s| s.name);
        let message = "the input holds no Kubernetes objects (it is empty, or only comments and `---`); kubectl says `no objects passed to apply`".to_string();
        cx.push(Severity::Error, file, START, None, None, message);
        return Err(cx.problems);
    }
    for (file, nodes) in &parsed {
        if !holds_objects(nodes) {
            cx.push(Severity::Warning, file, START, None, None, "this stream holds no objects".to_string());
        }
    }
    // Too many Services are refused before any is decoded: decoding 100,000 of them only to refuse
    // them takes seconds. The controllers check the same limit on what decodes.
    if let Some((file, node)) = docs
        .iter()
        .filter(|(_, node)| node.get("kind").and_then(yaml::Node::as_str) == Some("Service"))
        .nth(MAX_SERVICES)
    {
        let count =
            docs.iter().filter(|(_, node)| node.get("kind").and_then(yaml::Node::as_str) == Some("Service")).count();
        let meta = node.get("metadata");
        let field = |key: &str| meta.and_then(|m| m.get(key)).and_then(yaml::Node::as_str).map(str::to_string);
        let label = format!(
            "Service/{}/{}",
            field("namespace").unwrap_or_else(|| "default".into()),
            field("name").unwrap_or_else(|| "(no name)".into())
        );
        let message = format!("{count} Services is over lbplay's limit of {MAX_SERVICES}");
        cx.push(Severity::Error, file, node.pos, Some(&label), Some(""), message);
        return Err(cx.problems);
    }
    let (mut cluster, extras) = objects::build(&mut cx, &docs);
    cluster.ingress = ingress_nginx::attach(&cluster, &extras, &settings, installed);
    cluster.mesh = crate::mesh::attach(&cluster, &extras);
    // Problems are reported in the order of the input, whichever pass found them.
    let order = |file: &str| sources.iter().position(|s| s.name == file).unwrap_or(usize::MAX);
    crate::sort::sort_by_key(&mut cx.problems, |p| (order(&p.file), p.line, p.column));
    if cx.has_errors() {
        return Err(cx.problems);
    }
    Ok(Loaded { cluster, extras, warnings: cx.problems, ignored: cx.ignored })
}

/// The text of a stream read as bytes (a file, standard input), or the problem of the first byte
/// that is not UTF-8, located by line, column and byte offset, with a hint to convert it.
///
/// YAML 1.2 streams are UTF-8, UTF-16 or UTF-32 (spec 5.2), and Kubernetes reads UTF-8 only, so
/// lbplay does too; the usual culprit is a file saved as Latin-1 or Windows-1252, or as UTF-16 by
/// an editor on Windows.
pub fn decode<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, Problem> {
    let error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(error) => error,
    };
    let offset = error.valid_up_to();
    // The prefix up to the first bad byte is valid UTF-8 by definition of `valid_up_to`.
    let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    let byte = bytes.get(offset).copied().unwrap_or_default();
    let hint = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        "it starts with a UTF-16 byte order mark; convert it with `iconv -f UTF-16 -t UTF-8`"
    } else {
        "it may be Latin-1 or Windows-1252; convert it with `iconv -f WINDOWS-1252 -t UTF-8`"
    };
    Err(Problem {
        severity: Severity::Error,
        file: name.to_string(),
        line,
        column,
        object: None,
        field: None,
        message: format!(
            "the input is not UTF-8: byte 0x{byte:02X} at offset {offset} is not valid there (lbplay reads UTF-8, as Kubernetes does); {hint}"
        ),
    })
}

/// A problem not tied to a node: the first character of a stream.
pub(crate) const START: Pos = Pos { line: 1, column: 1 };

#[cfg(test)]
mod tests {
    use super::*;

    /// `decode`'s problem for `bytes`, as the CLI prints it.
    fn decoded(bytes: &[u8]) -> String {
        match decode("f.yaml", bytes) {
            Ok(text) => format!("ok: {text:?}"),
            Err(problem) => problem.to_string(),
        }
    }

    #[test]
    fn the_first_byte_that_is_not_utf8_is_located() {
        assert_eq!(decoded("kind: Service # café\n".as_bytes()), "ok: \"kind: Service # café\\n\"");
        assert_eq!(
            decoded(b"kind: Service\nmetadata: {name: caf\xe9}\n"),
            "f.yaml:2:21: error: the input is not UTF-8: byte 0xE9 at offset 34 is not valid there \
             (lbplay reads UTF-8, as Kubernetes does); it may be Latin-1 or Windows-1252; convert it \
             with `iconv -f WINDOWS-1252 -t UTF-8`"
        );
        // Columns count characters, as every other problem's do: `é` before the bad byte is one.
        assert!(
            decoded("é\u{20}".as_bytes().iter().chain(b"\xff").copied().collect::<Vec<u8>>().as_slice())
                .starts_with("f.yaml:1:3: error: the input is not UTF-8: byte 0xFF at offset 3")
        );
        assert!(decoded(b"\xff\xfek\x00").contains("UTF-16 byte order mark"));
        // A sequence cut off by the end of the input is located at its start.
        assert!(
            decoded(b"a: \xe2\x82").starts_with("f.yaml:1:4: error: the input is not UTF-8: byte 0xE2 at offset 3")
        );
    }
}
