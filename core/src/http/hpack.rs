//! HPACK (RFC 7541), the header compression of HTTP/2, for the walk's HEADERS frames.
//!
//! This module owns one side's compression context: an `Encoder` whose dynamic table grows as a
//! connection's header blocks are written, and a `Decoder` that must see every block of that
//! connection in order to read the next. The coding itself is `loona-hpack` (a maintained fork of
//! `hpack`, pure Rust, no I/O, which builds for wasm): its encoder indexes every new header into
//! the dynamic table and writes string literals without Huffman coding, which RFC 7541 §5.2
//! allows and every decoder (tshark's, the real servers') reads. What the simulator adds is the
//! text form the trace shows and errors in its own vocabulary.

use super::HttpError;

/// One header field as HTTP/2 carries it: a lower-case name (pseudo-headers start with `:`)
/// and its value.
pub type Field = (String, String);

/// The compression context of the side that writes header blocks on one connection. It keeps
/// the fields it encoded, so that a clone (the walk clones its whole state to replay from a
/// step) rebuilds the same dynamic table by encoding them again: HPACK is deterministic.
pub struct Encoder {
    inner: loona_hpack::Encoder<'static>,
    history: Vec<Vec<Field>>,
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder { inner: loona_hpack::Encoder::new(), history: Vec::new() }
    }
}

impl Clone for Encoder {
    fn clone(&self) -> Encoder {
        let mut copy = Encoder::default();
        for fields in &self.history {
            copy.encode(fields);
        }
        copy
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hpack::Encoder")
    }
}

impl Encoder {
    /// The header block for `fields`, in order. A field already in the static table or this
    /// connection's dynamic table is sent as its index (one octet for `:method: POST` or a
    /// header repeated from the previous request); any other is a literal, added to the table.
    pub fn encode(&mut self, fields: &[Field]) -> Vec<u8> {
        self.history.push(fields.to_vec());
        self.inner.encode(fields.iter().map(|(name, value)| (name.as_bytes(), value.as_bytes())))
    }
}

/// The compression context of the side that reads header blocks on one connection; like
/// `Encoder`, it keeps the blocks it read so that a clone reads them again.
pub struct Decoder {
    inner: loona_hpack::Decoder<'static>,
    history: Vec<Vec<u8>>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder { inner: loona_hpack::Decoder::new(), history: Vec::new() }
    }
}

impl Clone for Decoder {
    fn clone(&self) -> Decoder {
        let mut copy = Decoder::default();
        for block in &self.history {
            // Each block was read without error once, so it reads again.
            let _ = copy.decode(block);
        }
        copy
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hpack::Decoder")
    }
}

impl Decoder {
    /// Reads one header block. A block that refers to an entry this context has not seen (a
    /// block read out of order, or without the connection's earlier ones) is an error, as it is
    /// a COMPRESSION_ERROR for a real peer (RFC 9113 §4.3).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, HttpError> {
        let fields = self.inner.decode(block).map_err(|err| HttpError(format!("HPACK: {err}")))?;
        self.history.push(block.to_vec());
        fields
            .into_iter()
            .map(|(name, value)| match (String::from_utf8(name), String::from_utf8(value)) {
                (Ok(name), Ok(value)) => Ok((name, value)),
                _ => Err(HttpError("HPACK: a header field is not text".into())),
            })
            .collect()
    }
}

/// The field of that name, if the block has one.
pub fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<Field> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn check(blocks: &[&[(&str, &str)]], expect: &[&[u8]]) {
        let mut encoder = Encoder::default();
        let mut decoder = Decoder::default();
        for (block, expect) in blocks.iter().zip(expect) {
            let bytes = encoder.encode(&fields(block));
            assert_eq!(bytes, *expect, "{block:?}");
            assert_eq!(decoder.decode(&bytes).expect("it reads back"), fields(block));
        }
    }

    #[test]
    fn test_static_entries_are_one_octet_and_repeats_hit_the_dynamic_table() {
        check(
            &[
                // RFC 7541 Appendix A: `:method: POST` is index 3 and `:scheme: http` 6. `:path`
                // is there by name (entry 5), so loona-hpack writes its value as a literal without
                // indexing (§6.2.2, 4-bit prefix); `x-a` is in no table, so it is a literal with
                // incremental indexing (§6.2.1, `0x40`) and becomes dynamic entry 62.
                &[(":method", "POST"), (":scheme", "http"), (":path", "/a"), ("x-a", "1")],
                // The second block repeats both: the path again as a literal, `x-a` as index 62.
                &[(":method", "POST"), (":path", "/a"), ("x-a", "1")],
            ],
            &[
                &[0x83, 0x86, 0x05, 2, b'/', b'a', 0x40, 3, b'x', b'-', b'a', 1, b'1'],
                &[0x83, 0x05, 2, b'/', b'a', 0xbe],
            ],
        );
    }

    #[test]
    fn test_a_block_out_of_order_is_an_error() {
        let mut encoder = Encoder::default();
        encoder.encode(&fields(&[("x-a", "1")]));
        let second = encoder.encode(&fields(&[("x-a", "1")]));
        // A clone carries the dynamic table: it encodes the repeat as the same index.
        assert_eq!(encoder.clone().encode(&fields(&[("x-a", "1")])), [0xbe]);
        let err = Decoder::default().decode(&second).expect_err("entry 62 was never seen");
        assert!(err.0.starts_with("HPACK:"), "{err}");
        assert_eq!(get(&fields(&[(":status", "200")]), ":status"), Some("200"));
    }
}
