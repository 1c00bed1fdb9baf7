//! Share links: the URL fragment's `y=` value and the keys a link carries, read and written
//! without any I/O, so the page and the command line share one implementation.
//!
//! design.md ("Contract: URL state") fixes the encoding of `y=`: the scenario's UTF-8 YAML,
//! compressed with raw DEFLATE (RFC 1951, no zlib or gzip header), then written as base64url
//! without padding (RFC 4648 §5). Decoding refuses what a hostile link could abuse: more than
//! `MAX_YAML` bytes once inflated (inflating stops at the limit, so a small "inflate bomb" costs
//! only the limit), text that is not base64url, data that is not DEFLATE, and bytes that are not
//! UTF-8. Each refusal is a `ShareError` with a sentence for the learner, never a panic.
//!
//! `read_link` takes what a user pastes — a whole link (`http://…/#v=1&s=…&y=…`), a fragment
//! (`#…` or `v=1&…`), or a bare `y=` value — and returns the scenario it names, edited YAML or a
//! lesson id, with the walk (`from=`, `to=`) when the link carries one.

use std::fmt;

use data_encoding::BASE64URL_NOPAD;

/// The most YAML a share link may carry, in bytes once inflated.
pub const MAX_YAML: usize = 64 * 1024;
/// The longest `y=` value worth decoding: base64url of `MAX_YAML` bytes stored without
/// compression, with room for DEFLATE's block headers. Anything longer is refused unread.
pub const MAX_ENCODED: usize = (MAX_YAML + 1024) / 3 * 4 + 4;
/// The longest `from=` or `to=` value (a pod name or an `http://…` URL).
pub const MAX_ENDPOINT: usize = 512;
/// The fragment format version links are written in.
pub const VERSION: u32 = 1;

/// Why a share link or `y=` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareError {
    /// The inflated YAML would be larger than `MAX_YAML` (or the encoded text already is).
    TooLarge,
    /// The value is not base64url without padding.
    Base64,
    /// The bytes are not a complete raw DEFLATE stream.
    Deflate,
    /// The inflated bytes are not UTF-8.
    Utf8,
    /// The link names neither edited YAML (`y=`) nor a lesson (`s=`).
    Empty,
    /// A value is not what its key allows (`s=` not a lesson id, `from=` with control characters).
    BadValue(&'static str),
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::TooLarge => {
                write!(f, "the shared scenario is larger than {} KB once decompressed", MAX_YAML / 1024)
            }
            ShareError::Base64 => f.write_str("the shared scenario (y=) is not valid base64url without padding"),
            ShareError::Deflate => f.write_str("the shared scenario (y=) is not valid raw DEFLATE data"),
            ShareError::Utf8 => f.write_str("the shared scenario (y=) is not UTF-8 text"),
            ShareError::Empty => f.write_str("the link carries no scenario: it has neither y= nor s="),
            ShareError::BadValue(key) => write!(f, "the link's {key}= value is not valid"),
        }
    }
}

impl std::error::Error for ShareError {}

/// Encodes YAML as a `y=` value: raw DEFLATE, then base64url without padding.
pub fn encode_yaml(yaml: &str) -> String {
    // Level 9: links are written rarely and read often, so the smallest output is worth it.
    let deflated = miniz_oxide::deflate::compress_to_vec(yaml.as_bytes(), 9);
    BASE64URL_NOPAD.encode(&deflated)
}

/// Decodes a `y=` value back into YAML, refusing anything larger than `MAX_YAML` once inflated.
pub fn decode_yaml(value: &str) -> Result<String, ShareError> {
    if value.len() > MAX_ENCODED {
        return Err(ShareError::TooLarge);
    }
    let deflated = BASE64URL_NOPAD.decode(value.as_bytes()).map_err(|_| ShareError::Base64)?;
    let inflated =
        miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_YAML).map_err(|error| {
            match error.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ShareError::TooLarge,
                _ => ShareError::Deflate,
            }
        })?;
    String::from_utf8(inflated).map_err(|_| ShareError::Utf8)
}

/// The scenario a link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    /// Edited YAML from `y=`.
    Yaml(String),
    /// A built-in lesson's id from `s=`.
    Lesson(String),
}

/// What a share link carries that a front end needs to reproduce its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub scenario: Shared,
    /// With `y=`, the lesson the edit started from (`s=`), if the link names one.
    pub origin: Option<String>,
    /// The walk, as the CLI's `--from` and `--to` take it.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Reads a whole link, a fragment (`#…`, `v=1&…`) or a bare `y=` value.
pub fn read_link(text: &str) -> Result<Link, ShareError> {
    let text = text.trim();
    let fragment = match text.split_once('#') {
        Some((_, fragment)) => fragment,
        // A bare value has no `=` or `&`: base64url's alphabet has neither.
        None if !text.contains(['=', '&']) => {
            return Ok(Link { scenario: Shared::Yaml(decode_yaml(text)?), origin: None, from: None, to: None });
        }
        None => text,
    };
    let (mut yaml, mut lesson, mut from, mut to) = (None, None, None, None);
    for (key, value) in pairs(fragment) {
        let value = value.ok_or(ShareError::BadValue(key_name(key)))?;
        match key {
            "y" => yaml = Some(decode_yaml(&value)?),
            "s" if is_lesson_id(&value) => lesson = Some(value),
            "s" => return Err(ShareError::BadValue("s")),
            "from" => from = Some(endpoint(&value).ok_or(ShareError::BadValue("from"))?),
            "to" => to = Some(endpoint(&value).ok_or(ShareError::BadValue("to"))?),
            _ => {}
        }
    }
    let (scenario, origin) = match (yaml, lesson) {
        (Some(yaml), origin) => (Shared::Yaml(yaml), origin),
        (None, Some(lesson)) => (Shared::Lesson(lesson), None),
        (None, None) => return Err(ShareError::Empty),
    };
    Ok(Link { scenario, origin, from, to })
}

impl Link {
    /// The fragment that carries this link, without the leading `#`, keys in design.md's order.
    pub fn fragment(&self) -> String {
        let mut parts = vec![format!("v={VERSION}")];
        match &self.scenario {
            Shared::Lesson(id) => parts.push(format!("s={id}")),
            Shared::Yaml(yaml) => {
                if let Some(origin) = &self.origin {
                    parts.push(format!("s={origin}"));
                }
                parts.push(format!("y={}", encode_yaml(yaml)));
            }
        }
        if let Some(from) = &self.from {
            parts.push(format!("from={}", percent_encode(from)));
        }
        if let Some(to) = &self.to {
            parts.push(format!("to={}", percent_encode(to)));
        }
        parts.join("&")
    }
}

/// The fragment's `key=value` pairs in order, each value percent-decoded (`None` when the escape
/// is broken or the result is not UTF-8). A leading `#` is skipped; at most 64 pairs are read, so
/// a fragment of a million `&` costs nothing.
pub fn pairs(fragment: &str) -> impl Iterator<Item = (&str, Option<String>)> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    fragment.split('&').filter(|pair| !pair.is_empty()).take(64).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key, percent_decode(value))
    })
}

/// Lesson ids are short and plain: lowercase letters, digits and dashes.
pub fn is_lesson_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// A `from=` or `to=` value, if it is one: not empty, not too long, no control characters.
pub fn endpoint(text: &str) -> Option<String> {
    (!text.is_empty() && text.len() <= MAX_ENDPOINT && !text.chars().any(char::is_control)).then(|| text.to_string())
}

/// Escapes what cannot stand in a fragment's value: `%`, `&`, `=`, `#`, `+`, spaces, controls and
/// anything beyond ASCII. `pod/client` and `10.96.0.1:80` stay as they are, so links stay readable.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'%' | b'&' | b'=' | b'#' | b'+') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space); `None` when an escape is broken or the result is
/// not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The name a refusal reports for a key, as a `'static` string.
fn key_name(key: &str) -> &'static str {
    match key {
        "y" => "y",
        "s" => "s",
        "from" => "from",
        "to" => "to",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n# 中文注释\n";

    #[test]
    fn test_round_trip() {
        for yaml in ["", "a", YAML, &YAML.repeat(200), &"x".repeat(MAX_YAML)] {
            let encoded = encode_yaml(yaml);
            assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{encoded}");
            assert_eq!(decode_yaml(&encoded).as_deref(), Ok(yaml));
        }
    }

    #[test]
    fn test_the_encoding_is_raw_deflate_in_base64url() {
        // The bytes are raw DEFLATE (no zlib 0x78 header) that any inflater reads back.
        let bytes = BASE64URL_NOPAD.decode(encode_yaml(YAML).as_bytes()).unwrap();
        assert_ne!(bytes[0], 0x78, "no zlib header");
        assert_eq!(miniz_oxide::inflate::decompress_to_vec(&bytes).unwrap(), YAML.as_bytes());
        // A stored (uncompressed) raw DEFLATE block of "hi", written by hand: final, type 00,
        // LEN 2, NLEN !2, then the bytes. Any inflater reads it.
        let stored = [0x01, 0x02, 0x00, 0xfd, 0xff, b'h', b'i'];
        assert_eq!(decode_yaml(&BASE64URL_NOPAD.encode(&stored)).as_deref(), Ok("hi"));
        // Another implementation's output: Python's `zlib.compressobj(9, zlib.DEFLATED, -15)` of
        // YAML, then `base64.urlsafe_b64encode` with the padding stripped.
        let python = "SyzIDEstKs7Mz7NSKDPkys7MS7FSCE4tKstMTuXKTS1JTEksSbRSqM5LzE21UihPTarlKi5ITbbiUlAoyC8qKbZSiK4GMawULAxqY7mUFZ7sWPtsWvuzzStetndxAQA";
        assert_eq!(decode_yaml(python).as_deref(), Ok(YAML));
    }

    #[test]
    fn test_limits() {
        // Exactly the limit decodes; one byte more is refused, however well it compresses.
        let at_limit = encode_yaml(&"a".repeat(MAX_YAML));
        assert!(at_limit.len() < 1000, "a run of one byte compresses well");
        assert_eq!(decode_yaml(&at_limit).map(|yaml| yaml.len()), Ok(MAX_YAML));
        assert_eq!(decode_yaml(&encode_yaml(&"a".repeat(MAX_YAML + 1))), Err(ShareError::TooLarge));
        // An inflate bomb: 100 MB of zeros in about 100 KB of DEFLATE is refused, not inflated.
        let bomb = encode_yaml(&"\0".repeat(4 << 20));
        assert_eq!(decode_yaml(&bomb), Err(ShareError::TooLarge));
        // A value too long to be a link is refused before it is decoded.
        assert_eq!(decode_yaml(&"A".repeat(MAX_ENCODED + 1)), Err(ShareError::TooLarge));
    }

    #[test]
    fn test_hostile_values_are_refused_with_a_reason() {
        let cases: [(&str, ShareError); 9] = [
            ("!!!!", ShareError::Base64),
            ("abc=", ShareError::Base64),
            ("a", ShareError::Base64),
            ("ab+/", ShareError::Base64),
            ("ab cd", ShareError::Base64),
            // zlib's "hello" (with the 0x78 0x9c header) is not raw DEFLATE.
            ("eJzLSM3JyQcABiwCFQ", ShareError::Deflate),
            // Random bytes, and a stream cut short.
            ("_____w", ShareError::Deflate),
            (&encode_yaml(YAML)[..8], ShareError::Deflate),
            // A stored block holding 0xff 0xfe, which is not UTF-8.
            (&BASE64URL_NOPAD.encode(&[0x01, 0x02, 0x00, 0xfd, 0xff, 0xff, 0xfe]), ShareError::Utf8),
        ];
        for (value, expected) in cases {
            let got = decode_yaml(value);
            assert_eq!(got, Err(expected.clone()), "{value}");
            assert!(!expected.to_string().is_empty());
        }
        assert_eq!(decode_yaml(""), Err(ShareError::Deflate), "an empty value is no scenario");
    }

    #[test]
    fn test_read_link_takes_links_fragments_and_bare_values() {
        let y = encode_yaml(YAML);
        let yaml = Shared::Yaml(YAML.to_string());
        let edited = |origin: Option<&str>, from: Option<&str>, to: Option<&str>| Link {
            scenario: yaml.clone(),
            origin: origin.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        };
        let cases = [
            (
                format!("http://127.0.0.1:8080/#v=1&s=clusterip-iptables&y={y}&step=3"),
                edited(Some("clusterip-iptables"), None, None),
            ),
            (
                format!("https://lbplay.example/play/?x=1#y={y}&from=pod/client&to=10.96.0.10:80"),
                edited(None, Some("pod/client"), Some("10.96.0.10:80")),
            ),
            (format!("#v=1&y={y}&to=http%3A//web/a%3Fb%3D1%26c"), edited(None, None, Some("http://web/a?b=1&c"))),
            (format!("v=1&y={y}&lang=zh&future=key"), edited(None, None, None)),
            (format!("y={y}"), edited(None, None, None)),
            (format!("  {y}\n"), edited(None, None, None)),
        ];
        for (text, expected) in cases {
            assert_eq!(read_link(&text), Ok(expected), "{text}");
        }
        let lesson = read_link("http://x/#v=1&s=nodeport-local&step=4&from=client/laptop").unwrap();
        assert_eq!(lesson.scenario, Shared::Lesson("nodeport-local".into()));
        assert_eq!(lesson.from.as_deref(), Some("client/laptop"));
        // The fragment a link writes reads back as the same link.
        for link in [edited(Some("a-b"), Some("pod/x y"), Some("http://h/p?q=1&r#s")), lesson] {
            assert_eq!(read_link(&link.fragment()), Ok(link.clone()));
            assert_eq!(read_link(&format!("http://h/#{}", link.fragment())), Ok(link));
        }
    }

    #[test]
    fn test_read_link_refuses_hostile_links() {
        let bomb = encode_yaml(&"\0".repeat(1 << 20));
        let cases = [
            ("http://x/#v=1&lang=en", ShareError::Empty),
            ("#", ShareError::Empty),
            ("#s=../../etc/passwd", ShareError::BadValue("s")),
            ("#s=ok&from=a%0Ab", ShareError::BadValue("from")),
            ("#s=ok&to=%ZZ", ShareError::BadValue("to")),
            ("#s=ok&y=%", ShareError::BadValue("y")),
            ("#y=%%%", ShareError::BadValue("y")),
            ("#y=bm90LWRlZmxhdGU", ShareError::Deflate),
            (&format!("#s=ok&y={bomb}"), ShareError::TooLarge),
            ("", ShareError::Deflate),
        ];
        for (text, expected) in cases {
            assert_eq!(read_link(text), Err(expected), "{text}");
        }
        let long = format!("#s=ok&to={}", "a".repeat(MAX_ENDPOINT + 1));
        assert_eq!(read_link(&long), Err(ShareError::BadValue("to")));
    }

    #[test]
    fn test_percent_encoding() {
        for (text, encoded) in [
            ("pod/client", "pod/client"),
            ("10.96.100.10:80", "10.96.100.10:80"),
            ("http://h/a?b=1&c#d", "http://h/a?b%3D1%26c%23d"),
            ("a b+c%", "a%20b%2Bc%25"),
            ("é", "%C3%A9"),
        ] {
            assert_eq!(percent_encode(text), encoded);
            assert_eq!(percent_decode(encoded).as_deref(), Some(text));
        }
        for broken in ["%", "%4", "%GG", "%FF", "%C3"] {
            assert_eq!(percent_decode(broken), None, "{broken}");
        }
    }
}
