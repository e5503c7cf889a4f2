//! A recursive-descent parser from tokens to the [`Query`] AST. Every failure is
//! `MALFORMED_QUERY` with Salesforce's position prefix, and, where Salesforce would complain
//! about a token, the message `unexpected token: <text>`, unquoted, as real answers have it
//! ("ERROR at Row:3:Column:61 unexpected token: OR", quoted from a real org in a Salesforce
//! Stack Exchange question, "Unexpected token OR"). A statement that does not start with
//! `SELECT` is answered without the prefix: `unexpected token: SELEKT` for
//! `SELEKT Name FROM Account` (recorded in `forcedotcom/sf-fx-runtime-java`,
//! `sf-fx-runtime-java-sdk-rest-api/src/test/resources/mappings/query-malformed-soql.json`).
//!
//! Aggregates: `COUNT()` and `COUNT(field) [alias]`, and `GROUP BY field, ...`. Other
//! aggregate functions (`SUM(...)`, ...), `GROUP BY ROLLUP/CUBE` and `HAVING` are not
//! implemented and are refused where the grammar stops, as `unexpected token: (` or
//! `unexpected token: HAVING`.

use super::ast::{
    Condition, FieldPath, LikePattern, Literal, LiteralValue, Name, OrderItem, Pos, Query,
    SelectItem,
};
use super::lexer::{decode_string, plain, tokenize, TokKind, Token};
use super::SoqlError;

const MALFORMED: &str = "MALFORMED_QUERY";

/// Salesforce allows at most five relationship hops in a parent path.
const MAX_PATH_HOPS: usize = 5;

/// Salesforce allows subqueries five levels deep (API 58.0+); the limit also keeps arbitrary
/// input from recursing without bound.
const MAX_SUBQUERY_DEPTH: usize = 5;

/// Nested parentheses and NOTs in WHERE. Real queries never come close; the limit only keeps
/// hostile input from overflowing the stack.
const MAX_CONDITION_DEPTH: usize = 100;

/// Words that end a select list or field path and therefore cannot be field names.
const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "ASC",
    "DESC", "NULLS", "NULL", "TRUE", "FALSE", "GROUP", "HAVING", "OFFSET", "USING", "WITH", "FOR",
    "INCLUDES", "EXCLUDES",
];

pub(crate) fn parse(src: &str) -> Result<Query, SoqlError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        src,
        tokens,
        i: 0,
        depth: 0,
    };
    let query = parser.query(0)?;
    parser.expect_eof()?;
    Ok(query)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    i: usize,
    /// Current condition nesting depth.
    depth: usize,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with Eof and the parser never moves past it.
        &self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.i + ahead).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokKind::Eof {
            self.i += 1;
        }
        token
    }

    fn text(&self, token: &Token) -> &'s str {
        &self.src[token.pos.offset..token.end]
    }

    fn is_keyword_at(&self, ahead: usize, keyword: &str) -> bool {
        let token = self.peek_at(ahead);
        token.kind == TokKind::Ident && self.text(token).eq_ignore_ascii_case(keyword)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        self.is_keyword_at(0, keyword)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn error(&self, pos: Pos, message: impl AsRef<str>) -> SoqlError {
        SoqlError::at(MALFORMED, self.src, pos, message)
    }

    /// `unexpected token: <text>` at the current token.
    fn unexpected(&self) -> SoqlError {
        let token = self.peek();
        let text = match token.kind {
            TokKind::Eof => "<EOF>",
            _ => self.text(token),
        };
        self.error(token.pos, format!("unexpected token: {text}"))
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SoqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, kind: &TokKind) -> Result<Token, SoqlError> {
        if &self.peek().kind == kind {
            Ok(self.advance())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_eof(&self) -> Result<(), SoqlError> {
        match self.peek().kind {
            TokKind::Eof => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    /// A name that is not a reserved word.
    fn name(&mut self) -> Result<Name, SoqlError> {
        let token = self.peek().clone();
        let text = self.text(&token);
        if token.kind != TokKind::Ident || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(text)) {
            return Err(self.unexpected());
        }
        self.advance();
        Ok(Name {
            name: text.to_string(),
            pos: token.pos,
        })
    }

    /// `SELECT ... FROM ... [WHERE] [ORDER BY] [LIMIT]`; `depth` 0 is the top level.
    fn query(&mut self, depth: usize) -> Result<Query, SoqlError> {
        if depth == 0 && self.peek().kind != TokKind::Eof && !self.is_keyword("SELECT") {
            // Not a query at all: Salesforce names the first word, with no position.
            let text = self.text(self.peek());
            return Err(SoqlError::new(
                MALFORMED,
                format!("unexpected token: {text}"),
            ));
        }
        self.expect_keyword("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item(depth)?);
            if self.peek().kind == TokKind::Comma {
                self.advance();
            } else {
                break;
            }
        }
        self.expect_keyword("FROM")?;
        let from = self.name()?;
        let where_clause = if self.eat_keyword("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_keyword("GROUP") {
            self.expect_keyword("BY")?;
            loop {
                group_by.push(self.field_path()?);
                if self.peek().kind == TokKind::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                order_by.push(self.order_item()?);
                if self.peek().kind == TokKind::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        let limit = if self.eat_keyword("LIMIT") {
            Some(self.limit()?)
        } else {
            None
        };
        Ok(Query {
            select,
            from,
            where_clause,
            group_by,
            order_by,
            limit,
            source: self.src.to_string(),
        })
    }

    fn select_item(&mut self, depth: usize) -> Result<SelectItem, SoqlError> {
        if self.peek().kind == TokKind::LParen {
            if depth >= MAX_SUBQUERY_DEPTH || !self.is_keyword_at(1, "SELECT") {
                self.advance();
                return Err(self.unexpected());
            }
            self.advance();
            let sub = self.query(depth + 1)?;
            self.expect(&TokKind::RParen)?;
            return Ok(SelectItem::Subquery(Box::new(sub)));
        }
        if self.is_keyword("COUNT") && self.peek_at(1).kind == TokKind::LParen {
            return self.count();
        }
        Ok(SelectItem::Field(self.field_path()?))
    }

    /// `COUNT()` or `COUNT(field) [alias]`
    /// (<https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm>).
    fn count(&mut self) -> Result<SelectItem, SoqlError> {
        let pos = self.advance().pos;
        self.expect(&TokKind::LParen)?;
        if self.peek().kind == TokKind::RParen {
            self.advance();
            return Ok(SelectItem::CountAll(pos));
        }
        let field = self.field_path()?;
        self.expect(&TokKind::RParen)?;
        let alias = match self.peek().kind {
            TokKind::Ident if !self.is_keyword("FROM") => Some(self.name()?),
            _ => None,
        };
        Ok(SelectItem::Count { field, alias, pos })
    }

    fn field_path(&mut self) -> Result<FieldPath, SoqlError> {
        let first = self.name()?;
        let pos = first.pos;
        let mut parts = vec![first.name];
        while self.peek().kind == TokKind::Dot {
            self.advance();
            // After a dot any identifier is a name (`Owner.Limit__c` style names are fine).
            let token = self.peek().clone();
            if token.kind != TokKind::Ident {
                return Err(self.unexpected());
            }
            if parts.len() > MAX_PATH_HOPS {
                return Err(self.error(
                    pos,
                    format!("a field path can have at most {MAX_PATH_HOPS} relationship levels"),
                ));
            }
            parts.push(self.text(&token).to_string());
            self.advance();
        }
        Ok(FieldPath { parts, pos })
    }

    fn order_item(&mut self) -> Result<OrderItem, SoqlError> {
        let field = self.field_path()?;
        let descending = if self.eat_keyword("DESC") {
            true
        } else {
            self.eat_keyword("ASC");
            false
        };
        let nulls_first = if self.eat_keyword("NULLS") {
            if self.eat_keyword("FIRST") {
                true
            } else if self.eat_keyword("LAST") {
                false
            } else {
                return Err(self.unexpected());
            }
        } else {
            !descending
        };
        Ok(OrderItem {
            field,
            descending,
            nulls_first,
        })
    }

    fn limit(&mut self) -> Result<usize, SoqlError> {
        let token = self.peek().clone();
        let text = self.text(&token);
        if token.kind != TokKind::Number || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unexpected());
        }
        let value = text
            .parse::<usize>()
            .map_err(|_| self.error(token.pos, format!("invalid LIMIT value: {text}")))?;
        self.advance();
        Ok(value)
    }

    /// `unary (AND unary)*` or `unary (OR unary)*`. SOQL gives AND and OR no relative
    /// precedence, so mixing them without parentheses is a syntax error there and here.
    fn condition(&mut self) -> Result<Condition, SoqlError> {
        self.depth += 1;
        if self.depth > MAX_CONDITION_DEPTH {
            return Err(self.error(self.peek().pos, "the WHERE clause is nested too deeply"));
        }
        let first = self.unary()?;
        let joiner = if self.is_keyword("AND") {
            "AND"
        } else if self.is_keyword("OR") {
            "OR"
        } else {
            self.depth -= 1;
            return Ok(first);
        };
        let mut parts = vec![first];
        while self.eat_keyword(joiner) {
            parts.push(self.unary()?);
        }
        if self.is_keyword("AND") || self.is_keyword("OR") {
            return Err(self.unexpected());
        }
        self.depth -= 1;
        Ok(if joiner == "AND" {
            Condition::And(parts)
        } else {
            Condition::Or(parts)
        })
    }

    fn unary(&mut self) -> Result<Condition, SoqlError> {
        if self.eat_keyword("NOT") {
            self.depth += 1;
            if self.depth > MAX_CONDITION_DEPTH {
                return Err(self.error(self.peek().pos, "the WHERE clause is nested too deeply"));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        if self.peek().kind == TokKind::LParen {
            self.advance();
            let inner = self.condition()?;
            self.expect(&TokKind::RParen)?;
            return Ok(inner);
        }
        self.simple()
    }

    fn simple(&mut self) -> Result<Condition, SoqlError> {
        let field = self.field_path()?;
        if let TokKind::Op(op) = self.peek().kind {
            self.advance();
            let value = self.literal()?;
            return Ok(Condition::Compare { field, op, value });
        }
        if self.is_keyword("LIKE") {
            self.advance();
            let token = self.peek().clone();
            let TokKind::Str(raw) = &token.kind else {
                return Err(self.unexpected());
            };
            let tokens = decode_string(self.src, raw, token.pos, true)?;
            self.advance();
            return Ok(Condition::Like {
                field,
                pattern: LikePattern {
                    tokens,
                    pos: token.pos,
                },
            });
        }
        let negated = self.is_keyword("NOT") && self.is_keyword_at(1, "IN");
        if negated {
            self.advance();
        }
        if self.eat_keyword("IN") {
            self.expect(&TokKind::LParen)?;
            if self.is_keyword("SELECT") {
                return Err(self.error(
                    self.peek().pos,
                    "semi-join subqueries (IN (SELECT ...)) are not supported by the simulator",
                ));
            }
            let mut values = vec![self.literal()?];
            while self.peek().kind == TokKind::Comma {
                self.advance();
                values.push(self.literal()?);
            }
            self.expect(&TokKind::RParen)?;
            return Ok(Condition::In {
                field,
                values,
                negated,
            });
        }
        Err(self.unexpected())
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let token = self.peek().clone();
        let text = self.text(&token);
        let value = match &token.kind {
            TokKind::Str(raw) => {
                LiteralValue::String(plain(decode_string(self.src, raw, token.pos, false)?))
            }
            TokKind::Number => LiteralValue::Number(
                text.parse::<f64>()
                    .map_err(|_| self.error(token.pos, format!("invalid number: {text}")))?,
            ),
            TokKind::Date(days) => LiteralValue::Date {
                text: text.to_string(),
                days: *days,
            },
            TokKind::DateTime(millis) => LiteralValue::DateTime {
                text: text.to_string(),
                millis: *millis,
            },
            TokKind::Ident if text.eq_ignore_ascii_case("true") => LiteralValue::Boolean(true),
            TokKind::Ident if text.eq_ignore_ascii_case("false") => LiteralValue::Boolean(false),
            TokKind::Ident if text.eq_ignore_ascii_case("null") => LiteralValue::Null,
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(Literal {
            value,
            pos: token.pos,
        })
    }
}
