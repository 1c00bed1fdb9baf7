//! HTTP/2's frame layer (RFC 9113): the client connection preface, the 9-octet frame header,
//! and the frames a prior-knowledge h2c connection opens with (SETTINGS and its ACK).
//!
//! This module owns the bytes of frames, not a connection's state: HEADERS blocks (HPACK) and
//! gRPC's messages are built by their own modules on top of `frame`. It does no I/O.

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
