//! Reading typed fields out of marked YAML, with a located problem for every wrong type or value.
//!
//! This module owns `Cx`, the loader's problem collector, and `Obj`, one document being decoded:
//! its file, its `Kind/namespace/name` and its node. Every reader takes the field's path as the
//! user would write it (`spec.ports[0].port`) so that each problem names the exact field.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{Problem, Severity};
use crate::net::{Ipv4Net, Proto};
use crate::yaml::{Node, Pos, Value};

/// The problems found so far, and the kinds that were ignored.
#[derive(Debug, Default)]
pub(crate) struct Cx {
    pub(crate) problems: Vec<Problem>,
    pub(crate) ignored: Vec<String>,
}

/// One document being decoded: where it comes from and which object it is.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'d> {
    pub(crate) file: String,
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    pub(crate) label: String,
    pub(crate) node: &'d Node,
}

impl Cx {
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        file: &str,
        pos: Pos,
        object: Option<&str>,
        field: Option<&str>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            object: object.map(str::to_string),
            field: field.filter(|f| !f.is_empty()).map(str::to_string),
            message,
        });
    }

    /// An error about `field` of `obj`, at `pos`.
    pub(crate) fn error(&mut self, obj: &Obj<'_>, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, &obj.file, pos, Some(&obj.label), Some(field), message.into());
    }

    /// A warning about `field` of `obj`, at `pos`.
    pub(crate) fn warn(&mut self, obj: &Obj<'_>, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Warning, &obj.file, pos, Some(&obj.label), Some(field), message.into());
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    /// A mapping; a problem (and `None`) for anything else but an absent or null value.
    pub(crate) fn map<'n>(&mut self, obj: &Obj<'_>, node: Option<&'n Node>, path: &str) -> Option<&'n Node> {
        let node = node?;
        match node.value {
            Value::Map(_) => Some(node),
            Value::Null => None,
            _ => {
                self.error(obj, node.pos, path, format!("expected a mapping, got {}", node.describe()));
                None
            }
        }
    }

    /// The items of a list; empty for an absent or null value.
    pub(crate) fn seq<'n>(&mut self, obj: &Obj<'_>, node: Option<&'n Node>, path: &str) -> &'n [Node] {
        let Some(node) = node else { return &[] };
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.error(obj, node.pos, path, format!("expected a list, got {}", node.describe()));
                &[]
            }
        }
    }

    /// A string. Numbers and booleans are refused, as the API server's JSON decoder refuses them.
    pub(crate) fn string(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<String> {
        let node = node?;
        match &node.value {
            Value::Str(text) => Some(text.clone()),
            Value::Null => None,
            _ => {
                self.error(obj, node.pos, path, format!("expected a string, got {}", node.describe()));
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<bool> {
        let node = node?;
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            _ => {
                self.error(obj, node.pos, path, format!("expected true or false, got {}", node.describe()));
                None
            }
        }
    }

    /// An integer. A quoted number is refused, as the API server refuses `port: "80"`.
    pub(crate) fn int(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<i64> {
        let node = node?;
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Null => None,
            _ => {
                self.error(obj, node.pos, path, format!("expected an integer, got {}", node.describe()));
                None
            }
        }
    }

    /// A port number, 1 to 65535 (staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go,
    /// `IsValidPortNum`, reported as pkg/apis/core/validation/validation.go reports it).
    pub(crate) fn port(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<u16> {
        let value = self.int(obj, node, path)?;
        let pos = node.map(|n| n.pos).unwrap_or_default();
        match u16::try_from(value) {
            Ok(port) if port >= 1 => Some(port),
            _ => {
                self.error(obj, pos, path, invalid(value, "must be between 1 and 65535, inclusive"));
                None
            }
        }
    }

    /// An IPv4 address; an IPv6 one gets the "not modelled" message.
    pub(crate) fn ipv4(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<Ipv4Addr> {
        let text = self.string(obj, node, path)?;
        let pos = node.map(|n| n.pos).unwrap_or_default();
        match text.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) if text.contains(':') => {
                self.error(obj, pos, path, format!("`{text}` is an IPv6 address; lbplay models IPv4 only"));
                None
            }
            Err(_) => {
                self.error(obj, pos, path, format!("`{text}` is not a valid IPv4 address"));
                None
            }
        }
    }

    /// An IPv4 CIDR.
    pub(crate) fn cidr(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Option<Ipv4Net> {
        let text = self.string(obj, node, path)?;
        let pos = node.map(|n| n.pos).unwrap_or_default();
        if text.contains(':') {
            self.error(obj, pos, path, format!("`{text}` is an IPv6 CIDR; lbplay models IPv4 only"));
            return None;
        }
        match text.parse::<Ipv4Net>() {
            Ok(net) => Some(net),
            Err(message) => {
                self.error(obj, pos, path, message);
                None
            }
        }
    }

    /// A protocol, `TCP` by default (Kubernetes spells them in capitals).
    pub(crate) fn protocol(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> Proto {
        let Some(text) = self.string(obj, node, path) else { return Proto::Tcp };
        match text.as_str() {
            "TCP" => Proto::Tcp,
            "UDP" => Proto::Udp,
            "SCTP" => Proto::Sctp,
            _ => {
                let pos = node.map(|n| n.pos).unwrap_or_default();
                self.error(obj, pos, path, unsupported(&text, &["SCTP", "TCP", "UDP"]));
                Proto::Tcp
            }
        }
    }

    /// A map of strings to strings, such as labels or a selector.
    pub(crate) fn labels(&mut self, obj: &Obj<'_>, node: Option<&Node>, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(node) = self.map(obj, node, path) else { return out };
        if let Value::Map(entries) = &node.value {
            for (key, value) in entries {
                let field = format!("{path}.{}", key.name);
                match &value.value {
                    Value::Str(text) => {
                        out.insert(key.name.clone(), text.clone());
                    }
                    _ => self.error(
                        obj,
                        value.pos,
                        &field,
                        format!("a label value must be a string, got {}; quote it", value.describe()),
                    ),
                }
            }
        }
        out
    }
}

/// Why `name` is not an IANA service name, as a named port must be: upstream's first complaint
/// (staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go, `IsValidPortName`, in its
/// order of checks and with its wording).
pub(crate) fn iana_svc_name_error(name: &str) -> Option<&'static str> {
    if name.len() > 15 {
        return Some("must be no more than 15 characters");
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Some("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Some("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        return Some("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must not begin or end with a hyphen");
    }
    None
}

/// `Invalid value: V: detail`, as `field.Invalid` prints itself
/// (staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go, `ErrorBody`): numbers
/// bare, strings quoted with Go's `%q`.
pub(crate) fn invalid(value: impl GoValue, detail: &str) -> String {
    format!("Invalid value: {}: {detail}", value.go())
}

/// `Required value`, with upstream's detail when it gives one.
pub(crate) fn required(detail: &str) -> String {
    if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") }
}

/// `Forbidden: detail`.
pub(crate) fn forbidden(detail: &str) -> String {
    format!("Forbidden: {detail}")
}

/// `Duplicate value: V`.
pub(crate) fn duplicate(value: impl GoValue) -> String {
    format!("Duplicate value: {}", value.go())
}

/// `Unsupported value: "V": supported values: "A", "B"`, as `field.NotSupported` prints it.
pub(crate) fn unsupported(value: &str, supported: &[&str]) -> String {
    let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    format!("Unsupported value: {}: supported values: {}", value.go(), list.join(", "))
}

/// A value printed the way Go's field errors print it: integers with `%v`, strings with `%q`.
pub(crate) trait GoValue {
    fn go(&self) -> String;
}

impl GoValue for i64 {
    fn go(&self) -> String {
        self.to_string()
    }
}

impl GoValue for u16 {
    fn go(&self) -> String {
        self.to_string()
    }
}

impl GoValue for &str {
    fn go(&self) -> String {
        let mut out = String::from("\"");
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl GoValue for &String {
    fn go(&self) -> String {
        self.as_str().go()
    }
}

/// Why `name` is not a DNS-1035 label, as Service names must be (`ValidateServiceName` is
/// `NameIsDNS1035Label`, pkg/apis/core/validation/validation.go): it must start with a letter.
pub(crate) fn dns1035_label_error(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    (!ok).then(|| {
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()
    })
}

/// Why `name` is not a DNS-1123 label, as Service port names must be (`IsDNS1123Label`).
pub(crate) fn dns_label_error(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()
    })
}

/// Why `name` is not a DNS-1123 subdomain, as most object names must be (`IsDNS1123Subdomain`).
pub(crate) fn dns_subdomain_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_string());
    }
    for part in name.split('.') {
        let ok = !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !part.starts_with('-')
            && !part.ends_with('-');
        if !ok {
            return Some(r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
        }
    }
    None
}
