//! Ingress and IngressClass: decoding, the API server's validation, and the old versions.
//!
//! `networking.k8s.io/v1` Ingresses are read as written; `extensions/v1beta1` and
//! `networking.k8s.io/v1beta1` ones are converted to v1 (`serviceName`/`servicePort` into
//! `service.name`/`service.port`, `spec.backend` into `spec.defaultBackend`, a missing `pathType`
//! into `ImplementationSpecific`) with a warning that shows the converted object, since the API
//! server stopped serving them in v1.22. Validation follows
//! pkg/apis/networking/validation/validation.go (kubernetes v1.34): hosts, path sequences, and
//! the rule that an Ingress needs `rules` or a `defaultBackend`. Besides the spec, the fields
//! ingress-nginx reads are kept: the class annotation, `creationTimestamp` (its merge order),
//! `spec.tls` and the `nginx.ingress.kubernetes.io/*` annotations that change routing.

use super::fields::{Cx, Obj, dns_subdomain_error, invalid};
use crate::model::{Cluster, ClusterExtras};
use crate::model::{
    Ingress, IngressBackend, IngressClass, IngressPath, IngressPort, IngressRule, IngressTls, NginxAnnotations,
    PathType,
};
use crate::yaml::{self, Value};

/// The annotation that marks the default IngressClass (k8s.io/api/networking/v1, `AnnotationIsDefaultIngressClass`).
pub(crate) const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
/// The class annotation that predates `spec.ingressClassName` (`AnnotationIngressClass`).
pub(crate) const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The prefix of ingress-nginx's annotations (flag `--annotations-prefix`, default).
const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// An Ingress backend in either shape: v1's `service: {name, port: {number|name}}` or the old
/// `serviceName`/`servicePort`.
pub(crate) fn ingress_backend(
    cx: &mut Cx,
    obj: &Obj<'_>,
    node: Option<&yaml::Node>,
    path: &str,
    old: bool,
) -> Option<IngressBackend> {
    let backend = cx.map(obj, node, path)?;
    if old {
        let service = cx.string(obj, backend.get("serviceName"), &format!("{path}.serviceName"));
        let port_node = backend.get("servicePort");
        let port = match port_node.map(|n| &n.value) {
            Some(Value::Int(_)) => cx.port(obj, port_node, &format!("{path}.servicePort")).map(IngressPort::Number),
            Some(Value::Str(name)) => Some(IngressPort::Name(name.clone())),
            Some(_) => {
                let n = port_node?;
                cx.error(
                    obj,
                    n.pos,
                    &format!("{path}.servicePort"),
                    format!("expected a port number or name, got {}", n.describe()),
                );
                None
            }
            None => None,
        };
        match (service, port) {
            (Some(service), Some(port)) => Some(IngressBackend { service, port }),
            _ => {
                if backend.get("serviceName").is_none() || port_node.is_none() {
                    cx.error(obj, backend.pos, path, "required value: a backend needs `serviceName` and `servicePort`");
                }
                None
            }
        }
    } else {
        if backend.get("serviceName").is_some() {
            cx.error(obj, backend.pos, &format!("{path}.serviceName"), "`serviceName` is the old v1beta1 form; in networking.k8s.io/v1 write `service: {name: ..., port: {number: ...}}`");
            return None;
        }
        let Some(service) = cx.map(obj, backend.get("service"), &format!("{path}.service")) else {
            if backend.get("resource").is_some() {
                cx.warn(obj, backend.pos, &format!("{path}.resource"), "resource backends are not modelled");
            } else {
                cx.error(obj, backend.pos, &format!("{path}.service"), "required value: a backend needs `service`");
            }
            return None;
        };
        let name = cx.string(obj, service.get("name"), &format!("{path}.service.name"));
        let port_node = cx.map(obj, service.get("port"), &format!("{path}.service.port"));
        let port = match port_node {
            Some(p) => match (p.get("number"), p.get("name")) {
                (Some(n), None) => {
                    cx.port(obj, Some(n), &format!("{path}.service.port.number")).map(IngressPort::Number)
                }
                (None, Some(n)) => cx.string(obj, Some(n), &format!("{path}.service.port.name")).map(IngressPort::Name),
                _ => {
                    cx.error(
                        obj,
                        p.pos,
                        &format!("{path}.service.port"),
                        "exactly one of `number` or `name` is required",
                    );
                    None
                }
            },
            None => None,
        };
        match (name, port) {
            (Some(service), Some(port)) => Some(IngressBackend { service, port }),
            (None, _) => {
                cx.error(
                    obj,
                    service.pos,
                    &format!("{path}.service.name"),
                    "required value: a backend service needs `name`",
                );
                None
            }
            (_, None) => {
                if port_node.is_none() {
                    cx.error(
                        obj,
                        service.pos,
                        &format!("{path}.service.port"),
                        "required value: a backend service needs `port`",
                    );
                }
                None
            }
        }
    }
}

/// Path sequences an `Exact` or `Prefix` path must not contain, and suffixes it must not end in
/// (pkg/apis/networking/validation/validation.go, `invalidPathSequences`, `invalidPathSuffixes`).
const INVALID_PATH_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: [&str; 2] = ["/..", "/."];

/// The API server's complaint about a rule's host, if any (validation.go, `validateIngressRules`):
/// not an IP address; a `*` only as the whole first label of a wildcard DNS-1123 subdomain.
fn host_error(host: &str) -> Option<String> {
    if host.parse::<std::net::Ipv4Addr>().is_ok() || host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(invalid(host, "must be a DNS name, not an IP address"));
    }
    if host.contains('*') {
        let ok = host.strip_prefix("*.").is_some_and(|rest| !rest.contains('*') && dns_subdomain_error(rest).is_none());
        if !ok {
            return Some(invalid(
                host,
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ));
        }
        return None;
    }
    dns_subdomain_error(host).map(|msg| invalid(host, &msg))
}

/// The API server's complaint about a path of this type, if any (validation.go,
/// `validateHTTPIngressRuleValue`).
fn path_error(path: &str, path_type: PathType) -> Option<String> {
    if !path.starts_with('/') {
        return Some(invalid(path, "must be an absolute path"));
    }
    if path_type == PathType::ImplementationSpecific {
        return None;
    }
    if let Some(seq) = INVALID_PATH_SEQUENCES.iter().find(|seq| path.contains(**seq)) {
        return Some(invalid(path, &format!("must not contain '{seq}'")));
    }
    if let Some(suffix) = INVALID_PATH_SUFFIXES.iter().find(|suffix| path.ends_with(**suffix)) {
        return Some(invalid(path, &format!("cannot end with '{suffix}'")));
    }
    None
}

/// Go's `strconv.ParseBool`, which ingress-nginx's `parser.GetBoolAnnotation` uses.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An RFC 3339 time (`metav1.Time`'s wire form, `2006-01-02T15:04:05Z07:00`) in seconds since the
/// Unix epoch. Fractions of a second are dropped, as `metav1.Time` keeps whole seconds.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = text.get(from..from + len)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's `days_from_civil`, public domain).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `metadata.creationTimestamp`, when written.
fn creation_timestamp(cx: &mut Cx, obj: &Obj<'_>) -> Option<i64> {
    let node = obj.node.get("metadata").and_then(|m| m.get("creationTimestamp"))?;
    let text = cx.string(obj, Some(node), "metadata.creationTimestamp")?;
    let parsed = parse_timestamp(&text);
    if parsed.is_none() {
        cx.error(
            obj,
            node.pos,
            "metadata.creationTimestamp",
            format!("`{text}` is not an RFC 3339 time such as 2024-05-01T12:00:00Z"),
        );
    }
    parsed
}

/// The ingress-nginx annotations lbplay models, from `metadata.annotations`. A value ingress-nginx
/// would not parse is a warning, and the default applies, as ingress-nginx logs and ignores it.
fn nginx_annotations(
    cx: &mut Cx,
    obj: &Obj<'_>,
    annotations: &std::collections::BTreeMap<String, String>,
) -> NginxAnnotations {
    let mut out = NginxAnnotations::default();
    let pos = obj.node.get("metadata").and_then(|m| m.get("annotations")).map(|n| n.pos).unwrap_or(obj.node.pos);
    let boolean = |cx: &mut Cx, key: &str| -> Option<bool> {
        let text = annotations.get(&format!("{NGINX_PREFIX}{key}"))?;
        let parsed = parse_bool(text);
        if parsed.is_none() {
            cx.warn(
                obj,
                pos,
                &format!("metadata.annotations.{NGINX_PREFIX}{key}"),
                format!("`{text}` is not a boolean (true or false); ingress-nginx ignores it and keeps the default"),
            );
        }
        parsed
    };
    out.use_regex = boolean(cx, "use-regex").unwrap_or(false);
    out.ssl_redirect = boolean(cx, "ssl-redirect");
    out.force_ssl_redirect = boolean(cx, "force-ssl-redirect");
    let text = |key: &str| annotations.get(&format!("{NGINX_PREFIX}{key}")).filter(|v| !v.is_empty()).cloned();
    out.rewrite_target = text("rewrite-target");
    out.load_balance = text("load-balance");
    if let Some(lb) = &out.load_balance
        && !matches!(lb.as_str(), "round_robin" | "ewma")
    {
        cx.warn(
            obj,
            pos,
            &format!("metadata.annotations.{NGINX_PREFIX}load-balance"),
            format!("`{lb}` is not a balancer ingress-nginx knows (round_robin, ewma); it falls back to round_robin"),
        );
    }
    out.affinity = text("affinity");
    out.session_cookie_name = text("session-cookie-name");
    out
}

/// `spec.tls[]`.
fn ingress_tls(cx: &mut Cx, obj: &Obj<'_>, spec: &yaml::Node) -> Vec<IngressTls> {
    let mut out = Vec::new();
    for (t, item) in cx.seq(obj, spec.get("tls"), "spec.tls").iter().enumerate() {
        let path = format!("spec.tls[{t}]");
        let Some(item) = cx.map(obj, Some(item), &path) else { continue };
        let mut tls = IngressTls::default();
        for (h, host) in cx.seq(obj, item.get("hosts"), &format!("{path}.hosts")).iter().enumerate() {
            let field = format!("{path}.hosts[{h}]");
            if let Some(text) = cx.string(obj, Some(host), &field) {
                if let Some(msg) = host_error(&text) {
                    cx.error(obj, host.pos, &field, msg);
                }
                tls.hosts.push(text);
            }
        }
        tls.secret_name = cx.string(obj, item.get("secretName"), &format!("{path}.secretName"));
        out.push(tls);
    }
    out
}

pub(crate) fn decode_ingress(
    cx: &mut Cx,
    obj: &Obj<'_>,
    api_version: &str,
    namespace: &str,
    name: &str,
) -> Option<Ingress> {
    let node = obj.node;
    let old = api_version != "networking.k8s.io/v1";
    let annotations = cx.labels(obj, node.get("metadata").and_then(|m| m.get("annotations")), "metadata.annotations");
    let created = creation_timestamp(cx, obj);
    let spec = cx.map(obj, node.get("spec"), "spec")?;
    let class_name = cx.string(obj, spec.get("ingressClassName"), "spec.ingressClassName");
    let class_annotation = annotations.get(CLASS_ANNOTATION).cloned();
    let backend_key = if old { "backend" } else { "defaultBackend" };
    if !old && spec.get("backend").is_some() {
        cx.error(
            obj,
            spec.pos,
            "spec.backend",
            "`spec.backend` is the old v1beta1 form; in networking.k8s.io/v1 it is `spec.defaultBackend`",
        );
    }
    let default_backend = ingress_backend(cx, obj, spec.get(backend_key), &format!("spec.{backend_key}"), old);
    let mut rules = Vec::new();
    for (r, rule) in cx.seq(obj, spec.get("rules"), "spec.rules").iter().enumerate() {
        let path = format!("spec.rules[{r}]");
        let Some(rule) = cx.map(obj, Some(rule), &path) else { continue };
        let host = cx.string(obj, rule.get("host"), &format!("{path}.host")).filter(|h| !h.is_empty());
        if let (Some(h), Some(n)) = (&host, rule.get("host"))
            && let Some(msg) = host_error(h)
        {
            cx.error(obj, n.pos, &format!("{path}.host"), msg);
        }
        let mut paths = Vec::new();
        let http = cx.map(obj, rule.get("http"), &format!("{path}.http"));
        for (p, item) in
            cx.seq(obj, http.and_then(|h| h.get("paths")), &format!("{path}.http.paths")).iter().enumerate()
        {
            let ppath = format!("{path}.http.paths[{p}]");
            let Some(item) = cx.map(obj, Some(item), &ppath) else { continue };
            let text = cx.string(obj, item.get("path"), &format!("{ppath}.path"));
            let path_type = match cx.string(obj, item.get("pathType"), &format!("{ppath}.pathType")).as_deref() {
                Some("Exact") => PathType::Exact,
                Some("Prefix") => PathType::Prefix,
                Some("ImplementationSpecific") => PathType::ImplementationSpecific,
                None if old => PathType::ImplementationSpecific,
                None => {
                    cx.error(
                        obj,
                        item.pos,
                        &format!("{ppath}.pathType"),
                        "required value: supported values are \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                    );
                    continue;
                }
                Some(other) => {
                    let at = item.get("pathType").map(|n| n.pos).unwrap_or(item.pos);
                    cx.error(obj, at, &format!("{ppath}.pathType"), format!("unsupported value `{other}`: supported values are \"Exact\", \"ImplementationSpecific\", \"Prefix\""));
                    continue;
                }
            };
            if path_type != PathType::ImplementationSpecific && text.is_none() {
                cx.error(
                    obj,
                    item.pos,
                    &format!("{ppath}.path"),
                    "required value: an Exact or Prefix path needs `path`",
                );
                continue;
            }
            if let (Some(t), Some(n)) = (&text, item.get("path"))
                && let Some(msg) = path_error(t, path_type)
            {
                cx.error(obj, n.pos, &format!("{ppath}.path"), msg);
            }
            let Some(backend) = ingress_backend(cx, obj, item.get("backend"), &format!("{ppath}.backend"), old) else {
                if item.get("backend").is_none() {
                    cx.error(obj, item.pos, &format!("{ppath}.backend"), "required value: a path needs a `backend`");
                }
                continue;
            };
            paths.push(IngressPath { path: text.unwrap_or_else(|| "/".to_string()), path_type, backend });
        }
        rules.push(IngressRule { host, paths });
    }
    if default_backend.is_none() && rules.is_empty() {
        cx.error(obj, spec.pos, "spec", "either `defaultBackend` or `rules` must be specified");
        return None;
    }
    let tls = ingress_tls(cx, obj, spec);
    let ingress = Ingress {
        namespace: namespace.to_string(),
        name: name.to_string(),
        class_name,
        class_annotation,
        default_backend,
        rules,
        tls,
        created,
        annotations: nginx_annotations(cx, obj, &annotations),
    };
    if old {
        let at = node.get("apiVersion").map(|n| n.pos).unwrap_or(node.pos);
        cx.warn(
            obj,
            at,
            "apiVersion",
            format!(
                "{api_version} Ingress is no longer served since Kubernetes v1.22; lbplay converted it to networking.k8s.io/v1:\n{}",
                ingress_v1_yaml(&ingress)
            ),
        );
    }
    Some(ingress)
}

/// A `networking.k8s.io/v1` (or v1beta1) IngressClass.
pub(crate) fn decode_ingress_class(cx: &mut Cx, obj: &Obj<'_>, name: &str) -> Option<IngressClass> {
    let node = obj.node;
    let annotations = cx.labels(obj, node.get("metadata").and_then(|m| m.get("annotations")), "metadata.annotations");
    let spec = cx.map(obj, node.get("spec"), "spec");
    let controller = cx.string(obj, spec.and_then(|s| s.get("controller")), "spec.controller").unwrap_or_default();
    if controller.len() > 250 {
        let at = spec.and_then(|s| s.get("controller")).map(|n| n.pos).unwrap_or(node.pos);
        cx.error(obj, at, "spec.controller", "Too long: may not be more than 250 bytes");
    }
    // The admission plugin reads the annotation as the exact string "true"
    // (plugin/pkg/admission/network/defaultingressclass/admission.go).
    let is_default = annotations.get(DEFAULT_CLASS_ANNOTATION).is_some_and(|v| v == "true");
    Some(IngressClass { name: name.to_string(), controller, is_default, created: creation_timestamp(cx, obj) })
}

/// The `networking.k8s.io/v1` form of an Ingress, the hint shown for an old one.
pub(crate) fn ingress_v1_yaml(ingress: &Ingress) -> String {
    fn backend(out: &mut String, indent: &str, b: &IngressBackend) {
        out.push_str(&format!("{indent}service:\n{indent}  name: {}\n{indent}  port:\n", b.service));
        match &b.port {
            IngressPort::Number(n) => out.push_str(&format!("{indent}    number: {n}\n")),
            IngressPort::Name(n) => out.push_str(&format!("{indent}    name: {n}\n")),
        }
    }
    let mut out = String::new();
    out.push_str("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n");
    out.push_str(&format!("  name: {}\n", ingress.name));
    if ingress.namespace != "default" {
        out.push_str(&format!("  namespace: {}\n", ingress.namespace));
    }
    if let Some(class) = &ingress.class_annotation {
        out.push_str(&format!("  annotations:\n    {CLASS_ANNOTATION}: {class}\n"));
    }
    out.push_str("spec:\n");
    if let Some(class) = &ingress.class_name {
        out.push_str(&format!("  ingressClassName: {class}\n"));
    }
    if let Some(b) = &ingress.default_backend {
        out.push_str("  defaultBackend:\n");
        backend(&mut out, "    ", b);
    }
    if !ingress.rules.is_empty() {
        out.push_str("  rules:\n");
        for rule in &ingress.rules {
            match &rule.host {
                Some(host) => out.push_str(&format!("  - host: {host}\n    http:\n")),
                None => out.push_str("  - http:\n"),
            }
            out.push_str("      paths:\n");
            for p in &rule.paths {
                out.push_str(&format!(
                    "      - path: {}\n        pathType: {}\n        backend:\n",
                    p.path,
                    p.path_type.as_str()
                ));
                backend(&mut out, "          ", &p.backend);
            }
        }
    }
    out.trim_end().to_string()
}

/// The controller name ingress-nginx claims (internal/ingress/controller/ingressclass,
/// `DefaultControllerName`, controller v1.15.1).
pub(crate) const NGINX_CONTROLLER: &str = crate::ingress::CONTROLLER;

/// The control plane's part for Ingresses, after Services exist: the IngressClass `nginx` marked
/// default when the scenario writes none (ingress-nginx as it is usually installed, design.md),
/// the DefaultIngressClass admission plugin, and a warning for each backend that cannot answer.
pub(crate) fn admit(
    cx: &mut Cx,
    cluster: &Cluster,
    extras: &mut ClusterExtras,
    mut classes: Vec<IngressClass>,
    ingresses: Vec<(Obj<'_>, Ingress)>,
) {
    if classes.is_empty() && !ingresses.is_empty() {
        classes.push(IngressClass {
            name: "nginx".to_string(),
            controller: NGINX_CONTROLLER.to_string(),
            is_default: true,
            created: None,
        });
    }
    // The newest default class wins, then the first name
    // (plugin/pkg/admission/network/defaultingressclass/admission.go, kubernetes v1.34).
    let default_class = classes
        .iter()
        .filter(|c| c.is_default)
        .min_by(|a, b| b.created.unwrap_or(i64::MAX).cmp(&a.created.unwrap_or(i64::MAX)).then(a.name.cmp(&b.name)))
        .map(|c| c.name.clone());
    for (obj, mut ingress) in ingresses {
        // The plugin leaves alone an Ingress that names its class either way.
        if ingress.class_name.is_none() && ingress.class_annotation.is_none() {
            ingress.class_name = default_class.clone();
        }
        let at = obj.node.get("spec").map(|n| n.pos).unwrap_or(obj.node.pos);
        let mut check = |backend: &IngressBackend| {
            let Some(service) = cluster.service(&ingress.namespace, &backend.service) else {
                cx.warn(
                    &obj,
                    at,
                    "spec",
                    format!(
                        "backend Service {}/{} does not exist (yet); requests to it will fail",
                        ingress.namespace, backend.service
                    ),
                );
                return;
            };
            let found = match &backend.port {
                IngressPort::Number(n) => service.ports.iter().any(|p| p.port == *n),
                IngressPort::Name(name) => service.ports.iter().any(|p| p.name.as_deref() == Some(name.as_str())),
            };
            if !found {
                cx.warn(
                    &obj,
                    at,
                    "spec",
                    format!(
                        "backend Service {}/{} has no port {}; ingress-nginx gives that backend no endpoints, so it answers 503",
                        ingress.namespace, backend.service, backend.port
                    ),
                );
            }
        };
        if let Some(b) = &ingress.default_backend {
            check(b);
        }
        for rule in &ingress.rules {
            for path in &rule.paths {
                check(&path.backend);
            }
        }
        extras.ingresses.push(ingress);
    }
    extras.ingress_classes = classes;
}
