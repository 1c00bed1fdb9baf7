//! Derived view data: what changed between a step's packet before and after, the one-line summary
//! the event list shows, and the sentence the live region announces. Pure functions, tested natively.

use std::ops::Range;

use lbplay_core::Lang;
use lbplay_core::packet::Packet;
use lbplay_core::trace::{Direction, Step};

use crate::i18n;

/// One header field, before and after the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub layer: &'static str,
    pub name: String,
    /// `None` when the field did not exist before (a different protocol, a header a proxy added).
    pub before: Option<String>,
    pub after: String,
    pub bytes: Range<usize>,
    pub changed: bool,
}

/// Every header field of `after`, paired with the same field of `before`.
pub fn field_diffs(before: &Packet, after: &Packet) -> Vec<FieldDiff> {
    let old = before.fields();
    after
        .fields()
        .into_iter()
        .map(|field| {
            let previous = old.iter().find(|other| other.layer == field.layer && other.name == field.name);
            let before = previous.map(|other| other.value.clone());
            let changed = before.as_deref() != Some(field.value.as_str());
            FieldDiff { layer: field.layer, name: field.name, before, after: field.value, bytes: field.bytes, changed }
        })
        .collect()
}

/// For each byte of `after`, whether it differs from the byte at the same offset of `before`.
pub fn changed_bytes(before: &Packet, after: &Packet) -> Vec<bool> {
    let old = before.bytes();
    after.bytes().iter().enumerate().map(|(index, byte)| old.get(index) != Some(byte)).collect()
}

/// The address change of a step in a few words: `dst 10.96.100.10:80 → 10.244.2.7:8080`, or `None`.
pub fn rewrite_summary(step: &Step) -> Option<String> {
    let before = step.before.tuple().ok()?;
    let after = step.after.tuple().ok()?;
    let mut parts = Vec::new();
    if before.src != after.src {
        parts.push(format!("src {} → {}", before.src, after.src));
    }
    if before.dst != after.dst {
        parts.push(format!("dst {} → {}", before.dst, after.dst));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The packet's addresses after the step: `10.244.1.20:40000 → 10.96.100.10:80`.
pub fn addresses(packet: &Packet) -> String {
    match packet.tuple() {
        Ok(tuple) => format!("{} → {}", tuple.src, tuple.dst),
        Err(_) => String::from("?"),
    }
}

/// The short text of an event-list row: the rewrite if there is one, else the packet's addresses,
/// then the HTTP message the segment carries, if any (`· GET /hello`).
pub fn summary(step: &Step) -> String {
    let base = rewrite_summary(step).unwrap_or_else(|| addresses(&step.after));
    match http_line(&step.after) {
        Some(line) => format!("{base} · {line}"),
        None => base,
    }
}

/// The HTTP/1.1 message in a packet's payload in a few words, as a packet list's info column
/// shows it: `GET /hello` for a request, `200 OK` for a response.
pub fn http_line(packet: &Packet) -> Option<String> {
    let payload = packet.payload();
    let end = payload.windows(2).position(|pair| pair == b"\r\n")?;
    let line = std::str::from_utf8(&payload[..end]).ok()?;
    if let Some(status) = line.strip_prefix("HTTP/1.1 ") {
        return Some(status.to_string());
    }
    let request = line.strip_suffix(" HTTP/1.1")?;
    Some(request.to_string())
}

/// One connection of a trace that a proxy split in two (or more, with retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The steps' `connection` number: 0 the client's, 1 and on the proxy's dials.
    pub number: u8,
    /// Its first packet's addresses as sent.
    pub addresses: String,
    /// The index of its first step.
    pub first: usize,
}

/// The connections of a trace, in order, when a proxy made more than one; empty otherwise.
pub fn connections(steps: &[Step]) -> Vec<Connection> {
    let mut out: Vec<Connection> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let Some(number) = step.connection else { continue };
        if out.iter().all(|conn| conn.number != number) {
            out.push(Connection { number, addresses: addresses(&step.before), first: index });
        }
    }
    if out.len() < 2 { Vec::new() } else { out }
}

/// A connection's mark in the event list and the topology's legend: ①, ②, ….
pub fn connection_mark(number: u8) -> String {
    char::from_u32(0x2460 + u32::from(number)).map_or_else(|| format!("({})", number + 1), String::from)
}

/// What the live region announces: "Step 4 of 9: node-1, nat PREROUTING …, DNAT. dst … → …".
pub fn announcement(lang: Lang, index: usize, len: usize, step: &Step) -> String {
    let text = i18n::text(lang);
    let mut out = (text.step_of)(index + 1, len);
    out.push_str(": ");
    out.push_str(&step.node);
    out.push_str(", ");
    out.push_str(&step.place());
    out.push_str(", ");
    out.push_str(&step.verdict);
    if let Some(rewrite) = rewrite_summary(step) {
        out.push_str(". ");
        out.push_str(&rewrite);
    }
    out
}

/// An arrow for the direction: → for the client's packets, ← for replies.
pub fn direction_arrow(direction: Direction) -> &'static str {
    match direction {
        Direction::Original => "→",
        Direction::Reply => "←",
    }
}

/// Hex rows of 16 bytes each: (offset, bytes of the row).
pub fn hex_rows(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    bytes.chunks(16).enumerate().map(|(row, chunk)| (row * 16, chunk)).collect()
}

/// A `conntrack -L` line cut into what the inspector shows on separate rows: the head (protocol,
/// number, seconds left, state), the original and reply tuples, the status flags (`[UNREPLIED]`,
/// `[ASSURED]`) and the rest (`mark=0 use=1`). Nothing is dropped: the parts joined by spaces are
/// the line's words.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConntrackParts<'a> {
    pub head: Vec<&'a str>,
    pub tuples: Vec<Vec<&'a str>>,
    pub flags: Vec<&'a str>,
    pub rest: Vec<&'a str>,
}

pub fn conntrack_parts(line: &str) -> ConntrackParts<'_> {
    let mut parts = ConntrackParts::default();
    for word in line.split_whitespace() {
        let key = word.split('=').next().unwrap_or_default();
        if word.starts_with('[') {
            parts.flags.push(word);
        } else if key == "src" {
            parts.tuples.push(vec![word]);
        } else if matches!(key, "dst" | "sport" | "dport" | "type" | "code" | "id") && !parts.tuples.is_empty() {
            if let Some(tuple) = parts.tuples.last_mut() {
                tuple.push(word);
            }
        } else if parts.tuples.is_empty() {
            parts.head.push(word);
        } else {
            parts.rest.push(word);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn test_dnat_step_marks_destination_and_checksums() {
        let trace = fixture::trace();
        let dnat = trace.steps.iter().find(|step| step.verdict == "DNAT").expect("the fixture has a DNAT step");
        let diffs = field_diffs(&dnat.before, &dnat.after);
        let changed: Vec<&str> = diffs.iter().filter(|diff| diff.changed).map(|diff| diff.name.as_str()).collect();
        assert_eq!(changed, ["header checksum", "destination", "destination port", "checksum"]);
        let destination = diffs.iter().find(|diff| diff.name == "destination").unwrap();
        assert_eq!(destination.before.as_deref(), Some("10.96.100.10"));
        assert_eq!(destination.after, "10.244.2.7");
        assert_eq!(destination.bytes, 16..20);
        let bytes = changed_bytes(&dnat.before, &dnat.after);
        assert!(bytes[16..20].iter().any(|&changed| changed));
        assert!(!bytes[12], "the source address did not change");
        assert_eq!(rewrite_summary(dnat).as_deref(), Some("dst 10.96.100.10:80 → 10.244.2.7:8080"));
    }

    #[test]
    fn test_announcement_in_both_languages() {
        let trace = fixture::trace();
        let step = &trace.steps[4];
        let en = announcement(Lang::En, 4, trace.steps.len(), step);
        assert!(en.starts_with("Step 5 of 12: node-1, nat PREROUTING KUBE-SEP-"), "{en}");
        assert!(en.ends_with("dst 10.96.100.10:80 → 10.244.2.7:8080"), "{en}");
        let zh = announcement(Lang::Zh, 4, trace.steps.len(), step);
        assert!(zh.starts_with("第 5 步，共 12 步"), "{zh}");
    }

    #[test]
    fn test_hex_rows() {
        let rows = hex_rows(&[0; 40]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].0, 32);
        assert_eq!(rows[2].1.len(), 8);
    }

    #[test]
    fn test_conntrack_parts_keep_every_word_and_split_the_tuples() {
        let line = "tcp      6 120 SYN_SENT src=10.244.1.20 dst=10.96.100.10 sport=42361 dport=80 [UNREPLIED] src=10.244.2.7 dst=10.244.1.20 sport=8080 dport=42361 mark=0 use=1";
        let parts = conntrack_parts(line);
        assert_eq!(parts.head, ["tcp", "6", "120", "SYN_SENT"]);
        assert_eq!(parts.tuples.len(), 2);
        assert_eq!(parts.tuples[1], ["src=10.244.2.7", "dst=10.244.1.20", "sport=8080", "dport=42361"]);
        assert_eq!(parts.flags, ["[UNREPLIED]"]);
        assert_eq!(parts.rest, ["mark=0", "use=1"]);
    }

    #[test]
    fn test_http_lines_and_connections_of_a_proxied_request() {
        let builtin = lbplay_core::lessons::get("l4-http").expect("the lesson");
        let source = lbplay_core::scenario::Source { name: builtin.id, text: builtin.yaml };
        let mut cluster = lbplay_core::scenario::load(&[source]).expect("loads").cluster;
        let request = lbplay_core::walk::Request {
            from: builtin.from.into(),
            to: builtin.to.into(),
            proto: lbplay_core::net::Proto::Tcp,
            seed: 1,
            now: 0,
        };
        let direct = lbplay_core::walk::trace(&cluster, &request).expect("walks");
        let lines: Vec<String> = direct.steps.iter().filter_map(|step| http_line(&step.after)).collect();
        assert_eq!(lines.first().map(String::as_str), Some("GET /hello"));
        assert_eq!(lines.last().map(String::as_str), Some("200 OK"));
        assert!(connections(&direct.steps).is_empty(), "one connection, no legend");
        cluster.kube_proxy.mode = lbplay_core::model::ProxyMode::Userspace;
        let proxied = lbplay_core::walk::trace(&cluster, &request).expect("walks");
        let conns = connections(&proxied.steps);
        let numbers: Vec<u8> = conns.iter().map(|conn| conn.number).collect();
        assert_eq!(numbers, [0, 1]);
        assert!(conns[0].addresses.ends_with("→ 10.96.100.10:80"), "{conns:?}");
        assert!(conns[1].addresses.ends_with(":8080"), "the proxy dials the pod: {conns:?}");
        assert_eq!(connection_mark(0), "①");
        // The L4 proxy copies the request unchanged: its HTTP fields are the same on both legs.
        let copy = proxied.steps.iter().find(|step| step.verdict == "COPY →").expect("the relay");
        let diffs = field_diffs(&copy.before, &copy.after);
        assert!(diffs.iter().filter(|diff| diff.layer == "HTTP").all(|diff| !diff.changed));
    }
}
