//! HTTP as the simulator speaks it: the request a client sends and the response a pod returns.
//!
//! This module owns the L7 vocabulary every proxy hop shares: a `Request` (method, authority,
//! path, headers — what design.md's trace contract shows before and after a proxy), a `Response`,
//! the URL a learner types (`url`), and HTTP/1.1's wire form (`h1`: the bytes that ride in a TCP
//! segment's payload, and their parse, which an L7 proxy's *read* stage uses). It does no I/O;
//! `h2` is HTTP/2's frame layer and the state of a connection's two ends, `hpack` its header
//! compression, and `grpc` the gRPC layer on top (headers, length-prefixed messages, trailers).

pub mod grpc;
pub mod h1;
pub mod h2;
pub mod hpack;
pub mod url;

use serde_json::{Value, json};

/// A request header, with its name as the sender spelt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header { name: name.into(), value: value.into() }
    }

    /// Parses a `--header 'Name: value'` argument as curl does: the name is a token (RFC 9110
    /// §5.1), the value is trimmed of surrounding whitespace and holds no line break. An empty
    /// value (`'Accept:'`) means "remove this header", as it does for curl.
    pub fn parse_arg(text: &str) -> Result<Header, HttpError> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(HttpError(format!("--header `{text}` has no colon: write it as 'Name: value'")));
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HttpError(format!(
                "--header `{text}`: `{name}` is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            )));
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(HttpError(format!("--header `{name}`: a value cannot hold a line break")));
        }
        Ok(Header::new(name, value.trim()))
    }
}

/// RFC 9110 §5.6.2's `tchar`: the characters of a token such as a header name or a method.
pub fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// An HTTP request as the trace shows it, whatever version carries it. `authority` is HTTP/1.1's
/// `Host` header or HTTP/2's `:authority`; `headers` are the others, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub headers: Vec<Header>,
}

/// The `User-Agent` lbplay's client sends: that of Debian 12's curl (7.88.1), the client the
/// lessons' commands are written for.
pub const CLIENT_USER_AGENT: &str = "curl/7.88.1";

impl Request {
    /// The request curl sends for `target` with `-X method` and each `-H` of `extra`: `Host` from
    /// the URL, `User-Agent` and `Accept: */*`, then the extra headers, where a `Host` replaces the
    /// URL's authority, a name already present replaces that header, and an empty value removes
    /// it (curl's `-H 'Accept:'`). A method that is not a token is an error naming `--method`.
    pub fn curl(method: &str, target: &url::Target, extra: &[Header]) -> Result<Request, HttpError> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(HttpError(format!("--method `{method}` is not a method: a token such as GET, POST or DELETE")));
        }
        let mut request = Request {
            method: method.to_string(),
            authority: target.authority(),
            path: target.path.clone(),
            headers: vec![Header::new("User-Agent", CLIENT_USER_AGENT), Header::new("Accept", "*/*")],
        };
        for header in extra {
            if header.name.eq_ignore_ascii_case("host") {
                if !header.value.is_empty() {
                    request.authority = header.value.clone();
                }
            } else if header.value.is_empty() {
                request.remove_header(&header.name);
            } else {
                request.set_header(&header.name, header.value.clone());
            }
        }
        Ok(request)
    }

    /// The value of the first header of that name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// Sets a header, replacing every one of that name; the first keeps its place.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter().position(|h| h.name.eq_ignore_ascii_case(name)) {
            Some(at) => {
                self.headers[at].value = value;
                let mut index = 0;
                self.headers.retain(|h| {
                    index += 1;
                    index - 1 == at || !h.name.eq_ignore_ascii_case(name)
                });
            }
            None => self.headers.push(Header::new(name, value)),
        }
    }

    /// Removes every header of that name.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
    }

    /// The request as design.md's trace contract spells it.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "authority": self.authority,
            "path": self.path,
            "headers": self.headers.iter().map(|h| json!([h.name, h.value])).collect::<Vec<_>>(),
        })
    }
}

/// An HTTP response: the status, its headers and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header of that name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "headers": self.headers.iter().map(|h| json!([h.name, h.value])).collect::<Vec<_>>(),
            "body": String::from_utf8_lossy(&self.body),
        })
    }
}

/// The reason phrase HTTP/1.1 servers send with a status (RFC 9110 §15), for the few statuses
/// the simulator's servers and proxies answer with.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Why a URL, header or message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(arg: &str, expect: Result<(&str, &str), &str>) {
        let got = Header::parse_arg(arg);
        match (got, expect) {
            (Ok(h), Ok((name, value))) => assert_eq!((h.name.as_str(), h.value.as_str()), (name, value), "{arg}"),
            (Err(err), Err(part)) => assert!(err.0.contains(part), "{arg}: {err}"),
            (got, expect) => panic!("{arg}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn test_header_arguments() {
        check("Accept-Language: zh-CN", Ok(("Accept-Language", "zh-CN")));
        check("X-Empty:", Ok(("X-Empty", "")));
        check("x-a:   spaced out  ", Ok(("x-a", "spaced out")));
        check("Cookie: a=b; c=d:e", Ok(("Cookie", "a=b; c=d:e")));
        check("NoColon", Err("has no colon"));
        check(": value", Err("is not a header name"));
        check("Bad Name: v", Err("is not a header name"));
        check("X: a\r\nInjected: 1", Err("line break"));
    }

    #[test]
    fn test_set_header_replaces_all_of_that_name_in_place() {
        let mut request = Request {
            method: "GET".into(),
            authority: "web".into(),
            path: "/".into(),
            headers: vec![Header::new("A", "1"), Header::new("x-b", "2"), Header::new("a", "3")],
        };
        request.set_header("a", "9");
        assert_eq!(request.headers, vec![Header::new("A", "9"), Header::new("x-b", "2")]);
        request.set_header("X-New", "n");
        assert_eq!(request.header("x-new"), Some("n"));
        request.remove_header("X-B");
        assert_eq!(request.headers.len(), 2);
    }

    #[test]
    fn test_curl_builds_what_curl_sends() {
        let target = url::Target::parse("http://web.default:8080/hello?x=1").expect("a URL");
        let extra = [Header::new("Accept", ""), Header::new("X-Trace", "on"), Header::new("user-agent", "me")];
        let request = Request::curl("POST", &target, &extra).expect("a request");
        assert_eq!(request.authority, "web.default:8080");
        assert_eq!(request.path, "/hello?x=1");
        assert_eq!(request.headers, vec![Header::new("User-Agent", "me"), Header::new("X-Trace", "on")]);
        let host = Request::curl("GET", &target, &[Header::new("Host", "foo.bar.com")]).expect("a request");
        assert_eq!(host.authority, "foo.bar.com");
        let bad = Request::curl("GE T", &target, &[]).expect_err("not a token");
        assert!(bad.0.starts_with("--method `GE T`"), "{bad}");
    }
}
