//! The request as the sidecars forward it, sans-IO: the headers Envoy adds on the way out and
//! on the way in, the wire form Envoy's HTTP/1.1 codec writes, and the answers Envoy gives
//! itself.
//!
//! Outbound (the client's sidecar; Envoy's HTTP connection manager and router,
//! source/common/http/conn_manager_utility.cc and source/common/router/router.cc, with what
//! istiod sets in pilot/pkg/networking/core/httproute.go and listener_builder.go):
//! `x-forwarded-proto` from the downstream connection (plain HTTP from the app: `http`);
//! `x-request-id`, a random UUID (version 4) unless the request has one; `x-envoy-attempt-count`,
//! because Istio sets `include_request_attempt_count` on every virtual host; and the Zipkin B3
//! headers of the span Envoy starts (`x-b3-traceid`, 64 bits unless 128-bit ids are asked for,
//! `x-b3-spanid`, `x-b3-sampled`; no `x-b3-parentspanid` on a root span), with the route's
//! decorator `x-envoy-decorator-operation: HOST:PORT/*`. That is Istio's long-standing default
//! tracer (MeshConfig `defaultConfig.tracing.zipkin`, 1% sampling); an install that configures
//! tracing through the Telemetry API with another provider writes other headers (`traceparent`
//! for OpenTelemetry), and one with no tracer writes none. Istio's metadata exchange headers
//! (`x-envoy-peer-metadata`, `x-envoy-peer-metadata-id`) are not modelled.
//!
//! Inbound (the server's sidecar), under Istio's automatic mutual TLS between two sidecars:
//! `x-forwarded-proto: https`, overwritten from the now-TLS downstream connection
//! (`xff_num_trusted_hops` is 0), and `x-forwarded-client-cert` in mode `APPEND_FORWARD` with
//! `By`, `Hash`, `Subject` and `URI` (Istio's `SANITIZE_SET` details). Envoy's HTTP/1.1 codec
//! writes header names in lower case.

use sha2::{Digest, Sha256};

use crate::http::{Header, Request, Response};
use crate::rng::Rng;

/// The identifiers Envoy draws for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub sampled: bool,
}

impl Ids {
    /// Drawn from `rng`: a UUID v4 (RFC 4122 §4.4: version nibble 4, variant bits 10), two 64-bit
    /// ids, and the 1% sampling decision.
    pub fn draw(rng: &mut Rng) -> Ids {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let request_id = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        );
        let trace_id = format!("{:016x}", rng.next_u64());
        let span_id = format!("{:016x}", rng.next_u64());
        let sampled = rng.next_u64() % 10_000 < 100;
        Ids { request_id, trace_id, span_id, sampled }
    }
}

fn set(headers: &mut Vec<Header>, name: &str, value: String) {
    headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
    headers.push(Header::new(name, value));
}

/// The request the client's sidecar sends upstream on attempt `attempt` (1 for the first) of a
/// route whose virtual host is `vhost` (`HOST:PORT`).
pub fn outbound(request: &Request, vhost: &str, attempt: u32, ids: &Ids) -> Request {
    let mut headers: Vec<Header> =
        request.headers.iter().map(|h| Header::new(h.name.to_ascii_lowercase(), h.value.clone())).collect();
    set(&mut headers, "x-forwarded-proto", "http".into());
    if request.header("x-request-id").is_none_or(str::is_empty) {
        set(&mut headers, "x-request-id", ids.request_id.clone());
    }
    set(&mut headers, "x-envoy-decorator-operation", format!("{vhost}/*"));
    set(&mut headers, "x-envoy-attempt-count", attempt.to_string());
    set(&mut headers, "x-b3-traceid", ids.trace_id.clone());
    set(&mut headers, "x-b3-spanid", ids.span_id.clone());
    set(&mut headers, "x-b3-sampled", if ids.sampled { "1" } else { "0" }.into());
    Request {
        method: request.method.clone(),
        authority: request.authority.clone(),
        path: request.path.clone(),
        headers,
    }
}

/// The two workloads of a mutual-TLS leg, by their SPIFFE identities.
pub struct Peers<'p> {
    /// The server's (`By`) and the client's (`URI`).
    pub server: &'p str,
    pub client: &'p str,
}

/// `spiffe://cluster.local/ns/NS/sa/SA`.
pub fn spiffe(namespace: &str, service_account: &str) -> String {
    format!("spiffe://cluster.local/ns/{namespace}/sa/{service_account}")
}

/// The request the server's sidecar hands the app; `mtls` when the leg was mutual TLS.
pub fn inbound(request: &Request, mtls: Option<&Peers<'_>>) -> Request {
    let mut out = request.clone();
    if let Some(peers) = mtls {
        set(&mut out.headers, "x-forwarded-proto", "https".into());
        // The certificate's SHA-256; lbplay mints no certificate, so it hashes a stand-in that
        // names the client's identity.
        let hash = Sha256::digest(format!("lbplay stand-in certificate for {}", peers.client).as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let xfcc = format!("By={};Hash={hex};Subject=\"\";URI={}", peers.server, peers.client);
        set(&mut out.headers, "x-forwarded-client-cert", xfcc);
    }
    out
}

/// The bytes Envoy's HTTP/1.1 codec writes: the request line, `host`, then the headers, every
/// name in lower case.
pub fn request_bytes(request: &Request) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", request.method, request.path, request.authority);
    for header in &request.headers {
        out.push_str(&header.name.to_ascii_lowercase());
        out.push_str(": ");
        out.push_str(&header.value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Envoy's own answer (a local reply): `no healthy upstream` for `UH`, as router.cc writes it;
/// empty bodies otherwise.
pub fn local_reply(status: u16, flag: &str) -> Response {
    let body = match flag {
        "UH" => "no healthy upstream".to_string(),
        "URX" | "UF" => {
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure".to_string()
        }
        _ => String::new(),
    };
    Response {
        status,
        headers: vec![Header::new("content-type", "text/plain"), Header::new("server", "envoy")],
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            method: "GET".into(),
            authority: "web".into(),
            path: "/hello".into(),
            headers: vec![Header::new("User-Agent", "curl/7.88.1"), Header::new("Accept", "*/*")],
        }
    }

    #[test]
    fn the_request_id_is_a_uuid_v4() {
        let ids = Ids::draw(&mut Rng::new(3));
        let id = &ids.request_id;
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(ids.trace_id.len(), 16);
    }

    #[test]
    fn outbound_then_inbound_headers() {
        let ids = Ids {
            request_id: "9d0f3c8e-0b7e-4d41-a6c2-1f6b0e1c2d3a".into(),
            trace_id: "00000000000000aa".into(),
            span_id: "00000000000000bb".into(),
            sampled: false,
        };
        let out = outbound(&request(), "web.default.svc.cluster.local:80", 1, &ids);
        let peers = Peers {
            server: "spiffe://cluster.local/ns/default/sa/default",
            client: "spiffe://cluster.local/ns/default/sa/client",
        };
        let inn = inbound(&out, Some(&peers));
        let text = String::from_utf8(request_bytes(&inn)).unwrap();
        expect_test::expect![[r#"
            GET /hello HTTP/1.1
            host: web
            user-agent: curl/7.88.1
            accept: */*
            x-request-id: 9d0f3c8e-0b7e-4d41-a6c2-1f6b0e1c2d3a
            x-envoy-decorator-operation: web.default.svc.cluster.local:80/*
            x-envoy-attempt-count: 1
            x-b3-traceid: 00000000000000aa
            x-b3-spanid: 00000000000000bb
            x-b3-sampled: 0
            x-forwarded-proto: https
            x-forwarded-client-cert: By=spiffe://cluster.local/ns/default/sa/default;Hash=9f046d46f4dee8d9b20239ba83fceb061e94d58cc4c0617cbc39fb9c65673af6;Subject="";URI=spiffe://cluster.local/ns/default/sa/client

        "#]]
        .assert_eq(&text.replace("\r\n", "\n"));
        // Without mutual TLS the app sees the outbound sidecar's `http` and no client certificate.
        let plain = inbound(&out, None);
        assert_eq!(plain.header("x-forwarded-proto"), Some("http"));
        assert_eq!(plain.header("x-forwarded-client-cert"), None);
        // A request id the app sent is kept.
        let mut with_id = request();
        with_id.headers.push(Header::new("X-Request-Id", "mine"));
        assert_eq!(outbound(&with_id, "w:80", 2, &ids).header("x-request-id"), Some("mine"));
        assert_eq!(outbound(&with_id, "w:80", 2, &ids).header("x-envoy-attempt-count"), Some("2"));
    }
}
