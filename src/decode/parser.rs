//! The byte-level JSON walker: parses one row's text straight into the column builders, with
//! Jackson's (Spark's) grammar: single quotes allowed, NaN/Infinity allowed, no comments, no
//! unquoted names, no leading zeros, no trailing commas, max nesting depth 1000.
use super::base64::base64_jackson;
use super::builders::{Builder, ListBuilder, MapBuilder, StructBuilder};
use super::datetime::{parse_date, parse_timestamp, parse_timestamp_ntz};
use super::numbers::{ascii_digits, java_double_to_string, parse_decimal, parse_i64};
use super::scan::{find_special, Cursor, SyntaxError};
use super::strings::{decode_escaped, hex4, write_json_string, Lone};
use super::tz::TimeZone;

/// Outcome of converting one value into a builder.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Converted {
    /// Converted (one entry appended).
    Ok,
    /// A struct that was appended but some field inside failed to convert (Spark's partial result).
    Partial,
    /// Wrong type / unparsable: the value was consumed; the builder may hold junk past the mark.
    Fail,
}

const MAX_DEPTH: u32 = 1000;

pub(crate) enum RowOutcome {
    Null,
    Ok,
    Partial,
    Malformed,
}

pub(crate) struct Parser<'t> {
    pub tz: &'t TimeZone,
    scratch: Vec<u8>,
    /// Whether a string read or skipped in the current row had a raw byte >= 0x80 (reset by
    /// `row`). Everything else the grammar accepts is ASCII, or (a field name matched by
    /// `StructBuilder::match_raw`) equal to a schema name, so a row parsed without this flag and not
    /// malformed is valid UTF-8 up to its closing brace: that is all the decoder needs to know
    /// to skip the UTF-8 check of binary input.
    pub non_ascii: bool,
}

enum Num<'a> {
    Int(&'a [u8]),
    Float(&'a [u8]),
    NaN,
    PosInf,
    NegInf,
}

/// Where a just-read string lives.
#[derive(Clone, Copy)]
enum StrAt {
    Raw(usize, usize),
    Scratch,
}

#[inline]
fn lit(c: &mut Cursor, word: &[u8]) -> Result<(), SyntaxError> {
    if c.b.len() >= c.i + word.len() && &c.b[c.i..c.i + word.len()] == word {
        c.i += word.len();
        Ok(())
    } else {
        Err(SyntaxError)
    }
}

impl<'t> Parser<'t> {
    pub fn new(tz: &'t TimeZone) -> Self {
        Parser {
            tz,
            scratch: Vec::new(),
            non_ascii: false,
        }
    }

    /// `c.i` is at the opening quote.
    #[inline]
    fn read_str(&mut self, c: &mut Cursor) -> Result<StrAt, SyntaxError> {
        self.read_str_with(c, Lone::Question)
    }

    #[inline]
    fn read_str_with(&mut self, c: &mut Cursor, lone: Lone) -> Result<StrAt, SyntaxError> {
        let q = c.b[c.i];
        let start = c.i + 1;
        let j = find_special(c.b, start, q, &mut self.non_ascii);
        match c.b.get(j) {
            Some(&ch) if ch == q => {
                c.i = j + 1;
                Ok(StrAt::Raw(start, j))
            }
            Some(b'\\') => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&c.b[start..j]);
                c.i = decode_escaped(c.b, j, q, &mut self.scratch, &mut self.non_ascii, lone)?;
                Ok(StrAt::Scratch)
            }
            _ => Err(SyntaxError),
        }
    }

    #[inline]
    fn str_bytes<'x>(&'x self, c: &Cursor<'x>, s: StrAt) -> &'x [u8] {
        match s {
            StrAt::Raw(a, b) => &c.b[a..b],
            StrAt::Scratch => &self.scratch,
        }
    }

    /// Validate and skip a string; `c.i` at the opening quote.
    #[inline]
    fn skip_str(&mut self, c: &mut Cursor) -> Result<(), SyntaxError> {
        let q = c.b[c.i];
        let mut i = c.i + 1;
        loop {
            let j = find_special(c.b, i, q, &mut self.non_ascii);
            match c.b.get(j) {
                Some(&ch) if ch == q => {
                    c.i = j + 1;
                    return Ok(());
                }
                Some(b'\\') => match c.b.get(j + 1) {
                    Some(b'"' | b'\\' | b'/' | b'\'' | b'b' | b'f' | b'n' | b'r' | b't') => {
                        i = j + 2
                    }
                    Some(b'u') => {
                        hex4(c.b, j + 2)?;
                        i = j + 6;
                    }
                    _ => return Err(SyntaxError),
                },
                _ => return Err(SyntaxError),
            }
        }
    }

    fn scan_number<'a>(c: &mut Cursor<'a>) -> Result<Num<'a>, SyntaxError> {
        let b = c.b;
        let st = c.i;
        let mut i = st;
        match b.get(i) {
            Some(b'N') => {
                lit(c, b"NaN")?;
                return Ok(Num::NaN);
            }
            Some(b'I') => {
                lit(c, b"Infinity")?;
                return Ok(Num::PosInf);
            }
            // Jackson: a signed non-numeric number may be spelled `Infinity` or `INF`
            Some(b'+') => {
                c.i += 1;
                lit(c, b"Infinity").or_else(|_| lit(c, b"INF"))?;
                return Ok(Num::PosInf);
            }
            Some(b'-') => {
                i += 1;
                if b.get(i) == Some(&b'I') {
                    c.i = i;
                    lit(c, b"Infinity").or_else(|_| lit(c, b"INF"))?;
                    return Ok(Num::NegInf);
                }
            }
            _ => {}
        }
        let d0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d0 || (b[d0] == b'0' && i - d0 > 1) {
            return Err(SyntaxError);
        }
        let mut int = true;
        if i < b.len() && b[i] == b'.' {
            int = false;
            i += 1;
            let f0 = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == f0 {
                return Err(SyntaxError);
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            int = false;
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            let e0 = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == e0 {
                return Err(SyntaxError);
            }
        }
        c.i = i;
        Ok(if int {
            Num::Int(&b[st..i])
        } else {
            Num::Float(&b[st..i])
        })
    }

    /// Validate and skip any value. `c.i` at the value's first byte.
    pub fn skip(&mut self, c: &mut Cursor, depth: u32) -> Result<(), SyntaxError> {
        match c.peek() {
            Some(b'"' | b'\'') => self.skip_str(c),
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(SyntaxError);
                }
                c.i += 1;
                c.ws();
                if c.peek() == Some(b'}') {
                    c.i += 1;
                    return Ok(());
                }
                loop {
                    match c.peek() {
                        Some(b'"' | b'\'') => self.skip_str(c)?,
                        _ => return Err(SyntaxError),
                    }
                    c.ws();
                    c.expect(b':')?;
                    c.ws();
                    self.skip(c, depth + 1)?;
                    c.ws();
                    match c.next() {
                        Some(b',') => c.ws(),
                        Some(b'}') => return Ok(()),
                        _ => return Err(SyntaxError),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(SyntaxError);
                }
                c.i += 1;
                c.ws();
                if c.peek() == Some(b']') {
                    c.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip(c, depth + 1)?;
                    c.ws();
                    match c.next() {
                        Some(b',') => c.ws(),
                        Some(b']') => return Ok(()),
                        _ => return Err(SyntaxError),
                    }
                }
            }
            Some(b't') => lit(c, b"true"),
            Some(b'f') => lit(c, b"false"),
            Some(b'n') => lit(c, b"null"),
            Some(b'-' | b'0'..=b'9' | b'N' | b'I' | b'+') => Self::scan_number(c).map(|_| ()),
            _ => Err(SyntaxError),
        }
    }

    /// Re-serialise a value like Jackson's `copyCurrentStructure` (a STRING field given a
    /// non-string value): compact, strings re-escaped, floats as Java's Double.toString.
    fn reserialize(
        &mut self,
        c: &mut Cursor,
        out: &mut Vec<u8>,
        depth: u32,
    ) -> Result<(), SyntaxError> {
        match c.peek() {
            Some(b'"' | b'\'') => {
                let s = self.read_str_with(c, Lone::Kept)?;
                let bytes = self.str_bytes(c, s);
                write_json_string(bytes, out);
                Ok(())
            }
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(SyntaxError);
                }
                let close = if open == b'{' { b'}' } else { b']' };
                c.i += 1;
                out.push(open);
                c.ws();
                if c.peek() == Some(close) {
                    c.i += 1;
                    out.push(close);
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        if !matches!(c.peek(), Some(b'"' | b'\'')) {
                            return Err(SyntaxError);
                        }
                        self.reserialize(c, out, depth + 1)?;
                        c.ws();
                        c.expect(b':')?;
                        out.push(b':');
                        c.ws();
                    }
                    self.reserialize(c, out, depth + 1)?;
                    c.ws();
                    match c.next() {
                        Some(b',') => {
                            out.push(b',');
                            c.ws();
                        }
                        Some(x) if x == close => {
                            out.push(close);
                            return Ok(());
                        }
                        _ => return Err(SyntaxError),
                    }
                }
            }
            Some(b't') => lit(c, b"true").map(|_| out.extend_from_slice(b"true")),
            Some(b'f') => lit(c, b"false").map(|_| out.extend_from_slice(b"false")),
            Some(b'n') => lit(c, b"null").map(|_| out.extend_from_slice(b"null")),
            Some(b'-' | b'0'..=b'9' | b'N' | b'I' | b'+') => {
                let n = Self::scan_number(c)?;
                write_number(n, out);
                Ok(())
            }
            _ => Err(SyntaxError),
        }
    }

    /// Convert one value (any JSON value at `c.i`) into `b`.
    pub fn value(
        &mut self,
        c: &mut Cursor,
        b: &mut Builder,
        depth: u32,
    ) -> Result<Converted, SyntaxError> {
        let Some(ch) = c.peek() else {
            return Err(SyntaxError);
        };
        match ch {
            b'"' | b'\'' => {
                let s = self.read_str(c)?;
                self.string_value(c, s, b)
            }
            b'{' => match b {
                Builder::Struct(sb) => {
                    if depth >= MAX_DEPTH {
                        return Err(SyntaxError);
                    }
                    c.i += 1;
                    let partial = self.object(c, sb, depth + 1)?;
                    Ok(if partial {
                        Converted::Partial
                    } else {
                        Converted::Ok
                    })
                }
                Builder::Map(m) => self.map(c, m, depth + 1),
                Builder::Str(bytes) => {
                    self.reserialize(c, &mut bytes.data, depth)?;
                    bytes.commit();
                    Ok(Converted::Ok)
                }
                _ => self.skip(c, depth).map(|_| Converted::Fail),
            },
            b'[' => match b {
                Builder::List(l) => self.array(c, l, depth + 1),
                Builder::Str(bytes) => {
                    self.reserialize(c, &mut bytes.data, depth)?;
                    bytes.commit();
                    Ok(Converted::Ok)
                }
                _ => self.skip(c, depth).map(|_| Converted::Fail),
            },
            b't' | b'f' => {
                let v = ch == b't';
                lit(c, if v { b"true" } else { b"false" })?;
                Ok(match b {
                    Builder::Bool(p) => {
                        p.push(v);
                        Converted::Ok
                    }
                    Builder::Str(s) => {
                        s.push(if v { b"true" } else { b"false" });
                        Converted::Ok
                    }
                    _ => Converted::Fail,
                })
            }
            b'n' => {
                lit(c, b"null")?;
                b.null();
                Ok(Converted::Ok)
            }
            b'-' | b'0'..=b'9' | b'N' | b'I' | b'+' => {
                let n = Self::scan_number(c)?;
                Ok(number_value(n, b))
            }
            _ => Err(SyntaxError),
        }
    }

    fn string_value(
        &mut self,
        c: &Cursor,
        s: StrAt,
        b: &mut Builder,
    ) -> Result<Converted, SyntaxError> {
        let text = match s {
            StrAt::Raw(x, y) => &c.b[x..y],
            StrAt::Scratch => &self.scratch[..],
        };
        let ok = match b {
            Builder::Str(out) => {
                out.push(text);
                true
            }
            Builder::Ts(p) => parse_timestamp(text, self.tz).map(|v| p.push(v)).is_some(),
            Builder::TsNtz(p) => parse_timestamp_ntz(text).map(|v| p.push(v)).is_some(),
            Builder::Date(p) => parse_date(text).map(|v| p.push(v)).is_some(),
            Builder::Bin(out) => {
                let mark = out.data.len();
                if base64_jackson(text, &mut out.data)? {
                    out.commit();
                    true
                } else {
                    out.data.truncate(mark);
                    false
                }
            }
            Builder::F64(p) => special_float(text).map(|v| p.push(v)).is_some(),
            Builder::F32(p) => special_float(text).map(|v| p.push(v as f32)).is_some(),
            Builder::Dec(p, prec, scale) => {
                // Java's BigDecimal(String) takes any BMP decimal digit; Spark drops commas
                let text = ascii_digits(text);
                let v = if text.contains(&b',') {
                    let t: Vec<u8> = text.iter().copied().filter(|&x| x != b',').collect();
                    parse_decimal(&t, *prec, *scale)
                } else {
                    parse_decimal(&text, *prec, *scale)
                };
                v.map(|v| p.push(v)).is_some()
            }
            _ => false,
        };
        Ok(if ok { Converted::Ok } else { Converted::Fail })
    }

    /// Struct body; `c.i` just after '{'. Appends one struct entry. Returns whether some
    /// field failed to convert (partial result).
    pub fn object(
        &mut self,
        c: &mut Cursor,
        sb: &mut StructBuilder,
        depth: u32,
    ) -> Result<bool, SyntaxError> {
        let inst = sb.len();
        let mut partial = false;
        c.ws();
        if c.peek() == Some(b'}') {
            c.i += 1;
        } else {
            let mut hint = 0usize;
            loop {
                if !matches!(c.peek(), Some(b'"' | b'\'')) {
                    return Err(SyntaxError);
                }
                let idx = if let Some(after) = sb.match_raw(c.b, c.i, hint) {
                    c.i = after;
                    Some(hint)
                } else {
                    let s = self.read_str(c)?;
                    sb.find(self.str_bytes(c, s), hint)
                };
                c.ws();
                c.expect(b':')?;
                c.ws();
                match idx {
                    None => self.skip(c, depth)?,
                    Some(k) => {
                        hint = k + 1;
                        let child = &mut sb.children[k];
                        if child.len() > inst {
                            // duplicate key: last successful value wins. It is converted
                            // once, after the value it replaces, which is then dropped:
                            // converting it again in place would double the work at every
                            // level of nested duplicates (exponential time).
                            let mark = child.len();
                            match self.value(c, child, depth)? {
                                Converted::Fail => {
                                    child.truncate(mark);
                                    partial = true;
                                }
                                r => {
                                    partial |= r == Converted::Partial;
                                    child.remove_range(inst, mark);
                                }
                            }
                        } else {
                            match self.value(c, child, depth)? {
                                Converted::Ok => {}
                                Converted::Partial => partial = true,
                                Converted::Fail => {
                                    child.truncate(inst);
                                    child.null();
                                    partial = true;
                                }
                            }
                        }
                    }
                }
                c.ws();
                match c.next() {
                    Some(b',') => c.ws(),
                    Some(b'}') => break,
                    _ => return Err(SyntaxError),
                }
            }
        }
        for ch in sb.children.iter_mut() {
            if ch.len() == inst {
                ch.null();
            }
        }
        sb.valid.append(true);
        Ok(partial)
    }

    /// `c.i` at '['.
    fn array(
        &mut self,
        c: &mut Cursor,
        l: &mut ListBuilder,
        depth: u32,
    ) -> Result<Converted, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError);
        }
        c.i += 1;
        c.ws();
        let mut ok = true;
        let mut partial = false;
        if c.peek() == Some(b']') {
            c.i += 1;
        } else {
            loop {
                if ok {
                    match self.value(c, &mut l.child, depth)? {
                        Converted::Ok => {}
                        // a struct element with a failed field stays, that field null
                        Converted::Partial => partial = true,
                        Converted::Fail => ok = false,
                    }
                } else {
                    self.skip(c, depth)?;
                }
                c.ws();
                match c.next() {
                    Some(b',') => c.ws(),
                    Some(b']') => break,
                    _ => return Err(SyntaxError),
                }
            }
        }
        if !ok {
            return Ok(Converted::Fail);
        }
        l.offsets.push(l.child.len() as i32);
        l.valid.append(true);
        Ok(if partial {
            Converted::Partial
        } else {
            Converted::Ok
        })
    }

    /// `c.i` at '{'.
    fn map(
        &mut self,
        c: &mut Cursor,
        m: &mut MapBuilder,
        depth: u32,
    ) -> Result<Converted, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError);
        }
        c.i += 1;
        c.ws();
        let mut ok = true;
        let mut partial = false;
        if c.peek() == Some(b'}') {
            c.i += 1;
        } else {
            loop {
                if !matches!(c.peek(), Some(b'"' | b'\'')) {
                    return Err(SyntaxError);
                }
                if ok {
                    let s = self.read_str(c)?;
                    let k = self.str_bytes(c, s);
                    m.keys.push(k);
                } else {
                    self.skip_str(c)?;
                }
                c.ws();
                c.expect(b':')?;
                c.ws();
                if ok {
                    match self.value(c, &mut m.values, depth)? {
                        Converted::Ok => {}
                        Converted::Partial => partial = true,
                        Converted::Fail => ok = false,
                    }
                } else {
                    self.skip(c, depth)?;
                }
                c.ws();
                match c.next() {
                    Some(b',') => c.ws(),
                    Some(b'}') => break,
                    _ => return Err(SyntaxError),
                }
            }
        }
        if !ok {
            return Ok(Converted::Fail);
        }
        m.offsets.push(m.keys.valid.len() as i32);
        m.valid.append(true);
        Ok(if partial {
            Converted::Partial
        } else {
            Converted::Ok
        })
    }

    /// One input row into the root struct builder (which gets exactly one entry). Afterwards
    /// `non_ascii` tells whether a string in the row had a byte >= 0x80.
    pub fn row(&mut self, text: &[u8], root: &mut StructBuilder) -> RowOutcome {
        self.non_ascii = false;
        let mut c = Cursor { b: text, i: 0 };
        c.ws();
        let n = root.len();
        if c.i == text.len() {
            root.null();
            return RowOutcome::Null;
        }
        if text[c.i] == b'{' {
            c.i += 1;
            match self.object(&mut c, root, 1) {
                Ok(false) => return RowOutcome::Ok,
                Ok(true) => return RowOutcome::Partial,
                Err(SyntaxError) => {}
            }
        }
        root.truncate(n);
        root.null();
        RowOutcome::Malformed
    }
}

fn special_float(t: &[u8]) -> Option<f64> {
    match t {
        b"NaN" => Some(f64::NAN),
        b"Infinity" | b"+Infinity" | b"+INF" => Some(f64::INFINITY),
        b"-Infinity" | b"-INF" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn write_number(n: Num, out: &mut Vec<u8>) {
    match n {
        Num::Int(t) => {
            if t == b"-0" {
                out.push(b'0');
            } else {
                out.extend_from_slice(t);
            }
        }
        Num::Float(t) => {
            // SAFETY-free: the number grammar is ASCII.
            let v: f64 = std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            if v.is_finite() {
                java_double_to_string(v, out);
            } else if v > 0.0 {
                out.extend_from_slice(b"\"Infinity\"");
            } else {
                out.extend_from_slice(b"\"-Infinity\"");
            }
        }
        Num::NaN => out.extend_from_slice(b"\"NaN\""),
        Num::PosInf => out.extend_from_slice(b"\"Infinity\""),
        Num::NegInf => out.extend_from_slice(b"\"-Infinity\""),
    }
}

#[inline]
fn parse_f<T: std::str::FromStr>(t: &[u8]) -> Option<T> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn number_value(n: Num, b: &mut Builder) -> Converted {
    let ok = match (&n, b) {
        (Num::Int(t), Builder::I64(p)) => parse_i64(t).map(|v| p.push(v)).is_some(),
        (Num::Int(t), Builder::I32(p)) => parse_i64(t)
            .and_then(|v| i32::try_from(v).ok())
            .map(|v| p.push(v))
            .is_some(),
        (Num::Int(t), Builder::I16(p)) => parse_i64(t)
            .and_then(|v| i16::try_from(v).ok())
            .map(|v| p.push(v))
            .is_some(),
        // Jackson's getByteValue accepts -128..=255 and wraps
        (Num::Int(t), Builder::I8(p)) => parse_i64(t)
            .filter(|v| (-128..=255).contains(v))
            .map(|v| p.push(v as u8 as i8))
            .is_some(),
        (Num::Int(t), Builder::Ts(p)) => parse_i64(t)
            .map(|v| p.push(v.wrapping_mul(1_000_000)))
            .is_some(),
        // Jackson reads the integer token -0 as the int 0: no negative zero
        (Num::Int(b"-0"), Builder::F64(p)) => {
            p.push(0.0);
            true
        }
        (Num::Int(b"-0"), Builder::F32(p)) => {
            p.push(0.0);
            true
        }
        (Num::Int(t) | Num::Float(t), Builder::F64(p)) => {
            parse_f::<f64>(t).map(|v| p.push(v)).is_some()
        }
        (Num::Int(t) | Num::Float(t), Builder::F32(p)) => {
            parse_f::<f32>(t).map(|v| p.push(v)).is_some()
        }
        (Num::Int(t) | Num::Float(t), Builder::Dec(p, prec, scale)) => {
            parse_decimal(t, *prec, *scale).map(|v| p.push(v)).is_some()
        }
        (Num::NaN, Builder::F64(p)) => {
            p.push(f64::NAN);
            true
        }
        (Num::PosInf, Builder::F64(p)) => {
            p.push(f64::INFINITY);
            true
        }
        (Num::NegInf, Builder::F64(p)) => {
            p.push(f64::NEG_INFINITY);
            true
        }
        (Num::NaN, Builder::F32(p)) => {
            p.push(f32::NAN);
            true
        }
        (Num::PosInf, Builder::F32(p)) => {
            p.push(f32::INFINITY);
            true
        }
        (Num::NegInf, Builder::F32(p)) => {
            p.push(f32::NEG_INFINITY);
            true
        }
        (_, Builder::Str(s)) => {
            write_number(n, &mut s.data);
            s.commit();
            true
        }
        _ => false,
    };
    if ok {
        Converted::Ok
    } else {
        Converted::Fail
    }
}
