//! Base64 for BINARY fields, as Jackson's MIME_NO_LINEFEEDS decoder behaves inside Spark.
use super::scan::SyntaxError;

/// Base64 like Jackson's MIME_NO_LINEFEEDS decoder. `Err(SyntaxError)` where Jackson would have consumed
/// the closing quote (Spark then misreads the rest of the record: malformed row).
pub(crate) fn base64_jackson(s: &[u8], out: &mut Vec<u8>) -> Result<bool, SyntaxError> {
    #[inline]
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a' + 26) as u32),
            b'0'..=b'9' => Some((c - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut i = 0;
    let n = s.len();
    loop {
        while i < n && s[i] <= b' ' {
            i += 1;
        }
        if i == n {
            return Ok(true);
        }
        let Some(a) = val(s[i]) else { return Ok(false) };
        i += 1;
        if i == n {
            return Err(SyntaxError);
        }
        let Some(b) = val(s[i]) else { return Ok(false) };
        i += 1;
        let d = (a << 6) | b;
        if i == n {
            return Ok(false);
        }
        if s[i] == b'=' {
            i += 1;
            if i == n {
                return Err(SyntaxError);
            }
            if s[i] != b'=' {
                return Ok(false);
            }
            i += 1;
            out.push((d >> 4) as u8);
            continue;
        }
        let Some(c) = val(s[i]) else { return Ok(false) };
        i += 1;
        let d = (d << 6) | c;
        if i == n {
            return Ok(false);
        }
        if s[i] == b'=' {
            i += 1;
            let d = d >> 2;
            out.push((d >> 8) as u8);
            out.push(d as u8);
            continue;
        }
        let Some(e) = val(s[i]) else { return Ok(false) };
        i += 1;
        let d = (d << 6) | e;
        out.extend_from_slice(&[(d >> 16) as u8, (d >> 8) as u8, d as u8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_jacksons_mime_decoder_does() {
        let d = |s: &str| {
            let mut o = Vec::new();
            base64_jackson(s.as_bytes(), &mut o).map(|ok| ok.then_some(o))
        };
        assert_eq!(d("Zm9v").unwrap(), Some(b"foo".to_vec()));
        assert_eq!(d(" Zm9vYg== ").unwrap(), Some(b"foob".to_vec()));
        assert_eq!(d("").unwrap(), Some(vec![]));
        assert_eq!(d("Zm9vYg").unwrap(), None);
        assert!(d("Zm9vY").is_err());
        assert!(d("Zm9vYg=").is_err());
        assert_eq!(d("Zm 9v").unwrap(), None);
        assert_eq!(d("Zm9vYg==Zm9v").unwrap(), Some(b"foobfoo".to_vec()));
    }
}
