//! A predicate's syntax tree, by recursive descent over its tokens.
//!
//! Precedence, loosest first, as in Spark: `OR`, `AND`, `NOT`, then a value with one optional
//! test (`IN (…)`, `NOT IN (…)`, `IS [NOT] NULL`), a value being comparisons chained left to
//! right (`a = b = TRUE` is `(a = b) = TRUE`) of operands: a name, a literal, or `( … )`.
use super::lex::{Tok, Token};
use super::Failure;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    Column {
        name: String,
        at: usize,
    },
    Literal {
        value: Literal,
        at: usize,
    },
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
        at: usize,
    },
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
    Not(Box<Expr>),
    /// Two or more terms (a flat list: a long chain is no deeper than two terms).
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Literal {
    Null,
    Bool(bool),
    /// A number as written (sign included), typed when it meets a column.
    Number(String),
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    fn from_token(op: &str) -> Self {
        match op {
            "=" | "==" => CmpOp::Eq,
            "<>" | "!=" => CmpOp::NotEq,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::LtEq,
            ">" => CmpOp::Gt,
            _ => CmpOp::GtEq,
        }
    }

    /// The same test with its sides swapped (`1 < a` is `a > 1`).
    pub fn flipped(self) -> Self {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            same => same,
        }
    }
}

/// Words that are never column names unless `backquoted`.
const KEYWORDS: [&str; 8] = ["AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE"];

/// Parens nest at most this deep: each level is a recursion.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(tokens: &[Token]) -> Result<Expr, Failure> {
    let mut p = Parser {
        tokens,
        i: 0,
        depth: 0,
    };
    let expr = p.or()?;
    match &p.peek().tok {
        // Spark refuses a bare NULL, number or string as a filter, whatever the columns
        Tok::End => match expr {
            Expr::Literal { value, at } if !matches!(value, Literal::Bool(_)) => Err(Failure::new(
                at,
                "a value alone is not a condition: compare it with a column",
            )),
            expr => Ok(expr),
        },
        Tok::Close => Err(p.fail("this ')' closes nothing")),
        _ => Err(p.fail(format!(
            "expected AND, OR or the end of the predicate, found {}",
            p.shown()
        ))),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.i]
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.i].clone();
        if token.tok != Tok::End {
            self.i += 1;
        }
        token
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = &self.peek().tok == tok;
        if found {
            self.i += 1;
        }
        found
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_keyword(keyword);
        if found {
            self.i += 1;
        }
        found
    }

    fn fail(&self, message: impl Into<String>) -> Failure {
        Failure::new(self.peek().at, message)
    }

    /// The next token as an error message shows it.
    fn shown(&self) -> String {
        match &self.peek().tok {
            Tok::Word(w) => format!("{w:?}"),
            Tok::Quoted(w) => format!("`{w}`"),
            Tok::Number(n) => n.clone(),
            Tok::Text(t) => format!("the string '{}'", t.replace('\'', "''")),
            Tok::Compare(op) => format!("'{op}'"),
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Minus => "'-'".into(),
            Tok::Plus => "'+'".into(),
            Tok::End => "the end".into(),
        }
    }

    fn or(&mut self) -> Result<Expr, Failure> {
        let mut terms = vec![self.and()?];
        while self.eat_keyword("OR") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, Failure> {
        let mut terms = vec![self.not()?];
        while self.eat_keyword("AND") {
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn not(&mut self) -> Result<Expr, Failure> {
        if self.eat_keyword("NOT") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.test()
    }

    /// A value, then at most one `[NOT] IN (…)` or `IS [NOT] NULL`.
    fn test(&mut self) -> Result<Expr, Failure> {
        let value = self.comparisons()?;
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return Err(self.fail(format!("expected NULL after IS, found {}", self.shown())));
            }
            return Ok(Expr::IsNull {
                value: Box::new(value),
                negated,
            });
        }
        let negated = self.peek().is_keyword("NOT")
            && self
                .tokens
                .get(self.i + 1)
                .is_some_and(|t| t.is_keyword("IN"));
        if negated {
            self.i += 1;
        }
        if self.eat_keyword("IN") {
            return Ok(Expr::In {
                value: Box::new(value),
                list: self.list()?,
                negated,
            });
        }
        Ok(value)
    }

    /// `( value, … )`: at least one.
    fn list(&mut self) -> Result<Vec<Expr>, Failure> {
        if !self.eat(&Tok::Open) {
            return Err(self.fail(format!("expected '(' after IN, found {}", self.shown())));
        }
        if self.peek().tok == Tok::Close {
            return Err(self.fail("IN needs at least one value: IN () is empty"));
        }
        let mut list = vec![self.comparisons()?];
        loop {
            if self.eat(&Tok::Comma) {
                list.push(self.comparisons()?);
            } else if self.eat(&Tok::Close) {
                return Ok(list);
            } else {
                return Err(self.fail(format!(
                    "expected ',' or ')' in the IN list, found {}",
                    self.shown()
                )));
            }
        }
    }

    fn comparisons(&mut self) -> Result<Expr, Failure> {
        let mut left = self.operand()?;
        let mut chained = 0;
        while let Tok::Compare(op) = self.peek().tok {
            chained += 1; // each one nests the chain so far one level deeper
            if self.depth + chained > MAX_DEPTH {
                return Err(self.fail(format!("nested more than {MAX_DEPTH} levels deep")));
            }
            let at = self.next().at;
            left = Expr::Compare {
                op: CmpOp::from_token(op),
                left: Box::new(left),
                right: Box::new(self.operand()?),
                at,
            };
        }
        Ok(left)
    }

    /// A name, a literal (a number may have a sign) or a parenthesised predicate.
    fn operand(&mut self) -> Result<Expr, Failure> {
        let Token { tok, at } = self.peek().clone();
        let literal = |value| Expr::Literal { value, at };
        let operand = match tok {
            Tok::Quoted(name) => Expr::Column { name, at },
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => literal(Literal::Null),
            Tok::Word(w) if w.eq_ignore_ascii_case("TRUE") => literal(Literal::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("FALSE") => literal(Literal::Bool(false)),
            Tok::Word(w) if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                return Err(self.fail(format!(
                    "expected a value, found the keyword {}; write `{w}` for a column of \
                     that name",
                    w.to_uppercase()
                )));
            }
            Tok::Word(name) => Expr::Column { name, at },
            Tok::Number(n) => literal(Literal::Number(n)),
            Tok::Text(t) => literal(Literal::Text(t)),
            Tok::Minus | Tok::Plus => {
                self.i += 1;
                let Tok::Number(n) = &self.peek().tok else {
                    return Err(Failure::new(
                        at,
                        "only a number may follow a sign (no arithmetic)",
                    ));
                };
                literal(Literal::Number(match tok {
                    Tok::Minus => format!("-{n}"),
                    _ => n.clone(),
                }))
            }
            Tok::Open => {
                self.i += 1;
                return self.nested(|p| {
                    let inner = p.or()?;
                    if !p.eat(&Tok::Close) {
                        return Err(p.fail(format!("expected ')', found {}", p.shown())));
                    }
                    Ok(inner)
                });
            }
            _ => return Err(self.fail(format!("expected a value, found {}", self.shown()))),
        };
        self.i += 1;
        Ok(operand)
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, Failure>,
    ) -> Result<Expr, Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(format!("nested more than {MAX_DEPTH} levels deep")));
        }
        let expr = f(self);
        self.depth -= 1;
        expr
    }
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokens;
    use super::*;

    /// The tree as a fully parenthesised string.
    fn shape(text: &str) -> String {
        fn show(e: &Expr) -> String {
            match e {
                Expr::Column { name, .. } => name.clone(),
                Expr::Literal { value, .. } => match value {
                    Literal::Null => "NULL".into(),
                    Literal::Bool(b) => b.to_string(),
                    Literal::Number(n) => n.clone(),
                    Literal::Text(t) => format!("'{t}'"),
                },
                Expr::Compare {
                    op, left, right, ..
                } => format!("({} {op:?} {})", show(left), show(right)),
                Expr::In {
                    value,
                    list,
                    negated,
                } => format!(
                    "({} {}IN [{}])",
                    show(value),
                    if *negated { "NOT " } else { "" },
                    list.iter().map(show).collect::<Vec<_>>().join(", ")
                ),
                Expr::IsNull { value, negated } => {
                    format!(
                        "({} IS {}NULL)",
                        show(value),
                        if *negated { "NOT " } else { "" }
                    )
                }
                Expr::Not(e) => format!("(NOT {})", show(e)),
                Expr::And(terms) => {
                    format!(
                        "({})",
                        terms.iter().map(show).collect::<Vec<_>>().join(" AND ")
                    )
                }
                Expr::Or(terms) => {
                    format!(
                        "({})",
                        terms.iter().map(show).collect::<Vec<_>>().join(" OR ")
                    )
                }
            }
        }
        show(&parse(&tokens(text).unwrap()).unwrap())
    }

    fn failure(text: &str) -> Failure {
        parse(&tokens(text).unwrap()).unwrap_err()
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        assert_eq!(
            shape("a = 1 OR NOT b = 2 AND c = 3"),
            "((a Eq 1) OR ((NOT (b Eq 2)) AND (c Eq 3)))"
        );
        assert_eq!(shape("NOT a OR b"), "((NOT a) OR b)");
        assert_eq!(shape("NOT NOT a AND b"), "((NOT (NOT a)) AND b)");
        assert_eq!(shape("(a OR b) AND c"), "((a OR b) AND c)");
        assert_eq!(shape("a and b or c and d"), "((a AND b) OR (c AND d))");
        assert_eq!(shape("a OR b OR c AND d"), "(a OR b OR (c AND d))");
    }

    #[test]
    fn comparisons_chain_left_to_right_and_tests_apply_to_the_whole_value() {
        assert_eq!(shape("a = b = TRUE"), "((a Eq b) Eq true)");
        assert_eq!(shape("a = 1 IS NULL"), "((a Eq 1) IS NULL)");
        assert_eq!(shape("-1 <> a"), "(-1 NotEq a)");
        assert_eq!(
            shape("op NOT IN ('d', NULL) AND x is not null"),
            "((op NOT IN ['d', NULL]) AND (x IS NOT NULL))"
        );
        assert_eq!(shape("NOT op IN (+2)"), "(NOT (op IN [2]))");
        assert_eq!(shape("`and` = 'x'"), "(and Eq 'x')");
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let cases = [
            ("op = ", 5, "expected a value, found the end"),
            ("op = 'd' AND", 12, "expected a value"),
            ("op = 'd' op", 9, "expected AND, OR"),
            ("(op = 'd'", 9, "expected ')'"),
            ("op = 'd')", 8, "closes nothing"),
            ("op IN ()", 7, "at least one value"),
            ("op IN 'd'", 6, "expected '(' after IN"),
            ("op IN ('d' x", 11, "expected ',' or ')'"),
            ("op IS 'd'", 6, "expected NULL after IS"),
            ("and = 1", 0, "write `and`"),
            ("a = -b", 4, "only a number"),
            ("a LIKE 'x'", 2, "found \"LIKE\""),
            ("(NULL)", 1, "a value alone"),
            ("'x'", 0, "a value alone"),
        ];
        for (text, at, message) in cases {
            let f = failure(text);
            assert_eq!(f.at, at, "{text}: {f:?}");
            assert!(f.message.contains(message), "{text}: {f:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(failure(&deep).message.contains("nested"));
        let nots = format!("{}a", "NOT ".repeat(10_000));
        assert!(failure(&nots).message.contains("nested"));
        let chain = format!("a{}", " = a".repeat(10_000));
        assert!(failure(&chain).message.contains("nested"));
        // a long AND chain is flat, not deep
        let terms = vec!["a = 1"; 10_000].join(" AND ");
        assert!(parse(&tokens(&terms).unwrap()).is_ok());
    }
}
