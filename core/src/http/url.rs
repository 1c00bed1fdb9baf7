//! The URL a learner sends a request to: `http://`, `https://`, `h2c://` or `grpc://`.
//!
//! This module owns reading `--to URL` (design.md, "Contract: L7 requests") into a `Target`: the
//! scheme (which says the protocol), the host (which becomes `Host` / `:authority` and is what
//! resolves), the port (the scheme's default when absent) and the path with its query. A URL the
//! simulator cannot send is an error that names the argument, never a guess: userinfo, IPv6
//! literals (not modelled), a port outside 1–65535, a gRPC path that is not
//! `/package.Service/Method`.

use std::net::Ipv4Addr;

use super::HttpError;

/// How the request is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HTTP/1.1 over plain TCP.
    Http,
    /// HTTP over TLS; terminated by an Ingress controller or a sidecar.
    Https,
    /// HTTP/2 over plain TCP with prior knowledge (RFC 9113 §3.3).
    H2c,
    /// gRPC, which is HTTP/2 (here without TLS).
    Grpc,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::H2c => "h2c",
            Scheme::Grpc => "grpc",
        }
    }

    /// The port a URL of this scheme means when it names none (RFC 9110 §4.2). gRPC has no
    /// default of its own over plain TCP, so it must be written.
    fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Http | Scheme::H2c => Some(80),
            Scheme::Https => Some(443),
            Scheme::Grpc => None,
        }
    }
}

/// A parsed `--to URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// The host as written, lowercased: a DNS name or an IPv4 literal.
    pub host: String,
    pub port: u16,
    /// Whether the URL wrote its port (then `Host` carries it, as curl sends it).
    pub explicit_port: bool,
    /// The path and query, at least `/`; the fragment is not sent (RFC 9110 §4.2.4).
    pub path: String,
}

impl Target {
    /// Whether `text` looks like a URL rather than `IP:PORT`.
    pub fn is_url(text: &str) -> bool {
        text.contains("://")
    }

    /// Reads a URL. Errors name `--to` and say what to write instead.
    pub fn parse(text: &str) -> Result<Target, HttpError> {
        let err = |why: String| HttpError(format!("--to `{text}`: {why}"));
        let (scheme, rest) = text.split_once("://").ok_or_else(|| err("is not a URL (scheme://host/path)".into()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "h2c" => Scheme::H2c,
            "grpc" => Scheme::Grpc,
            other => {
                return Err(err(format!("the scheme `{other}` is not one lbplay sends; use http, https, h2c or grpc")));
            }
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) if rest.as_bytes()[at] == b'?' => (&rest[..at], format!("/{}", &rest[at..])),
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(err("credentials in the URL (user@host) are not modelled".into()));
        }
        if authority.starts_with('[') {
            return Err(err("IPv6 addresses are not modelled; use an IPv4 address or a name".into()));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| err(format!("`{port}` is not a port (1–65535)")))?;
                (host, Some(port))
            }
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(err("the URL names no host".into()));
        }
        let host = host.to_ascii_lowercase();
        if host.parse::<Ipv4Addr>().is_err() && !is_dns_name(&host) {
            return Err(err(format!("`{host}` is not a host name or an IPv4 address")));
        }
        let Some(port) = port.or(scheme.default_port()) else {
            return Err(err("a grpc:// URL needs its port, as in grpc://web:50051/helloworld.Greeter/SayHello".into()));
        };
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err("the path holds a space or a control character; percent-encode it".into()));
        }
        if scheme == Scheme::Grpc {
            grpc_method(&path).map_err(|why| err(why.0))?;
        }
        Ok(Target { scheme, host, port, explicit_port: port_written(authority), path })
    }

    /// The `Host` header (or `:authority`) a client sends for this URL: the host, with the port
    /// when the URL wrote one (curl keeps an explicit port even when it is the default).
    pub fn authority(&self) -> String {
        if self.explicit_port { format!("{}:{}", self.host, self.port) } else { self.host.clone() }
    }
}

fn port_written(authority: &str) -> bool {
    authority.rsplit_once(':').is_some()
}

/// curl's `--resolve HOST:PORT:ADDRESS`: the address a name has on one port, whatever DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub ip: Ipv4Addr,
}

impl Resolve {
    /// Reads a `--resolve` argument; errors name it and show the form.
    pub fn parse_arg(text: &str) -> Result<Resolve, HttpError> {
        let form = "write it as HOST:PORT:ADDRESS, such as web.default.svc.cluster.local:80:10.96.100.10";
        let err = |why: &str| HttpError(format!("--resolve `{text}`: {why}; {form}"));
        let mut parts = text.splitn(3, ':');
        let (Some(host), Some(port), Some(ip)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("it needs three parts"));
        };
        let host = host.to_ascii_lowercase();
        if !is_dns_name(&host) && host.parse::<Ipv4Addr>().is_err() {
            return Err(err(&format!("`{host}` is not a host name")));
        }
        let port =
            port.parse::<u16>().ok().filter(|port| *port > 0).ok_or_else(|| err(&format!("`{port}` is not a port")))?;
        let ip = ip.parse::<Ipv4Addr>().map_err(|_| err(&format!("`{ip}` is not an IPv4 address")))?;
        Ok(Resolve { host, port, ip })
    }
}

/// A DNS name of letters, digits and hyphens in dot-separated labels of 1–63 characters
/// (RFC 1123 §2.1), 253 characters at most; a trailing dot is allowed.
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Splits a gRPC request path, `/package.Service/Method`, into the service and the method
/// (grpc's PROTOCOL-HTTP2.md: `Path → ":path" "/" Service-Name "/" {method name}`).
pub fn grpc_method(path: &str) -> Result<(&str, &str), HttpError> {
    let form = "a gRPC method is /package.Service/Method, such as /helloworld.Greeter/SayHello";
    let rest = path.strip_prefix('/').ok_or_else(|| HttpError(form.into()))?;
    let (service, method) = rest.split_once('/').ok_or_else(|| HttpError(format!("`{path}`: {form}")))?;
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if service.split('.').all(ident) && ident(method) {
        Ok((service, method))
    } else {
        Err(HttpError(format!("`{path}`: {form}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let got = match Target::parse(text) {
            Ok(t) => format!("{} {} {} {} {}", t.scheme.as_str(), t.host, t.port, t.authority(), t.path),
            Err(err) => format!("error: {err}"),
        };
        assert!(
            match expect.strip_prefix("error: ") {
                Some(part) => got.starts_with("error: ") && got.contains(part),
                None => got == expect,
            },
            "{text}: got `{got}`, expected `{expect}`"
        );
    }

    #[test]
    fn test_urls() {
        check(
            "http://web.default.svc.cluster.local/hello",
            "http web.default.svc.cluster.local 80 web.default.svc.cluster.local /hello",
        );
        check("http://web", "http web 80 web /");
        check("http://Foo.Bar.com:8080/a/b?x=1#frag", "http foo.bar.com 8080 foo.bar.com:8080 /a/b?x=1");
        check("http://web?x=1", "http web 80 web /?x=1");
        check("https://foo.bar.com/", "https foo.bar.com 443 foo.bar.com /");
        check("h2c://10.96.100.10/", "h2c 10.96.100.10 80 10.96.100.10 /");
        check(
            "grpc://greeter:50051/helloworld.Greeter/SayHello",
            "grpc greeter 50051 greeter:50051 /helloworld.Greeter/SayHello",
        );
        check("http://web:80/", "http web 80 web:80 /");
    }

    #[test]
    fn test_bad_urls_name_the_argument() {
        check("ftp://web/", "error: --to `ftp://web/`: the scheme `ftp`");
        check("web/hello", "error: is not a URL");
        check("http:///hello", "error: names no host");
        check("http://web:0/", "error: `0` is not a port");
        check("http://web:99999/", "error: `99999` is not a port");
        check("http://user@web/", "error: credentials");
        check("http://[::1]/", "error: IPv6");
        check("http://we_b/", "error: is not a host name");
        check("http://web/a b", "error: percent-encode");
        check("grpc://greeter/helloworld.Greeter/SayHello", "error: needs its port");
        check("grpc://greeter:50051/SayHello", "error: a gRPC method is");
        check("grpc://greeter:50051/helloworld.Greeter/Say/Hello", "error: a gRPC method is");
    }

    #[test]
    fn test_dns_names() {
        assert!(is_dns_name("web"));
        assert!(is_dns_name("web-0.web.default.svc.cluster.local."));
        assert!(!is_dns_name("-web"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(&"a".repeat(64)));
    }

    #[test]
    fn test_resolve_arguments() {
        let ok = Resolve::parse_arg("Foo.Bar.com:80:192.168.1.240").expect("a resolve");
        assert_eq!(ok, Resolve { host: "foo.bar.com".into(), port: 80, ip: Ipv4Addr::new(192, 168, 1, 240) });
        for (arg, part) in [
            ("foo.bar.com:80", "three parts"),
            ("foo.bar.com:0:1.2.3.4", "`0` is not a port"),
            ("foo.bar.com:80:1.2.3", "not an IPv4 address"),
            ("foo_bar:80:1.2.3.4", "not a host name"),
        ] {
            let err = Resolve::parse_arg(arg).expect_err(arg);
            assert!(err.0.starts_with(&format!("--resolve `{arg}`")) && err.0.contains(part), "{err}");
        }
    }
}
