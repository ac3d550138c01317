//! Time zones as Spark/java.time resolves them: `ZoneId.of(id, SHORT_IDS)` plus Spark's
//! `(+|-)h:mm` / `(+|-)hh:m` fix-ups, and local wall-clock -> UTC with java.time's DST rules
//! (gap: shift forward by the gap; overlap: the earlier offset).
use std::str::FromStr;

use chrono::{NaiveDate, Offset, TimeZone as _};
use chrono_tz::Tz;

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// Fixed offset in seconds east of UTC.
    Fixed(i32),
    Named(Tz),
}

/// A resolved time zone; cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeZone {
    kind: Kind,
}

const SHORT_IDS: &[(&str, &str)] = &[
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
];

impl TimeZone {
    pub fn utc() -> Self {
        TimeZone {
            kind: Kind::Fixed(0),
        }
    }

    /// Fixed offset zone, seconds east of UTC.
    pub fn fixed(secs: i32) -> Self {
        TimeZone {
            kind: Kind::Fixed(secs),
        }
    }

    pub fn is_utc(&self) -> bool {
        self.kind == Kind::Fixed(0)
    }

    /// Parse a zone id like Spark's `getZoneId`; `None` if Java would reject it.
    pub fn parse(id: &str) -> Option<Self> {
        let fixed = fix_single_digits(id);
        let id = fixed.as_deref().unwrap_or(id);
        let b = id.as_bytes();
        if b.is_empty() {
            return None;
        }
        if id == "Z" {
            return Some(Self::utc());
        }
        if b[0] == b'+' || b[0] == b'-' {
            return parse_offset(b).map(Self::fixed);
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Some(Self::utc());
                }
                if rest.starts_with('+') || rest.starts_with('-') {
                    return parse_offset(rest.as_bytes()).map(Self::fixed);
                }
            }
        }
        match id {
            "EST" => return Some(Self::fixed(-5 * 3600)),
            "MST" => return Some(Self::fixed(-7 * 3600)),
            "HST" => return Some(Self::fixed(-10 * 3600)),
            _ => {}
        }
        let region = SHORT_IDS
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, v)| *v)
            .unwrap_or(id);
        // Java region ids: [A-Za-z][A-Za-z0-9~/._+-]+
        let rb = region.as_bytes();
        if rb.len() < 2
            || !rb[0].is_ascii_alphabetic()
            || !rb
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"~/._+-".contains(c))
        {
            return None;
        }
        Tz::from_str(region).ok().map(|tz| TimeZone {
            kind: Kind::Named(tz),
        })
    }

    /// Local wall-clock micros (since 1970-01-01T00:00 local) -> UTC micros. `None` on overflow.
    pub fn local_to_utc(&self, local_micros: i128) -> Option<i64> {
        let off = match &self.kind {
            Kind::Fixed(s) => *s as i128,
            Kind::Named(tz) => {
                let l = local_micros.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                named_offset(tz, l) as i128
            }
        };
        i64::try_from(local_micros - off * 1_000_000).ok()
    }

    /// Today's date (days since epoch) in this zone.
    pub fn today(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let off = match &self.kind {
            Kind::Fixed(s) => *s as i64,
            Kind::Named(tz) => tz
                .offset_from_utc_datetime(
                    &chrono::DateTime::from_timestamp(now, 0)
                        .unwrap_or_default()
                        .naive_utc(),
                )
                .fix()
                .local_minus_utc() as i64,
        };
        (now + off).div_euclid(86_400)
    }
}

/// chrono-tz lists a zone's transitions up to 2100 and then keeps the last offset, where
/// java.time keeps applying the zone's last rules (DST every summer) for ever. From this year
/// on (2090-01-01, in days since 1970-01-01), a local time is looked up in an earlier year with
/// the same calendar instead.
const LAST_LISTED_DAY: i64 = 43_830;

fn named_offset(tz: &Tz, local_micros: i64) -> i32 {
    let days = local_micros.div_euclid(MICROS_PER_DAY);
    if days >= LAST_LISTED_DAY {
        let year = year_of_days(days);
        let shift = days_from_civil(same_calendar_year(year), 1, 1).unwrap_or(0)
            - days_from_civil(year, 1, 1).unwrap_or(0);
        return named_offset(tz, local_micros + shift * MICROS_PER_DAY);
    }
    let secs = local_micros.div_euclid(1_000_000);
    // Clamp to chrono's supported range; offsets that far out are the zone's LMT/standard anyway.
    let secs = secs.clamp(-8_000_000_000_000, 8_000_000_000_000);
    let Some(ndt) = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc()) else {
        return 0;
    };
    match tz.offset_from_local_datetime(&ndt) {
        chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
        chrono::LocalResult::Ambiguous(a, b) => {
            // java.time picks the earlier offset (the one in force before the transition),
            // i.e. the one giving the earlier instant = the larger offset.
            a.fix().local_minus_utc().max(b.fix().local_minus_utc())
        }
        chrono::LocalResult::None => {
            // Gap: java.time shifts forward by the gap length, i.e. uses the offset before it.
            let before = ndt - chrono::Duration::days(1);
            tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
        }
    }
}

/// The year holding day `days` (since 1970-01-01) of the proleptic Gregorian calendar.
fn year_of_days(days: i64) -> i64 {
    let y = 1970 + (days * 400).div_euclid(146_097); // 400 years: 146,097 days
    (y - 2..=y + 2)
        .rev()
        .find(|&y| days_from_civil(y, 1, 1).is_some_and(|d| d <= days))
        .unwrap_or(y)
}

fn is_leap(y: i64) -> bool {
    days_in_month(y, 2) == 29
}

/// A year in 2061..=2088 whose dates fall on the same weekdays as in `year` (same leap-ness,
/// same weekday on 1 January): the same recurring DST rules give the same transitions there.
/// 28 consecutive years without a skipped leap day hold every such kind of year.
fn same_calendar_year(year: i64) -> i64 {
    let jan1 = |y: i64| days_from_civil(y, 1, 1).unwrap_or(0).rem_euclid(7);
    (2061..=2088)
        .find(|&y| is_leap(y) == is_leap(year) && jan1(y) == jan1(year))
        .unwrap_or(2061)
}

/// Spark's `(+|-)(\d):` -> `$10$2:` then `(+|-)(\d\d):(\d)$` -> `$1$2:0$3`.
fn fix_single_digits(id: &str) -> Option<String> {
    let b = id.as_bytes();
    let mut out: Option<String> = None;
    // first occurrence of sign digit ':' where the digit is a single digit
    for i in 0..b.len().saturating_sub(2) {
        if (b[i] == b'+' || b[i] == b'-') && b[i + 1].is_ascii_digit() && b[i + 2] == b':' {
            let mut s = String::with_capacity(id.len() + 1);
            s.push_str(&id[..i + 1]);
            s.push('0');
            s.push_str(&id[i + 1..]);
            out = Some(s);
            break;
        }
    }
    let cur = out.clone().unwrap_or_else(|| id.to_string());
    let c = cur.as_bytes();
    let n = c.len();
    if n >= 5 {
        let i = n - 5;
        if (c[i] == b'+' || c[i] == b'-')
            && c[i + 1].is_ascii_digit()
            && c[i + 2].is_ascii_digit()
            && c[i + 3] == b':'
            && c[i + 4].is_ascii_digit()
        {
            let mut s = cur[..n - 1].to_string();
            s.push('0');
            s.push(c[n - 1] as char);
            return Some(s);
        }
    }
    out
}

/// Java `ZoneOffset.of`: ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss, ±hhmmss; |offset| <= 18:00.
fn parse_offset(b: &[u8]) -> Option<i32> {
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let d = &b[1..];
    let num = |s: &[u8]| -> Option<i32> {
        if s.len() == 2 && s.iter().all(|c| c.is_ascii_digit()) {
            Some(((s[0] - b'0') * 10 + (s[1] - b'0')) as i32)
        } else {
            None
        }
    };
    let (h, m, s) = match d.len() {
        1 if d[0].is_ascii_digit() => ((d[0] - b'0') as i32, 0, 0),
        2 => (num(d)?, 0, 0),
        4 => (num(&d[0..2])?, num(&d[2..4])?, 0),
        5 if d[2] == b':' => (num(&d[0..2])?, num(&d[3..5])?, 0),
        6 => (num(&d[0..2])?, num(&d[2..4])?, num(&d[4..6])?),
        8 if d[2] == b':' && d[5] == b':' => (num(&d[0..2])?, num(&d[3..5])?, num(&d[6..8])?),
        _ => return None,
    };
    if h > 18 || m > 59 || s > 59 {
        return None;
    }
    let total = h * 3600 + m * 60 + s;
    if total > 18 * 3600 {
        return None;
    }
    Some(sign * total)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (any year), `None` if invalid.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

#[allow(dead_code)]
pub(crate) fn naive_date(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::try_days(days)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_parse_as_javas_zone_id_of() {
        assert_eq!(TimeZone::parse("UTC"), Some(TimeZone::utc()));
        assert_eq!(TimeZone::parse("Z"), Some(TimeZone::utc()));
        assert_eq!(TimeZone::parse("+02:00"), Some(TimeZone::fixed(7200)));
        assert_eq!(TimeZone::parse("-0530"), Some(TimeZone::fixed(-19800)));
        assert_eq!(TimeZone::parse("+2:00"), Some(TimeZone::fixed(7200)));
        assert_eq!(TimeZone::parse("+02:3"), Some(TimeZone::fixed(7380)));
        assert_eq!(TimeZone::parse("GMT+2"), Some(TimeZone::fixed(7200)));
        assert_eq!(TimeZone::parse("+18:00"), Some(TimeZone::fixed(64800)));
        assert_eq!(TimeZone::parse("+19:00"), None);
        assert_eq!(TimeZone::parse("EST"), Some(TimeZone::fixed(-18000)));
        assert!(TimeZone::parse("America/New_York").is_some());
        assert!(TimeZone::parse("PST").is_some());
        assert!(TimeZone::parse("Mars/Olympus").is_none());
        assert!(TimeZone::parse("").is_none());
    }

    #[test]
    fn dst_keeps_its_rules_after_the_listed_transitions_as_java_time_does() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        let local = |y, m, d| days_from_civil(y, m, d).unwrap() as i128 * MICROS_PER_DAY as i128;
        let offset = |l: i128| (l - ny.local_to_utc(l).unwrap() as i128) / 3_600_000_000;
        for year in [2024, 2100, 2150, 2400, 9999] {
            assert_eq!(offset(local(year, 7, 1)), -4, "{year} summer");
            assert_eq!(offset(local(year, 1, 15)), -5, "{year} winter");
        }
        // the switch is on the second Sunday of March: 2100-03-14, 2150-03-08
        assert_eq!(offset(local(2100, 3, 14) + 4 * 3_600_000_000), -4);
        assert_eq!(offset(local(2100, 3, 13) + 4 * 3_600_000_000), -5);
        assert_eq!(offset(local(2150, 3, 8) + 4 * 3_600_000_000), -4);
        assert_eq!(offset(local(2150, 3, 7) + 4 * 3_600_000_000), -5);
        assert_eq!(days_from_civil(2090, 1, 1), Some(LAST_LISTED_DAY));
        for y in [1600, 1900, 2000, 2100, 2101, 2400, 12345, 290_000] {
            assert_eq!(year_of_days(days_from_civil(y, 1, 1).unwrap()), y);
            assert_eq!(year_of_days(days_from_civil(y, 12, 31).unwrap()), y);
        }
    }

    #[test]
    fn dst_gaps_shift_forward_and_overlaps_take_the_earlier_offset() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        let local =
            |d: i64, h: i64, m: i64| (d * MICROS_PER_DAY + (h * 3600 + m * 60) * 1_000_000) as i128;
        let d = days_from_civil(2022, 3, 13).unwrap();
        assert_eq!(
            ny.local_to_utc(local(d, 2, 30)),
            Some(1_647_156_600_000_000)
        ); // gap
        let d = days_from_civil(2022, 11, 6).unwrap();
        assert_eq!(
            ny.local_to_utc(local(d, 1, 30)),
            Some(1_667_712_600_000_000)
        ); // overlap
        let d = days_from_civil(1582, 10, 10).unwrap();
        assert_eq!(
            ny.local_to_utc(local(d, 0, 0)),
            Some(-12_219_707_038_000_000)
        );
        // LMT
    }

    #[test]
    fn civil_dates_round_trip_to_days_since_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2022, 1, 31), Some(19023));
        assert_eq!(days_from_civil(1, 1, 1), Some(-719162));
        assert_eq!(days_from_civil(-1, 1, 1), Some(-719893));
        assert_eq!(days_from_civil(2022, 2, 29), None);
        assert_eq!(days_from_civil(2024, 2, 29), Some(19782));
    }
}
