//! The parser of monasca's alarm expression language, with errors that name the column and what
//! was expected there.
//!
//! ```text
//! expression  ::= and_expr ( ("or" | "||") and_expr )*
//! and_expr    ::= primary ( ("and" | "&&") primary )*
//! primary     ::= "(" expression ")" | sub
//! sub         ::= ( func "(" metric [ "," "deterministic" ] [ "," period ] ")" | metric )
//!                 relop threshold [ "times" periods ]
//! func        ::= "min" | "max" | "sum" | "count" | "avg" | "last"
//! relop       ::= "<" | "lt" | "<=" | "lte" | ">" | "gt" | ">=" | "gte"
//! metric      ::= name [ "{" [ key "=" value ( "," key "=" value )* ] "}" ]
//! threshold   ::= [ "-" ] digits [ "." digits ]
//! ```
//!
//! Keywords are case-insensitive. `and` binds tighter than `or`; both associate to the left.
//! A metric name runs until whitespace or one of `( ) , < > = & |`; a `{…}` group inside it is
//! a glob's alternatives (`servers.{web,db}*.cpu`) unless it holds a `=`, which makes it
//! monasca's dimensions.

use std::fmt;

use crate::expr::{Expression, Func, Metric, Node, Op, SubExpr};

/// monasca's period when none is written, in seconds.
pub const DEFAULT_PERIOD: i64 = 60;

/// Why an expression does not parse: where, what was expected there, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character column.
    pub column: usize,
    /// What would have been valid there.
    pub expected: String,
    /// What is there (`the end` at the end).
    pub found: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at column {}: expected {}, found {}",
            self.column, self.expected, self.found
        )
    }
}

/// Parses `text`; every period must be a positive multiple of `interval` seconds (the tick).
pub fn parse(text: &str, interval: i64) -> Result<Expression, ParseError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        interval: interval.max(1),
        subs: Vec::new(),
    };
    p.skip_ws();
    let root = p.expression()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.error("`and`, `or` or the end of the expression"));
    }
    Ok(Expression { root, subs: p.subs })
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    interval: i64,
    subs: Vec<SubExpr>,
}

/// Characters that end a metric name.
fn ends_name(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ',' | '<' | '>' | '=' | '&' | '|' | '}')
}

/// Characters that end a dimension's key or value.
fn ends_dim(c: char) -> bool {
    matches!(
        c,
        '{' | '}' | ',' | '=' | '(' | ')' | '<' | '>' | '&' | '|' | '"'
    )
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// What is at `pos`, for an error.
    fn found_at(&self, pos: usize) -> String {
        match self.at(pos) {
            None => "the end".into(),
            Some(_) => {
                let rest: String = self.chars[pos..]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("`{rest}`")
            }
        }
    }

    fn error(&self, expected: &str) -> ParseError {
        self.error_at(self.pos, expected)
    }

    fn error_at(&self, pos: usize, expected: &str) -> ParseError {
        ParseError {
            column: pos + 1,
            expected: expected.to_owned(),
            found: self.found_at(pos),
        }
    }

    /// Consumes `symbol` (punctuation) if it is next.
    fn eat(&mut self, symbol: &str) -> bool {
        let n = symbol.chars().count();
        let matches = symbol
            .chars()
            .enumerate()
            .all(|(i, c)| self.at(self.pos + i) == Some(c));
        if matches {
            self.pos += n;
        }
        matches
    }

    /// Consumes the keyword `word` (any case) if it is next and not the start of a longer word
    /// (a digit may follow when `digit_ok`, as in `lt5`).
    fn eat_word(&mut self, word: &str, digit_ok: bool) -> bool {
        let n = word.chars().count();
        let matches = word.chars().enumerate().all(|(i, c)| {
            self.at(self.pos + i)
                .is_some_and(|x| x.eq_ignore_ascii_case(&c))
        });
        if !matches {
            return false;
        }
        let boundary = match self.at(self.pos + n) {
            None => true,
            Some(c) if digit_ok && c.is_ascii_digit() => true,
            Some(c) => !is_word(c),
        };
        if boundary {
            self.pos += n;
        }
        boundary
    }

    fn expression(&mut self) -> Result<Node, ParseError> {
        self.chain(("||", "or"), Self::and_expr, Node::Or)
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        self.chain(("&&", "and"), Self::primary, Node::And)
    }

    /// Operands parsed by `operand` joined, from the left, by the operator spelt `op.0` or
    /// (a word) `op.1`.
    fn chain(
        &mut self,
        op: (&str, &str),
        operand: fn(&mut Self) -> Result<Node, ParseError>,
        join: fn(Box<Node>, Box<Node>) -> Node,
    ) -> Result<Node, ParseError> {
        let mut left = operand(self)?;
        loop {
            self.skip_ws();
            if self.eat(op.0) || self.eat_word(op.1, false) {
                self.skip_ws();
                let right = operand(self)?;
                left = join(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        self.skip_ws();
        if self.eat("(") {
            self.skip_ws();
            let inner = self.expression()?;
            self.skip_ws();
            if !self.eat(")") {
                return Err(self.error("`)`, `and` or `or`"));
            }
            return Ok(inner);
        }
        self.sub()
    }

    /// The function at the current position, if a function name is followed by `(`.
    fn function(&mut self) -> Option<Func> {
        let start = self.pos;
        let mut end = start;
        while self.at(end).is_some_and(|c| c.is_ascii_alphabetic()) {
            end += 1;
        }
        let word: String = self.chars[start..end].iter().collect();
        let func = Func::parse(&word)?;
        let mut next = end;
        while self.at(next).is_some_and(char::is_whitespace) {
            next += 1;
        }
        if self.at(next) != Some('(') {
            return None;
        }
        self.pos = next + 1;
        Some(func)
    }

    fn sub(&mut self) -> Result<Node, ParseError> {
        let (func, metric, deterministic, period) = match self.function() {
            Some(func) => {
                self.skip_ws();
                let metric = self.metric()?;
                self.skip_ws();
                let mut deterministic = false;
                let mut period = None;
                if self.eat(",") {
                    self.skip_ws();
                    if self.eat_word("deterministic", false) {
                        deterministic = true;
                        self.skip_ws();
                        if self.eat(",") {
                            self.skip_ws();
                            period = Some(self.period()?);
                        }
                    } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        period = Some(self.period()?);
                    } else {
                        return Err(self.error("`deterministic` or a period in seconds"));
                    }
                    self.skip_ws();
                }
                if !self.eat(")") {
                    let expected = match (deterministic, period) {
                        (_, Some(_)) => "`)`",
                        (true, None) => "`,` and a period, or `)`",
                        (false, None) => "`,` or `)`",
                    };
                    return Err(self.error(expected));
                }
                (Some(func), metric, deterministic, period)
            }
            None => (None, self.metric()?, false, None),
        };
        self.skip_ws();
        let op = self.relop()?;
        self.skip_ws();
        let threshold = self.threshold()?;
        let mut periods = 1;
        let before = self.pos;
        self.skip_ws();
        if self.eat_word("times", true) {
            self.skip_ws();
            let at = self.pos;
            periods = self.integer("the number of periods after `times`")?;
            if periods < 1 {
                return Err(ParseError {
                    column: at + 1,
                    expected: "at least 1 period after `times`".into(),
                    found: format!("`{periods}`"),
                });
            }
        } else {
            self.pos = before;
        }
        self.subs.push(SubExpr {
            func: func.unwrap_or(op.default_func()),
            metric,
            deterministic,
            period: period.unwrap_or(DEFAULT_PERIOD),
            periods,
            op,
            threshold,
        });
        Ok(Node::Sub(self.subs.len() - 1))
    }

    fn period(&mut self) -> Result<i64, ParseError> {
        let at = self.pos;
        let period = self.integer("a period in seconds")?;
        if period <= 0 || period % self.interval != 0 {
            return Err(ParseError {
                column: at + 1,
                expected: format!(
                    "a period that is a positive multiple of the tick interval ({} s)",
                    self.interval
                ),
                found: format!("`{period}`"),
            });
        }
        Ok(period)
    }

    fn integer(&mut self, expected: &str) -> Result<i64, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().map_err(|_| self.error_at(start, expected))
    }

    fn relop(&mut self) -> Result<Op, ParseError> {
        for (sym, op) in [
            ("<=", Op::Lte),
            ("<", Op::Lt),
            (">=", Op::Gte),
            (">", Op::Gt),
        ] {
            if self.eat(sym) {
                return Ok(op);
            }
        }
        for (word, op) in [
            ("lte", Op::Lte),
            ("lt", Op::Lt),
            ("gte", Op::Gte),
            ("gt", Op::Gt),
        ] {
            if self.eat_word(word, true) {
                return Ok(op);
            }
        }
        Err(self.error("a comparison (`<`, `lt`, `<=`, `lte`, `>`, `gt`, `>=`, `gte`)"))
    }

    fn threshold(&mut self) -> Result<f64, ParseError> {
        let start = self.pos;
        let mut end = start;
        if self.at(end) == Some('-') {
            end += 1;
        }
        let digits = |p: &Parser, mut i: usize| {
            while p.at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            i
        };
        let int_end = digits(self, end);
        if int_end == end {
            return Err(self.error_at(start, "a threshold (a number)"));
        }
        end = int_end;
        if self.at(end) == Some('.') {
            let frac_end = digits(self, end + 1);
            if frac_end > end + 1 {
                end = frac_end;
            }
        }
        let text: String = self.chars[start..end].iter().collect();
        let value = text
            .parse::<f64>()
            .map_err(|_| self.error_at(start, "a threshold (a number)"))?;
        self.pos = end;
        Ok(value)
    }

    /// A metric name (or glob) and its optional dimensions.
    fn metric(&mut self) -> Result<Metric, ParseError> {
        let start = self.pos;
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '{' {
                match self.brace_group() {
                    Some((text, false)) => {
                        name.push_str(&text);
                        continue;
                    }
                    Some((_, true)) => break,
                    None => return Err(self.error("a `}` closing the `{`")),
                }
            }
            if c == '[' {
                let close = (self.pos + 1..self.chars.len()).find(|&i| self.chars[i] == ']');
                let Some(close) = close else {
                    return Err(self.error("a `]` closing the `[`"));
                };
                name.extend(&self.chars[self.pos..=close]);
                self.pos = close + 1;
                continue;
            }
            if ends_name(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() {
            return Err(self.error_at(
                start,
                "a metric name, or a function (min, max, sum, count, avg, last) and `(`",
            ));
        }
        let after_name = self.pos;
        self.skip_ws();
        let mut dims = Vec::new();
        if self.peek() == Some('{') {
            self.pos += 1;
            self.skip_ws();
            if !self.eat("}") {
                loop {
                    let key = self.dim_word("a dimension name")?;
                    if !self.eat("=") {
                        return Err(self.error("`=` after the dimension name"));
                    }
                    let value = self.dim_word("a dimension value")?;
                    dims.push((key, value));
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        break;
                    }
                    return Err(self.error("`,` or `}` in the dimensions"));
                }
            }
        } else {
            self.pos = after_name;
        }
        Ok(Metric { name, dims })
    }

    /// At a `{`: its text up to the matching `}` and whether it holds a `=` (dimensions,
    /// not glob alternatives). Consumes it when it is alternatives. `None` when unclosed.
    fn brace_group(&mut self) -> Option<(String, bool)> {
        let mut depth = 0usize;
        let mut has_eq = false;
        for i in self.pos..self.chars.len() {
            match self.chars[i] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        if has_eq {
                            return Some((String::new(), true));
                        }
                        let text: String = self.chars[self.pos..=i].iter().collect();
                        self.pos = i + 1;
                        return Some((text, false));
                    }
                }
                '=' => has_eq = true,
                _ => {}
            }
        }
        None
    }

    /// A dimension's key or value, spaces around it trimmed (monasca allows spaces inside).
    fn dim_word(&mut self, expected: &str) -> Result<String, ParseError> {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| !ends_dim(c)) {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let word = word.trim_end().to_owned();
        if word.is_empty() {
            return Err(self.error_at(start, expected));
        }
        self.skip_ws();
        Ok(word)
    }
}
