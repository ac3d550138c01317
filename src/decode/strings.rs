//! JSON string escapes: decoding (Jackson's set, unpaired surrogates -> '?') and re-encoding
//! (Jackson's output escaping, which writes UTF-16 surrogates as `\uXXXX` escapes).
use super::scan::{find_special, SyntaxError};

#[inline]
fn hex(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'a'..=b'f' => Some((c - b'a' + 10) as u32),
        b'A'..=b'F' => Some((c - b'A' + 10) as u32),
        _ => None,
    }
}

pub(crate) fn hex4(b: &[u8], i: usize) -> Result<u32, SyntaxError> {
    if b.len() < i + 4 {
        return Err(SyntaxError);
    }
    let mut v = 0;
    for k in 0..4 {
        v = v * 16 + hex(b[i + k]).ok_or(SyntaxError)?;
    }
    Ok(v)
}

fn push_char(out: &mut Vec<u8>, ch: u32) {
    let c = char::from_u32(ch).unwrap_or('?');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// What an unpaired `\uD800`-`\uDFFF` escape decodes to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lone {
    /// '?', as Java turns such a String into UTF-8 (a value read into a column).
    Question,
    /// The surrogate's own 3-byte (WTF-8) encoding, so that `write_json_string` can write it
    /// back as the escape Jackson's generator writes (a value re-serialised into a STRING).
    Kept,
}

fn push_lone(out: &mut Vec<u8>, u: u32, lone: Lone) {
    match lone {
        Lone::Question => out.push(b'?'),
        Lone::Kept => out.extend_from_slice(&[
            0xE0 | (u >> 12) as u8,
            0x80 | ((u >> 6) & 0x3F) as u8,
            0x80 | (u & 0x3F) as u8,
        ]),
    }
}

/// Decode the rest of a string with escapes; `i` is at a backslash. Returns the index after the
/// closing quote. Unpaired surrogates become what `lone` says. Sets `*non_ascii` if a raw byte
/// of the string is >= 0x80 (see `find_special`).
pub(crate) fn decode_escaped(
    b: &[u8],
    mut i: usize,
    q: u8,
    out: &mut Vec<u8>,
    non_ascii: &mut bool,
    lone: Lone,
) -> Result<usize, SyntaxError> {
    loop {
        let j = find_special(b, i, q, non_ascii);
        out.extend_from_slice(&b[i..j.min(b.len())]);
        if j >= b.len() {
            return Err(SyntaxError);
        }
        let ch = b[j];
        if ch == q {
            return Ok(j + 1);
        }
        if ch != b'\\' {
            return Err(SyntaxError); // raw control character
        }
        let e = *b.get(j + 1).ok_or(SyntaxError)?;
        i = j + 2;
        match e {
            b'"' | b'\\' | b'/' | b'\'' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let u = hex4(b, i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&u) {
                    if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u') {
                        let lo = hex4(b, i + 2)?;
                        if (0xDC00..0xE000).contains(&lo) {
                            i += 6;
                            push_char(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                            continue;
                        }
                    }
                    push_lone(out, u, lone);
                } else if (0xDC00..0xE000).contains(&u) {
                    push_lone(out, u, lone);
                } else {
                    push_char(out, u);
                }
            }
            _ => return Err(SyntaxError),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 15) as usize]);
    }
}

/// The UTF-16 code unit(s) of the UTF-8/WTF-8 sequence at `s[k..]` that Jackson's UTF-8
/// generator escapes (a character outside the BMP -> its surrogate pair; a kept lone
/// surrogate -> itself), with the sequence's length; `None` for anything else.
fn surrogate_units(s: &[u8], k: usize) -> Option<([u32; 2], usize, usize)> {
    let cont = |j: usize| {
        s.get(k + j)
            .filter(|&&b| b & 0xC0 == 0x80)
            .map(|&b| (b & 0x3F) as u32)
    };
    match s[k] {
        0xF0..=0xF4 => {
            let cp = ((s[k] & 0x07) as u32) << 18 | cont(1)? << 12 | cont(2)? << 6 | cont(3)?;
            let v = cp.checked_sub(0x10000)?;
            Some(([0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)], 2, 4))
        }
        0xED if s.get(k + 1).is_some_and(|&b| b >= 0xA0) => {
            let unit = 0xD000 | cont(1)? << 6 | cont(2)?;
            Some(([unit, 0], 1, 3))
        }
        _ => None,
    }
}

/// Jackson-style JSON string escaping: control chars as \uXXXX with uppercase hex, and UTF-16
/// surrogates (characters outside the BMP, kept lone surrogates) as \uXXXX escapes too, as
/// Jackson's UTF-8 generator writes them.
pub(crate) fn write_json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut start = 0;
    let mut k = 0;
    while k < s.len() {
        let ch = s[k];
        if ch >= 0xED {
            if let Some((units, n, len)) = surrogate_units(s, k) {
                out.extend_from_slice(&s[start..k]);
                for &u in &units[..n] {
                    push_u_escape(out, u);
                }
                k += len;
                start = k;
                continue;
            }
        }
        k += 1;
        let esc: &[u8] = match ch {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            8 => b"\\b",
            9 => b"\\t",
            10 => b"\\n",
            12 => b"\\f",
            13 => b"\\r",
            0..=31 => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..k - 1]);
        if esc.is_empty() {
            push_u_escape(out, ch as u32);
        } else {
            out.extend_from_slice(esc);
        }
        start = k;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_jackson_and_re_encode_as_its_generator() {
        let mut o = Vec::new();
        let b = br#"a\u00e9\ud83d\ude00\n\/\"x""#;
        let end = decode_escaped(b, 1, b'"', &mut o, &mut false, Lone::Question).unwrap();
        assert_eq!(end, b.len());
        assert_eq!(
            std::str::from_utf8(&o).unwrap(),
            "é😀\n/\"x".trim_start_matches('a')
        );
        let mut o = Vec::new();
        decode_escaped(br#"\ud83d""#, 0, b'"', &mut o, &mut false, Lone::Question).unwrap();
        assert_eq!(o, b"?");
        // raw non-ASCII after an escape is flagged; \u escapes are not raw bytes
        let mut na = false;
        decode_escaped(
            "\\n\\u00e9x\"é".as_bytes(),
            0,
            b'"',
            &mut o,
            &mut na,
            Lone::Question,
        )
        .unwrap();
        assert!(!na);
        decode_escaped(
            "\\nxé\"".as_bytes(),
            0,
            b'"',
            &mut o,
            &mut na,
            Lone::Question,
        )
        .unwrap();
        assert!(na);
        assert!(decode_escaped(
            br#"\x41""#,
            0,
            b'"',
            &mut Vec::new(),
            &mut false,
            Lone::Question
        )
        .is_err());
        let mut o = Vec::new();
        write_json_string(b"a\"b\\c\x01\x1f\n/", &mut o);
        assert_eq!(o, br#""a\"b\\c\u0001\u001F\n/""#);
    }

    #[test]
    fn reserialised_strings_escape_surrogates_as_jacksons_utf8_generator_does() {
        // a character outside the BMP, raw or escaped, and a kept lone surrogate
        let mut kept = Vec::new();
        decode_escaped(
            br#"\ud83d\ude00 \ud83d""#,
            0,
            b'"',
            &mut kept,
            &mut false,
            Lone::Kept,
        )
        .unwrap();
        kept.extend_from_slice("|😀é".as_bytes());
        let mut o = Vec::new();
        write_json_string(&kept, &mut o);
        assert_eq!(o, r#""\uD83D\uDE00 \uD83D|\uD83D\uDE00é""#.as_bytes());
        // a truncated sequence is copied, never read past the end
        let mut o = Vec::new();
        write_json_string(b"\xf0\x9f", &mut o);
        assert_eq!(o, b"\"\xf0\x9f\"");
    }
}
