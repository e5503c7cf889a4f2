//! The parsed form of a SOQL statement. Names are kept as written (resolution against the
//! schema, which is case-insensitive, happens in the evaluator), and every name and literal
//! keeps its [`Pos`] so that later errors can point at it the way Salesforce does.

use std::fmt;

/// A place in the query text. `offset` is a byte offset; `row` and `column` are 1-based and
/// count characters, as Salesforce's `ERROR at Row:R:Column:C` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub row: usize,
    pub column: usize,
}

/// A name as written in the query (an sObject or a child relationship in `FROM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub name: String,
    pub pos: Pos,
}

/// A whole query, or a parent-child subquery (then `from` is the child relationship name,
/// e.g. `Opportunities`, and `source` is still the whole statement's text).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The select list, in order.
    pub select: Vec<SelectItem>,
    /// The sObject (top level) or child relationship (subquery) after `FROM`, as written.
    pub from: Name,
    pub where_clause: Option<Condition>,
    /// GROUP BY fields, in order; empty when there is no GROUP BY.
    pub group_by: Vec<FieldPath>,
    /// ORDER BY items, most significant first; empty when there is no ORDER BY.
    pub order_by: Vec<OrderItem>,
    pub limit: Option<usize>,
    /// The full statement text, used to render error positions.
    pub source: String,
}

/// One entry in a select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// A field, or a parent path such as `Owner.Name`.
    Field(FieldPath),
    /// A parent-child subquery such as `(SELECT Id FROM Opportunities)`.
    Subquery(Box<Query>),
    /// `COUNT()`: the query answers only how many rows match (`pos` is the `COUNT`).
    CountAll(Pos),
    /// `COUNT(field)` with its alias, if any: one `AggregateResult` value.
    Count {
        field: FieldPath,
        alias: Option<Name>,
        pos: Pos,
    },
}

/// A field name, optionally behind parent relationships: `Name`, `Owner.Name`,
/// `Account.Owner.Email` (`parts` = `["Account", "Owner", "Email"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    pub parts: Vec<String>,
    pub pos: Pos,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

/// A WHERE condition tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// `field op literal`.
    Compare {
        field: FieldPath,
        op: CompareOp,
        value: Literal,
    },
    /// `field IN (...)`, or `field NOT IN (...)` when `negated`.
    In {
        field: FieldPath,
        values: Vec<Literal>,
        negated: bool,
    },
    /// `field LIKE 'pattern'`.
    Like {
        field: FieldPath,
        pattern: LikePattern,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    /// `!=` or `<>`.
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A literal with its position (for type errors such as a quoted date).
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub value: LiteralValue,
    pub pos: Pos,
}

/// A decoded literal value. Strings are already unescaped.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteralValue {
    String(String),
    Number(f64),
    Boolean(bool),
    Null,
    /// `2024-01-15`; `days` counts days since 1970-01-01.
    Date {
        text: String,
        days: i64,
    },
    /// `2024-01-15T10:00:00Z` (any offset); `millis` is the UTC instant.
    DateTime {
        text: String,
        millis: i64,
    },
}

/// A decoded LIKE pattern: literal characters and the two wildcards. Escaped `\%` and `\_`
/// are literal characters here, so matching never has to look at escapes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    pub tokens: Vec<LikeToken>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeToken {
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters, including none.
    Any,
}

/// One ORDER BY item. `nulls_first` is already resolved to Salesforce's default when the
/// query does not say (NULLS FIRST for ascending, NULLS LAST for descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub field: FieldPath,
    pub descending: bool,
    pub nulls_first: bool,
}
