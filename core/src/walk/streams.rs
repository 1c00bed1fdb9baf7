//! Requests as HTTP/2 streams over one connection (`h2c://` and `grpc://`, design.md's
//! "Contract: L7 requests"): the source text's gRPC section, walked.
//!
//! This stage owns what follows the handshake when the URL speaks HTTP/2: the client's end
//! writes the preface, its SETTINGS and the first request as stream 1, and each later request
//! as the next odd stream (3, 5 …) on the same connection; a pod's server end reads them back
//! (HPACK needs every block of the connection in order, so the server end lives in `Sim`, keyed
//! by the connection as the pod sees it) and answers each stream, a gRPC call with its
//! length-prefixed reply and the trailers that carry `grpc-status`. The point the walk makes is
//! the L4 one: kube-proxy chose the pod at the connection's SYN, and every later stream's
//! segment meets conntrack's stored NAT as ESTABLISHED, so no rule is consulted and no new
//! choice is made.

use std::net::SocketAddrV4;

use super::exchange::{CLIENT_ISN, SERVER_ISN, seq_ack};
use super::{Host, Sim};
use crate::http::h2::{self, Client, ClientEnd, Outgoing};
use crate::http::url::{Scheme, Target};
use crate::http::{self, Header, grpc};
use crate::packet::{Packet, Tuple};
use crate::trace::{Direction, Text, Trace};

/// The name the walk's gRPC client puts in `HelloRequest.name`.
pub(super) const HELLO_NAME: &str = "lbplay";

/// A pod's end of an HTTP/2 connection: its HPACK state and the bytes each way so far, which
/// its segments' sequence numbers count.
#[derive(Debug, Clone, Default)]
pub(super) struct ServerConn {
    end: h2::ServerEnd,
    received: usize,
    sent: usize,
}

/// The request the walk's client sends for `target`, as the trace shows it: curl's for `h2c://`
/// (`request`, built by `http::Request::curl`), grpc-go's headers for `grpc://` with the extra
/// `-H` headers as call metadata.
pub(super) fn stream_request(target: &Target, request: &http::Request) -> (Client, http::Request, Vec<u8>) {
    match target.scheme {
        Scheme::Grpc => {
            let mut headers: Vec<Header> = grpc::request_fields(&request.authority, &target.path)
                .into_iter()
                .filter(|(name, _)| !name.starts_with(':'))
                .map(|(name, value)| Header::new(name, value))
                .collect();
            for header in &request.headers {
                let name = header.name.to_ascii_lowercase();
                if !matches!(name.as_str(), "user-agent" | "accept") && !headers.iter().any(|h| h.name == name) {
                    headers.push(Header::new(name, header.value.clone()));
                }
            }
            let call = http::Request {
                method: "POST".into(),
                authority: request.authority.clone(),
                path: target.path.clone(),
                headers,
            };
            (Client::GrpcGo, call, grpc::message(&grpc::string_field_1(HELLO_NAME)))
        }
        _ => (Client::Curl, request.clone(), Vec::new()),
    }
}

impl Sim<'_> {
    /// Sends `count` requests as streams 1, 3, 5 … over the connection the client opened to
    /// `server` itself (no proxy on the path), each answered before the next is sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn exchange_streams(
        &mut self,
        trace: &mut Trace,
        source: &Host,
        client: SocketAddrV4,
        dst: SocketAddrV4,
        server: &Host,
        at_server: Tuple,
        request: (Client, &http::Request, &[u8]),
        count: usize,
    ) {
        let (kind, request, body) = request;
        let mut end = ClientEnd::new(kind);
        let outgoing = Outgoing { fields: h2::request_fields(request, kind), body: body.to_vec() };
        let (mut sent, mut received) = (0usize, 0usize);
        for _ in 0..count.max(1) {
            let (stream, bytes) = end.send(&outgoing);
            let (seq, ack) = seq_ack(CLIENT_ISN, SERVER_ISN, sent, received);
            let Some(segment) = self.data_packet(client, dst, seq, ack, &bytes) else { return };
            sent += bytes.len();
            let start = trace.steps.len();
            let walked = self.walk(trace, source.clone(), segment, Direction::Original);
            self.mark_request(trace, start, request);
            let Some((at, arrived)) = walked else {
                mark_stream(trace, start, stream);
                return;
            };
            if at != *server {
                mark_stream(trace, start, stream);
                trace.outcome.dropped = true;
                trace.outcome.reason = Some(format!(
                    "stream {stream} reached {} but the connection was opened to {}",
                    at.label(),
                    server.label()
                ));
                return;
            }
            let why = if stream == 1 {
                Text::new(
                    format!(
                        " kube-proxy chose {} from the connection's first packet (the SYN) and never read a frame: every stream of this HTTP/2 connection goes to the same pod.",
                        server.label()
                    ),
                    format!(
                        "kube-proxy 在连接的第一个包（SYN）时就选定了 {}，没有读任何帧：这条 HTTP/2 连接上的每个流都去往同一个 Pod。",
                        server.label()
                    ),
                )
            } else {
                Text::new(
                    format!(
                        " Stream {stream} is a new request on the same connection: every hop met its segment as ESTABLISHED, so conntrack's stored NAT carried it to {} again. No nat rule was consulted and kube-proxy made no new choice.",
                        server.label()
                    ),
                    format!(
                        "流 {stream} 是同一连接上的新请求：沿途每一跳都把它的报文段视为 ESTABLISHED，conntrack 记下的 NAT 再次把它送到 {}。没有查询任何 nat 规则，kube-proxy 也没有重新选择。",
                        server.label()
                    ),
                )
            };
            let answered = self.answer(trace, server, at_server, &arrived, (SERVER_ISN, CLIENT_ISN), why);
            mark_stream(trace, start, stream);
            let Some(answered) = answered else { return };
            received += answered.payload().len();
        }
    }

    /// A pod's answer to the HTTP/2 bytes that `arrived` on `at_server`: each stream they open is
    /// answered, gRPC calls with `HelloReply` and `grpc-status: 0` (14, UNAVAILABLE, from a pod
    /// marked `lbplay.dev/down: "503"`), plain requests with a body naming the pod. Returns the
    /// response segment and the status the stream got (HTTP's, 200 for gRPC), and the sentence
    /// that says what the server read; `None` when the bytes are not HTTP/2 it can read.
    pub(super) fn answer_streams(
        &mut self,
        server: &Host,
        at_server: Tuple,
        arrived: &Packet,
        isns: (u32, u32),
        failing: bool,
    ) -> Option<(Packet, u16, Text)> {
        let payload = arrived.payload();
        let conn = self.h2_servers.entry(at_server).or_default();
        let read = conn.end.read(payload);
        conn.received += payload.len();
        let incoming = match read {
            Ok(incoming) => incoming,
            Err(_) => return None,
        };
        let mut bytes = Vec::new();
        let mut said = (Vec::new(), Vec::new());
        let mut status = 200;
        for stream in &incoming {
            let request = h2::request_of(&stream.fields);
            let is_grpc = request.header("content-type").is_some_and(|c| c.starts_with("application/grpc"));
            if is_grpc {
                let name = grpc::messages(&stream.body)
                    .first()
                    .and_then(|(_, message)| grpc::read_string_field_1(message))
                    .unwrap_or_default();
                let (code, reply) = if failing { (14, String::new()) } else { (0, format!("Hello {name}")) };
                let body = if failing { Vec::new() } else { grpc::message(&grpc::string_field_1(&reply)) };
                let trailers = grpc::trailer_fields(code, if failing { "unavailable" } else { "" });
                bytes.extend(conn.end.answer(stream.stream, &grpc::response_fields(), &body, Some(&trailers)));
                said.0.push(format!(
                    " Its gRPC server reads stream {}: {} (HelloRequest name \"{name}\"), and answers HelloReply \"{reply}\" with the trailer grpc-status: {code}.",
                    stream.stream, request.path
                ));
                said.1.push(format!(
                    "其中的 gRPC 服务器读到流 {}：{}（HelloRequest name \"{name}\"），回答 HelloReply \"{reply}\"，尾部 grpc-status: {code}。",
                    stream.stream, request.path
                ));
            } else {
                status = if failing { 503 } else { 200 };
                let body = format!("{} answered {} {}\n", server.label(), request.method, request.path);
                let fields = vec![
                    (":status".to_string(), status.to_string()),
                    ("content-type".to_string(), "text/plain; charset=utf-8".to_string()),
                    ("content-length".to_string(), body.len().to_string()),
                ];
                bytes.extend(conn.end.answer(stream.stream, &fields, body.as_bytes(), None));
                said.0.push(format!(
                    " Its web server reads stream {}: {} {} (:authority {}) and answers {status} on the same stream.",
                    stream.stream, request.method, request.path, request.authority
                ));
                said.1.push(format!(
                    "其中的 Web 服务器读到流 {}：{} {}（:authority {}），在同一流上回答 {status}。",
                    stream.stream, request.method, request.path, request.authority
                ));
            }
        }
        let (seq, ack) = seq_ack(isns.0, isns.1, conn.sent, conn.received);
        conn.sent += bytes.len();
        let reply = self.data_packet(at_server.dst, at_server.src, seq, ack, &bytes)?;
        Some((reply, status, Text::new(said.0.concat(), said.1.concat())))
    }
}

/// Tags every step from `start` on with the stream its segment carries.
fn mark_stream(trace: &mut Trace, start: usize, stream: u32) {
    for step in trace.steps.iter_mut().skip(start) {
        step.stream = Some(stream);
    }
}

/// The bytes a proxy writes on its own, new connection for `proxied`, in the protocol it read
/// the request in: HTTP/2 (a fresh connection's preface, SETTINGS and stream 1, the gRPC body
/// carried over) when `read` were HTTP/2 frames, else HTTP/1.1 as `h1_bytes` writes it. Istio
/// configures the upstream cluster of a port named `grpc` or `http2` for HTTP/2, and an
/// auto-detected port uses the downstream's protocol (istio `pilot/pkg/networking/core/cluster_builder.go`,
/// `setUpstreamProtocol`); lbplay follows the downstream in every case.
pub(super) fn proxied_bytes(
    read: &[u8],
    proxied: &http::Request,
    h1_bytes: impl Fn(&http::Request) -> Vec<u8>,
) -> Vec<u8> {
    if !h2::is_frames(read) {
        return h1_bytes(proxied);
    }
    let body: Vec<u8> = h2::frames(read)
        .into_iter()
        .filter(|(head, _)| head.kind == h2::FrameType::Data as u8)
        .flat_map(|(_, range)| read[range].to_vec())
        .collect();
    let grpc = proxied.header("content-type").is_some_and(|c| c.starts_with("application/grpc"));
    let kind = if grpc { Client::GrpcGo } else { Client::Curl };
    let mut end = ClientEnd::new(kind);
    end.send(&Outgoing { fields: h2::request_fields(proxied, kind), body }).1
}
