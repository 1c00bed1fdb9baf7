//! HTTP/1.1's wire form (RFC 9112): a request or response as the bytes of a TCP payload.
//!
//! `request_bytes` writes what a client such as curl sends (request line, `Host` first, then the
//! other headers, a blank line); `parse_request` reads it back, as an L7 proxy's *read* stage
//! does; `response_bytes` and `parse_response` do the same for the answer, which always carries
//! `Content-Length` so the message ends where the bytes say. `fields` lists every part of a
//! message with its byte range for the inspector's bytes view. Only what the simulator sends is
//! accepted: no chunked encoding, no obsolete line folding, no pipelining.

use std::ops::Range;

use super::{Header, HttpError, Request, Response, is_tchar, reason};

/// The bytes of `request`: `METHOD PATH HTTP/1.1`, `Host: authority`, the headers, CRLF CRLF.
pub fn request_bytes(request: &Request) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", request.method, request.path, request.authority);
    for header in &request.headers {
        out.push_str(&header.name);
        out.push_str(": ");
        out.push_str(&header.value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The bytes of `response`: the status line, the headers, `Content-Length` when the response
/// does not already carry it, a blank line and the body.
pub fn response_bytes(response: &Response) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for header in &response.headers {
        out.push_str(&format!("{}: {}\r\n", header.name, header.value));
    }
    if response.header("content-length").is_none() {
        out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&response.body);
    out
}

/// Reads a request head. The `Host` header becomes `authority` and leaves `headers`; a request
/// without exactly one `Host` is refused, as RFC 9112 §3.2 tells a server to answer 400.
pub fn parse_request(bytes: &[u8]) -> Result<Request, HttpError> {
    let head = head(bytes)?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError(format!("`{line}` is not a request line (METHOD PATH HTTP/1.1)")));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(HttpError(format!("`{method}` is not a method")));
    }
    if version != "HTTP/1.1" {
        return Err(HttpError(format!("`{version}`: only HTTP/1.1 is read here")));
    }
    let mut headers = header_lines(lines)?;
    let hosts: Vec<usize> =
        headers.iter().enumerate().filter(|(_, h)| h.name.eq_ignore_ascii_case("host")).map(|(i, _)| i).collect();
    let [host] = hosts.as_slice() else {
        return Err(HttpError(format!("a request needs exactly one Host header, not {}", hosts.len())));
    };
    let authority = headers.remove(*host).value;
    Ok(Request { method: method.to_string(), authority, path: path.to_string(), headers })
}

/// Reads a response: its status, headers and the `Content-Length` bytes of body that follow.
pub fn parse_response(bytes: &[u8]) -> Result<Response, HttpError> {
    let head = head(bytes)?;
    let body_start = head.len() + 4;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| HttpError(format!("`{line}` is not a status line")))?;
    let headers = header_lines(lines)?;
    let length = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| h.value.parse::<usize>().map_err(|_| HttpError(format!("`{}` is not a Content-Length", h.value))))
        .transpose()?
        .unwrap_or(0);
    let body = bytes
        .get(body_start..body_start + length)
        .ok_or_else(|| HttpError(format!("the body is shorter than its Content-Length of {length}")))?;
    Ok(Response { status, headers, body: body.to_vec() })
}

/// The message head: everything before the first blank line, as text.
fn head(bytes: &[u8]) -> Result<&str, HttpError> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| HttpError("the message head does not end with a blank line".into()))?;
    std::str::from_utf8(&bytes[..end]).map_err(|_| HttpError("the message head is not text".into()))
}

fn header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Vec<Header>, HttpError> {
    lines
        .map(|line| {
            let (name, value) =
                line.split_once(':').ok_or_else(|| HttpError(format!("`{line}` is not a header line")))?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(HttpError(format!("`{name}` is not a header name")));
            }
            Ok(Header::new(name, value.trim()))
        })
        .collect()
}

/// One part of an HTTP/1.1 message and where its bytes are, relative to the message's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub value: String,
    pub bytes: Range<usize>,
}

/// Every line of a message (start line, each header, the blank line) and the body, with their
/// byte ranges; empty when the bytes are not an HTTP/1.1 message head.
pub fn fields(bytes: &[u8]) -> Vec<Part> {
    let Ok(head) = head(bytes) else { return Vec::new() };
    let mut out = Vec::new();
    let mut at = 0;
    for (index, line) in head.split("\r\n").enumerate() {
        let range = at..at + line.len() + 2;
        at = range.end;
        let (name, value) = if index == 0 {
            let name = if line.starts_with("HTTP/") { "status line" } else { "request line" };
            (name.to_string(), line.to_string())
        } else {
            match line.split_once(':') {
                Some((name, value)) => (name.to_string(), value.trim().to_string()),
                None => (String::new(), line.to_string()),
            }
        };
        out.push(Part { name, value, bytes: range });
    }
    out.push(Part { name: "end of head".into(), value: String::new(), bytes: at..at + 2 });
    at += 2;
    if at < bytes.len() {
        out.push(Part {
            name: "body".into(),
            value: String::from_utf8_lossy(&bytes[at..]).into_owned(),
            bytes: at..bytes.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            authority: "web.default.svc.cluster.local".into(),
            path: path.into(),
            headers: headers.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
        }
    }

    #[test]
    fn test_request_bytes_and_back() {
        let request = get("/hello", &[("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]);
        let bytes = request_bytes(&request);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "GET /hello HTTP/1.1\r\nHost: web.default.svc.cluster.local\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
        );
        assert_eq!(parse_request(&bytes).unwrap(), request);
    }

    fn check_request(text: &str, expect: &str) {
        let got = match parse_request(text.as_bytes()) {
            Ok(r) => format!("{} {} {} {}", r.method, r.authority, r.path, r.headers.len()),
            Err(err) => format!("error: {err}"),
        };
        assert!(got.contains(expect), "{text:?}: got `{got}`, expected `{expect}`");
    }

    #[test]
    fn test_parse_request_cases() {
        check_request("GET / HTTP/1.1\r\nhost: a\r\n\r\n", "GET a / 0");
        check_request("POST /x?y HTTP/1.1\r\nX-A: 1\r\nHost: b:8080\r\n\r\n", "POST b:8080 /x?y 1");
        check_request("GET / HTTP/1.1\r\n\r\n", "exactly one Host header, not 0");
        check_request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "not 2");
        check_request("GET / HTTP/1.0\r\nHost: a\r\n\r\n", "only HTTP/1.1");
        check_request("GET /\r\nHost: a\r\n\r\n", "not a request line");
        check_request("GET / HTTP/1.1\r\nHost: a\r\n", "does not end with a blank line");
        check_request("GET / HTTP/1.1\r\nHost a\r\n\r\n", "not a header line");
        check_request("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "not a method");
    }

    #[test]
    fn test_response_bytes_and_back() {
        let response = Response {
            status: 200,
            headers: vec![Header::new("Content-Type", "text/plain")],
            body: b"served by pod/web-0\n".to_vec(),
        };
        let bytes = response_bytes(&response);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nserved by pod/web-0\n"
        );
        let back = parse_response(&bytes).unwrap();
        assert_eq!((back.status, back.body), (200, response.body));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").is_err());
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn test_fields_cover_every_byte() {
        let bytes = response_bytes(&Response { status: 404, headers: vec![], body: b"nope".to_vec() });
        let parts = fields(&bytes);
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["status line", "Content-Length", "end of head", "body"]);
        assert_eq!(parts[0].value, "HTTP/1.1 404 Not Found");
        assert_eq!(parts.last().unwrap().bytes.end, bytes.len());
        for pair in parts.windows(2) {
            assert_eq!(pair[0].bytes.end, pair[1].bytes.start);
        }
        assert!(fields(b"\x16\x03\x01").is_empty());
    }
}
