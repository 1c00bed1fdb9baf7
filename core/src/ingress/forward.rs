//! The request ingress-nginx sends to the pod it picked, and what it answers itself.
//!
//! `proxied` follows the location block of rootfs/etc/nginx/template/nginx.tmpl (controller
//! v1.15.1) with the ConfigMap's defaults (internal/ingress/controller/config/config.go):
//! `proxy_http_version 1.1`, and `proxy_set_header` in this order: `Host $best_http_host`,
//! `Upgrade $http_upgrade`, `Connection $connection_upgrade` (empty, because
//! `upstream-keepalive-connections` is 320: the map gives `''` for a request without `Upgrade`),
//! `X-Request-ID $req_id` (the client's, or 32 random hex digits, `generate-request-id: true`),
//! `X-Real-IP $remote_addr`, `X-Forwarded-For $remote_addr` (the client's value is not kept:
//! `use-forwarded-headers` and `compute-full-forwarded-for` are false), `X-Forwarded-Host`,
//! `X-Forwarded-Port $pass_port`, `X-Forwarded-Proto`, `X-Forwarded-Scheme`, `X-Scheme`
//! (`$pass_access_scheme`), `X-Original-Forwarded-For $http_x_forwarded_for`,
//! `X-Original-Forwarded-Host $http_x_forwarded_host` and `Proxy ""`. nginx's proxy module
//! (ngx_http_proxy_module.c, `ngx_http_proxy_create_request`) sends the set headers first,
//! leaves out those whose value is empty, then the client's own headers except those the
//! configuration set. `X-Original-URI` is off (`proxy-add-original-uri-header: false`).
//!
//! `answer` is the response the controller writes itself (a 404 from its default backend, the 308
//! to HTTPS, a 503 without endpoints, a 400): nginx's own error pages
//! (ngx_http_special_response.c), with `Server: nginx` because `server-tokens` is false.

use super::select::Response;
use crate::http::{self, Header, Request};

/// What the controller knows of the client's connection when it proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client<'a> {
    /// `$remote_addr`: the source address of the connection as it reached the controller pod.
    pub remote_addr: &'a str,
    /// `$pass_access_scheme`: `http` or `https`.
    pub scheme: &'a str,
    /// `$pass_port`: the port the connection reached (the Service's, as the pod listens on it).
    pub port: u16,
    /// `$request_id`: 32 hex digits, used when the client sent no `X-Request-ID`.
    pub request_id: &'a str,
}

/// The request as ingress-nginx proxies it.
pub fn proxied(request: &Request, client: &Client<'_>) -> Request {
    let own = |name: &str| request.header(name).map(str::to_string).unwrap_or_default();
    let host = request.authority.clone();
    let request_id = match request.header("x-request-id") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => client.request_id.to_string(),
    };
    let set: Vec<(&str, String)> = vec![
        ("Upgrade", own("upgrade")),
        ("Connection", if request.header("upgrade").is_some() { "upgrade".into() } else { String::new() }),
        ("X-Request-ID", request_id),
        ("X-Real-IP", client.remote_addr.to_string()),
        ("X-Forwarded-For", client.remote_addr.to_string()),
        ("X-Forwarded-Host", host.clone()),
        ("X-Forwarded-Port", client.port.to_string()),
        ("X-Forwarded-Proto", client.scheme.to_string()),
        ("X-Forwarded-Scheme", client.scheme.to_string()),
        ("X-Scheme", client.scheme.to_string()),
        ("X-Original-Forwarded-For", own("x-forwarded-for")),
        ("X-Original-Forwarded-Host", own("x-forwarded-host")),
        ("Proxy", String::new()),
    ];
    let mut headers: Vec<Header> = set
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| Header::new(*name, value.clone()))
        .collect();
    for header in &request.headers {
        if !set.iter().any(|(name, _)| name.eq_ignore_ascii_case(&header.name)) {
            headers.push(header.clone());
        }
    }
    Request { method: request.method.clone(), authority: host, path: request.path.clone(), headers }
}

/// The response the controller writes itself for `response`.
pub fn answer(response: &Response) -> http::Response {
    let status = response.status;
    let title = format!("{status} {}", http::reason(status));
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut headers = vec![Header::new("Server", "nginx"), Header::new("Content-Type", "text/html")];
    headers.push(Header::new("Content-Length", body.len().to_string()));
    headers.push(Header::new("Connection", "keep-alive"));
    if let Some(location) = &response.location {
        headers.push(Header::new("Location", location.clone()));
    }
    http::Response { status, headers, body: body.into_bytes() }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    /// The proxied request's head, as bytes would show it.
    fn check(extra: &[(&str, &str)], expect: Expect) {
        let mut request = Request {
            method: "GET".into(),
            authority: "foo.bar.com".into(),
            path: "/foo".into(),
            headers: vec![Header::new("User-Agent", "curl/7.88.1"), Header::new("Accept", "*/*")],
        };
        for (name, value) in extra {
            request.headers.push(Header::new(*name, *value));
        }
        let client = Client {
            remote_addr: "192.168.1.10",
            scheme: "http",
            port: 80,
            request_id: "0123456789abcdef0123456789abcdef",
        };
        let out = proxied(&request, &client);
        let text = String::from_utf8(crate::http::h1::request_bytes(&out)).expect("text");
        expect.assert_eq(&text.replace("\r\n", "\n"));
    }

    #[test]
    fn ingress_nginx_sets_its_headers_first() {
        check(
            &[],
            expect![[r#"
                GET /foo HTTP/1.1
                Host: foo.bar.com
                X-Request-ID: 0123456789abcdef0123456789abcdef
                X-Real-IP: 192.168.1.10
                X-Forwarded-For: 192.168.1.10
                X-Forwarded-Host: foo.bar.com
                X-Forwarded-Port: 80
                X-Forwarded-Proto: http
                X-Forwarded-Scheme: http
                X-Scheme: http
                User-Agent: curl/7.88.1
                Accept: */*

            "#]],
        );
    }

    #[test]
    fn client_forwarding_headers_are_replaced_and_kept_aside() {
        check(
            &[("X-Forwarded-For", "10.0.0.1"), ("X-Request-ID", "abc"), ("Proxy", "http://evil")],
            expect![[r#"
                GET /foo HTTP/1.1
                Host: foo.bar.com
                X-Request-ID: abc
                X-Real-IP: 192.168.1.10
                X-Forwarded-For: 192.168.1.10
                X-Forwarded-Host: foo.bar.com
                X-Forwarded-Port: 80
                X-Forwarded-Proto: http
                X-Forwarded-Scheme: http
                X-Scheme: http
                X-Original-Forwarded-For: 10.0.0.1
                User-Agent: curl/7.88.1
                Accept: */*

            "#]],
        );
    }

    #[test]
    fn the_controller_answers_with_nginx_pages() {
        let response = Response { status: 308, location: Some("https://a.com/x".into()), why: String::new() };
        let got = answer(&response);
        assert_eq!(got.status, 308);
        assert_eq!(got.header("location"), Some("https://a.com/x"));
        assert!(String::from_utf8_lossy(&got.body).contains("<title>308 Permanent Redirect</title>"));
    }
}
