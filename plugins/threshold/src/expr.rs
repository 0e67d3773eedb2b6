//! The parsed alarm expression: sub-expressions joined by `and`/`or`.

use std::fmt;

/// The statistic a sub-expression computes over each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The sum of the values.
    Sum,
    /// How many values there are.
    Count,
    /// Their arithmetic mean.
    Avg,
    /// The newest value.
    Last,
}

impl Func {
    /// The function named `word` (any case).
    pub fn parse(word: &str) -> Option<Func> {
        match word.to_ascii_lowercase().as_str() {
            "min" => Some(Func::Min),
            "max" => Some(Func::Max),
            "sum" => Some(Func::Sum),
            "count" => Some(Func::Count),
            "avg" => Some(Func::Avg),
            "last" => Some(Func::Last),
            _ => None,
        }
    }

    /// Its name, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Func::Min => "min",
            Func::Max => "max",
            Func::Sum => "sum",
            Func::Count => "count",
            Func::Avg => "avg",
            Func::Last => "last",
        }
    }
}

/// A relational operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`, `lt`.
    Lt,
    /// `<=`, `lte`.
    Lte,
    /// `>`, `gt`.
    Gt,
    /// `>=`, `gte`.
    Gte,
}

impl Op {
    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Lte => value <= threshold,
            Op::Gt => value > threshold,
            Op::Gte => value >= threshold,
        }
    }

    /// Its symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Gt => ">",
            Op::Gte => ">=",
        }
    }

    /// monasca's function when none is written: `max` for `>`/`>=`, `min` for `<`/`<=`.
    pub fn default_func(self) -> Func {
        match self {
            Op::Gt | Op::Gte => Func::Max,
            Op::Lt | Op::Lte => Func::Min,
        }
    }
}

/// A metric: a Graphite name or glob, with monasca's dimensions (Graphite tags) if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metric {
    /// The name or glob.
    pub name: String,
    /// `key=value` pairs the series' tags must include, in the order written.
    pub dims: Vec<(String, String)>,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.dims.is_empty() {
            let dims: Vec<String> = self.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "{{{}}}", dims.join(","))?;
        }
        Ok(())
    }
}

/// One comparison: `func(metric[, deterministic][, period]) op threshold [times periods]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubExpr {
    /// The function (monasca's default when none was written).
    pub func: Func,
    /// What it reads.
    pub metric: Metric,
    /// No data means OK instead of UNDETERMINED.
    pub deterministic: bool,
    /// Seconds per period.
    pub period: i64,
    /// How many periods in a row must hold.
    pub periods: i64,
    /// The comparison.
    pub op: Op,
    /// The threshold.
    pub threshold: f64,
}

impl SubExpr {
    /// Seconds of the window judged: `period × periods`.
    pub fn window(&self) -> i64 {
        self.period.saturating_mul(self.periods)
    }

    /// Seconds without any point after which the sub-expression is UNDETERMINED:
    /// `2 × period × periods`.
    pub fn silence(&self) -> i64 {
        self.window().saturating_mul(2)
    }
}

impl fmt::Display for SubExpr {
    /// The canonical form: `avg(servers.*.cpu, 120) > 90 times 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}", self.func.as_str(), self.metric)?;
        if self.deterministic {
            f.write_str(", deterministic")?;
        }
        write!(
            f,
            ", {}) {} {}",
            self.period,
            self.op.as_str(),
            self.threshold
        )?;
        if self.periods != 1 {
            write!(f, " times {}", self.periods)?;
        }
        Ok(())
    }
}

/// The boolean structure over sub-expressions (indices into [`Expression::subs`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A sub-expression.
    Sub(usize),
    /// Both.
    And(Box<Node>, Box<Node>),
    /// Either.
    Or(Box<Node>, Box<Node>),
}

impl Node {
    /// Its value, given each sub-expression's (true: ALARM).
    pub fn eval(&self, subs: &[bool]) -> bool {
        match self {
            Node::Sub(i) => subs.get(*i).copied().unwrap_or(false),
            Node::And(a, b) => a.eval(subs) && b.eval(subs),
            Node::Or(a, b) => a.eval(subs) || b.eval(subs),
        }
    }

    fn fmt_with(&self, subs: &[SubExpr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Sub(i) => match subs.get(*i) {
                Some(s) => write!(f, "{s}"),
                None => f.write_str("?"),
            },
            Node::And(a, b) => {
                paren(a, subs, f, true)?;
                f.write_str(" and ")?;
                paren(b, subs, f, true)
            }
            Node::Or(a, b) => {
                a.fmt_with(subs, f)?;
                f.write_str(" or ")?;
                b.fmt_with(subs, f)
            }
        }
    }
}

/// Writes `node`, in parentheses when it is an `or` under an `and`.
fn paren(
    node: &Node,
    subs: &[SubExpr],
    f: &mut fmt::Formatter<'_>,
    under_and: bool,
) -> fmt::Result {
    if under_and && matches!(node, Node::Or(..)) {
        f.write_str("(")?;
        node.fmt_with(subs, f)?;
        f.write_str(")")
    } else {
        node.fmt_with(subs, f)
    }
}

/// A whole alarm expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    /// The boolean structure.
    pub root: Node,
    /// The sub-expressions, in the order written.
    pub subs: Vec<SubExpr>,
}

impl Expression {
    /// Its value, given each sub-expression's (true: ALARM).
    pub fn eval(&self, subs: &[bool]) -> bool {
        self.root.eval(subs)
    }
}

impl fmt::Display for Expression {
    /// The canonical form (functions and periods written out, `and` binding tighter).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt_with(&self.subs, f)
    }
}
