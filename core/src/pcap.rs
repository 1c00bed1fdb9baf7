//! pcap export: the packets of a trace as a capture file Wireshark and tshark open.
//!
//! The classic libpcap format (tcpdump's `pcap-savefile(5)`): a 24-byte global header with the
//! magic 0xa1b2c3d4 (microsecond timestamps), version 2.4 and link type 228 (`LINKTYPE_IPV4`: each
//! record is a bare IPv4 packet, as lbplay's packets are), then one 16-byte record header per
//! packet. Written little-endian; readers detect the byte order from the magic.
//! A record is taken for every packet that crosses a link (the trace's send and wire steps), so
//! the capture shows what a tap on each link would see, rewrites included. Time is the step
//! index in milliseconds from `start`, so the file is the same byte for byte for the same trace.

use crate::trace::{StepKind, Trace};

/// `LINKTYPE_IPV4` (tcpdump.org link-layer header types).
pub const LINKTYPE_IPV4: u32 = 228;

/// The capture of a trace's packets on the wire.
pub fn from_trace(trace: &Trace, start_seconds: u32) -> Vec<u8> {
    let packets: Vec<(usize, &[u8])> = trace
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| matches!(step.kind, StepKind::Wire))
        .map(|(index, step)| (index, step.after.bytes()))
        .collect();
    write(&packets, start_seconds)
}

/// A capture of `(step index, bytes)` records.
pub fn write(packets: &[(usize, &[u8])], start_seconds: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + packets.iter().map(|(_, bytes)| 16 + bytes.len()).sum::<usize>());
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&LINKTYPE_IPV4.to_le_bytes());
    for (index, bytes) in packets {
        let millis = *index as u64;
        let seconds = u64::from(start_seconds) + millis / 1000;
        let micros = (millis % 1000) * 1000;
        let length = bytes.len() as u32;
        out.extend_from_slice(&(seconds as u32).to_le_bytes());
        out.extend_from_slice(&(micros as u32).to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_records() {
        let capture = write(&[(3, &[0x45, 0, 0, 20][..])], 1_700_000_000);
        assert_eq!(&capture[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(capture[20..24].try_into().unwrap()), LINKTYPE_IPV4);
        assert_eq!(capture.len(), 24 + 16 + 4);
        assert_eq!(u32::from_le_bytes(capture[28..32].try_into().unwrap()), 3000, "step 3 is 3 ms in");
        assert_eq!(&capture[40..44], &[0x45, 0, 0, 20]);
    }
}
