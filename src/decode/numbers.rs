//! Number conversions with Jackson/Spark semantics: exact integer parsing, decimals with
//! HALF_UP rounding, Java's `Double.toString`, and the JSON number grammar check.

/// Parse a JSON integer token (`-?digits`) into i64; `None` on overflow.
#[inline]
pub fn parse_i64(t: &[u8]) -> Option<i64> {
    let (neg, d) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in d {
        v = v * 10 + (c.wrapping_sub(b'0')) as u64; // 19 digits fit in u64
    }
    if neg {
        if v <= (i64::MAX as u64) + 1 {
            Some((v as i64).wrapping_neg())
        } else {
            None
        }
    } else if v <= i64::MAX as u64 {
        Some(v as i64)
    } else {
        None
    }
}

/// The zero of each run of ten decimal digits (Unicode category Nd) in the BMP, as Java 17
/// (Unicode 13) has them: `Character.digit(char, 10)` reads these, so BigDecimal and
/// Integer.parseInt take "١٢" or "１２" as 12. (Digits outside the BMP are two Java chars, which
/// neither reads.)
const BMP_DIGIT_ZEROS: [u32; 37] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];

/// `t` with every non-ASCII decimal digit Java reads replaced by its ASCII digit (other
/// characters kept), borrowed when `t` is ASCII.
pub fn ascii_digits(t: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if t.is_ascii() {
        return std::borrow::Cow::Borrowed(t);
    }
    let text = String::from_utf8_lossy(t);
    let mut out = Vec::with_capacity(t.len());
    for ch in text.chars() {
        let cp = ch as u32;
        let zero = BMP_DIGIT_ZEROS
            .iter()
            .rev()
            .find(|&&z| z <= cp)
            .filter(|&&z| cp - z < 10);
        match zero {
            Some(&z) if cp > 0x7F => out.push(b'0' + (cp - z) as u8),
            _ => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A decimal literal split into sign, significant digits and a power-of-ten exponent.
struct DecText {
    neg: bool,
    digits: Vec<u8>, // ASCII digits, leading zeros stripped
    exp: i64,
}

/// Java `BigDecimal(String)` syntax: `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?`.
fn split_decimal(t: &[u8]) -> Option<DecText> {
    let mut i = 0;
    let mut neg = false;
    if i < t.len() && (t[i] == b'+' || t[i] == b'-') {
        neg = t[i] == b'-';
        i += 1;
    }
    let mut digits = Vec::with_capacity(t.len());
    let mut exp: i64 = 0;
    let mut any = false;
    while i < t.len() && t[i].is_ascii_digit() {
        digits.push(t[i]);
        any = true;
        i += 1;
    }
    if i < t.len() && t[i] == b'.' {
        i += 1;
        while i < t.len() && t[i].is_ascii_digit() {
            digits.push(t[i]);
            exp -= 1;
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    if i < t.len() && (t[i] == b'e' || t[i] == b'E') {
        i += 1;
        let mut eneg = false;
        if i < t.len() && (t[i] == b'+' || t[i] == b'-') {
            eneg = t[i] == b'-';
            i += 1;
        }
        let st = i;
        let mut e: i64 = 0;
        while i < t.len() && t[i].is_ascii_digit() {
            e = (e * 10 + (t[i] - b'0') as i64).min(1 << 40);
            i += 1;
        }
        if i == st {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != t.len() {
        return None;
    }
    let nz = digits
        .iter()
        .position(|&c| c != b'0')
        .unwrap_or(digits.len());
    digits.drain(..nz);
    Some(DecText { neg, digits, exp })
}

/// Decimal text -> unscaled i128 at `scale`, HALF_UP; `None` if it needs more than `precision` digits.
pub fn parse_decimal(t: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let d = split_decimal(t)?;
    let shift = d.exp + scale as i64; // value * 10^scale = digits * 10^shift
    let n = d.digits.len() as i64;
    let mut v: i128 = 0;
    if shift >= 0 {
        if n + shift > precision as i64 {
            return if n == 0 { Some(0) } else { None };
        }
        for &c in &d.digits {
            v = v * 10 + (c - b'0') as i128;
        }
        for _ in 0..shift {
            v *= 10;
        }
    } else {
        let drop = -shift;
        let keep = n - drop;
        if keep < 0 {
            return Some(0);
        }
        if keep > precision as i64 {
            return None;
        }
        for &c in &d.digits[..keep as usize] {
            v = v * 10 + (c - b'0') as i128;
        }
        if drop > 0 && d.digits[keep as usize] >= b'5' {
            v += 1;
        }
    }
    if v >= 10i128.pow(precision as u32) {
        return None;
    }
    Some(if d.neg { -v } else { v })
}

/// Java's `Double.toString(d)` for finite values (shortest round-trip digits).
pub fn java_double_to_string(v: f64, out: &mut Vec<u8>) {
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    // `{:e}` gives the shortest round-trip digits as d[.ddd]e[-]x
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(|c| c.is_ascii_digit()).collect();
    if v < 0.0 {
        out.push(b'-');
    }
    let a = v.abs();
    if (1e-3..1e7).contains(&a) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            for k in 0..int_len {
                out.push(*digits.get(k).unwrap_or(&b'0'));
            }
            out.push(b'.');
            if digits.len() > int_len {
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(&digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        out.extend_from_slice(exp.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jd(v: f64) -> String {
        let mut o = Vec::new();
        java_double_to_string(v, &mut o);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn doubles_print_as_javas_double_to_string() {
        assert_eq!(jd(1.5), "1.5");
        assert_eq!(jd(100.0), "100.0");
        assert_eq!(jd(12345678.9), "1.23456789E7");
        assert_eq!(jd(99999999.995), "9.9999999995E7");
        assert_eq!(jd(3.5e38), "3.5E38");
        assert_eq!(jd(-0.0025), "-0.0025");
        assert_eq!(jd(0.001), "0.001");
        assert_eq!(jd(0.0001), "1.0E-4");
        assert_eq!(jd(1e7), "1.0E7");
        assert_eq!(jd(9999999.0), "9999999.0");
        assert_eq!(jd(0.0), "0.0");
    }

    #[test]
    fn integer_tokens_parse_exactly_or_not_at_all() {
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
        assert_eq!(parse_i64(b"-0"), Some(0));
    }

    #[test]
    fn decimals_round_half_up_and_overflow_to_none() {
        assert_eq!(parse_decimal(b"1.5", 38, 0), Some(2));
        assert_eq!(&*ascii_digits("١٢.５e١".as_bytes()), b"12.5e1");
        assert_eq!(
            &*ascii_digits("x²\u{1D7CE}".as_bytes()),
            "x²\u{1D7CE}".as_bytes()
        );
        assert_eq!(parse_decimal(b"-1.5", 38, 0), Some(-2));
        assert_eq!(parse_decimal(b"1.25", 5, 1), Some(13));
        assert_eq!(parse_decimal(b"-2.5E-3", 10, 2), Some(0));
        assert_eq!(parse_decimal(b"99999999.995", 10, 2), None);
        assert_eq!(parse_decimal(b"99999999.995", 38, 0), Some(100000000));
        assert_eq!(parse_decimal(b"2147483647", 10, 2), None);
        assert_eq!(parse_decimal(b"1e-400", 10, 2), Some(0));
        assert_eq!(parse_decimal(b"1e2", 10, 2), Some(10000));
        assert_eq!(parse_decimal(b"0.005", 10, 2), Some(1));
        assert_eq!(parse_decimal(b"5.", 10, 2), Some(500));
        assert_eq!(parse_decimal(b".5", 10, 2), Some(50));
        assert_eq!(parse_decimal(b" 5", 10, 2), None);
        assert_eq!(parse_decimal(b"1e400", 10, 2), None);
        assert_eq!(parse_decimal(b"0e400", 10, 2), Some(0));
        assert_eq!(
            parse_decimal(b"123456789012345678901234567890e-25", 10, 2),
            Some(1234568)
        );
    }
}
