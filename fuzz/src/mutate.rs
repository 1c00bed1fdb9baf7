//! The mutations: structure-aware for YAML (whole lines and documents deleted, duplicated,
//! swapped and re-indented; scalars replaced by edge values; keys misspelt; anchors and aliases
//! injected; lines spliced in from another manifest), and byte-level for URLs, HTTP and packets.
//! Each input gets one to four of them, so most stay close enough to a real manifest to reach the
//! controllers and the walk.

use crate::{Input, Kind, Rng};

/// The seeds mutations start from.
#[derive(Debug, Clone, Default)]
pub struct Seeds {
    pub scenarios: Vec<String>,
    pub urls: Vec<String>,
    pub http: Vec<Vec<u8>>,
    pub packets: Vec<Vec<u8>>,
}

/// Scalars at the edges of what fields take: empty, null, out of range, the wrong type, huge,
/// YAML's own syntax.
const EDGES: &[&str] = &[
    "",
    "~",
    "null",
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "4294967296",
    "-9223372036854775809",
    "1e309",
    ".nan",
    "true",
    "no",
    "[]",
    "{}",
    "[a, b]",
    "{a: b}",
    "\"\"",
    "'x'",
    "0x1F",
    "0o17",
    "1000000000",
    "200001",
    "255.255.255.255",
    "0.0.0.0",
    "0.0.0.0/0",
    "10.0.0.0/33",
    "10.0.0.1/8",
    "::1",
    "a",
    "A",
    "-",
    "*",
    "/",
    "..",
    "ü",
    "名前",
    "\u{0}",
    "\t",
    "#",
    "&a x",
    "*a",
    "!!binary eA==",
    "!!str 1",
    "|",
    ">-",
    "? x",
    "%YAML 1.2",
    "---",
    "...",
    "TCP",
    "UDP",
    "SCTP",
    "ICMP",
    "Cluster",
    "Local",
    "ClientIP",
    "None",
    "iptables",
    "ipvs",
    "nftables",
    "userspace",
    "rr",
    "lc",
    "sh",
    "mh",
    "NodePort",
    "LoadBalancer",
    "ExternalName",
    "ClusterIP",
    "Prefix",
    "Exact",
    "ImplementationSpecific",
    "http",
    "grpc",
    "h2c",
    "30000",
    "32767",
    "32768",
    "2147483648",
    "86400",
    "10800",
    "-0",
];

/// Pieces URLs are built from when mutated.
const URL_PIECES: &[&str] = &[
    "http://",
    "https://",
    "grpc://",
    ":",
    "::",
    "@",
    "[",
    "]",
    "%",
    "%zz",
    "%00",
    "?",
    "#",
    "/",
    "//",
    "..",
    "0",
    "65535",
    "65536",
    "99999999999999999999",
    "web",
    "web.default",
    "web.default.svc.cluster.local",
    "10.96.0.10",
    "256.1.1.1",
    "xn--",
    "ü",
    " ",
    "\\",
    "*.example.com",
    "user:pass@",
];

impl Seeds {
    /// An input mutated from a random seed of a random kind (scenarios most often).
    pub fn mutated(&self, rng: &mut Rng) -> Input {
        let roll = rng.below(100);
        let (kind, bytes) = if roll < 70 || (self.urls.is_empty() && self.http.is_empty() && self.packets.is_empty()) {
            (Kind::Scenario, self.scenario(rng).into_bytes())
        } else if roll < 80 && !self.urls.is_empty() {
            (Kind::Url, self.url(rng).into_bytes())
        } else if roll < 90 && !self.http.is_empty() {
            let seed = rng.pick(&self.http).cloned().unwrap_or_default();
            (Kind::Http, bytes_mutated(seed, rng))
        } else {
            let seed = rng.pick(&self.packets).cloned().unwrap_or_default();
            (Kind::Packet, bytes_mutated(seed, rng))
        };
        Input { kind, bytes }
    }

    fn scenario(&self, rng: &mut Rng) -> String {
        let seed = rng.pick(&self.scenarios).cloned().unwrap_or_default();
        let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
        // Mostly one mutation, so that most inputs still load and reach the walk; sometimes up to
        // four.
        let count = if rng.below(4) == 0 { 1 + rng.below(4) } else { 1 };
        for _ in 0..count {
            self.mutate_lines(&mut lines, rng);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    fn mutate_lines(&self, lines: &mut Vec<String>, rng: &mut Rng) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let at = rng.below(lines.len());
        match rng.below(12) {
            0 => {
                lines.remove(at);
            }
            1 => {
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            2 => {
                let other = rng.below(lines.len());
                lines.swap(at, other);
            }
            3 | 4 => lines[at] = with_value(&lines[at], rng.pick(EDGES).copied().unwrap_or_default()),
            5 => {
                let line = &lines[at];
                let indent = line.len() - line.trim_start().len();
                let new = match rng.below(4) {
                    0 => indent.saturating_sub(2),
                    1 => indent.saturating_sub(1),
                    2 => indent + 1,
                    _ => indent + 2,
                };
                lines[at] = format!("{}{}", " ".repeat(new), line.trim_start());
            }
            6 => {
                // An anchor on one value and an alias to it in another.
                let other = rng.below(lines.len());
                if let Some(value) = value_of(&lines[at]) {
                    let anchored = format!("&fz {value}");
                    lines[at] = with_value(&lines[at], &anchored);
                    lines[other] = with_value(&lines[other], "*fz");
                }
            }
            7 => lines[at] = misspelt_key(&lines[at], rng),
            8 => {
                // A line from another manifest, at this line's indentation.
                if let Some(other) = rng.pick(&self.scenarios)
                    && let Some(line) = rng.pick(&other.lines().collect::<Vec<_>>())
                {
                    let indent = lines[at].len() - lines[at].trim_start().len();
                    lines.insert(at, format!("{}{}", " ".repeat(indent), line.trim_start()));
                }
            }
            9 => {
                // The document this line is in, duplicated (an object defined twice, or many
                // copies of one).
                let start = (0..=at).rev().find(|&i| lines[i].starts_with("---")).unwrap_or(0);
                let end = (at + 1..lines.len()).find(|&i| lines[i].starts_with("---")).unwrap_or(lines.len());
                let copies = if rng.below(8) == 0 { 50 } else { 1 };
                let doc: Vec<String> = lines[start..end].to_vec();
                for _ in 0..copies {
                    let mut doc = doc.clone();
                    if !doc.first().is_some_and(|l| l.starts_with("---")) {
                        doc.insert(0, "---".to_string());
                    }
                    lines.splice(end..end, doc);
                }
            }
            10 => {
                let mut bytes = lines[at].clone().into_bytes();
                bytes = bytes_mutated(bytes, rng);
                lines[at] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => lines.truncate(at),
        }
    }

    fn url(&self, rng: &mut Rng) -> String {
        let mut url = rng.pick(&self.urls).cloned().unwrap_or_default();
        for _ in 0..=rng.below(3) {
            let mut at = rng.below(url.len() + 1);
            while !url.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => url.insert_str(at, rng.pick(URL_PIECES).copied().unwrap_or_default()),
                1 => {
                    let mut end = (at + 1 + rng.below(4)).min(url.len());
                    while !url.is_char_boundary(end) {
                        end += 1;
                    }
                    url.replace_range(at..end, "");
                }
                _ => url = String::from_utf8_lossy(&bytes_mutated(url.into_bytes(), rng)).into_owned(),
            }
        }
        url
    }
}

/// `line` with the value after its `key:` (or `- `) replaced by `value`, or `value` appended.
fn with_value(line: &str, value: &str) -> String {
    match line.find(": ") {
        Some(colon) => format!("{}: {value}", &line[..colon]),
        None if line.trim_start().starts_with("- ") => {
            let indent = line.len() - line.trim_start().len();
            format!("{}- {value}", " ".repeat(indent))
        }
        None => format!("{line} {value}"),
    }
}

fn value_of(line: &str) -> Option<&str> {
    let value = line.split_once(": ")?.1.trim();
    (!value.is_empty() && !value.starts_with('&') && !value.starts_with('*')).then_some(value)
}

/// `line` with its key misspelt: a letter dropped, doubled, or its case changed.
fn misspelt_key(line: &str, rng: &mut Rng) -> String {
    let Some((key, rest)) = line.split_once(':') else { return line.to_string() };
    let indent = key.len() - key.trim_start().len();
    let mut name: Vec<char> = key.trim_start().chars().collect();
    if name.is_empty() {
        return line.to_string();
    }
    let at = rng.below(name.len());
    match rng.below(3) {
        0 => {
            name.remove(at);
        }
        1 => name.insert(at, name[at]),
        _ => {
            name[at] =
                if name[at].is_lowercase() { name[at].to_ascii_uppercase() } else { name[at].to_ascii_lowercase() }
        }
    }
    format!("{}{}:{rest}", " ".repeat(indent), name.into_iter().collect::<String>())
}

/// Byte-level mutations: flips, inserts, deletions, truncation, an interesting byte, a copied run.
pub fn bytes_mutated(mut bytes: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'\r', b'\n', b':', b' ', b'%', 0x45, 0x06, 0x11];
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            1 => bytes.insert(at, rng.pick(INTERESTING).copied().unwrap_or(0)),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 => bytes.truncate(at),
            4 if at < bytes.len() => bytes[at] = rng.pick(INTERESTING).copied().unwrap_or(0),
            _ => {
                let len = rng.below(16).min(bytes.len().saturating_sub(at));
                let run: Vec<u8> = bytes[at..at + len].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, run);
            }
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, value: &str, expect: &str) {
        assert_eq!(with_value(line, value), expect);
    }

    #[test]
    fn values_are_replaced_after_the_key_or_the_dash() {
        check("  port: 80", "65536", "  port: 65536");
        check("  - 10.0.0.1", "~", "  - ~");
        check("spec:", "[]", "spec: []");
    }

    #[test]
    fn a_seed_reproduces_its_inputs() {
        let seeds = Seeds { scenarios: vec!["a: 1\nb:\n  c: d\n".into()], ..Seeds::default() };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| seeds.mutated(&mut rng).bytes).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
