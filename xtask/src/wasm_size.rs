//! Where the page's WebAssembly bytes go: a size breakdown of a `.wasm` file by section, by crate
//! and by function, read from the file itself.
//!
//! Functions are named by the module's `name` custom section, which the page's `wasm-release`
//! build keeps until `wasm-opt` drops it (see the root `Cargo.toml`); a module without one is
//! measured by section only. Each function's body is attributed to the crate its demangled name
//! starts with (`<T as Trait>::f` to the crate of `T`), the way `twiggy` and `cargo bloat` group
//! them. Besides the raw bytes, every group is gzipped on its own: what the page costs a learner
//! is its gzipped size, and code that repeats itself compresses better than tables do. The data
//! section (string literals, tables, the embedded lessons) carries no names, so it is one group.

use std::collections::HashMap;

use wasmparser::{KnownCustom, Name, Parser, Payload};

/// One group of bytes: a section, a crate or a function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    pub(crate) gzipped: u64,
}

/// The breakdown of one module.
#[derive(Debug, Default)]
pub(crate) struct Breakdown {
    /// Every section, largest first; custom sections by their own name.
    pub(crate) sections: Vec<Part>,
    /// Function bodies grouped by crate, plus the data section, largest gzipped first.
    pub(crate) crates: Vec<Part>,
    /// The largest function bodies, largest first (raw bytes; a single body gzips poorly alone).
    pub(crate) functions: Vec<Part>,
}

/// Reads a module and measures it; `top` is how many functions to keep.
pub(crate) fn breakdown(wasm: &[u8], top: usize) -> Result<Breakdown, String> {
    let mut sections: Vec<(String, Vec<u8>)> = Vec::new();
    let mut imported_functions = 0u32;
    let mut bodies: Vec<&[u8]> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut names: HashMap<u32, String> = HashMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("not a wasm module: {e}"))?;
        if let Payload::ImportSection(imports) = &payload {
            for import in imports.clone().into_imports() {
                let import = import.map_err(|e| format!("bad import: {e}"))?;
                if matches!(import.ty, wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_)) {
                    imported_functions += 1;
                }
            }
        }
        match &payload {
            Payload::CodeSectionEntry(body) => bodies.push(&wasm[body.range()]),
            Payload::DataSection(reader) => {
                for segment in reader.clone() {
                    let segment = segment.map_err(|e| format!("bad data segment: {e}"))?;
                    data.extend_from_slice(segment.data);
                }
            }
            Payload::CustomSection(custom) => {
                if let KnownCustom::Name(reader) = custom.as_known() {
                    for name in reader {
                        if let Ok(Name::Function(map)) = name {
                            for naming in map.into_iter().flatten() {
                                names.insert(naming.index, naming.name.to_string());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            let label = match &payload {
                Payload::CustomSection(custom) => format!("custom \"{}\"", custom.name()),
                _ => section_name(id).to_string(),
            };
            sections.push((label, wasm[range].to_vec()));
        }
    }

    let mut breakdown = Breakdown {
        sections: sections.iter().map(|(name, bytes)| part(name, bytes)).collect(),
        ..Breakdown::default()
    };
    breakdown.sections.sort_by_key(|part| std::cmp::Reverse(part.bytes));
    if names.is_empty() {
        return Ok(breakdown);
    }

    let mut by_crate: HashMap<String, Vec<u8>> = HashMap::new();
    let mut functions = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let index = imported_functions + i as u32;
        let name = names.get(&index).map_or_else(|| format!("function[{index}]"), |n| demangle(n));
        by_crate.entry(crate_of(&name)).or_default().extend_from_slice(body);
        functions.push((name, body.len() as u64));
    }
    let mut crates: Vec<Part> = by_crate.iter().map(|(name, bytes)| part(name, bytes)).collect();
    if !data.is_empty() {
        crates.push(part("(data: literals, tables, lessons)", &data));
    }
    crates.sort_by(|a, b| b.gzipped.cmp(&a.gzipped).then(a.name.cmp(&b.name)));
    breakdown.crates = crates;
    functions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    breakdown.functions =
        functions.into_iter().take(top).map(|(name, bytes)| Part { name, bytes, gzipped: 0 }).collect();
    Ok(breakdown)
}

fn part(name: &str, bytes: &[u8]) -> Part {
    Part { name: name.to_string(), bytes: bytes.len() as u64, gzipped: gzipped_len(bytes) }
}

/// The deflated length at gzip's default level (6), as a web server would send it; gzip's own
/// header and trailer (18 bytes) are left out, since they are paid once per file, not per part.
pub(crate) fn gzipped_len(bytes: &[u8]) -> u64 {
    miniz_oxide::deflate::compress_to_vec(bytes, 6).len() as u64
}

/// A symbol as Rust wrote it, without the hash suffix; other names are kept as they are.
/// wasm-bindgen writes the name section already demangled but with the hash (`a::b::h0123…`).
fn demangle(symbol: &str) -> String {
    let name = format!("{:#}", rustc_demangle::demangle(symbol));
    match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => path.to_string(),
        _ => name,
    }
}

/// The crate a demangled function name belongs to: its first path segment, looking through the
/// `<`, `&`, `mut `, `dyn `, `[` and `(` an impl's self type may start with. Names that are not
/// Rust paths (the allocator's C symbols, wasm-bindgen's shims) group under their own first word.
fn crate_of(name: &str) -> String {
    let mut rest = name;
    loop {
        let before = rest;
        for prefix in ["<", "&", "*const ", "*mut ", "mut ", "dyn ", "[", "("] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        if rest == before {
            break;
        }
    }
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    match &rest[..end] {
        "" => "(other)".to_string(),
        "bool" | "char" | "str" | "f32" | "f64" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16"
        | "i32" | "i64" | "i128" | "isize" => "core (impls on primitives)".to_string(),
        // A type parameter (`<T as Trait>::f`, `<A as Trait>::f`): generic code of whatever crate.
        segment if segment.len() <= 2 && segment.starts_with(|c: char| c.is_ascii_uppercase()) => {
            "(generic impls)".to_string()
        }
        segment => segment.to_string(),
    }
}

fn section_name(id: u8) -> &'static str {
    match id {
        1 => "type",
        2 => "import",
        3 => "function",
        4 => "table",
        5 => "memory",
        6 => "global",
        7 => "export",
        8 => "start",
        9 => "element",
        10 => "code",
        11 => "data",
        12 => "data count",
        13 => "tag",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expect: &str) {
        assert_eq!(crate_of(name), expect, "{name}");
    }

    #[test]
    fn names_the_crate() {
        check("saphyr_parser::scanner::Scanner<T>::fetch_more_tokens", "saphyr_parser");
        check("<yew::html::component::lifecycle::ComponentState as core::fmt::Debug>::fmt", "yew");
        check("<&T as core::fmt::Display>::fmt", "(generic impls)");
        check("<[T] as alloc::slice::hack::ConvertVec>::to_vec", "(generic impls)");
        check("<f64 as core::str::traits::FromStr>::from_str", "core (impls on primitives)");
        check("core[c5930c85a12de822]::fmt::write", "core");
        check("<alloc::vec::Vec<T,A> as core::clone::Clone>::clone", "alloc");
        check("dlmalloc", "dlmalloc");
        check("__wbindgen_malloc", "__wbindgen_malloc");
        check("", "(other)");
    }

    #[test]
    fn strips_the_hash() {
        assert_eq!(demangle("_ZN4core3fmt5write17h0123456789abcdefE"), "core::fmt::write");
        assert_eq!(demangle("memcpy"), "memcpy");
        assert_eq!(demangle("yew::scheduler::start::h0123456789abcdef"), "yew::scheduler::start");
    }

    /// A hand-assembled module: one imported function, two bodies named `a::f` and `b::g`, and a
    /// data segment; the breakdown must find each where it is.
    #[test]
    fn measures_a_module() {
        let mut module = vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        let section = |module: &mut Vec<u8>, id: u8, body: &[u8]| {
            module.push(id);
            module.push(body.len() as u8);
            module.extend_from_slice(body);
        };
        section(&mut module, 1, &[0x01, 0x60, 0x00, 0x00]); // type 0: [] -> []
        section(&mut module, 2, &[0x01, 0x01, b'm', 0x01, b'i', 0x00, 0x00]); // import m.i
        section(&mut module, 3, &[0x02, 0x00, 0x00]); // two functions of type 0
        section(&mut module, 5, &[0x01, 0x00, 0x01]); // one memory page
        // Two bodies: `nop nop nop end` and `end`, each with no locals.
        section(&mut module, 10, &[0x02, 0x05, 0x00, 0x01, 0x01, 0x01, 0x0b, 0x02, 0x00, 0x0b]);
        section(&mut module, 11, &[0x01, 0x00, 0x41, 0x00, 0x0b, 0x04, b'd', b'a', b't', b'a']);
        let names: Vec<u8> = [
            &[0x04, b'n', b'a', b'm', b'e'][..],
            &[0x01, 0x0d, 0x02], // function names, 13 bytes, two entries
            &[0x01, 0x04, b'a', b':', b':', b'f'],
            &[0x02, 0x04, b'b', b':', b':', b'g'],
        ]
        .concat();
        section(&mut module, 0, &names);

        let found = breakdown(&module, 1).expect("a module");
        let crates: Vec<(&str, u64)> = found.crates.iter().map(|p| (p.name.as_str(), p.bytes)).collect();
        assert!(crates.contains(&("a", 5)) && crates.contains(&("b", 2)), "{crates:?}");
        assert!(crates.contains(&("(data: literals, tables, lessons)", 4)), "{crates:?}");
        assert_eq!(found.functions, [Part { name: "a::f".into(), bytes: 5, gzipped: 0 }]);
        let code = found.sections.iter().find(|p| p.name == "code").expect("a code section");
        assert_eq!(code.bytes, 10);
        assert!(found.sections.iter().any(|p| p.name == "custom \"name\""));
    }
}
