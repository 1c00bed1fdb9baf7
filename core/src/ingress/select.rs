//! Choosing a server and a location the way nginx does, over the configuration `config` built.
//!
//! Server selection (nginx http/ngx_http_core_module.c, `ngx_http_find_virtual_server`, nginx
//! 1.22): the Host is lowercased, its port and one trailing dot dropped; an exact `server_name`
//! wins, then the regex names in the order the configuration lists them (ingress-nginx writes
//! `*.foo.com` as `~^(?<subdomain>[\w-]+)\.foo\.com$`, template.go `buildServerName`), then the
//! `default_server`, `_`. Location selection (`ngx_http_core_find_location`): an `=` location
//! equal to the URI wins at once; otherwise the longest prefix location is remembered, the regex
//! locations are tried in order and the first that matches wins, and without one the longest
//! prefix serves. The URI is first normalised as nginx does (`ngx_http_parse_complex_uri`):
//! the query dropped, `%XX` decoded, slashes merged, `.` and `..` resolved.

use super::config::{Config, DEFAULT_SERVER, Location, Server, Upstream};
use crate::trace::Text;

/// One request as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The `Host` header; `None` when the client sent the controller's address (or nothing).
    pub host: Option<&'a str>,
    /// The request target as sent (`/foo?x=1`).
    pub path: &'a str,
}

/// How the server was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMatch {
    /// `server_name` equal to the Host.
    Exact,
    /// A wildcard host's regex `server_name`.
    Wildcard,
    /// No name matched: the `default_server`.
    Default,
}

/// How the location was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationMatch {
    /// An `=` location equal to the URI.
    Exact,
    /// The longest prefix location, no regex matching.
    Prefix,
    /// The first regex location that matched.
    Regex,
}

/// A location that was considered and lost, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The location's index in its server (`render::location_at` places it in the rendered text).
    pub index: usize,
    pub directive: String,
    pub why: Text,
}

/// What the controller answers itself, when it does not proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    pub why: String,
}

/// The controller's decision for one request: server → location → upstream (the balancer's pick
/// among the upstream's endpoints is `balance`'s, given the endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The normalised URI nginx matched.
    pub uri: String,
    /// Index into `Config::servers`, its hostname and its `server_name` directive as written.
    pub server: usize,
    pub hostname: String,
    pub server_name: String,
    pub server_match: ServerMatch,
    /// Index into the server's locations and the `location` line as written, when one matched.
    pub location: Option<usize>,
    pub directive: Option<String>,
    pub location_match: Option<LocationMatch>,
    /// The other locations of the server and why each lost.
    pub candidates: Vec<Candidate>,
    /// The upstream the request goes to; `Upstream::Default` is the controller's 404 backend.
    pub upstream: Option<Upstream>,
    /// `namespace/name` of the Ingress whose path matched.
    pub ingress: Option<String>,
    /// `round_robin` or `ewma`, and the affinity cookie, of the matched location.
    pub load_balance: String,
    pub affinity_cookie: Option<String>,
    /// Set when the controller answers itself: 400 for a URI or Host nginx refuses, 308 for
    /// plain HTTP to a TLS host, 404 from the default backend. A 503 for an upstream without
    /// ready endpoints is decided by `respond`, which knows the endpoints.
    pub response: Option<Response>,
}

/// The Host as nginx keeps it (`ngx_http_validate_host`): lowercased, without port or one
/// trailing dot; `None` when nginx answers 400.
pub fn normalize_host(host: &str) -> Option<String> {
    let mut h = host.to_ascii_lowercase();
    if let Some(i) = h.rfind(':')
        && !h.starts_with('[')
    {
        h.truncate(i);
    }
    if h.ends_with('.') {
        h.pop();
    }
    if h.contains("..") || h.contains('/') || h.contains('\\') || h.bytes().any(|b| b < 0x21) {
        return None;
    }
    Some(h)
}

/// The URI as nginx matches it, or `None` when nginx answers 400 (`..` above the root, a
/// target that does not start with `/`, a bad `%` escape or a NUL).
pub fn normalize_path(target: &str) -> Option<String> {
    let raw = target.split(['?', '#']).next().unwrap_or("");
    if !raw.starts_with('/') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut decoded: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if b == 0 {
                return None;
            }
            decoded.push(b);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8_lossy(&decoded).into_owned();
    let mut parts: Vec<&str> = Vec::new();
    let segments: Vec<&str> = text.split('/').skip(1).collect();
    let trailing = text.ends_with('/') || text.ends_with("/.") || text.ends_with("/..");
    for seg in &segments {
        match *seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    if trailing && !parts.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// The regex ingress-nginx writes for a wildcard host (template.go, `buildServerName`).
pub fn server_name(hostname: &str) -> String {
    match hostname.strip_prefix("*.") {
        Some(rest) => format!("~^(?<subdomain>[\\w-]+)\\.{}$", rest.split('.').collect::<Vec<_>>().join("\\.")),
        None => hostname.to_string(),
    }
}

/// Whether `host` matches a wildcard server: exactly one label of `[\w-]+` before the suffix.
fn wildcard_matches(hostname: &str, host: &str) -> bool {
    let Some(suffix) = hostname.strip_prefix("*.") else { return false };
    let Some(label) = host.strip_suffix(suffix).and_then(|h| h.strip_suffix('.')) else { return false };
    !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The server nginx picks for a (normalised) host.
fn pick_server(config: &Config, host: Option<&str>) -> (usize, ServerMatch) {
    let default = config.servers.iter().position(|s| s.hostname == DEFAULT_SERVER).unwrap_or(0);
    let Some(host) = host else { return (default, ServerMatch::Default) };
    if let Some(i) = config.servers.iter().position(|s| s.hostname == host && s.hostname != DEFAULT_SERVER) {
        return (i, ServerMatch::Exact);
    }
    if let Some(i) = config.servers.iter().position(|s| wildcard_matches(&s.hostname, host)) {
        return (i, ServerMatch::Wildcard);
    }
    (default, ServerMatch::Default)
}

/// A case-insensitive regex location's pattern, compiled; `None` when lbplay's regex engine
/// cannot read it (PCRE features such as look-around).
pub fn location_regex(path: &str) -> Option<regex_lite::Regex> {
    regex_lite::RegexBuilder::new(&format!("^{path}")).case_insensitive(true).build().ok()
}

/// The location nginx picks in `server` for `uri`, how, and why every other one lost
/// (ngx_http_core_find_location: exact `=` first, then the longest prefix; with regex locations,
/// the first that matches in the order they are written).
fn pick_location(server: &Server, uri: &str) -> (Option<(usize, LocationMatch)>, Vec<Candidate>) {
    let mut why: Vec<Option<Text>> = vec![None; server.locations.len()];
    let mut chosen: Option<(usize, LocationMatch)> = None;
    if server.enforce_regex {
        for (i, loc) in server.locations.iter().enumerate() {
            if chosen.is_some() {
                why[i] = Some(Text::new("listed after the regex that matched first", "排在先匹配上的那个正则之后"));
                continue;
            }
            match location_regex(&loc.path) {
                Some(re) if re.is_match(uri) => chosen = Some((i, LocationMatch::Regex)),
                Some(_) => {
                    why[i] = Some(Text::new(format!("the regex does not match {uri}"), format!("正则不匹配 {uri}")))
                }
                None => {
                    why[i] = Some(Text::new(
                        "lbplay cannot evaluate this regex (PCRE-only syntax)",
                        "lbplay 无法计算这个正则（仅 PCRE 支持的语法）",
                    ))
                }
            }
        }
    } else {
        // Exact locations first: nginx stops at an `=` location equal to the URI.
        if let Some(i) = server.locations.iter().position(|l| l.exact && l.path == uri) {
            chosen = Some((i, LocationMatch::Exact));
        } else {
            let best = server
                .locations
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.exact && uri.starts_with(l.path.as_str()))
                .max_by_key(|(_, l)| l.path.len())
                .map(|(i, _)| i);
            chosen = best.map(|i| (i, LocationMatch::Prefix));
        }
        let exact_won = chosen.is_some_and(|(_, how)| how == LocationMatch::Exact);
        for (i, loc) in server.locations.iter().enumerate() {
            if chosen.is_some_and(|(c, _)| c == i) {
                continue;
            }
            why[i] = Some(if loc.exact {
                if loc.path == uri {
                    Text::new("an earlier exact location", "前面已有相同的精确 location")
                } else {
                    Text::new(
                        format!("= needs the URI to be exactly {}", loc.path),
                        format!("= 要求 URI 恰好是 {}", loc.path),
                    )
                }
            } else if uri.starts_with(loc.path.as_str()) && exact_won {
                Text::new(
                    format!("{} is a prefix of {uri}, but an exact location matched", loc.path),
                    format!("{} 是 {uri} 的前缀，但精确 location 已匹配", loc.path),
                )
            } else if uri.starts_with(loc.path.as_str()) {
                Text::new(
                    format!("{} is a prefix of {uri}, but a longer prefix matched", loc.path),
                    format!("{} 是 {uri} 的前缀，但有更长的前缀匹配", loc.path),
                )
            } else {
                Text::new(format!("{} is not a prefix of {uri}", loc.path), format!("{} 不是 {uri} 的前缀", loc.path))
            });
        }
    }
    let candidates = server
        .locations
        .iter()
        .zip(why)
        .enumerate()
        .filter_map(|(index, (l, w))| {
            w.map(|why| Candidate { index, directive: l.directive(server.enforce_regex), why })
        })
        .collect();
    (chosen, candidates)
}

/// Whether a certificate is configured for this host, as ingress-nginx's Lua looks it up
/// (rootfs/etc/nginx/lua/certificate.lua, `get_pem_cert_uid`): the host itself, then the host
/// with its first label replaced by `*`.
fn certificate_for(config: &Config, host: &str) -> bool {
    let wildcard = host.split_once('.').map(|(_, rest)| format!("*.{rest}"));
    config.servers.iter().any(|s| s.tls && (s.hostname == host || Some(&s.hostname) == wildcard.as_ref()))
}

/// Routes one request through the configuration.
pub fn route(config: &Config, request: &Request<'_>) -> Decision {
    let host = request.host.map(normalize_host);
    let uri = normalize_path(request.path);
    let (server, server_match) = pick_server(config, host.clone().flatten().as_deref());
    let s = &config.servers[server.min(config.servers.len().saturating_sub(1))];
    let mut d = Decision {
        uri: uri.clone().unwrap_or_default(),
        server,
        hostname: s.hostname.clone(),
        server_name: format!("server_name \"{}\";", server_name(&s.hostname)),
        server_match,
        location: None,
        directive: None,
        location_match: None,
        candidates: Vec::new(),
        upstream: None,
        ingress: None,
        load_balance: "round_robin".to_string(),
        affinity_cookie: None,
        response: None,
    };
    let (Some(uri), Some(host)) = (uri, host.unwrap_or(Some(String::new()))) else {
        d.response =
            Some(Response { status: 400, location: None, why: "nginx refuses the Host or the URI".to_string() });
        return d;
    };
    let (chosen, candidates) = pick_location(s, &uri);
    d.candidates = candidates;
    let Some((li, how)) = chosen else {
        d.response =
            Some(Response { status: 404, location: None, why: "no location of the server matches".to_string() });
        return d;
    };
    let loc: &Location = &s.locations[li];
    d.location = Some(li);
    d.directive = Some(loc.directive(s.enforce_regex));
    d.location_match = Some(how);
    d.upstream = Some(loc.upstream.clone());
    d.ingress = if loc.default_root && loc.upstream == Upstream::Default { None } else { loc.ingress.clone() };
    d.load_balance = loc.load_balance.clone();
    d.affinity_cookie = loc.affinity_cookie.clone();
    // The redirect runs in the location's rewrite phase (lua_ingress.lua, `redirect_to_https`),
    // with http-redirect-code 308 and no trailing slash (preserve-trailing-slash false).
    let redirect = request.scheme == "http"
        && (loc.force_ssl_redirect || (loc.ssl_redirect && !host.is_empty() && certificate_for(config, &host)));
    if redirect {
        let mut target = request.path.to_string();
        if target.ends_with('/') {
            target.pop();
        }
        d.response = Some(Response {
            status: 308,
            location: Some(format!("https://{host}{target}")),
            why: "the host has TLS: plain HTTP is redirected to HTTPS".to_string(),
        });
    } else if loc.upstream == Upstream::Default {
        d.response = Some(Response {
            status: 404,
            location: None,
            why: "the controller's default backend (127.0.0.1:8181) answers 404".to_string(),
        });
    }
    d
}
