//! A small SOQL builder, so that no user text is ever formatted into a query by hand.
//!
//! Names (objects, fields, relationships) cannot be escaped in SOQL, so they are checked
//! against a strict whitelist; values are rendered as literals with SOQL's escape sequences
//! (`LIKE` patterns also escape `%` and `_`). The only way to get a [`Soql`] statement is
//! through [`Select::build`] (or [`Soql::from_static`] for constant text written in code),
//! and the transports accept nothing else.
//!
//! Long `IN (...)` lists are split by [`Select::build_chunked`] so that every statement fits
//! the request it travels in and SOQL's 100,000-character limit, with chunks as large as
//! those limits allow. A query sent as a request of its own shares 16,384 bytes between its
//! URI and its headers ([`ChunkLimits::direct`]); one sent as a Composite subrequest has the
//! whole 16,384 bytes for its URL ([`ChunkLimits::subrequest`]). After URL encoding the URI
//! binds long before the SOQL length does.

use std::fmt::Write as _;

use crate::error::Error;
use crate::id::SfId;

/// The longest request URI (`/services/data/vNN.N/query?q=...`) Salesforce accepts (414
/// past it).
pub const MAX_URI_BYTES: usize = 16_384;
/// The most bytes the URI and the headers of one request may take together. Salesforce
/// Help, knowledge article 000386264 ("Maximum number of rows returned by SOQL queries over
/// the REST API"): "In each REST call, the maximum length for the combined URI and headers
/// is 16,384 bytes. A request exceeding this limit returns a 431 Request Header Fields Too
/// Large error."
pub const MAX_REQUEST_HEAD_BYTES: usize = 16_384;
/// The longest SOQL statement Salesforce accepts, in characters.
pub const MAX_SOQL_CHARS: usize = 100_000;
/// The longest string literal allowed in a WHERE clause.
pub const MAX_LITERAL_CHARS: usize = 4_000;
/// A version as long as any real one (`62.0`), for sizing a request before the org's own
/// version is known: only its length counts.
pub const SIZING_API_VERSION: &str = "99.0";
/// `sf data query` repeats the query with this suffix to fetch column metadata, so the
/// longest URI it sends is this much longer than the query's own.
const COLUMNS_SUFFIX: &str = "&columns=true";

/// A SOQL statement that was built safely. The transports only take this type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Soql(String);

impl Soql {
    /// Constant SOQL written in the code itself. It takes `&'static str` so that runtime
    /// text (which could come from a user) cannot be passed.
    pub fn from_static(text: &'static str) -> Soql {
        Soql(text.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length as Salesforce counts it (UTF-16 code units, which is never less than chars).
    pub fn soql_len(&self) -> usize {
        self.0.encode_utf16().count()
    }

    /// Length of `/services/data/<version>/query?q=<encoded>` plus sf's `&columns=true`.
    pub fn uri_len(&self, api_version: &str) -> usize {
        query_path_prefix(api_version).len() + encoded_len(&self.0) + COLUMNS_SUFFIX.len()
    }
}

impl std::fmt::Display for Soql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `/services/data/v62.0/query?q=`, the start of every query URI.
pub fn query_path_prefix(api_version: &str) -> String {
    format!("/services/data/v{api_version}/query?q=")
}

/// Escapes text for use inside a SOQL string literal (`'...'`). The backslash goes first,
/// so the escapes added afterwards are not doubled.
pub fn escape_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{08}' => out.push_str("\\b"),
            other => out.push(other),
        }
    }
    out
}

/// Escapes text for use inside a `LIKE` pattern: a literal escape, plus `%` and `_`, so
/// the user's text matches only itself.
pub fn escape_like(text: &str) -> String {
    escape_literal(text).replace('%', "\\%").replace('_', "\\_")
}

/// `encodeURIComponent` as sf (jsforce) applies it to `q`, except that `'` is also encoded
/// (observed as `%27`). The REST transport sends exactly this, and chunking counts it.
pub fn encode_uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The length [`encode_uri_component`] would produce, without building it.
pub fn encoded_len(text: &str) -> usize {
    text.bytes()
        .map(|b| if is_unreserved(b) { 1 } else { 3 })
        .sum()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'(' | b')')
}

/// Checks an object, field or relationship name (`Name`, `Owner.Name`, `ns__Health__c`,
/// `Account__r.Name`): letters, digits and underscores, starting with a letter, with dots
/// between at most 6 segments. Such a name cannot carry anything but a name into SOQL.
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 400
        && name.split('.').count() <= 6
        && name.split('.').all(|seg| {
            let bytes = seg.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 80
                && bytes[0].is_ascii_alphabetic()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "`{name}` is not a valid Salesforce field or object name"
        )))
    }
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Id(SfId),
    Bool(bool),
    Int(i64),
    /// A date, `YYYY-MM-DD`; checked when the statement is built.
    Date(String),
    Null,
}

impl Lit {
    fn render(&self, out: &mut String) -> Result<(), Error> {
        match self {
            Lit::Str(s) => {
                let chars = s.chars().count();
                if chars > MAX_LITERAL_CHARS {
                    return Err(Error::Invalid(format!(
                        "a SOQL string value can have at most {MAX_LITERAL_CHARS} characters; this one has {chars}"
                    )));
                }
                out.push('\'');
                out.push_str(&escape_literal(s));
                out.push('\'');
            }
            Lit::Id(id) => {
                out.push('\'');
                out.push_str(id.as_str());
                out.push('\'');
            }
            Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Lit::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Lit::Date(d) => {
                if !is_date(d) {
                    return Err(Error::Invalid(format!("`{d}` is not a date (YYYY-MM-DD)")));
                }
                out.push_str(d);
            }
            Lit::Null => out.push_str("null"),
        }
        Ok(())
    }

    fn rendered(&self) -> Result<String, Error> {
        let mut s = String::new();
        self.render(&mut s)?;
        Ok(s)
    }
}

fn is_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl From<&str> for Lit {
    fn from(s: &str) -> Self {
        Lit::Str(s.to_string())
    }
}
impl From<String> for Lit {
    fn from(s: String) -> Self {
        Lit::Str(s)
    }
}
impl From<SfId> for Lit {
    fn from(id: SfId) -> Self {
        Lit::Id(id)
    }
}
impl From<&SfId> for Lit {
    fn from(id: &SfId) -> Self {
        Lit::Id(id.clone())
    }
}
impl From<bool> for Lit {
    fn from(b: bool) -> Self {
        Lit::Bool(b)
    }
}
impl From<i64> for Lit {
    fn from(n: i64) -> Self {
        Lit::Int(n)
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp {
        field: String,
        op: Op,
        value: Lit,
    },
    /// `field LIKE '<prefix><escaped text><suffix>'`, the wildcards being ours only.
    Like {
        field: String,
        text: String,
        leading_wildcard: bool,
        trailing_wildcard: bool,
    },
    In {
        field: String,
        values: Vec<Lit>,
        negated: bool,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub fn eq(field: &str, value: impl Into<Lit>) -> Cond {
        Cond::cmp(field, Op::Eq, value)
    }
    pub fn ne(field: &str, value: impl Into<Lit>) -> Cond {
        Cond::cmp(field, Op::Ne, value)
    }
    pub fn cmp(field: &str, op: Op, value: impl Into<Lit>) -> Cond {
        Cond::Cmp {
            field: field.to_string(),
            op,
            value: value.into(),
        }
    }
    /// `field LIKE '%text%'`: the text matches literally, wildcards and all.
    pub fn contains(field: &str, text: &str) -> Cond {
        Cond::like(field, text, true, true)
    }
    /// `field LIKE 'text%'`.
    pub fn starts_with(field: &str, text: &str) -> Cond {
        Cond::like(field, text, false, true)
    }
    fn like(field: &str, text: &str, leading: bool, trailing: bool) -> Cond {
        Cond::Like {
            field: field.to_string(),
            text: text.to_string(),
            leading_wildcard: leading,
            trailing_wildcard: trailing,
        }
    }
    pub fn is_in<L: Into<Lit>>(field: &str, values: impl IntoIterator<Item = L>) -> Cond {
        Cond::In {
            field: field.to_string(),
            values: values.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }
    pub fn and(conds: impl IntoIterator<Item = Cond>) -> Cond {
        Cond::And(conds.into_iter().collect())
    }
    pub fn or(conds: impl IntoIterator<Item = Cond>) -> Cond {
        Cond::Or(conds.into_iter().collect())
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(cond: Cond) -> Cond {
        Cond::Not(Box::new(cond))
    }

    fn render(&self, out: &mut String) -> Result<(), Error> {
        match self {
            Cond::Cmp { field, op, value } => {
                check_name(field)?;
                out.push_str(field);
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                value.render(out)?;
            }
            Cond::Like {
                field,
                text,
                leading_wildcard,
                trailing_wildcard,
            } => {
                check_name(field)?;
                if text.chars().count() > MAX_LITERAL_CHARS {
                    return Err(Error::Invalid(format!(
                        "search text can have at most {MAX_LITERAL_CHARS} characters"
                    )));
                }
                out.push_str(field);
                out.push_str(" LIKE '");
                if *leading_wildcard {
                    out.push('%');
                }
                out.push_str(&escape_like(text));
                if *trailing_wildcard {
                    out.push('%');
                }
                out.push('\'');
            }
            Cond::In {
                field,
                values,
                negated,
            } => {
                check_name(field)?;
                if values.is_empty() {
                    return Err(Error::Invalid(format!(
                        "an IN list for `{field}` needs at least one value"
                    )));
                }
                out.push_str(field);
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(out)?;
                }
                out.push(')');
            }
            Cond::And(conds) | Cond::Or(conds) => {
                if conds.is_empty() {
                    return Err(Error::Invalid("an empty AND/OR condition".into()));
                }
                let joiner = if matches!(self, Cond::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, c) in conds.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    let group = matches!(c, Cond::And(_) | Cond::Or(_));
                    if group {
                        out.push('(');
                    }
                    c.render(out)?;
                    if group {
                        out.push(')');
                    }
                }
            }
            Cond::Not(c) => {
                // NOT binds tighter than AND/OR in SOQL, so `NOT a AND b` means
                // `(NOT a) AND b`: a group under NOT needs its own parentheses.
                let group = matches!(**c, Cond::And(_) | Cond::Or(_));
                out.push_str(if group { "(NOT (" } else { "(NOT " });
                c.render(out)?;
                out.push_str(if group { "))" } else { ")" });
            }
        }
        Ok(())
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// `SELECT ... FROM ... [WHERE ...] [ORDER BY ...] [LIMIT n]`, with optional parent-child
/// subqueries (a subquery's `from` is the child relationship name, e.g. `Opportunities`).
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    from: String,
    fields: Vec<String>,
    subqueries: Vec<Select>,
    filter: Option<Cond>,
    order_by: Vec<(String, Order)>,
    limit: Option<u32>,
}

impl Select {
    pub fn from(object: &str) -> Select {
        Select {
            from: object.to_string(),
            fields: Vec::new(),
            subqueries: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    pub fn field(mut self, name: &str) -> Select {
        self.fields.push(name.to_string());
        self
    }

    pub fn fields<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Select {
        self.fields
            .extend(names.into_iter().map(|n| n.as_ref().to_string()));
        self
    }

    /// A parent-child subquery; `child.from` is the relationship name.
    pub fn subquery(mut self, child: Select) -> Select {
        self.subqueries.push(child);
        self
    }

    /// Adds a condition, ANDed with any already there.
    pub fn filter(mut self, cond: Cond) -> Select {
        self.filter = Some(match self.filter.take() {
            None => cond,
            Some(Cond::And(mut all)) => {
                all.push(cond);
                Cond::And(all)
            }
            Some(existing) => Cond::And(vec![existing, cond]),
        });
        self
    }

    pub fn order_by(mut self, field: &str, order: Order) -> Select {
        self.order_by.push((field.to_string(), order));
        self
    }

    pub fn limit(mut self, n: u32) -> Select {
        self.limit = Some(n);
        self
    }

    /// Renders the statement, checking every name and value. Fails with
    /// [`Error::Invalid`] on a bad name, value, or a statement over the length limit.
    pub fn build(&self) -> Result<Soql, Error> {
        let mut out = String::new();
        self.render(&mut out, None)?;
        let soql = Soql(out);
        if soql.soql_len() > MAX_SOQL_CHARS {
            return Err(Error::Invalid(format!(
                "the query is {} characters long; SOQL allows {MAX_SOQL_CHARS}",
                soql.soql_len()
            )));
        }
        Ok(soql)
    }

    /// Builds one statement per chunk of `values`, each adding `field IN (<chunk>)` to this
    /// select's filter, with chunks as large as `limits` allow for `api_version` (the URI
    /// of a query includes `/services/data/v<api_version>/query?q=`). Values are kept in
    /// order, and no value is repeated or dropped.
    pub fn build_chunked(
        &self,
        field: &str,
        values: &[Lit],
        api_version: &str,
        limits: ChunkLimits,
    ) -> Result<Vec<Soql>, Error> {
        Ok(self
            .build_chunk_groups(field, values, api_version, limits)?
            .into_iter()
            .map(|(soql, _)| soql)
            .collect())
    }

    /// [`Select::build_chunked`], each statement with the range of `values` it holds, so a
    /// chunk can be split again when a request is refused for its size anyway.
    pub fn build_chunk_groups(
        &self,
        field: &str,
        values: &[Lit],
        api_version: &str,
        limits: ChunkLimits,
    ) -> Result<Vec<(Soql, std::ops::Range<usize>)>, Error> {
        check_name(field)?;
        if values.is_empty() {
            return Ok(Vec::new());
        }
        // The IN list is one contiguous run of text and the encoding works byte by byte, so
        // a statement's length is the length with an empty list plus each item's length.
        let empty_list = self.render_with_in(field, &[])?;
        let uri_fixed = query_path_prefix(api_version).len() + COLUMNS_SUFFIX.len();
        let base_uri = uri_fixed + encoded_len(&empty_list);
        let base_chars = empty_list.encode_utf16().count();
        let comma_uri = encoded_len(",");

        let rendered: Vec<String> = values.iter().map(Lit::rendered).collect::<Result<_, _>>()?;
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        let (mut uri, mut chars) = (base_uri, base_chars);
        for (i, item) in rendered.iter().enumerate() {
            let sep = usize::from(i > start);
            let add_uri = encoded_len(item) + sep * comma_uri;
            let add_chars = item.encode_utf16().count() + sep;
            if i > start
                && (uri + add_uri > limits.max_uri_bytes
                    || chars + add_chars > limits.max_soql_chars)
            {
                ranges.push(start..i);
                start = i;
                uri = base_uri + encoded_len(item);
                chars = base_chars + item.encode_utf16().count();
            } else {
                uri += add_uri;
                chars += add_chars;
            }
            if uri > limits.max_uri_bytes || chars > limits.max_soql_chars {
                return Err(Error::Invalid(format!(
                    "a query for one value of `{field}` is already over the request size limit ({uri} URI bytes, {chars} characters)"
                )));
            }
        }
        ranges.push(start..rendered.len());

        ranges
            .into_iter()
            .map(|range| {
                let chunk: Vec<&str> = rendered[range.clone()].iter().map(String::as_str).collect();
                let soql = Soql(self.render_with_in(field, &chunk)?);
                debug_assert!(soql.uri_len(api_version) <= limits.max_uri_bytes);
                debug_assert!(soql.soql_len() <= limits.max_soql_chars);
                Ok((soql, range))
            })
            .collect()
    }

    fn render_with_in(&self, field: &str, rendered_values: &[&str]) -> Result<String, Error> {
        let mut list = String::new();
        list.push_str(field);
        list.push_str(" IN (");
        list.push_str(&rendered_values.join(","));
        list.push(')');
        let mut out = String::new();
        self.render(&mut out, Some(&list))?;
        Ok(out)
    }

    /// `extra` is an already rendered condition ANDed in front of the filter.
    fn render(&self, out: &mut String, extra: Option<&str>) -> Result<(), Error> {
        check_name(&self.from)?;
        if self.fields.is_empty() && self.subqueries.is_empty() {
            return Err(Error::Invalid(format!(
                "a query on `{}` needs at least one field",
                self.from
            )));
        }
        out.push_str("SELECT ");
        let mut first = true;
        for f in &self.fields {
            check_name(f)?;
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(f);
        }
        for sub in &self.subqueries {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push('(');
            sub.render(out, None)?;
            out.push(')');
        }
        out.push_str(" FROM ");
        out.push_str(&self.from);
        match (extra, &self.filter) {
            (None, None) => {}
            (Some(extra), None) => {
                out.push_str(" WHERE ");
                out.push_str(extra);
            }
            (None, Some(cond)) => {
                out.push_str(" WHERE ");
                cond.render(out)?;
            }
            (Some(extra), Some(cond)) => {
                out.push_str(" WHERE ");
                out.push_str(extra);
                out.push_str(" AND (");
                cond.render(out)?;
                out.push(')');
            }
        }
        for (i, (field, order)) in self.order_by.iter().enumerate() {
            check_name(field)?;
            out.push_str(if i == 0 { " ORDER BY " } else { ", " });
            out.push_str(field);
            if *order == Order::Desc {
                out.push_str(" DESC");
            }
        }
        if let Some(n) = self.limit {
            let _ = write!(out, " LIMIT {n}");
        }
        Ok(())
    }
}

/// The two size limits a statement must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    pub max_uri_bytes: usize,
    pub max_soql_chars: usize,
}

impl ChunkLimits {
    /// For a query sent as a request of its own, whose headers may take up to
    /// `header_bytes` on the wire: the URI gets what the headers leave of
    /// [`MAX_REQUEST_HEAD_BYTES`], and never more than [`MAX_URI_BYTES`].
    pub fn direct(header_bytes: usize) -> ChunkLimits {
        ChunkLimits {
            max_uri_bytes: MAX_REQUEST_HEAD_BYTES
                .saturating_sub(header_bytes)
                .min(MAX_URI_BYTES),
            max_soql_chars: MAX_SOQL_CHARS,
        }
    }

    /// For a query sent as a subrequest of the Composite resource: its URL travels in the
    /// request body, and its headers are the outer request's (a few hundred bytes for a
    /// body of any size), so the URL has the whole [`MAX_URI_BYTES`]. The same knowledge
    /// article recommends exactly this to avoid a 431: "incorporate the SOQL statement into
    /// the body of a Composite API request".
    pub fn subrequest() -> ChunkLimits {
        ChunkLimits {
            max_uri_bytes: MAX_URI_BYTES,
            max_soql_chars: MAX_SOQL_CHARS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reverses SOQL literal escaping the way Salesforce reads a literal, to prove that an
    /// escaped string is read back as exactly one literal holding the original text.
    fn unescape_literal(body: &str, like: bool) -> Option<String> {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'f' => out.push('\u{0c}'),
                    'b' => out.push('\u{08}'),
                    '%' if like => out.push('%'),
                    '_' if like => out.push('_'),
                    _ => return None,
                },
                // An unescaped quote would end the literal early.
                '\'' => return None,
                '%' | '_' if like => return None,
                other => out.push(other),
            }
        }
        Some(out)
    }

    #[test]
    fn escapes_every_sequence() {
        assert_eq!(escape_literal(r"O'Brien"), r"O\'Brien");
        assert_eq!(escape_literal(r"back\slash"), r"back\\slash");
        assert_eq!(escape_literal(r"\'"), r"\\\'");
        assert_eq!(
            escape_literal("a\"b\nc\rd\te\u{0c}f\u{08}"),
            r#"a\"b\nc\rd\te\ff\b"#
        );
        assert_eq!(escape_like("100%_done\\"), r"100\%\_done\\");
    }

    #[test]
    fn builds_a_sync_query() {
        let ids = [
            SfId::parse("001000000000001").unwrap(),
            SfId::parse("001000000000002").unwrap(),
        ];
        let q = Select::from("Account")
            .fields(["Id", "Name", "Owner.Name"])
            .subquery(
                Select::from("Opportunities")
                    .fields(["Id", "StageName"])
                    .filter(Cond::or([
                        Cond::eq("IsClosed", false),
                        Cond::eq("IsWon", true),
                    ])),
            )
            .filter(Cond::is_in("Id", ids.iter()))
            .order_by("Name", Order::Asc)
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            "SELECT Id, Name, Owner.Name, (SELECT Id, StageName FROM Opportunities WHERE IsClosed = false OR IsWon = true) \
             FROM Account WHERE Id IN ('001000000000001AAA','001000000000002AAA') ORDER BY Name"
        );
    }

    #[test]
    fn not_keeps_its_group_together() {
        let render = |c: Cond| {
            Select::from("Account")
                .fields(["Id"])
                .filter(c)
                .build()
                .unwrap()
        };
        // Without the inner parentheses SOQL would read `(NOT a) AND b`.
        let q = render(Cond::not(Cond::and([
            Cond::eq("IsClosed", false),
            Cond::eq("IsWon", true),
        ])));
        assert_eq!(
            q.as_str(),
            "SELECT Id FROM Account WHERE (NOT (IsClosed = false AND IsWon = true))"
        );
        let q = render(Cond::and([
            Cond::not(Cond::or([Cond::eq("Name", "a"), Cond::eq("Name", "b")])),
            Cond::eq("IsWon", true),
        ]));
        assert_eq!(
            q.as_str(),
            "SELECT Id FROM Account WHERE (NOT (Name = 'a' OR Name = 'b')) AND IsWon = true"
        );
        // A single condition needs no extra group.
        let q = render(Cond::not(Cond::eq("IsWon", true)));
        assert_eq!(
            q.as_str(),
            "SELECT Id FROM Account WHERE (NOT IsWon = true)"
        );
    }

    #[test]
    fn search_text_is_one_literal() {
        let q = Select::from("Account")
            .fields(["Id", "Name"])
            .filter(Cond::contains("Name", "50%_off' OR Name != '"))
            .limit(20)
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            r"SELECT Id, Name FROM Account WHERE Name LIKE '%50\%\_off\' OR Name != \'%' LIMIT 20"
        );
    }

    #[test]
    fn names_are_whitelisted() {
        for bad in [
            "Name FROM Account--",
            "Name, (SELECT Id FROM Contacts)",
            "Na'me",
            "",
            "1Name",
            "Name.",
            "a b",
        ] {
            assert!(Select::from("Account").field(bad).build().is_err(), "{bad}");
            assert!(Select::from(bad).field("Id").build().is_err(), "{bad}");
            assert!(Select::from("Account")
                .field("Id")
                .filter(Cond::eq(bad, "x"))
                .build()
                .is_err());
        }
        for good in [
            "Name",
            "Owner.Name",
            "ns__Health__c",
            "Account__r.Owner.Name",
        ] {
            assert!(
                Select::from("Account").field(good).build().is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Select::from("Account")
            .field("Id")
            .filter(Cond::eq("CloseDate", Lit::Date("2024-01-01' OR".into())))
            .build()
            .is_err());
        assert!(Select::from("Account")
            .field("Id")
            .filter(Cond::eq("Name", "x".repeat(MAX_LITERAL_CHARS + 1)))
            .build()
            .is_err());
        assert!(Select::from("Account")
            .field("Id")
            .filter(Cond::is_in("Id", Vec::<Lit>::new()))
            .build()
            .is_err());
    }

    #[test]
    fn encodes_like_sf() {
        assert_eq!(
            encode_uri_component("SELECT Id, (SELECT Name FROM X) WHERE a='b' {c}"),
            "SELECT%20Id%2C%20(SELECT%20Name%20FROM%20X)%20WHERE%20a%3D%27b%27%20%7Bc%7D"
        );
        assert_eq!(encode_uri_component("é+"), "%C3%A9%2B");
        assert_eq!(encoded_len("é+ x"), encode_uri_component("é+ x").len());
    }

    fn ids(n: usize) -> Vec<Lit> {
        (1..=n)
            .map(|i| Lit::Id(SfId::parse(&format!("001{i:012}")).unwrap()))
            .collect()
    }

    #[test]
    fn chunks_are_as_large_as_the_uri_allows() {
        let select = Select::from("Account")
            .fields(["Id", "Name", "Industry"])
            .subquery(Select::from("Opportunities").fields(["Id", "Name"]));
        let values = ids(2000);
        let chunks = select
            .build_chunked("Id", &values, "62.0", ChunkLimits::subrequest())
            .unwrap();
        assert!(chunks.len() >= 3, "{}", chunks.len());
        let mut seen = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            let len = chunk.uri_len("62.0");
            assert!(len <= MAX_URI_BYTES, "{len}");
            let n = chunk.as_str().matches("'001").count();
            seen += n;
            if i + 1 < chunks.len() {
                // One more Id ('…' plus a comma, encoded) would not have fitted.
                assert!(len + 27 > MAX_URI_BYTES, "chunk {i} is {len} bytes");
            }
        }
        assert_eq!(seen, 2000);
    }

    #[test]
    fn chunks_respect_the_soql_length_when_it_binds() {
        let select = Select::from("Account").field("Id");
        let limits = ChunkLimits {
            max_uri_bytes: usize::MAX,
            max_soql_chars: 500,
        };
        let values = ids(100);
        let chunks = select.build_chunked("Id", &values, "62.0", limits).unwrap();
        for chunk in &chunks {
            assert!(chunk.soql_len() <= 500);
        }
        let total: usize = chunks
            .iter()
            .map(|c| c.as_str().matches("'001").count())
            .sum();
        assert_eq!(total, 100);
        assert!(chunks[0].soql_len() + 21 > 500);
    }

    #[test]
    fn a_single_value_too_big_is_refused() {
        let select = Select::from("Account").field("Id");
        let limits = ChunkLimits {
            max_uri_bytes: 100,
            max_soql_chars: 100_000,
        };
        let values = vec![Lit::Str("x".repeat(200))];
        assert!(select
            .build_chunked("Name", &values, "62.0", limits)
            .is_err());
    }

    proptest! {
        #[test]
        fn escaped_text_reads_back_as_one_literal(text in any::<String>()) {
            let escaped = escape_literal(&text);
            prop_assert_eq!(unescape_literal(&escaped, false), Some(text.clone()));
            let like = escape_like(&text);
            prop_assert_eq!(unescape_literal(&like, true), Some(text));
        }

        #[test]
        fn hostile_text_never_leaves_its_literal(text in "[a-zA-Z0-9 '\"\\\\%_\n\r\t()=,]{0,60}") {
            let q = Select::from("Account")
                .field("Id")
                .filter(Cond::eq("Name", text.as_str()))
                .build()
                .unwrap();
            let body = q.as_str()
                .strip_prefix("SELECT Id FROM Account WHERE Name = '")
                .and_then(|s| s.strip_suffix('\''))
                .expect("one literal at the end");
            prop_assert_eq!(unescape_literal(body, false), Some(text));
        }

        #[test]
        fn chunking_keeps_every_value_once(n in 1usize..400, max_uri in 200usize..3000) {
            let select = Select::from("Account").field("Id").filter(Cond::eq("Name", "a'b"));
            let values = ids(n);
            let limits = ChunkLimits { max_uri_bytes: max_uri, max_soql_chars: 100_000 };
            let chunks = select.build_chunked("Id", &values, "62.0", limits).unwrap();
            let mut all = Vec::new();
            for c in &chunks {
                prop_assert!(c.uri_len("62.0") <= max_uri);
                for part in c.as_str().split('\'') {
                    if part.starts_with("001") && part.len() == 18 {
                        all.push(part.to_string());
                    }
                }
            }
            let want: Vec<String> = values.iter().map(|v| match v { Lit::Id(id) => id.to_string(), _ => unreachable!() }).collect();
            prop_assert_eq!(all, want);
            // The groups' ranges cover the values in order, each once, and name exactly the
            // values their statement holds.
            let groups = select.build_chunk_groups("Id", &values, "62.0", limits).unwrap();
            let mut next = 0;
            for (soql, range) in &groups {
                prop_assert_eq!(range.start, next);
                prop_assert!(range.end > range.start);
                next = range.end;
                prop_assert_eq!(soql.as_str().matches("'001").count(), range.len());
            }
            prop_assert_eq!(next, n);
        }

        #[test]
        fn a_direct_query_leaves_room_for_its_headers(header_bytes in 0usize..20_000) {
            let select = Select::from("Account").fields(["Id", "Name"]);
            let values = ids(1200);
            let limits = ChunkLimits::direct(header_bytes);
            match select.build_chunked("Id", &values, "62.0", limits) {
                Ok(chunks) => {
                    for c in &chunks {
                        prop_assert!(c.uri_len("62.0") + header_bytes <= MAX_REQUEST_HEAD_BYTES);
                        prop_assert!(c.uri_len("62.0") <= MAX_URI_BYTES);
                    }
                }
                // Headers that leave no room for one Id: refused, never sent over the limit.
                Err(Error::Invalid(_)) => prop_assert!(header_bytes > 16_000),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
