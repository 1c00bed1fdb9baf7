//! The nginx configuration ingress-nginx would build from the Ingresses it takes, as data.
//!
//! `build` follows the controller's own pipeline (internal/ingress/controller/controller.go,
//! `createServers` and `getBackendServers`, then location.go, `updateServerLocations`,
//! controller v1.15.1): Ingresses oldest first; one server per host, created with a root
//! location `/` whose upstream is the creating Ingress's `defaultBackend` or the controller's
//! default backend; each path a location, the first Ingress to claim a host, path and type
//! keeping it; locations sorted longest first; each Prefix path normalised to end in `/` with an
//! exact twin unless an Exact location has that path or its Ingress asks for regex. The same data
//! is rendered as text (`render`) and searched the way nginx searches it (`select`).

use crate::model::{Ingress, IngressBackend, IngressPort, PathType};

/// The server ingress-nginx writes for rules without a host and for requests no server names.
pub const DEFAULT_SERVER: &str = "_";
/// The upstream of the controller's own default backend (127.0.0.1:8181, which answers 404).
pub const DEFAULT_UPSTREAM: &str = "upstream-default-backend";

/// The whole configuration: servers sorted by hostname, `_` among them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub servers: Vec<Server>,
    /// Locations dropped because nginx would refuse a second location with the same name
    /// (`duplicate location`), with the Ingress that wrote them.
    pub conflicts: Vec<String>,
}

/// One `server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// The host as the Ingress writes it (`foo.bar.com`, `*.foo.com`, `_`).
    pub hostname: String,
    /// Whether an Ingress contributing this host has a `spec.tls` section: then the server has a
    /// certificate (its own, or the controller's fake one), and plain HTTP is redirected.
    pub tls: bool,
    /// Whether any location asks for regex (`use-regex` or a `rewrite-target` differing from
    /// its path): then every location of the server is written as `~*` (template.go,
    /// `enforceRegexModifier`).
    pub enforce_regex: bool,
    /// In the order nginx's configuration lists them.
    pub locations: Vec<Location>,
}

/// Where a location sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A Service port in the Ingress's namespace.
    Service { namespace: String, service: String, port: IngressPort },
    /// The controller's default backend, which answers 404.
    Default,
}

impl Upstream {
    /// The upstream name ingress-nginx gives it: `namespace-service-port`
    /// (controller.go, `upstreamName`).
    pub fn name(&self) -> String {
        match self {
            Upstream::Service { namespace, service, port } => format!("{namespace}-{service}-{port}"),
            Upstream::Default => DEFAULT_UPSTREAM.to_string(),
        }
    }
}

/// One `location` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The location's path after normalisation (`/foo/` for `Prefix /foo`).
    pub path: String,
    /// `Exact` or `Prefix` (ImplementationSpecific is read as Prefix, k8s/main.go,
    /// `SetDefaultNGINXPathType`); the server's `enforce_regex` overrides both when rendered.
    pub exact: bool,
    pub upstream: Upstream,
    /// `namespace/name` of the Ingress that wrote it; `None` for the controller's own root.
    pub ingress: Option<String>,
    /// The path and type as the Ingress wrote them; `None` for a server's root default location.
    pub ingress_path: Option<(String, PathType)>,
    /// The root location a server starts with (upstream: the creating Ingress's defaultBackend or
    /// the controller's default backend) that no path has replaced.
    pub default_root: bool,
    /// The exact twin `updateServerLocations` adds for a Prefix path.
    pub twin: bool,
    /// `ssl-redirect` (default true) and `force-ssl-redirect` of the location's Ingress.
    pub ssl_redirect: bool,
    pub force_ssl_redirect: bool,
    /// The `load-balance` setting of the location's Ingress (`round_robin` when unset).
    pub load_balance: String,
    /// The session cookie's name when the Ingress sets `affinity: cookie`.
    pub affinity_cookie: Option<String>,
}

impl Location {
    /// The location's modifier and quoted path as ingress-nginx's template writes them
    /// (template.go, `buildLocation`): `~* "^/foo"` in a regex server, `= "/foo"` for Exact,
    /// `"/foo/"` for Prefix. Backslashes and quotes are escaped (`sanitizeQuotedRegex`).
    pub fn directive(&self, enforce_regex: bool) -> String {
        let path = sanitize(&self.path);
        if enforce_regex {
            format!("location ~* \"^{path}\"")
        } else if self.exact {
            format!("location = \"{path}\"")
        } else {
            format!("location \"{path}\"")
        }
    }
}

/// Backslashes and double quotes escaped, as `sanitizeQuotedRegex` does.
pub(crate) fn sanitize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An Ingress's annotations as a location carries them.
fn apply(loc: &mut Location, ing: &Ingress) {
    let a = &ing.annotations;
    loc.ssl_redirect = a.ssl_redirect.unwrap_or(true);
    loc.force_ssl_redirect = a.force_ssl_redirect.unwrap_or(false);
    loc.load_balance = match a.load_balance.as_deref() {
        Some("ewma") => "ewma".to_string(),
        _ => "round_robin".to_string(),
    };
    loc.affinity_cookie = (a.affinity.as_deref() == Some("cookie"))
        .then(|| a.session_cookie_name.clone().unwrap_or_else(|| "INGRESSCOOKIE".to_string()));
}

/// Whether a location of this Ingress is a regex one (template.go, `needsRewrite` or
/// `Rewrite.UseRegex`).
fn wants_regex(ing: &Ingress, path: &str) -> bool {
    ing.annotations.use_regex || ing.annotations.rewrite_target.as_deref().is_some_and(|t| t != path)
}

fn upstream(ing: &Ingress, backend: &IngressBackend) -> Upstream {
    Upstream::Service { namespace: ing.namespace.clone(), service: backend.service.clone(), port: backend.port.clone() }
}

fn root(ing: Option<&Ingress>, upstream: Upstream) -> Location {
    let mut loc = Location {
        path: "/".to_string(),
        exact: false,
        upstream,
        ingress: ing.map(|i| format!("{}/{}", i.namespace, i.name)),
        ingress_path: None,
        default_root: true,
        twin: false,
        ssl_redirect: true,
        force_ssl_redirect: false,
        load_balance: "round_robin".to_string(),
        affinity_cookie: None,
    };
    if let Some(ing) = ing {
        apply(&mut loc, ing);
    }
    loc
}

/// Sorts Ingresses as the controller's store does (store.go, `sortIngressSlice`): by
/// `creationTimestamp`, and on a tie by `namespace/name` **descending**. An Ingress without a
/// timestamp was created with the scenario, after every Ingress that has one.
pub fn merge_order(ingresses: &mut [&Ingress]) {
    crate::sort::sort_by(ingresses, |a, b| {
        let key = |i: &Ingress| (i.created.is_none(), i.created.unwrap_or(0));
        key(a).cmp(&key(b)).then_with(|| (&b.namespace, &b.name).cmp(&(&a.namespace, &a.name)))
    });
}

/// Builds the configuration from the Ingresses the controller takes (any order).
pub fn build(taken: &[&Ingress]) -> Config {
    let mut ings: Vec<&Ingress> = taken.to_vec();
    merge_order(&mut ings);
    type Wishes = Vec<bool>;
    let mut servers: Vec<(Server, Wishes)> = Vec::new();
    // Hostname to index in `servers`, so a thousand hosts are not searched one by one.
    let mut index: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    index.insert(DEFAULT_SERVER.to_string(), 0);
    // Each location's regex wish rides beside it until the server is finished.
    servers.push((
        Server {
            hostname: DEFAULT_SERVER.to_string(),
            tls: false,
            enforce_regex: false,
            locations: vec![root(None, Upstream::Default)],
        },
        vec![false],
    ));
    // createServers: the servers, their root locations and the catch-all.
    for ing in &ings {
        let mut un = Upstream::Default;
        if let Some(b) = &ing.default_backend {
            un = upstream(ing, b);
            let def = &mut servers[0].0.locations[0];
            if def.default_root && def.ingress.is_none() && ing.rules.is_empty() {
                // An Ingress with a backend and no rule is the catch-all.
                let mut loc = root(Some(ing), un.clone());
                loc.default_root = false;
                *def = loc;
            }
        }
        for rule in &ing.rules {
            let host = rule.host.as_deref().unwrap_or(DEFAULT_SERVER);
            if index.contains_key(host) {
                continue;
            }
            let loc = root(Some(ing), un.clone());
            let regex = wants_regex(ing, "/");
            index.insert(host.to_string(), servers.len());
            servers.push((
                Server { hostname: host.to_string(), tls: false, enforce_regex: false, locations: vec![loc] },
                vec![regex],
            ));
        }
    }
    // The certificate: the first (oldest) Ingress with a TLS section that serves the host.
    for ing in &ings {
        for rule in &ing.rules {
            let host = rule.host.as_deref().unwrap_or(DEFAULT_SERVER);
            if let Some(&i) = index.get(host)
                && !ing.tls.is_empty()
                && host != DEFAULT_SERVER
            {
                servers[i].0.tls = true;
            }
        }
    }
    // getBackendServers: the paths.
    for ing in &ings {
        for rule in &ing.rules {
            let host = rule.host.as_deref().unwrap_or(DEFAULT_SERVER);
            let Some(&si) = index.get(host) else { continue };
            for p in &rule.paths {
                let exact = p.path_type == PathType::Exact;
                let (server, wishes) = &mut servers[si];
                let mut add = true;
                for (li, loc) in server.locations.iter_mut().enumerate() {
                    if loc.path != p.path {
                        continue;
                    }
                    // Same path, other type: both stay.
                    if loc.exact != exact {
                        break;
                    }
                    add = false;
                    if loc.default_root {
                        let mut new = root(Some(ing), upstream(ing, &p.backend));
                        new.default_root = false;
                        new.exact = exact;
                        new.ingress_path = Some((p.path.clone(), p.path_type));
                        *loc = new;
                        wishes[li] = wants_regex(ing, &p.path);
                    }
                    break;
                }
                if add {
                    let mut loc = root(Some(ing), upstream(ing, &p.backend));
                    loc.default_root = false;
                    loc.exact = exact;
                    loc.path = p.path.clone();
                    loc.ingress_path = Some((p.path.clone(), p.path_type));
                    server.locations.push(loc);
                    wishes.push(wants_regex(ing, &p.path));
                }
            }
        }
    }
    let mut out = Config::default();
    for (mut server, wishes) in servers {
        // Sorted by path descending, then (stably) by length descending.
        let mut paired: Vec<(Location, bool)> = server.locations.into_iter().zip(wishes).collect();
        // (The controller sorts twice, stably: by path, then by length; one stable sort on
        // (length, path) gives the same order.)
        crate::sort::sort_by(&mut paired, |a, b| {
            b.0.path.len().cmp(&a.0.path.len()).then_with(|| b.0.path.cmp(&a.0.path))
        });
        server.enforce_regex = paired.iter().any(|(_, regex)| *regex);
        // updateServerLocations: normalise Prefix paths and add their exact twins.
        let exacts: Vec<String> = paired.iter().filter(|(l, _)| l.exact).map(|(l, _)| l.path.clone()).collect();
        let mut locations: Vec<Location> = Vec::new();
        for (mut loc, regex) in paired {
            if loc.path == "/" || loc.exact || regex {
                locations.push(loc);
                continue;
            }
            let had_exact = exacts.contains(&loc.path);
            let mut twin = loc.clone();
            if !loc.path.ends_with('/') {
                loc.path.push('/');
            }
            locations.push(loc);
            if !had_exact {
                twin.exact = true;
                twin.twin = true;
                locations.push(twin);
            }
        }
        // nginx refuses two locations of the same name; the first one stays.
        let mut kept: Vec<Location> = Vec::new();
        for loc in locations {
            let dup = kept.iter().any(|k| k.path == loc.path && (server.enforce_regex || k.exact == loc.exact));
            if dup {
                out.conflicts.push(format!(
                    "{}: {} from {} duplicates an earlier location; nginx would refuse the configuration",
                    server.hostname,
                    loc.directive(server.enforce_regex),
                    loc.ingress.as_deref().unwrap_or("the controller")
                ));
            } else {
                kept.push(loc);
            }
        }
        server.locations = kept;
        out.servers.push(server);
    }
    crate::sort::sort_by(&mut out.servers, |a, b| a.hostname.cmp(&b.hostname));
    out
}
