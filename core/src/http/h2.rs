//! HTTP/2's frame layer (RFC 9113): the client connection preface, the 9-octet frame header,
//! and the frames a prior-knowledge h2c connection opens with (SETTINGS and its ACK).
//!
//! This module owns the bytes of frames and the little state a connection's two ends keep
//! while the walk writes them: the client's next stream id (1, 3, 5 …, RFC 9113 §5.1.1) and
//! HPACK context (`ClientEnd`), and the server's (`ServerEnd`), which reads the client's frames
//! back and answers each stream. Header blocks are `hpack`'s and gRPC's messages `grpc`'s. It
//! does no I/O.

use super::hpack::{self, Field};
use super::{Header, HttpError, Request};

/// The client connection preface (RFC 9113 §3.4): these 24 octets, then a SETTINGS frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The frame types of RFC 9113 §6, by their type octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    Goaway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

impl FrameType {
    /// The type of a type octet; `None` for a type RFC 9113 does not define (which a receiver
    /// must ignore, §4.1).
    pub fn from_octet(octet: u8) -> Option<FrameType> {
        use FrameType::*;
        [Data, Headers, Priority, RstStream, Settings, PushPromise, Ping, Goaway, WindowUpdate, Continuation]
            .get(usize::from(octet))
            .copied()
    }

    pub fn name(self) -> &'static str {
        use FrameType::*;
        match self {
            Data => "DATA",
            Headers => "HEADERS",
            Priority => "PRIORITY",
            RstStream => "RST_STREAM",
            Settings => "SETTINGS",
            PushPromise => "PUSH_PROMISE",
            Ping => "PING",
            Goaway => "GOAWAY",
            WindowUpdate => "WINDOW_UPDATE",
            Continuation => "CONTINUATION",
        }
    }
}

/// Flags (RFC 9113 §6): END_STREAM on DATA and HEADERS, ACK on SETTINGS and PING share 0x1.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// SETTINGS identifiers (RFC 9113 §6.5.2).
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;

/// A frame's 9-octet header as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub length: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

/// One frame: the 24-bit length, the type, the flags, the reserved bit clear and the 31-bit
/// stream identifier, then the payload (RFC 9113 §4.1). A payload over 2^24−1 octets cannot be
/// framed and is cut to that, which no frame the simulator builds comes near.
pub fn frame(kind: FrameType, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let payload = &payload[..payload.len().min(0xff_ffff)];
    let length = payload.len() as u32;
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.push(kind as u8);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame on stream 0 carrying each `(identifier, value)` pair (RFC 9113 §6.5.1).
pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(pairs.len() * 6);
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(FrameType::Settings, 0, 0, &payload)
}

/// The empty SETTINGS frame with ACK that acknowledges the peer's (RFC 9113 §6.5.3).
pub fn settings_ack() -> Vec<u8> {
    frame(FrameType::Settings, ACK, 0, &[])
}

/// A HEADERS frame carrying a whole header block (END_HEADERS: no CONTINUATION follows).
pub fn headers(stream: u32, block: &[u8], end_stream: bool) -> Vec<u8> {
    let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
    frame(FrameType::Headers, flags, stream, block)
}

/// A DATA frame.
pub fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    frame(FrameType::Data, if end_stream { END_STREAM } else { 0 }, stream, payload)
}

/// Who writes the client's frames, which sets the pseudo-header order and the SETTINGS it opens
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `curl --http2-prior-knowledge` (curl 7.88's `http2.c`, `h2_submit`: `:method`, `:path`,
    /// `:scheme`, `:authority`, then the other headers in lower case).
    Curl,
    /// grpc-go's transport (`http2_client.go`, `createHeaderFields`; see `grpc`).
    GrpcGo,
}

/// One stream's request as a client writes it: its header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub fields: Vec<Field>,
    /// The body; empty for a GET, which then ends the stream with its HEADERS.
    pub body: Vec<u8>,
}

/// The header fields HTTP/2 carries for `request` (RFC 9113 §8.3.1: the pseudo-headers first,
/// names in lower case, `Host` folded into `:authority`; connection-specific headers dropped,
/// §8.2.2).
pub fn request_fields(request: &Request, client: Client) -> Vec<Field> {
    let mut fields: Vec<Field> = match client {
        Client::Curl => vec![
            (":method".into(), request.method.clone()),
            (":path".into(), request.path.clone()),
            (":scheme".into(), "http".into()),
            (":authority".into(), request.authority.clone()),
        ],
        Client::GrpcGo => super::grpc::request_fields(&request.authority, &request.path),
    };
    const HOP_BY_HOP: [&str; 6] =
        ["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];
    for header in &request.headers {
        let name = header.name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&name.as_str()) || fields.iter().any(|(n, _)| *n == name) {
            continue;
        }
        fields.push((name, header.value.clone()));
    }
    fields
}

/// Reads an HTTP/2 request's header fields back into the trace's `Request`.
pub fn request_of(fields: &[Field]) -> Request {
    let get = |name: &str| hpack::get(fields, name).unwrap_or_default().to_string();
    Request {
        method: get(":method"),
        authority: get(":authority"),
        path: get(":path"),
        headers: fields
            .iter()
            .filter(|(n, _)| !n.starts_with(':'))
            .map(|(n, v)| Header::new(n.clone(), v.clone()))
            .collect(),
    }
}

/// The client's end of one connection: its HPACK context and its next stream id.
#[derive(Debug, Clone)]
pub struct ClientEnd {
    pub client: Client,
    encoder: hpack::Encoder,
    next_stream: u32,
}

impl ClientEnd {
    pub fn new(client: Client) -> ClientEnd {
        ClientEnd { client, encoder: hpack::Encoder::default(), next_stream: 1 }
    }

    /// The stream id the next request will use.
    pub fn next_stream(&self) -> u32 {
        self.next_stream
    }

    /// The bytes the client writes for its next request, and the stream that carries it. The
    /// first request follows the connection preface and the client's SETTINGS (empty: grpc-go
    /// sends no setting that differs from RFC 9113's defaults, `http2_client.go`); the second
    /// starts with the ACK of the server's SETTINGS, which arrived with the first response.
    pub fn send(&mut self, request: &Outgoing) -> (u32, Vec<u8>) {
        let stream = self.next_stream;
        self.next_stream = self.next_stream.saturating_add(2);
        let mut out = Vec::new();
        match stream {
            1 => {
                out.extend_from_slice(PREFACE);
                out.extend(settings(&[]));
            }
            3 => out.extend(settings_ack()),
            _ => {}
        }
        let block = self.encoder.encode(&request.fields);
        out.extend(headers(stream, &block, request.body.is_empty()));
        if !request.body.is_empty() {
            out.extend(data(stream, &request.body, true));
        }
        (stream, out)
    }
}

/// A request as the server read it from one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub stream: u32,
    pub fields: Vec<Field>,
    pub body: Vec<u8>,
}

/// The server's end of one connection: its HPACK contexts (one to read the client's blocks, one
/// to write its own) and whether it has sent its SETTINGS yet.
#[derive(Debug, Default, Clone)]
pub struct ServerEnd {
    reads: hpack::Decoder,
    writes: hpack::Encoder,
    /// Whether the client's preface has been read.
    opened: bool,
    greeted: bool,
}

/// grpc-go's server opens with SETTINGS_MAX_FRAME_SIZE = 16384 (`http2_server.go`,
/// `NewServerTransport`: `isettings` always holds it).
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

impl ServerEnd {
    /// Reads the client's bytes: the preface (required on a fresh connection, RFC 9113 §3.4),
    /// SETTINGS, and each stream's HEADERS and DATA, in order. Bytes that are not HTTP/2 are an
    /// error, as a server answers a bad preface with a connection error.
    pub fn read(&mut self, bytes: &[u8]) -> Result<Vec<Incoming>, HttpError> {
        if !self.opened && !bytes.starts_with(PREFACE) {
            return Err(HttpError("the bytes do not start with the HTTP/2 connection preface".into()));
        }
        self.opened = true;
        let mut out: Vec<Incoming> = Vec::new();
        for (head, range) in frames(bytes) {
            let payload = &bytes[range];
            match FrameType::from_octet(head.kind) {
                Some(FrameType::Headers) => {
                    if head.flags & END_HEADERS == 0 {
                        return Err(HttpError("a header block continued in CONTINUATION is not read".into()));
                    }
                    let fields = self.reads.decode(payload)?;
                    out.push(Incoming { stream: head.stream, fields, body: Vec::new() });
                }
                Some(FrameType::Data) => match out.iter_mut().find(|i| i.stream == head.stream) {
                    Some(incoming) => incoming.body.extend_from_slice(payload),
                    None => return Err(HttpError(format!("DATA on stream {} before its HEADERS", head.stream))),
                },
                _ => {}
            }
        }
        Ok(out)
    }

    /// The bytes the server writes to answer `stream`: on the connection's first answer, its own
    /// SETTINGS and the ACK of the client's first; then HEADERS, DATA and, for gRPC, the
    /// trailers that end the stream.
    pub fn answer(&mut self, stream: u32, fields: &[Field], body: &[u8], trailers: Option<&[Field]>) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.greeted {
            self.greeted = true;
            out.extend(settings(&[(SETTINGS_MAX_FRAME_SIZE, 16_384)]));
            out.extend(settings_ack());
        }
        let block = self.writes.encode(fields);
        out.extend(headers(stream, &block, body.is_empty() && trailers.is_none()));
        if !body.is_empty() {
            out.extend(data(stream, body, trailers.is_none()));
        }
        if let Some(trailers) = trailers {
            let block = self.writes.encode(trailers);
            out.extend(headers(stream, &block, true));
        }
        out
    }
}

/// Whether `bytes` are whole HTTP/2 frames (after the preface, if it is there), as a reader that
/// must tell HTTP/2 from HTTP/1.1 in a segment sees them: every frame of a known type, the last
/// ending at the last octet.
pub fn is_frames(bytes: &[u8]) -> bool {
    let read = frames(bytes);
    let start = if bytes.starts_with(PREFACE) { PREFACE.len() } else { 0 };
    !read.is_empty()
        && read.last().is_some_and(|(_, range)| range.end == bytes.len())
        && read.iter().all(|(head, _)| FrameType::from_octet(head.kind).is_some())
        && bytes.len() > start
}

/// Reads the frames in `bytes`: each header and its payload's range. Stops at a frame that is
/// cut short; the client preface, when `bytes` starts with it, is skipped.
pub fn frames(bytes: &[u8]) -> Vec<(FrameHeader, std::ops::Range<usize>)> {
    let mut at = if bytes.starts_with(PREFACE) { PREFACE.len() } else { 0 };
    let mut out = Vec::new();
    while let Some(head) = bytes.get(at..at + 9) {
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let end = at + 9 + length as usize;
        if end > bytes.len() {
            break;
        }
        out.push((FrameHeader { length, kind: head[3], flags: head[4], stream }, at + 9..end));
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], expect: &[u8]) {
        assert_eq!(bytes, expect);
        let read = frames(bytes);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].1.end, bytes.len());
    }

    #[test]
    fn test_frame_headers_are_byte_exact() {
        // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
        check(&settings(&[]), &[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        check(&settings_ack(), &[0, 0, 0, 4, 1, 0, 0, 0, 0]);
        // SETTINGS_MAX_CONCURRENT_STREAMS = 100: identifier 0x0003, value 0x00000064.
        check(&settings(&[(SETTINGS_MAX_CONCURRENT_STREAMS, 100)]), &[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
        // DATA with END_STREAM on stream 3; the reserved bit of the stream id is never sent.
        check(&frame(FrameType::Data, END_STREAM, 0x8000_0003, b"hi"), &[0, 0, 2, 0, 1, 0, 0, 0, 3, b'h', b'i']);
    }

    /// Two requests on one connection, written by `client` and read back by a server: the
    /// frames of each segment (type, flags, stream) and what the server read.
    fn check_streams(client: Client, request: &Request, body: &[u8], expect: &[&str]) {
        let mut end = ClientEnd::new(client);
        let mut server = ServerEnd::default();
        let outgoing = Outgoing { fields: request_fields(request, client), body: body.to_vec() };
        for expect in expect {
            let (stream, bytes) = end.send(&outgoing);
            let shown: Vec<String> = frames(&bytes)
                .iter()
                .map(|(h, _)| {
                    format!("{}:{}:{}", FrameType::from_octet(h.kind).map_or("?", FrameType::name), h.flags, h.stream)
                })
                .collect();
            let read = server.read(&bytes).expect("the server reads it");
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].stream, stream);
            assert_eq!(request_of(&read[0].fields).path, request.path);
            assert_eq!(read[0].body, body);
            assert!(is_frames(&bytes));
            assert_eq!(format!("{} {}", bytes.starts_with(PREFACE), shown.join(" ")), *expect);
        }
    }

    #[test]
    fn test_streams_are_odd_and_the_preface_comes_once() {
        let get = Request {
            method: "GET".into(),
            authority: "web".into(),
            path: "/hello".into(),
            headers: vec![Header::new("User-Agent", "curl/7.88.1"), Header::new("Host", "dropped")],
        };
        check_streams(
            Client::Curl,
            &get,
            b"",
            &["true SETTINGS:0:0 HEADERS:5:1", "false SETTINGS:1:0 HEADERS:5:3", "false HEADERS:5:5"],
        );
        let fields = request_fields(&get, Client::Curl);
        assert_eq!(fields[1], (":path".to_string(), "/hello".to_string()));
        assert_eq!(fields.last(), Some(&("user-agent".to_string(), "curl/7.88.1".to_string())));
        let call = Request { method: "POST".into(), path: "/helloworld.Greeter/SayHello".into(), ..get };
        check_streams(
            Client::GrpcGo,
            &call,
            &crate::http::grpc::message(b"\x0a\x01x"),
            &["true SETTINGS:0:0 HEADERS:4:1 DATA:1:1", "false SETTINGS:1:0 HEADERS:4:3 DATA:1:3"],
        );
    }

    #[test]
    fn test_the_server_greets_once_and_ends_grpc_streams_with_trailers() {
        let mut server = ServerEnd::default();
        let fields = crate::http::grpc::response_fields();
        let trailers = crate::http::grpc::trailer_fields(0, "");
        let first = server.answer(1, &fields, b"body", Some(&trailers));
        let kinds: Vec<(u8, u8, u32)> = frames(&first).iter().map(|(h, _)| (h.kind, h.flags, h.stream)).collect();
        assert_eq!(kinds, [(4, 0, 0), (4, 1, 0), (1, 4, 1), (0, 0, 1), (1, 5, 1)]);
        let second = server.answer(3, &fields, b"", None);
        let kinds: Vec<(u8, u8, u32)> = frames(&second).iter().map(|(h, _)| (h.kind, h.flags, h.stream)).collect();
        assert_eq!(kinds, [(1, 5, 3)]);
        assert!(ServerEnd::default().read(b"GET / HTTP/1.1\r\n\r\n").is_err());
        assert!(!is_frames(b"GET / HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn test_frames_read_back_after_the_preface() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 65535)]));
        bytes.extend(frame(FrameType::Headers, END_HEADERS, 1, &[0x82]));
        bytes.extend(&[0, 0, 9, 0]); // a frame cut short is not read
        let read: Vec<(u8, u8, u32, u32)> =
            frames(&bytes).iter().map(|(h, _)| (h.kind, h.flags, h.stream, h.length)).collect();
        assert_eq!(read, [(4, 0, 0, 6), (1, 4, 1, 1)]);
        assert_eq!(FrameType::from_octet(1).map(FrameType::name), Some("HEADERS"));
        assert_eq!(FrameType::from_octet(0x0a), None);
    }
}
