//! The `$filter` syntax tree: what the parser produces and what the validator and the SQL compiler
//! consume.
//!
//! It is purely syntactic: names are kept as written (function names lower-cased, because OData
//! matches them case-insensitively) and nothing here is resolved against an entity's fields. Values
//! are already decoded into typed [`Literal`]s (a string literal holds its text with `''` undone),
//! so later stages bind them as parameters and never splice input text into SQL. Every node carries
//! the byte span it was parsed from, so later stages can say where in the expression a problem is.
//! The canonical text rendering (`Display`) lives in `display.rs`.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta};

use crate::ids::Guid;

/// Byte offsets into the (URL-decoded) expression: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// An expression node and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// What an expression node is. Operators carry `op_offset`, the byte offset of the operator
/// keyword, so that "operator not supported here" errors can point at it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A property path such as `status/errorCode`, or a lambda variable path such as `t/id`.
    Member(MemberPath),
    /// `name(args)`: any identifier call. Which functions exist, and with how many arguments, is
    /// checked later (see [`KNOWN_FUNCTIONS`]).
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `path/any(...)` or `path/all(...)`.
    Lambda(Lambda),
    Compare {
        op: CompareOp,
        op_offset: usize,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs has rhs` (enum flags).
    Has {
        op_offset: usize,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs in (...)` or `lhs in collectionPath`.
    In {
        op_offset: usize,
        lhs: Box<Expr>,
        rhs: InRhs,
    },
    Arith {
        op: ArithOp,
        op_offset: usize,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Unary minus applied to something that is not a numeric literal (`-Price`).
    Negate(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A name as written, with the byte offset of its first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub offset: usize,
}

/// A member path. When `lambda_var` is set the path starts at that lambda variable and `segments`
/// may be empty (`t eq 'x'`); otherwise it starts at the resource being filtered and `segments` has
/// at least one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPath {
    pub lambda_var: Option<Ident>,
    pub segments: Vec<Ident>,
}

impl MemberPath {
    /// The segment names after the lambda variable, if any.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.name.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    Any,
    All,
}

/// `collection/any(var: body)`, `collection/all(var: body)` or the bare `collection/any()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    pub collection: MemberPath,
    pub kind: LambdaKind,
    /// `None` only for `any()`; the parser refuses `all()`.
    pub predicate: Option<LambdaPredicate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LambdaPredicate {
    pub var: Ident,
    pub body: Box<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    DivBy,
    Mod,
}

/// The right side of `in`.
#[derive(Debug, Clone, PartialEq)]
pub enum InRhs {
    /// `('a', 'b')`, `(42)` or the empty `()`: literals only, as the grammar requires.
    List(Vec<ListItem>),
    /// A collection-valued expression, e.g. `x in (Names)` or `x in Names`.
    Collection(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    pub value: Literal,
    pub span: Span,
}

/// A primitive literal, already decoded and checked (dates are real calendar dates, GUIDs are
/// 8-4-4-4-12 hex).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Boolean(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A number with a fraction but no exponent, or an integer too large for `Int`, kept as its
    /// exact decimal text (no leading `+`).
    Decimal(String),
    /// A number with an exponent, or `INF`, `-INF`, `NaN`.
    Double(f64),
    String(String),
    Guid(Guid),
    Date(NaiveDate),
    DateTimeOffset(DateTime<FixedOffset>),
    TimeOfDay(NaiveTime),
    /// `duration'P1DT2H'`; precision beyond nanoseconds is dropped.
    Duration(TimeDelta),
    /// `microsoft.graph.riskLevel'high'` or, for flags, `Ns.Type'a,b'`.
    Enum(EnumLiteral),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumLiteral {
    /// The qualified type name as written, e.g. `microsoft.graph.riskLevel`.
    pub type_name: String,
    /// Member names (or integer values as text), in the order written; at least one.
    pub members: Vec<String>,
}

/// A canonical OData function and how many arguments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSig {
    /// Lower-case name, as stored in [`ExprKind::Call`].
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
}

const fn sig(name: &'static str, min_args: usize, max_args: usize) -> FunctionSig {
    FunctionSig { name, min_args, max_args }
}

/// The canonical functions of OData 4.01 (URL conventions §5.1.1.5–5.1.1.11, without `cast` and
/// `isof`, which the parser refuses). The service supports a subset; its registry decides which.
pub const KNOWN_FUNCTIONS: &[FunctionSig] = &[
    // strings and collections
    sig("concat", 2, 2),
    sig("contains", 2, 2),
    sig("endswith", 2, 2),
    sig("indexof", 2, 2),
    sig("length", 1, 1),
    sig("startswith", 2, 2),
    sig("substring", 2, 3),
    sig("hassubset", 2, 2),
    sig("hassubsequence", 2, 2),
    sig("matchespattern", 2, 2),
    sig("tolower", 1, 1),
    sig("toupper", 1, 1),
    sig("trim", 1, 1),
    // dates and times
    sig("year", 1, 1),
    sig("month", 1, 1),
    sig("day", 1, 1),
    sig("hour", 1, 1),
    sig("minute", 1, 1),
    sig("second", 1, 1),
    sig("fractionalseconds", 1, 1),
    sig("date", 1, 1),
    sig("time", 1, 1),
    sig("totaloffsetminutes", 1, 1),
    sig("totalseconds", 1, 1),
    sig("now", 0, 0),
    sig("mindatetime", 0, 0),
    sig("maxdatetime", 0, 0),
    // arithmetic
    sig("round", 1, 1),
    sig("floor", 1, 1),
    sig("ceiling", 1, 1),
    // geo
    sig("geo.distance", 2, 2),
    sig("geo.intersects", 2, 2),
    sig("geo.length", 1, 1),
];

/// Looks up a canonical function by name, case-insensitively.
#[must_use]
pub fn known_function(name: &str) -> Option<&'static FunctionSig> {
    KNOWN_FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

impl CompareOp {
    /// The operator with its operands swapped (`5 lt x` is `x gt 5`).
    #[must_use]
    pub fn flipped(self) -> Self {
        match self {
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            other => other,
        }
    }

    /// The SQL operator.
    #[must_use]
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }

    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

impl ArithOp {
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Sub => "sub",
            Self::Mul => "mul",
            Self::Div => "div",
            Self::DivBy => "divby",
            Self::Mod => "mod",
        }
    }
}

impl LambdaKind {
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::All => "all",
        }
    }
}
