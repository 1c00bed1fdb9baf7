//! gRPC on HTTP/2 as the walk writes it: the headers a grpc-go client sends, the 5-octet
//! length-prefixed messages of the body, a tiny protobuf payload, and the trailers that carry
//! `grpc-status`.
//!
//! This module owns the gRPC layer only; frames are `h2`'s and header blocks `hpack`'s. The
//! method is always the canonical example's, `helloworld.Greeter/SayHello`, or whatever the URL
//! names: the request message is `HelloRequest { string name = 1; }` and the reply
//! `HelloReply { string message = 1; }` (grpc-go `examples/helloworld/helloworld.proto`), whose
//! wire form is one length-delimited field (protobuf encoding, wire type 2) and so needs no
//! protobuf library.

use super::hpack::Field;

/// The `user-agent` grpc-go sends: `grpc-go/` and its version (grpc-go `version.go`, and
/// `internal/transport/http2_client.go`, `newHTTP2Client`, at v1.85.0-dev, commit 4793ad0).
pub const CLIENT_USER_AGENT: &str = "grpc-go/1.85.0-dev";

/// The request headers of a unary call, in the order grpc-go writes them
/// (`http2_client.go`, `createHeaderFields`): the four pseudo-headers, then `content-type`,
/// `user-agent` and `te: trailers`. No deadline is set, so no `grpc-timeout`; no compressor is
/// registered, so no `grpc-accept-encoding`.
pub fn request_fields(authority: &str, path: &str) -> Vec<Field> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("user-agent", CLIENT_USER_AGENT),
        ("te", "trailers"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// The response headers a grpc-go server writes before its first message
/// (`http2_server.go`, `writeHeaderLocked`): `:status 200` and the content type.
pub fn response_fields() -> Vec<Field> {
    vec![(":status".into(), "200".into()), ("content-type".into(), "application/grpc".into())]
}

/// The trailers that end a call (`http2_server.go`, `writeStatus`): `grpc-status` and
/// `grpc-message`, which grpc-go writes even when empty. `0` is OK, `14` UNAVAILABLE.
pub fn trailer_fields(status: u32, message: &str) -> Vec<Field> {
    vec![("grpc-status".into(), status.to_string()), ("grpc-message".into(), message.to_string())]
}

/// One length-prefixed message (grpc's PROTOCOL-HTTP2.md, "Length-Prefixed-Message"): the
/// compressed flag (0: not compressed), the length as four big-endian octets, the message.
pub fn message(payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(0);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The messages in a body: for each, whether it is compressed and its payload. Stops at a
/// message that is cut short.
pub fn messages(body: &[u8]) -> Vec<(bool, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = body.get(at..at + 5) {
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let Some(payload) = body.get(at + 5..at + 5 + length) else { break };
        out.push((head[0] == 1, payload));
        at += 5 + length;
    }
    out
}

/// A protobuf message holding one string in field 1: the tag (field 1, wire type 2 = `0x0a`),
/// the length as a varint, the UTF-8 bytes. Both `HelloRequest.name` and `HelloReply.message`
/// are this.
pub fn string_field_1(text: &str) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut length = text.len();
    while length >= 0x80 {
        out.push((length as u8 & 0x7f) | 0x80);
        length >>= 7;
    }
    out.push(length as u8);
    out.extend_from_slice(text.as_bytes());
    out
}

/// Reads back `string_field_1`; `None` for anything else.
pub fn read_string_field_1(bytes: &[u8]) -> Option<String> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != 0x0a {
        return None;
    }
    let mut length = 0usize;
    let mut shift = 0;
    let mut at = 0;
    loop {
        let byte = *rest.get(at)?;
        at += 1;
        length |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let text = rest.get(at..at + length)?;
    if at + length != rest.len() {
        return None;
    }
    String::from_utf8(text.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &[u8]) {
        let framed = message(&string_field_1(text));
        assert_eq!(framed, expect);
        let read = messages(&framed);
        assert_eq!(read.len(), 1);
        assert!(!read[0].0);
        assert_eq!(read_string_field_1(read[0].1).as_deref(), Some(text));
    }

    #[test]
    fn test_messages_are_byte_exact() {
        // HelloRequest{name: "lbplay"}: 0a 06 "lbplay", framed with 00 00000008.
        check("lbplay", &[0, 0, 0, 0, 8, 0x0a, 6, b'l', b'b', b'p', b'l', b'a', b'y']);
        check("", &[0, 0, 0, 0, 2, 0x0a, 0]);
        // A 200-octet string needs a two-octet varint: 200 = 0xc8 0x01.
        let long = "x".repeat(200);
        assert_eq!(&string_field_1(&long)[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(read_string_field_1(&string_field_1(&long)), Some(long));
    }

    #[test]
    fn test_bad_messages_are_not_read() {
        assert_eq!(read_string_field_1(&[0x12, 0]), None);
        assert_eq!(read_string_field_1(&[0x0a, 5, b'a']), None);
        assert_eq!(read_string_field_1(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]), None);
        assert!(messages(&[0, 0, 0, 0, 9, 1]).is_empty());
    }

    #[test]
    fn test_request_headers_follow_grpc_go() {
        let fields = request_fields("greeter:50051", "/helloworld.Greeter/SayHello");
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [":method", ":scheme", ":path", ":authority", "content-type", "user-agent", "te"]);
        assert_eq!(trailer_fields(0, "")[0], ("grpc-status".to_string(), "0".to_string()));
    }
}
