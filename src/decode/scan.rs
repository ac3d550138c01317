//! Cursor over one row's bytes and the SWAR scan for string terminators.

pub(crate) struct Cur<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl<'a> Cur<'a> {
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
    pub fn expect(&mut self, c: u8) -> Result<(), super::parser::Syn> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(super::parser::Syn)
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn has_zero(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

#[inline(always)]
fn has_less(v: u64, n: u8) -> u64 {
    v.wrapping_sub(LO.wrapping_mul(n as u64)) & !v & HI
}

/// Index of the first byte at or after `i` that is the quote `q`, a backslash or a control
/// character (< 0x20); `b.len()` if none.
#[inline]
pub(crate) fn find_special(b: &[u8], i: usize, q: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        find_special_sse2(b, i, q)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        find_special_swar(b, i, q)
    }
}

/// SSE2 (baseline on x86_64): 16 bytes per step.
#[cfg(target_arch = "x86_64")]
#[inline]
fn find_special_sse2(b: &[u8], mut i: usize, q: u8) -> usize {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline; loads are unaligned and stay inside `b`
    // (i + 16 <= b.len()).
    unsafe {
        let vq = _mm_set1_epi8(q as i8);
        let vb = _mm_set1_epi8(b'\\' as i8);
        let v1f = _mm_set1_epi8(0x1f);
        while i + 16 <= b.len() {
            let x = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, v1f), v1f); // x <= 0x1f (unsigned)
            let m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vb)),
                ctl,
            );
            let mask = _mm_movemask_epi8(m) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    find_special_swar(b, i, q)
}

#[inline]
fn find_special_swar(b: &[u8], mut i: usize, q: u8) -> usize {
    let qq = LO.wrapping_mul(q as u64);
    let bs = LO.wrapping_mul(b'\\' as u64);
    while i + 8 <= b.len() {
        let x = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let m = has_zero(x ^ qq) | has_zero(x ^ bs) | has_less(x, 0x20);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() {
        let c = b[i];
        if c == q || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special() {
        let s = b"abcdefghijklmnop\"q";
        assert_eq!(find_special(s, 0, b'"'), 16);
        assert_eq!(find_special(b"ab\\c", 0, b'"'), 2);
        assert_eq!(find_special(b"abcdefgh\x01", 0, b'"'), 8);
        assert_eq!(find_special(b"abcdefgh", 0, b'"'), 8);
        assert_eq!(find_special("é'xyzxyzxyz".as_bytes(), 0, b'\''), 2);
        // every position, every special kind
        for pos in 0..20 {
            for sp in [b'"', b'\\', 0x1f, 0] {
                let mut v = vec![b'x'; 20];
                v[pos] = sp;
                assert_eq!(find_special(&v, 0, b'"'), pos);
            }
            let mut v = vec![0xC3u8; 20];
            v[pos] = b'"';
            assert_eq!(find_special(&v, 0, b'"'), pos);
        }
    }
}
