//! Spark DDL schema strings -> Arrow schemas, with the Arrow types PySpark's `toArrow()` gives.
//!
//! Grammar: `name TYPE [NOT NULL] [COMMENT 'text'], ...`; names plain identifiers or
//! `backticked` (with ``` `` ``` escaping a backtick); inside `STRUCT<...>` a `:` may follow
//! the name. A whole `STRUCT<...>` is also accepted as a schema. Type names are
//! case-insensitive. Every field is nullable (as from_json makes them).
use std::sync::Arc;

use crate::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::error::{CdcError, Result};

/// How deep ARRAY/MAP/STRUCT types may nest. The parser recurses once per level, and
/// pyarrow cannot read or pickle a table much deeper than this (its IPC limit is 64).
pub const MAX_NESTING: usize = 32;

/// Parse a Spark DDL schema string (e.g. `a INT, b ARRAY<STRUCT<c: STRING>>`).
pub fn parse_ddl(ddl: &str) -> Result<SchemaRef> {
    let mut p = Parser {
        ddl,
        chars: ddl.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.ws();
    // A whole `STRUCT<...>` is a schema too (Spark's from_json accepts it).
    let save = p.pos;
    if let Some(w) = p.word() {
        if w.eq_ignore_ascii_case("struct") {
            p.ws();
            if p.peek() == Some('<') {
                p.pos = save;
                if let DataType::Struct(fields) = p.data_type()? {
                    p.ws();
                    if p.pos == p.chars.len() {
                        return Ok(Arc::new(Schema::new(fields)));
                    }
                    return Err(p.err("unexpected text after the schema"));
                }
            }
        }
    }
    p.pos = save;
    let fields = p.fields(false)?;
    p.ws();
    if p.pos != p.chars.len() {
        return Err(p.err("expected ',' or the end of the schema"));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The first column name that appears twice in `schema`, if any: columns are found by name,
/// so a second column of the same name would silently stand in for the first.
pub fn duplicate_name(schema: &Schema) -> Option<&str> {
    let fields = schema.fields();
    fields
        .iter()
        .enumerate()
        .find(|(i, f)| fields[..*i].iter().any(|g| g.name() == f.name()))
        .map(|(_, f)| f.name().as_str())
}

/// Whether Spark's lexer reads a plain word as a number literal rather than a name: `12`,
/// `12L`/`S`/`Y`, `12D`/`F`/`BD`, `1E3`, `1E3D` (case-insensitive).
fn reads_as_number(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    let digits = w.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.len() == w.len() {
        return false; // not starting with a digit
    }
    if matches!(digits, "" | "l" | "s" | "y" | "d" | "f" | "bd") {
        return true;
    }
    let Some(exp) = digits.strip_prefix('e') else {
        return false;
    };
    let rest = exp.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < exp.len() && matches!(rest, "" | "d" | "f" | "bd")
}

struct Parser<'a> {
    ddl: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// ARRAY/MAP/STRUCT levels open at `pos`.
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> CdcError {
        self.err_at(self.pos, msg)
    }
    fn err_at(&self, position: usize, msg: impl Into<String>) -> CdcError {
        CdcError::Schema {
            ddl: self.ddl.to_string(),
            position,
            message: msg.into(),
        }
    }
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }
    /// Skips whitespace and SQL comments (`-- to the end of the line`, `/* nestable */`), as
    /// Spark's lexer does. An unclosed `/*` is left for the next token to trip over.
    fn ws(&mut self) {
        loop {
            match (self.peek(), self.at(1)) {
                (Some(c), _) if c.is_whitespace() => self.pos += 1,
                (Some('-'), Some('-')) => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => match self.bracketed_comment_end(self.pos) {
                    Some(end) => self.pos = end,
                    None => return,
                },
                _ => return,
            }
        }
    }
    /// The position after the `/* ... */` comment starting at `start`, nested ones included.
    fn bracketed_comment_end(&self, start: usize) -> Option<usize> {
        let mut depth = 0;
        let mut i = start;
        while i + 1 < self.chars.len() {
            match (self.chars[i], self.chars[i + 1]) {
                ('/', '*') => {
                    depth += 1;
                    i += 2;
                }
                ('*', '/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => i += 1,
            }
        }
        None
    }
    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(format!("expected '{c}'")))
        }
    }
    /// A plain identifier word `[A-Za-z0-9_]+` (no whitespace skipping): ASCII only, as in
    /// Spark's lexer (other names need backticks).
    fn word(&mut self) -> Option<String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.chars[start..self.pos].iter().collect())
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let save = self.pos;
        match self.word() {
            Some(w) if w.eq_ignore_ascii_case(kw) => true,
            _ => {
                self.pos = save;
                false
            }
        }
    }
    fn name(&mut self) -> Result<String> {
        self.ws();
        if self.peek() == Some('`') {
            let start = self.pos;
            self.pos += 1;
            let mut s = String::new();
            loop {
                match self.peek() {
                    None => return Err(self.err_at(start, "unterminated `quoted` name")),
                    Some('`') if self.chars.get(self.pos + 1) == Some(&'`') => {
                        s.push('`');
                        self.pos += 2;
                    }
                    Some('`') => {
                        self.pos += 1;
                        return Ok(s);
                    }
                    Some(c) => {
                        s.push(c);
                        self.pos += 1;
                    }
                }
            }
        }
        let start = self.pos;
        let name = self
            .word()
            .ok_or_else(|| self.err("expected a field name"))?;
        if reads_as_number(&name) {
            return Err(self.err_at(
                start,
                format!("{name} reads as a number in Spark SQL: write the name as `{name}`"),
            ));
        }
        Ok(name)
    }
    fn fields(&mut self, in_struct: bool) -> Result<Fields> {
        let mut out: Vec<Field> = Vec::new();
        if in_struct {
            self.ws();
            if self.peek() == Some('>') {
                return Ok(Fields::empty());
            }
        }
        loop {
            self.ws();
            if self.pos == self.chars.len() {
                return Err(self.err("expected a field name"));
            }
            let name_at = self.pos;
            let name = self.name()?;
            if name.contains('\0') {
                // Arrow's C interface ends a name at NUL: it would arrive cut short.
                return Err(self.err_at(name_at, "a field name cannot contain a NUL character"));
            }
            if out.iter().any(|f| f.name() == &name) {
                return Err(self.err_at(
                    name_at,
                    format!("duplicate field name {name:?}: each field needs its own name"),
                ));
            }
            if in_struct {
                self.eat(':');
            }
            let dt = self.data_type()?;
            if self.keyword("not") && !self.keyword("null") {
                return Err(self.err("expected NULL after NOT"));
            }
            if self.keyword("comment") {
                self.string_lit()?;
                // adjacent literals are one string: 'a' 'b', 'a''b'
                while self.at_string_lit() {
                    self.string_lit()?;
                }
            }
            out.push(Field::new(name, dt, true));
            if !self.eat(',') {
                break;
            }
        }
        Ok(out.into())
    }
    fn at_string_lit(&mut self) -> bool {
        self.ws();
        matches!(
            (self.peek(), self.at(1)),
            (Some('\'' | '"'), _) | (Some('r' | 'R'), Some('\'' | '"'))
        )
    }
    /// A SQL string literal: '...' or "..." with backslash escapes, or raw r'...' / r"...".
    fn string_lit(&mut self) -> Result<String> {
        self.ws();
        let raw = matches!(self.peek(), Some('r' | 'R'));
        let start = self.pos;
        if raw {
            self.pos += 1;
        }
        let q = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.err("expected a quoted comment string")),
        };
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err_at(start, "unterminated string")),
                Some('\\') if !raw => {
                    if let Some(c) = self.chars.get(self.pos + 1) {
                        s.push(*c);
                    }
                    self.pos += 2;
                }
                Some(c) if c == q => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }
    fn int_arg(&mut self) -> Result<u32> {
        self.ws();
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        s.parse::<u32>()
            .map_err(|_| self.err_at(start, "expected an integer"))
    }
    /// The parts of an ARRAY, MAP or STRUCT, one level deeper: nesting is bounded, so a
    /// hostile schema gets an error, not a stack overflow.
    fn nested<T>(&mut self, part: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth == MAX_NESTING {
            return Err(self.err(format!(
                "types nest deeper than {MAX_NESTING} levels of ARRAY/MAP/STRUCT"
            )));
        }
        self.depth += 1;
        let parsed = part(self);
        self.depth -= 1;
        parsed
    }
    fn data_type(&mut self) -> Result<DataType> {
        self.ws();
        let start = self.pos;
        let Some(w) = self.word() else {
            return Err(self.err("expected a data type"));
        };
        let lw = w.to_ascii_lowercase();
        let ts_utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Ok(match lw.as_str() {
            "boolean" => DataType::Boolean,
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "string" => {
                // Spark 4 collations (`STRING COLLATE UTF8_LCASE`) do not change the Arrow type
                if self.keyword("collate") {
                    self.ws();
                    if self.word().is_none() {
                        return Err(self.err("expected a collation name after COLLATE"));
                    }
                }
                DataType::Utf8
            }
            "binary" => DataType::Binary,
            "date" => DataType::Date32,
            "timestamp" | "timestamp_ltz" => ts_utc,
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "char" | "varchar" => {
                self.expect('(')?;
                let n = self.int_arg()?;
                if n == 0 {
                    return Err(self.err_at(start, format!("{w} length must be positive")));
                }
                self.expect(')')?;
                DataType::Utf8
            }
            "decimal" | "dec" | "numeric" => {
                let (mut p, mut s) = (10u32, 0u32);
                if self.eat('(') {
                    p = self.int_arg()?;
                    if self.eat(',') {
                        s = self.int_arg()?;
                    }
                    self.expect(')')?;
                }
                if p == 0 || p > 38 {
                    return Err(self.err_at(
                        start,
                        format!("decimal precision {p} is out of range 1..=38"),
                    ));
                }
                if s > p {
                    return Err(self.err_at(
                        start,
                        format!("decimal scale {s} is larger than precision {p}"),
                    ));
                }
                DataType::Decimal128(p as u8, s as i8)
            }
            "array" => {
                self.expect('<')?;
                let inner = self.nested(Self::data_type)?;
                self.expect('>')?;
                DataType::List(Arc::new(Field::new("element", inner, true)))
            }
            "map" => {
                self.expect('<')?;
                self.ws();
                let kpos = self.pos;
                let k = self.nested(Self::data_type)?;
                if k != DataType::Utf8 {
                    return Err(self.err_at(kpos, "only STRING map keys are supported"));
                }
                self.expect(',')?;
                let v = self.nested(Self::data_type)?;
                self.expect('>')?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(
                        vec![
                            Field::new("key", DataType::Utf8, false),
                            Field::new("value", v, true),
                        ]
                        .into(),
                    ),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            "struct" => {
                self.expect('<')?;
                let f = self.nested(|p| p.fields(true))?;
                self.expect('>')?;
                DataType::Struct(f)
            }
            _ => return Err(self.err_at(start, format!("unsupported data type '{w}'"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(ddl: &str) -> usize {
        match parse_ddl(ddl) {
            Err(CdcError::Schema { position, .. }) => position,
            other => panic!("expected a schema error for {ddl:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_orders_schema_parses_to_sparks_arrow_types() {
        let s = parse_ddl("order_id STRING, order_timestamp Timestamp, customer_id STRING, quantity BIGINT, total BIGINT, books ARRAY<STRUCT<book_id STRING, quantity BIGINT, subtotal BIGINT>>").unwrap();
        assert_eq!(s.fields().len(), 6);
        assert_eq!(
            s.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let DataType::List(el) = s.field(5).data_type() else {
            panic!()
        };
        let DataType::Struct(f) = el.data_type() else {
            panic!()
        };
        assert_eq!(f.len(), 3);
        assert_eq!(f[2].data_type(), &DataType::Int64);
    }

    #[test]
    fn ddl_spellings_quotes_comments_and_synonyms_parse() {
        let s = parse_ddl(" `a``b` int NOT NULL COMMENT 'x, y', c struct<d: decimal, e dec(5,2)> , f map<string,array<bigint>>, g Timestamp_NTZ, h varchar(3)").unwrap();
        assert_eq!(s.field(0).name(), "a`b");
        assert!(s.field(0).is_nullable());
        let DataType::Struct(f) = s.field(1).data_type() else {
            panic!()
        };
        assert_eq!(f[0].data_type(), &DataType::Decimal128(10, 0));
        assert_eq!(f[1].data_type(), &DataType::Decimal128(5, 2));
        assert!(matches!(s.field(2).data_type(), DataType::Map(_, false)));
        assert_eq!(
            s.field(3).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(s.field(4).data_type(), &DataType::Utf8);
        let s = parse_ddl("struct<a:int,b:string COLLATE UTF8_LCASE>").unwrap();
        assert_eq!(s.fields().len(), 2);
    }

    #[test]
    fn a_bad_schema_is_refused_at_the_position_of_the_fault() {
        assert_eq!(pos("a INT, b FOO"), 9);
        assert_eq!(pos("a INT b"), 6);
        assert_eq!(pos("a ARRAY<INT"), 11);
        assert_eq!(pos(""), 0);
        assert_eq!(pos("a INT,"), 6);
        assert_eq!(pos("a DECIMAL(40,2)"), 2);
        assert_eq!(pos("a MAP<INT, STRING>"), 6);
        assert_eq!(pos("`a INT"), 0);
        assert_eq!(pos("é INT"), 0); // unquoted names are ASCII, as in Spark
        assert!(parse_ddl("`é` INT").is_ok());
        assert_eq!(pos("a BOOL"), 2); // Spark has BOOLEAN only
        let e = parse_ddl("a INT, b FOO").unwrap_err().to_string();
        assert!(e.contains("unsupported data type"), "{e}");
    }

    #[test]
    fn sql_comments_and_literal_forms_read_as_in_spark() {
        for ddl in [
            "a INT /* c */, b STRING -- the end",
            "a INT, /* a /* nested */ one */ b STRING",
            "a INT --c\n, b STRING",
            "a INT COMMENT 'x' 'y', b STRING COMMENT 'x''y'",
            "a INT COMMENT r'raw\\', b STRING COMMENT R\"x\" \"y\"",
        ] {
            let s = parse_ddl(ddl).unwrap_or_else(|e| panic!("{ddl}: {e}"));
            assert_eq!(s.fields().len(), 2, "{ddl}");
        }
        assert!(parse_ddl("a INT /* unclosed").is_err());
    }

    #[test]
    fn a_plain_name_spark_reads_as_a_number_needs_backticks() {
        for name in [
            "3", "12", "0y", "2L", "10s", "1d", "1bd", "2e3", "2E3D", "1f",
        ] {
            let e = parse_ddl(&format!("{name} INT")).unwrap_err().to_string();
            assert!(e.contains("reads as a number"), "{name}: {e}");
            assert!(parse_ddl(&format!("`{name}` INT")).is_ok());
        }
        for name in ["1a", "2e", "1dd", "e3", "_1", "1_"] {
            assert!(parse_ddl(&format!("{name} INT")).is_ok(), "{name}");
        }
        assert_eq!(pos("a STRUCT<0y: INT>"), 9);
    }

    fn nested(kind: &str, depth: usize) -> String {
        let (open, leaf, close) = match kind {
            "struct" => ("STRUCT<a: ", "INT", ">"),
            "map" => ("MAP<STRING, ", "INT", ">"),
            _ => ("ARRAY<", "INT", ">"),
        };
        format!("a {}{leaf}{}", open.repeat(depth), close.repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_limit_parses_and_deeper_is_a_schema_error_not_a_stack_overflow() {
        for kind in ["struct", "map", "array"] {
            assert!(parse_ddl(&nested(kind, MAX_NESTING)).is_ok(), "{kind}");
            let too_deep = parse_ddl(&nested(kind, MAX_NESTING + 1)).unwrap_err();
            assert!(too_deep.to_string().contains("nest deeper"), "{too_deep}");
            // hostile depths are refused at the limit, in the same way
            let hostile = parse_ddl(&nested(kind, 100_000)).unwrap_err();
            assert!(matches!(hostile, CdcError::Schema { .. }));
        }
    }

    #[test]
    fn a_duplicate_field_name_is_refused_naming_it_at_any_level() {
        assert_eq!(pos("v INT, v STRING"), 7);
        assert_eq!(pos("a STRUCT<k: INT, k: STRING>"), 17);
        let e = parse_ddl("k INT, `k` STRING").unwrap_err().to_string();
        assert!(e.contains("duplicate field name \"k\""), "{e}");
        assert!(parse_ddl("v INT, V STRING").is_ok()); // names are case-sensitive
        assert!(parse_ddl("a STRUCT<v: INT>, v INT").is_ok()); // another level
        assert_eq!(pos("a INT, `b\0c` INT"), 7);
    }
}
