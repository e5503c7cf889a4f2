//! Splits SOQL text into tokens, tracking Salesforce-style row/column positions. String
//! literals are kept raw (between the quotes, escapes untouched) because whether `\%` and `\_`
//! are legal depends on the parser's context (LIKE or not); [`decode_string`] does the
//! unescaping once the context is known.

use super::ast::{CompareOp, LikeToken, Pos};
use super::SoqlError;
use crate::datetime::{parse_date, parse_datetime};

const MALFORMED: &str = "MALFORMED_QUERY";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokKind {
    /// A name or keyword; its text is the token's source slice.
    Ident,
    /// A quoted string; the raw text between the quotes.
    Str(String),
    /// An integer or decimal, possibly negative; its text is the source slice.
    Number,
    Date(i64),
    DateTime(i64),
    Comma,
    LParen,
    RParen,
    Dot,
    Op(CompareOp),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub pos: Pos,
    /// Byte offset just past the token.
    pub end: usize,
}

struct Lexer<'s> {
    src: &'s str,
    chars: Vec<(usize, char)>,
    i: usize,
    row: usize,
    column: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).map(|&(_, c)| c)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.i).map_or(self.src.len(), |&(o, _)| o)
    }

    fn pos(&self) -> Pos {
        Pos {
            offset: self.offset(),
            row: self.row,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == '\n' {
            self.row += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, f: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&f) {
            self.bump();
        }
    }

    fn error(&self, pos: Pos, message: impl AsRef<str>) -> SoqlError {
        SoqlError::at(MALFORMED, self.src, pos, message)
    }

    fn next_token(&mut self) -> Result<Token, SoqlError> {
        self.bump_while(char::is_whitespace);
        let start = self.pos();
        let Some(c) = self.peek(0) else {
            return Ok(Token {
                kind: TokKind::Eof,
                pos: start,
                end: self.src.len(),
            });
        };
        let kind = match c {
            ',' => self.single(TokKind::Comma),
            '(' => self.single(TokKind::LParen),
            ')' => self.single(TokKind::RParen),
            '.' => self.single(TokKind::Dot),
            '=' => self.single(TokKind::Op(CompareOp::Eq)),
            '!' if self.peek(1) == Some('=') => self.double(CompareOp::Ne),
            '<' if self.peek(1) == Some('>') => self.double(CompareOp::Ne),
            '<' if self.peek(1) == Some('=') => self.double(CompareOp::Le),
            '<' => self.single(TokKind::Op(CompareOp::Lt)),
            '>' if self.peek(1) == Some('=') => self.double(CompareOp::Ge),
            '>' => self.single(TokKind::Op(CompareOp::Gt)),
            '\'' => self.string(start)?,
            c if c.is_ascii_alphabetic() => {
                self.bump_while(|c| c.is_ascii_alphanumeric() || c == '_');
                TokKind::Ident
            }
            c if c.is_ascii_digit()
                || (c == '-' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.number(start)?
            }
            other => {
                return Err(self.error(
                    start,
                    format!("no viable alternative at character '{other}'"),
                ))
            }
        };
        Ok(Token {
            kind,
            pos: start,
            end: self.offset(),
        })
    }

    fn single(&mut self, kind: TokKind) -> TokKind {
        self.bump();
        kind
    }

    fn double(&mut self, op: CompareOp) -> TokKind {
        self.bump();
        self.bump();
        TokKind::Op(op)
    }

    /// A quoted string. A backslash always takes the next character with it, so `\'` never
    /// ends the literal; the pair's meaning is decided later by [`decode_string`].
    fn string(&mut self, start: Pos) -> Result<TokKind, SoqlError> {
        self.bump();
        let mut raw = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(start, "mismatched character '<EOF>' expecting '''")),
                Some('\'') => return Ok(TokKind::Str(raw)),
                Some('\\') => {
                    raw.push('\\');
                    if let Some(next) = self.bump() {
                        raw.push(next);
                    }
                }
                Some(c) => raw.push(c),
            }
        }
    }

    /// An integer, a decimal, or (for four leading digits followed by `-`) a date or datetime.
    fn number(&mut self, start: Pos) -> Result<TokKind, SoqlError> {
        let negative = self.peek(0) == Some('-');
        if negative {
            self.bump();
        }
        let digits_start = self.i;
        self.bump_while(|c| c.is_ascii_digit());
        let is_date_start = !negative && self.i - digits_start == 4 && self.peek(0) == Some('-');
        if is_date_start {
            // Take everything that can belong to a date or datetime, then validate it whole.
            self.bump_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+'));
            let text = &self.src[start.offset..self.offset()];
            if text.contains('T') {
                // Salesforce ignores a literal's milliseconds: a stamp compares equal to
                // itself plus 900 ms (observed, https://salesforce.stackexchange.com/questions/234824),
                // consistent with datetimes kept to the second (see `clock`).
                return parse_datetime(text, true)
                    .map(|ms| TokKind::DateTime(crate::clock::whole_second(ms)))
                    .ok_or_else(|| self.error(start, format!("invalid datetime: {text}")));
            }
            return parse_date(text)
                .map(TokKind::Date)
                .ok_or_else(|| self.error(start, format!("invalid date: {text}")));
        }
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|d| d.is_ascii_digit()) {
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
        }
        Ok(TokKind::Number)
    }
}

/// Splits `src` into tokens, ending with one `Eof` token.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SoqlError> {
    let mut lexer = Lexer {
        src,
        chars: src.char_indices().collect(),
        i: 0,
        row: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

/// Unescapes a raw string literal. In a LIKE pattern (`like`), unescaped `%` and `_` become
/// wildcards and `\%` / `\_` literal characters; anywhere else `\%` and `\_` are errors, as
/// in Salesforce. Any backslash sequence not in the SOQL table is an error too.
pub(crate) fn decode_string(
    src: &str,
    raw: &str,
    pos: Pos,
    like: bool,
) -> Result<Vec<LikeToken>, SoqlError> {
    let illegal = |seq: &str| {
        SoqlError::at(
            MALFORMED,
            src,
            pos,
            format!("Invalid string literal '{raw}'. Illegal character sequence '{seq}' in string literal."),
        )
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(match c {
                '%' if like => LikeToken::Any,
                '_' if like => LikeToken::One,
                c => LikeToken::Char(c),
            });
            continue;
        }
        let Some(e) = chars.next() else {
            return Err(illegal("\\"));
        };
        let decoded = match e {
            'n' | 'N' => '\n',
            'r' | 'R' => '\r',
            't' | 'T' => '\t',
            // The SOQL docs call `\b` "bell"; the platform is Java, where `\b` is backspace.
            'b' | 'B' => '\u{8}',
            'f' | 'F' => '\u{c}',
            '"' => '"',
            '\'' => '\'',
            '\\' => '\\',
            '%' | '_' if like => e,
            'u' => {
                let unit = hex4(&mut chars).ok_or_else(|| illegal("\\u"))?;
                decode_utf16(unit, &mut chars).ok_or_else(|| illegal(&format!("\\u{unit:04x}")))?
            }
            other => return Err(illegal(&format!("\\{other}"))),
        };
        out.push(LikeToken::Char(decoded));
    }
    Ok(out)
}

fn hex4(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        value = value * 16 + chars.next()?.to_digit(16)?;
    }
    Some(value)
}

/// `\uXXXX` is a UTF-16 code unit (Salesforce is Java): a high surrogate must be followed by
/// `\u` and a low surrogate, and the pair is one character.
fn decode_utf16(unit: u32, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    match unit {
        0xD800..=0xDBFF => {
            if chars.next()? != '\\' || chars.next()? != 'u' {
                return None;
            }
            let low = hex4(chars)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        }
        0xDC00..=0xDFFF => None,
        _ => char::from_u32(unit),
    }
}

/// The plain string of a decoded non-LIKE literal.
pub(crate) fn plain(tokens: Vec<LikeToken>) -> String {
    tokens
        .into_iter()
        .map(|t| match t {
            LikeToken::Char(c) => c,
            // Only LIKE decoding produces wildcards.
            LikeToken::One => '_',
            LikeToken::Any => '%',
        })
        .collect()
}
