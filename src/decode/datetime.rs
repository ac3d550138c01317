//! Spark's string -> DATE / TIMESTAMP / TIMESTAMP_NTZ casts, by hand (no chrono parsing),
//! plus the JSON reader's fallbacks (`GMT` stripped for timestamps, integer day counts for dates).
use super::tz::{days_from_civil, TimeZone, MICROS_PER_DAY};

#[inline]
fn is_trim(b: u8) -> bool {
    b <= 0x20 || b == 0x7F
}

fn trim(s: &[u8]) -> (usize, usize) {
    let mut a = 0;
    while a < s.len() && is_trim(s[a]) {
        a += 1;
    }
    let mut e = s.len();
    while e > a && is_trim(s[e - 1]) {
        e -= 1;
    }
    (a, e)
}

/// Parsed timestamp pieces: [year, month, day, hour, minute, second, micros], zone text, just_time.
struct Parts<'a> {
    seg: [i64; 7],
    zone: Option<&'a [u8]>,
    just_time: bool,
}

fn valid_digits(seg: usize, digits: u32) -> bool {
    match seg {
        0 => (4..=6).contains(&digits),
        6 => true,
        7 => digits <= 2,
        _ => digits > 0 && digits <= 2,
    }
}

/// The cast grammar: `[+-]yyyy*[-[m]m[-[d]d[( |T)[h]h[:[m]m[:[s]s[.fraction]]][zone]]]]`, or a
/// time alone (`[h]h:[m]m...` / `T[h]h...`).
fn parse_parts(s: &[u8]) -> Option<Parts<'_>> {
    let mut seg = [1i64, 1, 1, 0, 0, 0, 0, 0, 0];
    let (mut j, end) = trim(s);
    if j == end {
        return None;
    }
    let mut i = 0usize;
    let mut cur = 0i64;
    let mut digits = 0u32;
    let mut frac_digits = 0u32;
    let mut just_time = false;
    let mut sign: Option<i64> = None;
    let mut zone: Option<&[u8]> = None;
    if s[j] == b'-' || s[j] == b'+' {
        sign = Some(if s[j] == b'-' { -1 } else { 1 });
        j += 1;
    }
    macro_rules! close {
        ($k:expr) => {{
            if !valid_digits($k, digits) {
                return None;
            }
            seg[$k] = cur;
            cur = 0;
            digits = 0;
        }};
    }
    while j < end {
        let b = s[j];
        if !b.is_ascii_digit() {
            if j == 0 && b == b'T' {
                just_time = true;
                i += 3;
            } else if i < 2 {
                if b == b'-' {
                    close!(i);
                    i += 1;
                } else if i == 0 && b == b':' && sign.is_none() {
                    just_time = true;
                    close!(3);
                    i = 4;
                } else {
                    return None;
                }
            } else if i == 2 {
                if b == b' ' || b == b'T' {
                    close!(i);
                    i += 1;
                } else {
                    return None;
                }
            } else if i == 3 || i == 4 {
                if b == b':' {
                    close!(i);
                    i += 1;
                } else {
                    return None;
                }
            } else if i == 5 || i == 6 {
                if b == b'.' && i == 5 {
                    close!(i);
                    i += 1;
                } else {
                    close!(i);
                    i += 1;
                    zone = Some(&s[j..end]);
                    j = end - 1;
                }
                if i == 6 && b != b'.' {
                    i += 1;
                }
            } else if i < 9 && (b == b':' || b == b' ') {
                close!(i);
                i += 1;
            } else {
                return None;
            }
        } else {
            if i == 6 {
                frac_digits += 1;
            }
            if i != 6 || digits < 6 {
                cur = cur * 10 + (b - b'0') as i64;
                if cur > i32::MAX as i64 {
                    return None;
                }
            }
            digits += 1;
        }
        j += 1;
    }
    if !valid_digits(i, digits) {
        return None;
    }
    if i < 9 {
        seg[i] = cur;
    }
    while frac_digits < 6 {
        seg[6] *= 10;
        frac_digits += 1;
    }
    seg[0] *= sign.unwrap_or(1);
    let mut out = [0i64; 7];
    out.copy_from_slice(&seg[..7]);
    Some(Parts {
        seg: out,
        zone,
        just_time,
    })
}

fn local_micros(p: &Parts, days: i64) -> Option<i128> {
    let (h, mi, se) = (p.seg[3], p.seg[4], p.seg[5]);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let tod = ((h * 60 + mi) * 60 + se) * 1_000_000 + p.seg[6];
    Some(days as i128 * MICROS_PER_DAY as i128 + tod as i128)
}

fn date_of(p: &Parts) -> Option<i64> {
    let (m, d) = (p.seg[1], p.seg[2]);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    days_from_civil(p.seg[0], m as u32, d as u32)
}

fn zone_of(z: &[u8]) -> Option<TimeZone> {
    // fast paths for the common suffixes
    match z {
        b"Z" | b"UTC" => return Some(TimeZone::utc()),
        _ => {}
    }
    let s = std::str::from_utf8(z).ok()?.trim();
    TimeZone::parse(s)
}

fn ts_once(s: &[u8], tz: &TimeZone) -> Option<i64> {
    let p = parse_parts(s)?;
    let zone_owned;
    let zone = match p.zone {
        Some(z) => {
            zone_owned = zone_of(z)?;
            &zone_owned
        }
        None => tz,
    };
    let days = if p.just_time {
        zone.today()
    } else {
        date_of(&p)?
    };
    let local = local_micros(&p, days)?;
    zone.local_to_utc(local)
}

#[inline]
fn d2(s: &[u8], i: usize) -> Option<i64> {
    let (a, b) = (s[i].wrapping_sub(b'0'), s[i + 1].wrapping_sub(b'0'));
    (a < 10 && b < 10).then(|| (a as i64) * 10 + b as i64)
}

/// Fast path for the canonical `yyyy-MM-ddTHH:mm:ss[.f{1,9}][Z]` (T or space). `None` means
/// "not this shape" (the general parser then decides), `Some(None)` an invalid value.
#[inline]
fn ts_fast(s: &[u8], tz: &TimeZone) -> Option<Option<i64>> {
    if s.len() < 19
        || s[4] != b'-'
        || s[7] != b'-'
        || !(s[10] == b'T' || s[10] == b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return None;
    }
    let y = d2(s, 0)? * 100 + d2(s, 2)?;
    let (mo, d, h, mi, se) = (d2(s, 5)?, d2(s, 8)?, d2(s, 11)?, d2(s, 14)?, d2(s, 17)?);
    let mut i = 19;
    let mut frac = 0i64;
    if i < s.len() && s[i] == b'.' {
        i += 1;
        let st = i;
        while i < s.len() && s[i].is_ascii_digit() {
            if i - st < 6 {
                frac = frac * 10 + (s[i] - b'0') as i64;
            }
            i += 1;
        }
        if i - st > 9 {
            return None;
        }
        for _ in (i - st).min(6)..6 {
            frac *= 10;
        }
    }
    let utc = match &s[i..] {
        b"Z" => true,
        b"" => false,
        _ => return None,
    };
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || se > 59 {
        return Some(None);
    }
    let Some(days) = days_from_civil(y, mo as u32, d as u32) else {
        return Some(None);
    };
    let local = days as i128 * MICROS_PER_DAY as i128
        + (((h * 60 + mi) * 60 + se) * 1_000_000 + frac) as i128;
    Some(if utc {
        i64::try_from(local).ok()
    } else {
        tz.local_to_utc(local)
    })
}

/// TIMESTAMP (LTZ) from a JSON string: Spark's cast, then the legacy retry with `GMT` removed.
pub fn parse_timestamp(s: &[u8], tz: &TimeZone) -> Option<i64> {
    if let Some(v) = ts_fast(s, tz) {
        return v;
    }
    if let Some(v) = ts_once(s, tz) {
        return Some(v);
    }
    if memchr::memmem::find(s, b"GMT").is_some() {
        let cleaned: Vec<u8> = {
            let mut out = Vec::with_capacity(s.len());
            let mut i = 0;
            while i < s.len() {
                if s[i..].starts_with(b"GMT") {
                    i += 3;
                } else {
                    out.push(s[i]);
                    i += 1;
                }
            }
            out
        };
        return ts_once(&cleaned, tz);
    }
    None
}

/// TIMESTAMP_NTZ from a JSON string: no zone allowed, no time-only strings.
pub fn parse_timestamp_ntz(s: &[u8]) -> Option<i64> {
    let p = parse_parts(s)?;
    if p.just_time || p.zone.is_some() {
        return None;
    }
    i64::try_from(local_micros(&p, date_of(&p)?)?).ok()
}

/// Spark's `CAST(string AS TIMESTAMP)`, without the JSON reader's fallbacks: a string
/// without an offset is read in `tz`.
pub fn cast_timestamp(s: &[u8], tz: &TimeZone) -> Option<i64> {
    match ts_fast(s, tz) {
        Some(v) => v,
        None => ts_once(s, tz),
    }
}

/// Spark's `CAST(string AS TIMESTAMP_NTZ)`: the wall-clock time, an offset ignored.
pub fn cast_timestamp_ntz(s: &[u8]) -> Option<i64> {
    let p = parse_parts(s)?;
    if p.just_time {
        return None;
    }
    i64::try_from(local_micros(&p, date_of(&p)?)?).ok()
}

/// Spark's `CAST(string AS DATE)`, without the JSON reader's integer fallback.
pub fn cast_date(s: &[u8]) -> Option<i32> {
    string_to_date(s).map(|d| d as i32)
}

/// Spark's `stringToDate`: `[+-]yyyy*[-[m]m[-[d]d[( |T)anything]]]`.
fn string_to_date(s: &[u8]) -> Option<i64> {
    let (mut j, end) = trim(s);
    if j == end {
        return None;
    }
    let mut seg = [1i64, 1, 1];
    let mut sign = 1i64;
    if s[j] == b'-' || s[j] == b'+' {
        if s[j] == b'-' {
            sign = -1;
        }
        j += 1;
    }
    let ok = |i: usize, d: u32| {
        if i == 0 {
            (4..=7).contains(&d)
        } else {
            d > 0 && d <= 2
        }
    };
    let (mut i, mut cur, mut digits) = (0usize, 0i64, 0u32);
    while j < end && i < 3 && !(s[j] == b' ' || s[j] == b'T') {
        let b = s[j];
        if i < 2 && b == b'-' {
            if !ok(i, digits) {
                return None;
            }
            seg[i] = cur;
            cur = 0;
            digits = 0;
            i += 1;
        } else if b.is_ascii_digit() {
            cur = cur * 10 + (b - b'0') as i64;
            digits += 1;
            if digits > 7 {
                return None;
            }
        } else {
            return None;
        }
        j += 1;
    }
    if !ok(i, digits) {
        return None;
    }
    if i < 2 && j < end {
        return None;
    }
    seg[i] = cur;
    let (m, d) = (seg[1], seg[2]);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(sign * seg[0], m as u32, d as u32)?;
    i32::try_from(days).ok().map(|d| d as i64)
}

/// DATE from a JSON string: the cast, then (legacy) an integer number of days
/// (`Integer.parseInt`, rebased from the Julian calendar like Spark does).
pub fn parse_date(s: &[u8]) -> Option<i32> {
    if let Some(d) = string_to_date(s) {
        return Some(d as i32);
    }
    // Spark's last resort is Integer.parseInt, which takes any BMP decimal digit
    let digits = super::numbers::ascii_digits(s);
    let days: i32 = std::str::from_utf8(&digits).ok()?.parse().ok()?;
    Some(rebase_julian_to_gregorian_days(days))
}

/// Days in the hybrid Julian/Gregorian calendar -> days of the same y-m-d in proleptic Gregorian.
fn rebase_julian_to_gregorian_days(days: i32) -> i32 {
    // 1582-10-15 (first Gregorian day) is day -141427; from there on both calendars agree.
    if days >= -141_427 {
        return days;
    }
    // Julian calendar date of this day: Julian day number -> (y, m, d).
    let jdn = days as i64 + 2_440_588;
    let c = jdn + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = d - 4800 + m.div_euclid(10);
    // Java's LocalDate: a Julian 29 Feb that doesn't exist in Gregorian -> 1 Mar.
    let g = days_from_civil(year, month as u32, day as u32)
        .or_else(|| days_from_civil(year, 3, 1))
        .unwrap_or(days as i64);
    g as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Option<i64> {
        parse_timestamp(s.as_bytes(), &TimeZone::utc())
    }

    #[test]
    fn timestamp_strings_parse_in_every_spelling_spark_takes() {
        assert_eq!(ts("2022-01-31T23:06:00.000Z"), Some(1643670360000000));
        assert_eq!(ts("2022-01-31 23:06:07.123456789"), Some(1643670367123456));
        assert_eq!(ts("2022-01-31T23:06:07+02:00"), Some(1643663167000000));
        assert_eq!(ts("2022-01-31T23:06:07-0530"), Some(1643690167000000));
        assert_eq!(ts("2022-01-31T23:06:07 UTC"), Some(1643670367000000));
        assert_eq!(ts("2022-01-31T23:06:07GMT+2"), Some(1643663167000000));
        assert_eq!(ts("2022"), Some(1640995200000000));
        assert_eq!(ts("2022-1-3"), Some(1641168000000000));
        assert_eq!(ts("2022-01-31T23"), Some(1643670000000000));
        assert_eq!(ts("2022-01-31T"), None);
        assert_eq!(ts("2022-01-31T24:00:00"), None);
        assert_eq!(ts("2022-02-30"), None);
        assert_eq!(ts("2022-01-31t23:06:07z"), None);
        assert_eq!(ts("2022-01-31T23:06:07+19:00"), None);
        assert_eq!(ts("+10000-01-01T00:00:00Z"), Some(253402300800000000));
        assert_eq!(ts("-0001-01-01T00:00:00Z"), Some(-62198755200000000));
        assert_eq!(ts("1969-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(ts(""), None);
        assert!(ts("23:06:07").is_some());
        let ny = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(
            parse_timestamp(b"2022-01-31T23:06:07 America/New_York", &TimeZone::utc()),
            Some(1643688367000000)
        );
        assert_eq!(
            parse_timestamp(b"2022-03-13T02:30:00", &ny),
            Some(1647156600000000)
        );
    }

    #[test]
    fn timestamp_ntz_and_date_strings_ignore_the_session_zone() {
        assert_eq!(
            parse_timestamp_ntz(b"2022-01-31 23:06:07"),
            Some(1643670367000000)
        );
        assert_eq!(parse_timestamp_ntz(b"2022-01-31T23:06:07Z"), None);
        assert_eq!(parse_timestamp_ntz(b"23:06:07"), None);
        assert_eq!(parse_date(b"2022-01-31T23:06:07,5"), Some(19023));
        assert_eq!(parse_date(b"2022-01-31T"), Some(19023));
        assert_eq!(parse_date(b"20220131"), Some(20220131));
        assert_eq!(parse_date(b"-12"), Some(-12));
        assert_eq!(parse_date(b"1.5"), None);
        assert_eq!(parse_date(b"2022-02-30"), None);
        assert_eq!(parse_date(b"+10000-01-01"), Some(2932897));
        assert_eq!(parse_date(b"2022-01-31t"), None);
    }
}
