//! A predicate's tokens, each with its character position (the caret under an error).
//!
//! String literals follow Spark's lexer: `'…'` or `"…"`, a doubled quote or a backslash
//! escape inside, and adjacent literals joined (`'a' 'b'` is `'ab'`).
use super::Failure;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// A plain word: a name, or a keyword (compared ignoring case).
    Word(String),
    /// A `backquoted` name: never a keyword.
    Quoted(String),
    /// Digits with an optional fraction and exponent, as written.
    Number(String),
    Text(String),
    /// `=`, `==`, `<>`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare(&'static str),
    Open,
    Close,
    Comma,
    Minus,
    Plus,
    End,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    /// Character offset of its first character.
    pub at: usize,
}

impl Token {
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

pub(super) fn tokens(text: &str) -> Result<Vec<Token>, Failure> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' | ')' | ',' | '-' | '+' => {
                i += 1;
                match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    ',' => Tok::Comma,
                    '-' => Tok::Minus,
                    _ => Tok::Plus,
                }
            }
            '=' | '<' | '>' | '!' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = ["==", "<>", "!=", "<=", ">="]
                    .into_iter()
                    .find(|op| *op == two)
                    .or_else(|| ["=", "<", ">"].into_iter().find(|op| op.starts_with(c)))
                    .ok_or_else(|| {
                        Failure::new(at, "'!' alone is not an operator: use NOT or !=")
                    })?;
                i += op.len();
                Tok::Compare(op)
            }
            '\'' | '"' => {
                let (value, end) = string(&chars, i)?;
                i = end;
                // Spark joins adjacent literals: 'a' 'b' is 'ab'.
                if let Some(Token {
                    tok: Tok::Text(before),
                    ..
                }) = out.last_mut()
                {
                    before.push_str(&value);
                    continue;
                }
                Tok::Text(value)
            }
            '`' => {
                let (name, end) = quoted_name(&chars, i)?;
                i = end;
                Tok::Quoted(name)
            }
            c if c.is_ascii_digit() || (c == '.' && next_is_digit(&chars, i)) => {
                let end = number_end(&chars, i);
                if chars.get(end).is_some_and(|c| is_word_char(*c)) {
                    return Err(Failure::new(
                        end,
                        "a number must not run into letters (type suffixes such as 1L or 2D \
                         are not supported)",
                    ));
                }
                let number = chars[i..end].iter().collect();
                i = end;
                Tok::Number(number)
            }
            c if is_word_char(c) => {
                let end = (i..chars.len())
                    .find(|&j| !is_word_char(chars[j]))
                    .unwrap_or(chars.len());
                let word = chars[i..end].iter().collect();
                i = end;
                Tok::Word(word)
            }
            other => return Err(Failure::new(at, format!("unexpected character {other:?}"))),
        };
        out.push(Token { tok, at });
    }
    out.push(Token {
        tok: Tok::End,
        at: chars.len(),
    });
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

/// `digits[.digits][E[+-]digits]` or `.digits[…]`: Spark's integer, decimal and exponent forms.
fn number_end(chars: &[char], mut i: usize) -> usize {
    let digits = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    };
    i = digits(i);
    if chars.get(i) == Some(&'.') {
        i = digits(i + 1);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if chars.get(i + 1 + sign).is_some_and(|c| c.is_ascii_digit()) {
            i = digits(i + 1 + sign);
        }
    }
    i
}

/// A quoted string from `chars[start]` (its quote) to its closing quote: (value, next index).
fn string(chars: &[char], start: usize) -> Result<(String, usize), Failure> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(Failure::new(start, "this string is never closed")),
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    value.push(quote); // '' inside '…'
                    i += 2;
                } else {
                    return Ok((value, i + 1));
                }
            }
            Some('\\') => i = escape(chars, i, &mut value),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

/// Spark's `unescapeSQLString` for the escape at `chars[i]` (a backslash): the index after it.
fn escape(chars: &[char], i: usize, value: &mut String) -> usize {
    let Some(&next) = chars.get(i + 1) else {
        return i + 1; // a lone backslash at the end: the string is not closed anyway
    };
    let hex = |from: usize, n: usize| -> Option<char> {
        let digits: String = chars.get(from..from + n)?.iter().collect();
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    };
    if next == 'u' {
        if let Some(c) = hex(i + 2, 4) {
            value.push(c);
            return i + 6;
        }
    }
    if next == 'U' {
        if let Some(c) = hex(i + 2, 8) {
            value.push(c);
            return i + 10;
        }
    }
    let octal = chars
        .get(i + 1..i + 4)
        .filter(|d| ('0'..='3').contains(&d[0]) && d[1..].iter().all(|c| ('0'..='7').contains(c)));
    if let Some(d) = octal {
        let code = d.iter().fold(0, |n, c| n * 8 + c.to_digit(8).unwrap_or(0));
        value.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        return i + 4;
    }
    match next {
        '0' => value.push('\0'),
        'b' => value.push('\u{8}'),
        'n' => value.push('\n'),
        'r' => value.push('\r'),
        't' => value.push('\t'),
        'Z' => value.push('\u{1A}'),
        // kept escaped, as MySQL and Spark do (they are LIKE wildcards)
        '%' => value.push_str("\\%"),
        '_' => value.push_str("\\_"),
        other => value.push(other),
    }
    i + 2
}

/// A `backquoted` name (a doubled backquote inside stands for one): (name, next index).
fn quoted_name(chars: &[char], start: usize) -> Result<(String, usize), Failure> {
    let mut name = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(Failure::new(start, "this `name` is never closed")),
            Some('`') if chars.get(i + 1) == Some(&'`') => {
                name.push('`');
                i += 2;
            }
            Some('`') => return Ok((name, i + 1)),
            Some(&c) => {
                name.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokens(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn strings_unescape_as_spark_reads_them() {
        let text = |s: &str| match &toks(s)[0] {
            Tok::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text("'it''s'"), "it's");
        assert_eq!(text(r#""d""q""#), "d\"q");
        assert_eq!(text(r"'a\'b'"), "a'b");
        assert_eq!(text(r"'a\nb\\c\qd'"), "a\nb\\cqd");
        assert_eq!(text(r"'\%\_'"), r"\%\_");
        assert_eq!(text(r"'\u0041\101'"), "AA");
        assert_eq!(text("'a' 'b'"), "ab");
    }

    #[test]
    fn names_numbers_and_operators_are_told_apart() {
        assert_eq!(
            toks("`a``b` <= -1.5e3 OR x!=.5"),
            vec![
                Tok::Quoted("a`b".into()),
                Tok::Compare("<="),
                Tok::Minus,
                Tok::Number("1.5e3".into()),
                Tok::Word("OR".into()),
                Tok::Word("x".into()),
                Tok::Compare("!="),
                Tok::Number(".5".into()),
                Tok::End
            ]
        );
    }

    #[test]
    fn a_bad_token_is_reported_where_it_starts() {
        let at = |s: &str| tokens(s).unwrap_err().at;
        assert_eq!(at("op = 'x"), 5);
        assert_eq!(at("a = 1L"), 5);
        assert_eq!(at("a ! b"), 2);
        assert_eq!(at("é = 1"), 0);
        assert_eq!(at("a = `b"), 4);
    }
}
