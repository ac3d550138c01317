//! Cursor over one row's bytes and the SWAR scan for string terminators.

/// Malformed JSON: the whole row is malformed.
#[derive(Debug)]
pub(crate) struct SyntaxError;

pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    #[inline]
    pub fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        self.i += 1;
        c
    }
    /// JSON whitespace (Jackson: space, tab, LF, CR).
    #[inline]
    pub fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    #[inline]
    pub fn expect(&mut self, c: u8) -> Result<(), SyntaxError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(SyntaxError)
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI_BITS: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn has_zero(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI_BITS
}

#[inline(always)]
fn has_less(v: u64, n: u8) -> u64 {
    v.wrapping_sub(LO.wrapping_mul(n as u64)) & !v & HI_BITS
}

/// Index of the first byte at or after `i` that is the quote `q`, a backslash or a control
/// character (< 0x20); `b.len()` if none. Sets `*non_ascii` if a byte in `i..` before that
/// index is >= 0x80 (and leaves it alone otherwise): the decoder's per-row hint that the row
/// may hold invalid UTF-8, fused into the one pass over the string's bytes. A byte >= 0x80
/// stops the vector scan like a special byte; after the first one the rest is scanned without
/// looking for more.
#[inline]
pub(crate) fn find_special(b: &[u8], i: usize, q: u8, non_ascii: &mut bool) -> usize {
    let j = scan::<true>(b, i, q);
    if j < b.len() && b[j] >= 0x80 {
        *non_ascii = true;
        scan_rest(b, j + 1, q)
    } else {
        j
    }
}

/// `find_special` after the first byte >= 0x80 (kept out of line: the ASCII path is the hot one).
#[inline(never)]
fn scan_rest(b: &[u8], i: usize, q: u8) -> usize {
    scan::<false>(b, i, q)
}

/// The first special byte at or after `i` (with `HI`, also the first byte >= 0x80).
#[inline(always)]
fn scan<const HI: bool>(b: &[u8], i: usize, q: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        scan_sse2::<HI>(b, i, q)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        scan_swar::<HI>(b, i, q)
    }
}

/// SSE2 (baseline on x86_64): 16 bytes per step.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn scan_sse2<const HI: bool>(b: &[u8], mut i: usize, q: u8) -> usize {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline; loads are unaligned and stay inside `b`
    // (i + 16 <= b.len()). The rest is register arithmetic.
    unsafe {
        let vq = _mm_set1_epi8(q as i8);
        let vb = _mm_set1_epi8(b'\\' as i8);
        let v1f = _mm_set1_epi8(0x1f);
        while i + 16 <= b.len() {
            let x = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, v1f), v1f); // x <= 0x1f (unsigned)
            let mut m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vb)),
                ctl,
            );
            if HI {
                m = _mm_or_si128(m, x); // x's sign bit: a byte >= 0x80
            }
            let mask = _mm_movemask_epi8(m) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    scan_swar::<HI>(b, i, q)
}

#[inline(always)]
fn scan_swar<const HI: bool>(b: &[u8], mut i: usize, q: u8) -> usize {
    let qq = LO.wrapping_mul(q as u64);
    let bs = LO.wrapping_mul(b'\\' as u64);
    while i + 8 <= b.len() {
        let x = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        // has_zero/has_less may flag bytes above a true hit only, so the lowest bit is exact
        let mut m = has_zero(x ^ qq) | has_zero(x ^ bs) | has_less(x, 0x20);
        if HI {
            m |= x & HI_BITS;
        }
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() {
        let c = b[i];
        if c == q || c == b'\\' || c < 0x20 || (HI && c >= 0x80) {
            return i;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(b: &[u8], i: usize, q: u8) -> usize {
        find_special(b, i, q, &mut false)
    }

    #[test]
    fn the_scan_stops_at_quotes_backslashes_and_control_bytes() {
        let s = b"abcdefghijklmnop\"q";
        assert_eq!(fs(s, 0, b'"'), 16);
        assert_eq!(fs(b"ab\\c", 0, b'"'), 2);
        assert_eq!(fs(b"abcdefgh\x01", 0, b'"'), 8);
        assert_eq!(fs(b"abcdefgh", 0, b'"'), 8);
        assert_eq!(fs("é'xyzxyzxyz".as_bytes(), 0, b'\''), 2);
        // every position, every special kind
        for pos in 0..20 {
            for sp in [b'"', b'\\', 0x1f, 0] {
                let mut v = vec![b'x'; 20];
                v[pos] = sp;
                assert_eq!(fs(&v, 0, b'"'), pos);
            }
            let mut v = vec![0xC3u8; 20];
            v[pos] = b'"';
            assert_eq!(fs(&v, 0, b'"'), pos);
        }
    }

    /// The non-ASCII flag covers exactly the bytes from `i` up to the special byte, in the
    /// SIMD, SWAR and byte-loop parts alike.
    #[test]
    fn the_scan_flags_a_string_with_a_byte_above_ascii() {
        fn reference(b: &[u8], i: usize, q: u8) -> (usize, bool) {
            let j = (i..b.len())
                .find(|&k| b[k] == q || b[k] == b'\\' || b[k] < 0x20)
                .unwrap_or(b.len());
            (j, b[i.min(j)..j].iter().any(|&c| c >= 0x80))
        }
        for len in 0..40 {
            for start in 0..4.min(len + 1) {
                for sp in (0..len).map(Some).chain([None]) {
                    for hi in (0..len).map(Some).chain([None]) {
                        let mut v = vec![b'a'; len];
                        if let Some(h) = hi {
                            v[h] = 0x80 | (h as u8).wrapping_mul(7);
                        }
                        if let Some(p) = sp {
                            v[p] = b'"';
                        }
                        let want = reference(&v, start, b'"');
                        let mut f = false;
                        let j = find_special(&v, start, b'"', &mut f);
                        assert_eq!((j, f), want, "len {len} start {start} {sp:?} {hi:?}");
                        // the portable scan agrees
                        let j = scan_swar::<false>(&v, start, b'"');
                        assert_eq!(j, want.0, "swar len {len} start {start} {sp:?} {hi:?}");
                        let j = scan_swar::<true>(&v, start, b'"');
                        let first_hi = hi.filter(|&h| h >= start && h < want.0);
                        assert_eq!(j, first_hi.unwrap_or(want.0), "swar hi {len} {start}");
                        // the flag only ever gets set, never cleared
                        let mut f = true;
                        find_special(&v, start, b'"', &mut f);
                        assert!(f);
                    }
                }
            }
        }
    }
}
