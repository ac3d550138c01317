//! JSON string escapes: decoding (Jackson's set, unpaired surrogates -> '?') and re-encoding
//! (Jackson's output escaping).
use super::parser::Syn;
use super::scan::find_special;

#[inline]
fn hex(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'a'..=b'f' => Some((c - b'a' + 10) as u32),
        b'A'..=b'F' => Some((c - b'A' + 10) as u32),
        _ => None,
    }
}

pub(crate) fn hex4(b: &[u8], i: usize) -> Result<u32, Syn> {
    if b.len() < i + 4 {
        return Err(Syn);
    }
    let mut v = 0;
    for k in 0..4 {
        v = v * 16 + hex(b[i + k]).ok_or(Syn)?;
    }
    Ok(v)
}

fn push_char(out: &mut Vec<u8>, ch: u32) {
    let c = char::from_u32(ch).unwrap_or('?');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decode the rest of a string with escapes; `i` is at a backslash. Returns the index after the
/// closing quote. Unpaired surrogates become '?' (Java's String -> UTF-8). Sets `*non_ascii` if
/// a raw byte of the string is >= 0x80 (see `find_special`).
pub(crate) fn decode_escaped(
    b: &[u8],
    mut i: usize,
    q: u8,
    out: &mut Vec<u8>,
    non_ascii: &mut bool,
) -> Result<usize, Syn> {
    loop {
        let j = find_special(b, i, q, non_ascii);
        out.extend_from_slice(&b[i..j.min(b.len())]);
        if j >= b.len() {
            return Err(Syn);
        }
        let ch = b[j];
        if ch == q {
            return Ok(j + 1);
        }
        if ch != b'\\' {
            return Err(Syn); // raw control character
        }
        let e = *b.get(j + 1).ok_or(Syn)?;
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
                    out.push(b'?');
                } else if (0xDC00..0xE000).contains(&u) {
                    out.push(b'?');
                } else {
                    push_char(out, u);
                }
            }
            _ => return Err(Syn),
        }
    }
}

/// Jackson-style JSON string escaping (control chars as \uXXXX with uppercase hex).
pub(crate) fn write_json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut start = 0;
    for (k, &ch) in s.iter().enumerate() {
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
        out.extend_from_slice(&s[start..k]);
        if esc.is_empty() {
            const H: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(b"\\u00");
            out.push(H[(ch >> 4) as usize]);
            out.push(H[(ch & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = k + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut o = Vec::new();
        let b = br#"a\u00e9\ud83d\ude00\n\/\"x""#;
        let end = decode_escaped(b, 1, b'"', &mut o, &mut false).unwrap();
        assert_eq!(end, b.len());
        assert_eq!(
            std::str::from_utf8(&o).unwrap(),
            "é😀\n/\"x".trim_start_matches('a')
        );
        let mut o = Vec::new();
        decode_escaped(br#"\ud83d""#, 0, b'"', &mut o, &mut false).unwrap();
        assert_eq!(o, b"?");
        // raw non-ASCII after an escape is flagged; \u escapes are not raw bytes
        let mut na = false;
        decode_escaped("\\n\\u00e9x\"é".as_bytes(), 0, b'"', &mut o, &mut na).unwrap();
        assert!(!na);
        decode_escaped("\\nxé\"".as_bytes(), 0, b'"', &mut o, &mut na).unwrap();
        assert!(na);
        assert!(decode_escaped(br#"\x41""#, 0, b'"', &mut Vec::new(), &mut false).is_err());
        let mut o = Vec::new();
        write_json_string(b"a\"b\\c\x01\x1f\n/", &mut o);
        assert_eq!(o, br#""a\"b\\c\u0001\u001F\n/""#);
    }
}
