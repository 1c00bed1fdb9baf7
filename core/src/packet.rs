//! Packets as real bytes: IPv4 with TCP or UDP, built and parsed with etherparse.
//!
//! A `Packet` is the bytes on the wire, from the IPv4 header on (no link layer: every hop the
//! simulator shows is a routed one). `Tuple` is what conntrack and iptables read from it.
//! Rewrites (`set_src`, `set_dst`) change the bytes and recompute both the IPv4 header checksum and
//! the TCP/UDP checksum over the new pseudo-header, as the kernel's `nf_nat_ipv4_manip_pkt` does
//! (net/netfilter/nf_nat_proto.c). `fields` lists every header field with its byte range, for the
//! inspector's Wireshark-like view.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;

use etherparse::{Icmpv4Header, Icmpv4Type, IpNumber, Ipv4Header, TcpHeader, UdpHeader, icmpv4};
use serde::Serialize;

use crate::net::Proto;

/// An IPv4 packet, header and payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    bytes: Vec<u8>,
}

/// Why bytes could not be read as a packet the simulator handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketError(pub String);

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PacketError {}

/// TCP flags the simulator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFlags {
    Syn,
    SynAck,
    Ack,
    Rst,
    RstAck,
    /// A segment carrying data: PSH and ACK, as a client's request or a server's response goes.
    PshAck,
    /// The end of one side of a connection: FIN and ACK.
    FinAck,
}

/// The addresses, ports and protocol of a packet: what conntrack keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tuple {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub proto: TupleProto,
}

/// The protocol of a tuple: TCP, UDP or ICMP (for the errors a REJECT sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TupleProto {
    Tcp,
    Udp,
    Icmp,
}

impl TupleProto {
    pub fn as_str(self) -> &'static str {
        match self {
            TupleProto::Tcp => "tcp",
            TupleProto::Udp => "udp",
            TupleProto::Icmp => "icmp",
        }
    }

    pub fn as_proto(self) -> Option<Proto> {
        match self {
            TupleProto::Tcp => Some(Proto::Tcp),
            TupleProto::Udp => Some(Proto::Udp),
            TupleProto::Icmp => None,
        }
    }
}

impl Tuple {
    /// The tuple of the answer to this packet.
    pub fn reversed(&self) -> Tuple {
        Tuple { src: self.dst, dst: self.src, proto: self.proto }
    }
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.proto.as_str(), self.src, self.dst)
    }
}

/// One header field of a packet, for the inspector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// `IPv4`, `TCP`, `UDP`, `ICMP`, or `HTTP` for an HTTP/1.1 message in the TCP payload.
    pub layer: &'static str,
    /// The field's name; for HTTP, a header's name as the sender spelt it.
    pub name: String,
    pub value: String,
    /// The bytes the field occupies (a flag shares its byte with others).
    pub bytes: Range<usize>,
}

const DEFAULT_TTL: u8 = 64;
const DEFAULT_WINDOW: u16 = 64240;

impl Packet {
    /// Wraps bytes after checking that they are an IPv4 packet with a TCP or UDP header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Packet, PacketError> {
        let packet = Packet { bytes };
        packet.tuple()?;
        Ok(packet)
    }

    /// A TCP segment with no payload; `ident` becomes the IPv4 identification field.
    pub fn tcp(src: SocketAddrV4, dst: SocketAddrV4, flags: TcpFlags, seq: u32, ack: u32, ident: u16) -> Packet {
        Packet::build(*src.ip(), *dst.ip(), ident, Transport::Tcp(tcp_header(src, dst, flags, seq, ack)), &[])
            .expect("an empty TCP segment fits in a packet")
    }

    /// A TCP segment carrying `payload` (an HTTP request or response, say) with PSH and ACK set.
    /// Fails only when the payload does not fit in one IPv4 packet (65,535 bytes with headers).
    pub fn tcp_data(
        src: SocketAddrV4,
        dst: SocketAddrV4,
        seq: u32,
        ack: u32,
        ident: u16,
        payload: &[u8],
    ) -> Result<Packet, PacketError> {
        let tcp = tcp_header(src, dst, TcpFlags::PshAck, seq, ack);
        Packet::build(*src.ip(), *dst.ip(), ident, Transport::Tcp(tcp), payload)
    }

    /// A UDP datagram carrying `payload`.
    pub fn udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8], ident: u16) -> Packet {
        let udp = UdpHeader { source_port: src.port(), destination_port: dst.port(), length: 0, checksum: 0 };
        Packet::build(*src.ip(), *dst.ip(), ident, Transport::Udp(udp), payload)
            .expect("the simulator's UDP payloads fit in a packet")
    }

    /// The ICMP "port unreachable" (type 3, code 3) a REJECT sends back from `from` about
    /// `original`: it quotes the original IPv4 header and the first 8 bytes after it (RFC 792;
    /// net/ipv4/netfilter/nf_reject_ipv4.c `nf_send_unreach` → `icmp_send`).
    pub fn icmp_port_unreachable(from: Ipv4Addr, original: &Packet, ident: u16) -> Result<Packet, PacketError> {
        let tuple = original.tuple()?;
        let header_len = usize::from(original.bytes.first().copied().unwrap_or(0x45) & 0x0f) * 4;
        let quoted = &original.bytes[..(header_len + 8).min(original.bytes.len())];
        let icmp = Icmpv4Header::new(Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port));
        Packet::build(from, *tuple.src.ip(), ident, Transport::Icmp(icmp), quoted)
    }

    /// A new packet with the default TTL. The headers are written by `emit`, not by etherparse's
    /// `PacketBuilder`: its `write` brings every link, IPv6 and transport header it can write
    /// into the page's WebAssembly, and the `Debug` of its error (which `expect` needs) brings
    /// the `Debug` of etherparse's headers, down to the names of all IP protocols. That was
    /// 12.5 KB of the gzipped wasm.
    fn build(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        mut transport: Transport,
        payload: &[u8],
    ) -> Result<Packet, PacketError> {
        let (protocol, transport_len) = match &mut transport {
            Transport::Tcp(tcp) => (IpNumber::TCP, tcp.header_len()),
            Transport::Udp(udp) => {
                udp.length = u16::try_from(UdpHeader::LEN + payload.len())
                    .map_err(|_| PacketError(format!("payload too large: {} bytes", payload.len())))?;
                (IpNumber::UDP, UdpHeader::LEN)
            }
            Transport::Icmp(icmp) => (IpNumber::ICMP, icmp.header_len()),
        };
        let mut ip = Ipv4Header {
            source: src.octets(),
            destination: dst.octets(),
            time_to_live: DEFAULT_TTL,
            identification: ident,
            protocol,
            ..Default::default()
        };
        ip.set_payload_len(transport_len + payload.len())
            .map_err(|err| PacketError(format!("payload too large: {err}")))?;
        Ok(Packet { bytes: emit(ip, transport, payload)? })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What the transport header carries: the bytes after the TCP or UDP header (an HTTP message,
    /// a DNS query), empty for a bare handshake segment.
    pub fn payload(&self) -> &[u8] {
        match self.payload_range() {
            Some(range) => &self.bytes[range],
            None => &[],
        }
    }

    /// Where the payload sits in `bytes()`, for views that frame it.
    pub fn payload_range(&self) -> Option<Range<usize>> {
        let (ip, transport, payload) = self.headers().ok()?;
        let transport_len = match transport {
            Transport::Tcp(tcp) => tcp.header_len(),
            Transport::Udp(_) => UdpHeader::LEN,
            Transport::Icmp(icmp) => icmp.header_len(),
        };
        let start = ip.header_len() + transport_len;
        Some(start..start + payload.len())
    }

    fn headers(&self) -> Result<(Ipv4Header, Transport, &[u8]), PacketError> {
        let (ip, rest) =
            Ipv4Header::from_slice(&self.bytes).map_err(|err| PacketError(format!("not an IPv4 header: {err}")))?;
        let header_len = ip.header_len();
        let total = usize::from(ip.total_len).min(self.bytes.len());
        let body = self.bytes.get(header_len..total).unwrap_or(rest);
        match ip.protocol {
            IpNumber::TCP => {
                let (tcp, payload) =
                    TcpHeader::from_slice(body).map_err(|err| PacketError(format!("not a TCP header: {err}")))?;
                Ok((ip, Transport::Tcp(tcp), payload))
            }
            IpNumber::UDP => {
                let (udp, payload) =
                    UdpHeader::from_slice(body).map_err(|err| PacketError(format!("not a UDP header: {err}")))?;
                Ok((ip, Transport::Udp(udp), payload))
            }
            IpNumber::ICMP => {
                let (icmp, payload) =
                    Icmpv4Header::from_slice(body).map_err(|err| PacketError(format!("not an ICMP header: {err}")))?;
                Ok((ip, Transport::Icmp(icmp), payload))
            }
            other => Err(PacketError(format!("IP protocol {} is not TCP or UDP", other.0))),
        }
    }

    /// The packet's addresses, ports and protocol.
    pub fn tuple(&self) -> Result<Tuple, PacketError> {
        let (ip, transport, _) = self.headers()?;
        let (sport, dport, proto) = match transport {
            Transport::Tcp(tcp) => (tcp.source_port, tcp.destination_port, TupleProto::Tcp),
            Transport::Udp(udp) => (udp.source_port, udp.destination_port, TupleProto::Udp),
            Transport::Icmp(_) => (0, 0, TupleProto::Icmp),
        };
        Ok(Tuple {
            src: SocketAddrV4::new(Ipv4Addr::from(ip.source), sport),
            dst: SocketAddrV4::new(Ipv4Addr::from(ip.destination), dport),
            proto,
        })
    }

    /// The TCP flags as tcpdump prints them (`S`, `S.`, `R`, `.`), or `None` for UDP.
    pub fn tcp_flags(&self) -> Option<String> {
        let (_, transport, _) = self.headers().ok()?;
        let Transport::Tcp(tcp) = transport else { return None };
        let mut out = String::new();
        if tcp.syn {
            out.push('S');
        }
        if tcp.fin {
            out.push('F');
        }
        if tcp.rst {
            out.push('R');
        }
        if tcp.psh {
            out.push('P');
        }
        if tcp.ack {
            out.push('.');
        }
        Some(out)
    }

    /// Rewrites the source address and port (SNAT, MASQUERADE, or conntrack undoing a DNAT on a reply).
    pub fn set_src(&mut self, addr: SocketAddrV4) -> Result<(), PacketError> {
        self.rewrite(|ip, transport| {
            ip.source = addr.ip().octets();
            transport.set_src_port(addr.port());
        })
    }

    /// Rewrites the destination address and port (DNAT, REDIRECT, or conntrack undoing an SNAT).
    pub fn set_dst(&mut self, addr: SocketAddrV4) -> Result<(), PacketError> {
        self.rewrite(|ip, transport| {
            ip.destination = addr.ip().octets();
            transport.set_dst_port(addr.port());
        })
    }

    /// Decrements the TTL as a router does when it forwards the packet.
    pub fn decrement_ttl(&mut self) -> Result<(), PacketError> {
        self.rewrite(|ip, _| ip.time_to_live = ip.time_to_live.saturating_sub(1))
    }

    fn rewrite(&mut self, change: impl FnOnce(&mut Ipv4Header, &mut Transport)) -> Result<(), PacketError> {
        let (mut ip, mut transport, payload) = self.headers()?;
        change(&mut ip, &mut transport);
        self.bytes = emit(ip, transport, payload)?;
        Ok(())
    }

    /// Whether both checksums are right, as a receiver would check them.
    pub fn checksums_valid(&self) -> bool {
        let Ok((ip, transport, payload)) = self.headers() else { return false };
        if ip.calc_header_checksum() != ip.header_checksum {
            return false;
        }
        match transport {
            Transport::Tcp(tcp) => tcp.calc_checksum_ipv4(&ip, payload).ok() == Some(tcp.checksum),
            Transport::Udp(udp) => udp.calc_checksum_ipv4(&ip, payload).ok() == Some(udp.checksum),
            Transport::Icmp(icmp) => {
                Icmpv4Header::with_checksum(icmp.icmp_type.clone(), payload).checksum == icmp.checksum
            }
        }
    }

    /// Every header field with its value and byte range, IPv4 first (RFC 791 §3.1, RFC 9293 §3.1, RFC 768).
    pub fn fields(&self) -> Vec<Field> {
        let Ok((ip, transport, _)) = self.headers() else { return Vec::new() };
        let ihl = ip.header_len();
        let mut out = vec![
            field("IPv4", "version", "4".into(), 0..1),
            field("IPv4", "header length", format!("{} bytes", ihl), 0..1),
            field("IPv4", "DSCP/ECN", format!("0x{:02x}", self.bytes[1]), 1..2),
            field("IPv4", "total length", ip.total_len.to_string(), 2..4),
            field("IPv4", "identification", format!("0x{:04x}", ip.identification), 4..6),
            field("IPv4", "flags", if ip.dont_fragment { "DF".into() } else { "none".into() }, 6..7),
            field("IPv4", "fragment offset", u16::from(ip.fragment_offset).to_string(), 6..8),
            field("IPv4", "TTL", ip.time_to_live.to_string(), 8..9),
            field("IPv4", "protocol", format!("{} ({})", ip.protocol.0, transport.name()), 9..10),
            field("IPv4", "header checksum", format!("0x{:04x}", ip.header_checksum), 10..12),
            field("IPv4", "source", Ipv4Addr::from(ip.source).to_string(), 12..16),
            field("IPv4", "destination", Ipv4Addr::from(ip.destination).to_string(), 16..20),
        ];
        let at = |range: Range<usize>| (range.start + ihl)..(range.end + ihl);
        match transport {
            Transport::Tcp(tcp) => {
                out.push(field("TCP", "source port", tcp.source_port.to_string(), at(0..2)));
                out.push(field("TCP", "destination port", tcp.destination_port.to_string(), at(2..4)));
                out.push(field("TCP", "sequence number", tcp.sequence_number.to_string(), at(4..8)));
                out.push(field("TCP", "acknowledgment number", tcp.acknowledgment_number.to_string(), at(8..12)));
                out.push(field("TCP", "flags", self.tcp_flags().unwrap_or_default(), at(13..14)));
                out.push(field("TCP", "window", tcp.window_size.to_string(), at(14..16)));
                out.push(field("TCP", "checksum", format!("0x{:04x}", tcp.checksum), at(16..18)));
                // The payload read as HTTP/1.1, as Wireshark's dissector shows it under TCP: each
                // line of the head and the body, at its bytes.
                if let Some(payload) = self.payload_range() {
                    let start = payload.start;
                    for part in crate::http::h1::fields(&self.bytes[payload]) {
                        let bytes = (part.bytes.start + start)..(part.bytes.end + start);
                        out.push(Field { layer: "HTTP", name: part.name, value: part.value, bytes });
                    }
                }
            }
            Transport::Icmp(icmp) => {
                let bytes = icmp.to_bytes();
                out.push(field("ICMP", "type", bytes[0].to_string(), at(0..1)));
                out.push(field("ICMP", "code", bytes[1].to_string(), at(1..2)));
                out.push(field("ICMP", "checksum", format!("0x{:04x}", icmp.checksum), at(2..4)));
            }
            Transport::Udp(udp) => {
                out.push(field("UDP", "source port", udp.source_port.to_string(), at(0..2)));
                out.push(field("UDP", "destination port", udp.destination_port.to_string(), at(2..4)));
                out.push(field("UDP", "length", udp.length.to_string(), at(4..6)));
                out.push(field("UDP", "checksum", format!("0x{:04x}", udp.checksum), at(6..8)));
            }
        }
        out
    }
}

fn field(layer: &'static str, name: &'static str, value: String, bytes: Range<usize>) -> Field {
    Field { layer, name: name.to_string(), value, bytes }
}

/// A TCP header with the flags of `flags`; the acknowledgment number only when ACK is set.
fn tcp_header(src: SocketAddrV4, dst: SocketAddrV4, flags: TcpFlags, seq: u32, ack: u32) -> TcpHeader {
    let mut tcp = TcpHeader::new(src.port(), dst.port(), seq, DEFAULT_WINDOW);
    tcp.syn = matches!(flags, TcpFlags::Syn | TcpFlags::SynAck);
    tcp.rst = matches!(flags, TcpFlags::Rst | TcpFlags::RstAck);
    tcp.psh = flags == TcpFlags::PshAck;
    tcp.fin = flags == TcpFlags::FinAck;
    if matches!(flags, TcpFlags::SynAck | TcpFlags::Ack | TcpFlags::RstAck | TcpFlags::PshAck | TcpFlags::FinAck) {
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
    }
    tcp
}

/// The bytes of a packet with these headers and payload, both checksums computed.
fn emit(mut ip: Ipv4Header, mut transport: Transport, payload: &[u8]) -> Result<Vec<u8>, PacketError> {
    ip.header_checksum = ip.calc_header_checksum();
    let mut out = Vec::with_capacity(usize::from(ip.total_len));
    out.extend_from_slice(&ip.to_bytes());
    match &mut transport {
        Transport::Tcp(tcp) => {
            tcp.checksum =
                tcp.calc_checksum_ipv4(&ip, payload).map_err(|err| PacketError(format!("payload too large: {err}")))?;
            out.extend_from_slice(&tcp.to_bytes());
        }
        Transport::Udp(udp) => {
            udp.checksum =
                udp.calc_checksum_ipv4(&ip, payload).map_err(|err| PacketError(format!("payload too large: {err}")))?;
            out.extend_from_slice(&udp.to_bytes());
        }
        Transport::Icmp(icmp) => {
            // The ICMP checksum covers the ICMP message only, no pseudo-header (RFC 792).
            icmp.update_checksum(payload);
            out.extend_from_slice(&icmp.to_bytes());
        }
    }
    out.extend_from_slice(payload);
    Ok(out)
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tuple() {
            Ok(tuple) => write!(f, "Packet({tuple})"),
            Err(_) => write!(f, "Packet({} bytes)", self.bytes.len()),
        }
    }
}

enum Transport {
    Tcp(TcpHeader),
    Udp(UdpHeader),
    Icmp(Icmpv4Header),
}

impl Transport {
    fn name(&self) -> &'static str {
        match self {
            Transport::Tcp(_) => "TCP",
            Transport::Udp(_) => "UDP",
            Transport::Icmp(_) => "ICMP",
        }
    }

    fn set_src_port(&mut self, port: u16) {
        match self {
            Transport::Tcp(tcp) => tcp.source_port = port,
            Transport::Udp(udp) => udp.source_port = port,
            Transport::Icmp(_) => {}
        }
    }

    fn set_dst_port(&mut self, port: u16) {
        match self {
            Transport::Tcp(tcp) => tcp.destination_port = port,
            Transport::Udp(udp) => udp.destination_port = port,
            Transport::Icmp(_) => {}
        }
    }
}

/// Lowercase hex of the bytes, as the JSON trace carries them.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddrV4 {
        text.parse().unwrap()
    }

    /// A SYN from the client pod to the ClusterIP, byte for byte. The expected bytes were taken
    /// from Linux-independent arithmetic: the IPv4 checksum by RFC 1071 over the 20 header bytes
    /// and the TCP checksum over the RFC 9293 pseudo-header, both recomputed below by hand.
    const SYN: [u8; 40] = [
        0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // checksum patched below
        10, 244, 1, 20, 10, 96, 100, 10, //
        0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0, 0x00, 0x00,
        0x00, 0x00,
    ];

    fn rfc1071(words: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in words.chunks(2) {
            let word = u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
            sum += word;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn expected_syn(dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut bytes = SYN.to_vec();
        bytes[16..20].copy_from_slice(&dst);
        bytes[22..24].copy_from_slice(&dport.to_be_bytes());
        let ip_sum = rfc1071(&bytes[0..20]);
        bytes[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&bytes[12..20]);
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        pseudo.extend_from_slice(&bytes[20..40]);
        let tcp_sum = rfc1071(&pseudo);
        bytes[36..38].copy_from_slice(&tcp_sum.to_be_bytes());
        bytes
    }

    #[test]
    fn test_build_syn() {
        let syn = Packet::tcp(addr("10.244.1.20:40000"), addr("10.96.100.10:80"), TcpFlags::Syn, 1000, 0, 1);
        assert_eq!(syn.bytes(), expected_syn([10, 96, 100, 10], 80).as_slice());
        assert!(syn.checksums_valid());
        assert_eq!(syn.tcp_flags().as_deref(), Some("S"));
    }

    #[test]
    fn test_dnat_rewrites_bytes_and_checksums() {
        let mut syn = Packet::tcp(addr("10.244.1.20:40000"), addr("10.96.100.10:80"), TcpFlags::Syn, 1000, 0, 1);
        syn.set_dst(addr("10.244.2.7:8080")).unwrap();
        assert_eq!(syn.bytes(), expected_syn([10, 244, 2, 7], 8080).as_slice());
        assert!(syn.checksums_valid());
        assert_eq!(syn.tuple().unwrap().dst, addr("10.244.2.7:8080"));
    }

    /// The packets `Packet` writes itself are those etherparse's `PacketBuilder` writes (which
    /// `Packet` used before), byte for byte, once the identification is set.
    #[test]
    fn test_build_matches_etherparse_builder() {
        use etherparse::PacketBuilder;
        let with_ident = |bytes: Vec<u8>, ident: u16| {
            let mut packet = Packet::from_bytes(bytes).unwrap();
            packet.rewrite(|ip, _| ip.identification = ident).unwrap();
            packet.bytes
        };
        let (src, dst) = (addr("10.244.1.20:40000"), addr("10.96.100.10:80"));
        let flag_cases = [
            TcpFlags::Syn,
            TcpFlags::SynAck,
            TcpFlags::Ack,
            TcpFlags::Rst,
            TcpFlags::RstAck,
            TcpFlags::PshAck,
            TcpFlags::FinAck,
        ];
        for flags in flag_cases {
            let builder = PacketBuilder::ipv4(src.ip().octets(), dst.ip().octets(), 64).tcp(40000, 80, 1000, 64240);
            let builder = match flags {
                TcpFlags::Syn => builder.syn(),
                TcpFlags::SynAck => builder.syn().ack(7),
                TcpFlags::Ack => builder.ack(7),
                TcpFlags::Rst => builder.rst(),
                TcpFlags::RstAck => builder.rst().ack(7),
                TcpFlags::PshAck => builder.psh().ack(7),
                TcpFlags::FinAck => builder.fin().ack(7),
            };
            let mut bytes = Vec::new();
            builder.write(&mut bytes, &[]).unwrap();
            assert_eq!(Packet::tcp(src, dst, flags, 1000, 7, 9).bytes, with_ident(bytes, 9), "{flags:?}");
        }

        let mut bytes = Vec::new();
        PacketBuilder::ipv4([10, 244, 1, 20], [10, 96, 0, 10], 64).udp(5353, 53).write(&mut bytes, b"query").unwrap();
        let udp = Packet::udp(addr("10.244.1.20:5353"), addr("10.96.0.10:53"), b"query", 3);
        assert_eq!(udp.bytes, with_ident(bytes, 3));

        let original = Packet::tcp(src, dst, TcpFlags::Syn, 1000, 0, 1);
        let mut bytes = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 244, 1, 20], 64)
            .icmpv4(Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port))
            .write(&mut bytes, &original.bytes[..28])
            .unwrap();
        let icmp = Packet::icmp_port_unreachable(Ipv4Addr::new(10, 0, 0, 1), &original, 5).unwrap();
        assert_eq!(icmp.bytes, with_ident(bytes, 5));
    }

    /// A data segment is what etherparse writes for the same headers and payload, its payload
    /// reads back, and a DNAT keeps it and recomputes the checksum over it.
    #[test]
    fn test_data_segment_carries_its_payload() {
        use etherparse::PacketBuilder;
        let (src, dst) = (addr("10.244.1.20:40000"), addr("10.96.100.10:80"));
        let request = b"GET /hello HTTP/1.1\r\nHost: web\r\n\r\n";
        let mut data = Packet::tcp_data(src, dst, 1001, 5001, 4, request).unwrap();
        let mut bytes = Vec::new();
        PacketBuilder::ipv4(src.ip().octets(), dst.ip().octets(), 64)
            .tcp(40000, 80, 1001, 64240)
            .psh()
            .ack(5001)
            .write(&mut bytes, request)
            .unwrap();
        let mut expected = Packet::from_bytes(bytes).unwrap();
        expected.rewrite(|ip, _| ip.identification = 4).unwrap();
        assert_eq!(data.bytes, expected.bytes);
        assert_eq!(data.payload(), request);
        assert_eq!(data.payload_range(), Some(40..40 + request.len()));
        assert_eq!(data.tcp_flags().as_deref(), Some("P."));
        data.set_dst(addr("10.244.2.7:8080")).unwrap();
        assert_eq!(data.payload(), request);
        assert!(data.checksums_valid());
        let empty = Packet::tcp(src, dst, TcpFlags::Syn, 1000, 0, 1);
        assert_eq!(empty.payload(), b"");
        assert!(Packet::tcp_data(src, dst, 1, 1, 1, &vec![0; 70_000]).is_err());
    }

    #[test]
    fn test_parse_rejects_garbage() {
        assert!(Packet::from_bytes(vec![0x45, 0, 0]).is_err());
        assert!(Packet::from_bytes(vec![]).is_err());
    }

    #[test]
    fn test_fields_cover_ports() {
        let syn = Packet::tcp(addr("10.244.1.20:40000"), addr("10.96.100.10:80"), TcpFlags::Syn, 1000, 0, 1);
        let fields = syn.fields();
        let dport = fields.iter().find(|f| f.name == "destination port").unwrap();
        assert_eq!(dport.value, "80");
        assert_eq!(dport.bytes, 22..24);
        let udp = Packet::udp(addr("10.244.1.20:5353"), addr("10.96.0.10:53"), b"q", 2);
        assert!(udp.checksums_valid());
        assert_eq!(udp.tuple().unwrap().proto, TupleProto::Udp);
    }

    #[test]
    fn test_http_payload_fields_sit_on_their_bytes() {
        let src: SocketAddrV4 = "10.244.1.20:40000".parse().unwrap();
        let dst: SocketAddrV4 = "10.96.100.10:80".parse().unwrap();
        let payload = b"GET /hello HTTP/1.1\r\nHost: web\r\nAccept: */*\r\n\r\n";
        let packet = Packet::tcp_data(src, dst, 1001, 5001, 1, payload).expect("fits");
        let http: Vec<(String, String, String)> = packet
            .fields()
            .into_iter()
            .filter(|field| field.layer == "HTTP")
            .map(|field| {
                let bytes = String::from_utf8_lossy(&packet.bytes()[field.bytes.clone()]).into_owned();
                (field.name, field.value, bytes)
            })
            .collect();
        let want = [
            ("request line", "GET /hello HTTP/1.1", "GET /hello HTTP/1.1\r\n"),
            ("Host", "web", "Host: web\r\n"),
            ("Accept", "*/*", "Accept: */*\r\n"),
            ("end of head", "", "\r\n"),
        ];
        let want: Vec<(String, String, String)> =
            want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        assert_eq!(http, want);
        // A SYN carries no payload, so no HTTP fields.
        assert!(Packet::tcp(src, dst, TcpFlags::Syn, 1000, 0, 1).fields().iter().all(|field| field.layer != "HTTP"));
    }
}
