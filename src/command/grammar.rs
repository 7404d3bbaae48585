//! The statement grammar: turns typed or scripted text into statements made of
//! words, each word keeping the byte offset it came from.
//!
//! The grammar knows nothing of commands; a later layer maps words to typed
//! commands. In short:
//!
//! - statements end at a newline or `;`; empty statements are skipped;
//! - words are separated by spaces, tabs and `\r`;
//! - `#` at the start of a word begins a comment that runs to the end of the line;
//! - a bare word is taken literally, backslashes and mid-word quotes included;
//! - `"double quotes"` understand `\" \\ \n \t \r \0 \xNN \u{H..}`;
//! - `'single quotes'` take everything literally;
//! - both kinds of quote may span lines, and must be followed by a separator.
//!
//! The grammar is written with `nom` combinators, bottom-up, one small parser
//! per thing it recognises. Once a parser has seen enough to know what the user
//! meant (an opening quote, a backslash), it commits with `cut`, so the error
//! names that construct instead of whatever alternative backtracking would
//! have tried last.

use std::fmt::{self, Write as _};
use std::ops::Range;

use nom::branch::alt;
use nom::bytes::complete::{take_till, take_till1, take_while, take_while_m_n, take_while1};
use nom::character::complete::{anychar, char, none_of, one_of};
use nom::combinator::{cut, eof, map, map_opt, opt, peek, recognize, value};
use nom::error::ErrorKind;
use nom::multi::{fold, separated_list1};
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::plain;

/// One word of a statement: its bytes after unquoting, and the byte offset in
/// the parsed text where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word's bytes, quotes removed and escapes applied.
    pub bytes: Vec<u8>,
    /// Byte offset in the parsed text of the word's first character (its
    /// opening quote, for a quoted word).
    pub offset: usize,
}

impl AsRef<[u8]> for Word {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// A statement word as the command builders read it: its bytes (after
/// unquoting) and the byte offset where it starts. Owned words come from the
/// grammar; script mode borrows plain words straight from its input.
pub trait AsWord: AsRef<[u8]> {
    /// Byte offset in the parsed text of the word's first character.
    fn offset(&self) -> usize;
}

impl AsWord for Word {
    fn offset(&self) -> usize {
        self.offset
    }
}

impl Word {
    /// An owned copy of any word.
    pub fn of(word: &impl AsWord) -> Word {
        Word {
            bytes: word.as_ref().to_vec(),
            offset: word.offset(),
        }
    }
}

/// One statement: its words (never empty) and the byte range of its source
/// text (for echo and error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's words, in order; never empty.
    pub words: Vec<Word>,
    /// Byte range from the start of the first word to the end of the last,
    /// without the separator or any comment.
    pub span: Range<usize>,
}

/// What went wrong, for callers that branch on it (the REPL continues an
/// unclosed quote on the next line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text ended inside a quoted word.
    UnclosedQuote,
    /// A backslash in a double-quoted word was not followed by a valid escape.
    BadEscape,
    /// A closing quote was followed by something other than a separator.
    MissingSeparator,
}

/// A parse error: its kind, the byte offset where it was detected, and a
/// one-line message saying what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the parsed text: the opening quote of an unclosed quote,
    /// the backslash of a bad escape, the character after a closing quote.
    pub offset: usize,
    /// One line saying what was expected.
    pub message: String,
}

/// 1-based line and column (column counted in characters) of a byte offset in
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters rather than bytes.
    pub column: usize,
}

const UNCLOSED_DOUBLE: &str = "unclosed double quote: expected a closing \"";
const UNCLOSED_SINGLE: &str = "unclosed single quote: expected a closing '";
const BAD_ESCAPE: &str =
    r#"unknown escape: expected one of \" \\ \n \t \r \0 \xNN \u{H..} after a backslash"#;
const BAD_HEX_ESCAPE: &str = r"bad \x escape: expected exactly two hex digits, as in \x7f";
const BAD_UNICODE_ESCAPE: &str = r"bad \u escape: expected 1 to 6 hex digits naming a Unicode scalar value in braces, as in \u{1F600}";
const MISSING_SEPARATOR: &str = "expected a space, ';' or end of line after the closing quote";
/// Only reachable if the grammar below has a hole; kept so a hole is an error
/// message rather than a panic.
const UNEXPECTED: &str = "expected a word, ';' or end of line";

/// The error the combinators pass around. It stays allocation-free because
/// `alt` and the repetition combinators create (and drop) one on every
/// backtrack; it becomes a [`ParseError`] only once, at the top.
#[derive(Debug)]
struct GrammarError<'a> {
    /// The input that remained where the error belongs; its length gives the offset.
    rest: &'a str,
    /// `None` for an ordinary backtracking error; set once a parser commits.
    problem: Option<(ParseErrorKind, &'static str)>,
}

impl<'a> nom::error::ParseError<&'a str> for GrammarError<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        GrammarError {
            rest: input,
            problem: None,
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        // The innermost error is the one closest to what the user typed.
        other
    }
}

impl GrammarError<'_> {
    fn into_parse_error(self, text_len: usize) -> ParseError {
        let (kind, message) = self
            .problem
            .unwrap_or((ParseErrorKind::MissingSeparator, UNEXPECTED));
        ParseError {
            kind,
            offset: text_len.saturating_sub(self.rest.len()),
            message: message.to_owned(),
        }
    }
}

type PResult<'a, O> = IResult<&'a str, O, GrammarError<'a>>;

/// Wraps `parser` in `cut`, and labels a failure it did not label itself with
/// `kind` and `message` at `at`, which may lie before the failing input (an
/// unclosed quote is reported at its opening quote, not at the end of text).
fn expect<'a, O>(
    at: &'a str,
    kind: ParseErrorKind,
    message: &'static str,
    parser: impl Parser<&'a str, Output = O, Error = GrammarError<'a>>,
) -> impl Parser<&'a str, Output = O, Error = GrammarError<'a>> {
    let mut parser = cut(parser);
    move |input: &'a str| {
        parser.parse(input).map_err(|err| {
            err.map(|inner| match inner.problem {
                Some(_) => inner,
                None => GrammarError {
                    rest: at,
                    problem: Some((kind, message)),
                },
            })
        })
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

fn is_word_char(c: char) -> bool {
    !matches!(c, ' ' | '\t' | '\r' | '\n' | ';')
}

/// Spaces, tabs and carriage returns, possibly none.
fn blank(input: &str) -> PResult<'_, &str> {
    take_while(is_blank).parse(input)
}

/// At least one space, tab or carriage return: what separates words.
fn blank1(input: &str) -> PResult<'_, &str> {
    take_while1(is_blank).parse(input)
}

/// `#` up to (not including) the end of the line.
fn comment(input: &str) -> PResult<'_, &str> {
    recognize((char('#'), take_till(|c| c == '\n'))).parse(input)
}

/// What ends a statement: `;` or a newline.
fn separator(input: &str) -> PResult<'_, char> {
    one_of(";\n").parse(input)
}

/// A word that does not open with a quote or `#`; backslashes and later
/// quotes are literal.
fn bare_word(input: &str) -> PResult<'_, Vec<u8>> {
    map(
        recognize((none_of("\"'# \t\r\n;"), take_while(is_word_char))),
        |word: &str| word.as_bytes().to_vec(),
    )
    .parse(input)
}

/// A piece of a double-quoted word.
#[derive(Clone, Copy)]
enum Fragment<'a> {
    Literal(&'a str),
    Byte(u8),
    Char(char),
}

/// A run of double-quoted text with nothing to unescape.
fn literal(input: &str) -> PResult<'_, Fragment<'_>> {
    map(take_till1(|c| c == '"' || c == '\\'), Fragment::Literal).parse(input)
}

/// The letter of a one-letter escape.
fn simple_escape(input: &str) -> PResult<'_, Fragment<'_>> {
    map_opt(anychar, |c| {
        let byte = match c {
            '"' => b'"',
            '\\' => b'\\',
            'n' => b'\n',
            't' => b'\t',
            'r' => b'\r',
            '0' => 0,
            _ => return None,
        };
        Some(Fragment::Byte(byte))
    })
    .parse(input)
}

/// `xNN`: a raw byte, so that words need not be UTF-8.
fn hex_escape(input: &str) -> PResult<'_, Fragment<'_>> {
    preceded(
        char('x'),
        map_opt(
            take_while_m_n(2, 2, |c: char| c.is_ascii_hexdigit()),
            |hex: &str| u8::from_str_radix(hex, 16).ok().map(Fragment::Byte),
        ),
    )
    .parse(input)
}

/// `u{H..}`: a Unicode scalar value, written out as UTF-8.
fn unicode_escape(input: &str) -> PResult<'_, Fragment<'_>> {
    preceded(
        char('u'),
        delimited(
            char('{'),
            map_opt(
                take_while_m_n(1, 6, |c: char| c.is_ascii_hexdigit()),
                |hex: &str| {
                    u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .map(Fragment::Char)
                },
            ),
            char('}'),
        ),
    )
    .parse(input)
}

/// A backslash and its escape; anything unknown after the backslash is a
/// `BadEscape` at the backslash.
fn escape(input: &str) -> PResult<'_, Fragment<'_>> {
    let (code, _) = char('\\').parse(input)?;
    let message = match code.as_bytes().first() {
        // The text ended mid-word: that is an unclosed quote (which the REPL
        // can continue on the next line), not a bad escape.
        None => {
            return Err(nom::Err::Error(GrammarError {
                rest: code,
                problem: None,
            }));
        }
        Some(b'x') => BAD_HEX_ESCAPE,
        Some(b'u') => BAD_UNICODE_ESCAPE,
        Some(_) => BAD_ESCAPE,
    };
    expect(
        input,
        ParseErrorKind::BadEscape,
        message,
        alt((simple_escape, hex_escape, unicode_escape)),
    )
    .parse(code)
}

/// Checks, without consuming, that a closing quote is followed by a space,
/// `;`, a newline or the end of the text, so `"a"b` is not silently two words.
fn quote_end(input: &str) -> PResult<'_, ()> {
    expect(
        input,
        ParseErrorKind::MissingSeparator,
        MISSING_SEPARATOR,
        peek(alt((value((), one_of(" \t\r\n;")), value((), eof)))),
    )
    .parse(input)
}

/// `"..."` with escapes; may span lines.
fn double_quoted(input: &str) -> PResult<'_, Vec<u8>> {
    let (body, _) = char('"').parse(input)?;
    let (rest, bytes) = fold(
        0..,
        alt((literal, escape)),
        Vec::new,
        |mut bytes: Vec<u8>, fragment| {
            match fragment {
                Fragment::Literal(text) => bytes.extend_from_slice(text.as_bytes()),
                Fragment::Byte(byte) => bytes.push(byte),
                Fragment::Char(c) => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
            bytes
        },
    )
    .parse(body)?;
    let (rest, _) = expect(
        input,
        ParseErrorKind::UnclosedQuote,
        UNCLOSED_DOUBLE,
        char('"'),
    )
    .parse(rest)?;
    let (rest, _) = quote_end(rest)?;
    Ok((rest, bytes))
}

/// `'...'` taken literally; may span lines.
fn single_quoted(input: &str) -> PResult<'_, Vec<u8>> {
    let (body, _) = char('\'').parse(input)?;
    let (rest, text) = take_till(|c| c == '\'').parse(body)?;
    let (rest, _) = expect(
        input,
        ParseErrorKind::UnclosedQuote,
        UNCLOSED_SINGLE,
        char('\''),
    )
    .parse(rest)?;
    let (rest, _) = quote_end(rest)?;
    Ok((rest, text.as_bytes().to_vec()))
}

/// One word of any kind, with its offset; `text_len` is the length of the
/// whole text, which turns the remaining input's length into an offset.
fn word<'a>(text_len: usize) -> impl Parser<&'a str, Output = Word, Error = GrammarError<'a>> {
    move |input: &'a str| {
        let offset = text_len - input.len();
        // Dispatching on the first character, rather than trying each kind
        // with `alt`, skips two failed parses per word on the common path.
        let (rest, bytes) = match input.as_bytes().first() {
            Some(b'"') => double_quoted(input),
            Some(b'\'') => single_quoted(input),
            _ => bare_word(input),
        }?;
        Ok((rest, Word { bytes, offset }))
    }
}

/// What may follow a statement's last word: blanks, a comment, then a
/// separator or the end of the text.
fn statement_end(input: &str) -> PResult<'_, ()> {
    expect(
        input,
        ParseErrorKind::MissingSeparator,
        UNEXPECTED,
        value(
            (),
            (
                blank,
                opt(comment),
                alt((value((), separator), value((), eof))),
            ),
        ),
    )
    .parse(input)
}

/// Words separated by blanks, and what ends them.
fn statement<'a>(
    text_len: usize,
) -> impl Parser<&'a str, Output = Statement, Error = GrammarError<'a>> {
    move |input: &'a str| {
        let start = text_len - input.len();
        let (rest, words) = separated_list1(blank1, word(text_len)).parse(input)?;
        let end = text_len - rest.len();
        let (rest, _) = statement_end(rest)?;
        Ok((
            rest,
            Statement {
                words,
                span: start..end,
            },
        ))
    }
}

/// A statement, or an empty one (a lone separator, after optional blanks and
/// comment) which yields `None`.
fn item<'a>(
    text_len: usize,
) -> impl Parser<&'a str, Output = Option<Statement>, Error = GrammarError<'a>> {
    preceded(
        (blank, opt(comment)),
        alt((value(None, separator), map(statement(text_len), Some))),
    )
}

/// The whole text: items until only blanks and a comment are left.
fn script<'a>(
    text_len: usize,
) -> impl Parser<&'a str, Output = Vec<Statement>, Error = GrammarError<'a>> {
    terminated(
        fold(0.., item(text_len), Vec::new, |mut statements, item| {
            statements.extend(item);
            statements
        }),
        expect_end,
    )
}

fn expect_end(input: &str) -> PResult<'_, ()> {
    expect(
        input,
        ParseErrorKind::MissingSeparator,
        UNEXPECTED,
        value((), (blank, opt(comment), eof)),
    )
    .parse(input)
}

/// Parses all statements of `text`; runs nothing, so one error means no
/// statement is returned.
pub fn parse(text: &str) -> Result<Vec<Statement>, ParseError> {
    if plain::is_plain(text.as_bytes()) {
        return Ok(parse_plain(text));
    }
    parse_full(text)
}

/// The grammar's reading of quote- and comment-free text, without the
/// combinators (see [`plain`]).
fn parse_plain(text: &str) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut words = Vec::new();
    let mut at = 0;
    while let Some(end) = plain::split_statement(text.as_bytes(), at, &mut words) {
        if let Some(span) = plain::span(&words) {
            statements.push(Statement {
                words: words.iter().map(Word::of).collect(),
                span,
            });
        }
        at = end + 1;
    }
    statements
}

/// [`parse`] through the full grammar.
fn parse_full(text: &str) -> Result<Vec<Statement>, ParseError> {
    match script(text.len()).parse(text) {
        Ok((_, statements)) => Ok(statements),
        Err(nom::Err::Error(err) | nom::Err::Failure(err)) => Err(err.into_parse_error(text.len())),
        // Complete parsers never ask for more input; kept so a change there
        // yields an error rather than a panic.
        Err(nom::Err::Incomplete(_)) => Err(ParseError {
            kind: ParseErrorKind::MissingSeparator,
            offset: text.len(),
            message: UNEXPECTED.to_owned(),
        }),
    }
}

/// True when `text` ends inside an open quote, so an interactive reader should
/// ask for another line.
///
/// An error earlier in the text makes this false: another line could not fix
/// it, so the reader should report it instead.
pub fn is_incomplete(text: &str) -> bool {
    // An unclosed quote is only detected at the end of the text, and parsing
    // stops at the first error, so this error means all before it was fine.
    matches!(
        parse(text),
        Err(ParseError {
            kind: ParseErrorKind::UnclosedQuote,
            ..
        })
    )
}

/// `offset` clamped into `text` and moved back to the start of the character
/// it falls in, so slicing there cannot panic.
fn char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl Position {
    /// Position of `offset` in `text`. An offset past the end counts as the
    /// end, and one inside a multi-byte character as that character.
    pub fn of(text: &str, offset: usize) -> Position {
        let before = &text[..char_boundary(text, offset)];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Position {
            line: before.bytes().filter(|&b| b == b'\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl ParseError {
    /// Multi-line report: `line L, column C: message`, then the offending
    /// source line, then a caret under the column.
    ///
    /// `first_line` is the line number of `text`'s first line in its file (1
    /// for a whole file, N when the caller parses a chunk starting at line N).
    pub fn report(&self, text: &str, first_line: usize) -> String {
        let offset = char_boundary(text, self.offset);
        let position = Position::of(text, offset);
        let line_start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
        let line_end = text[offset..]
            .find('\n')
            .map_or(text.len(), |newline| offset + newline);
        let line = text[line_start..line_end].trim_end_matches('\r');
        // Tabs are copied so the caret lines up with the line above whatever
        // the terminal's tab width.
        let padding: String = text[line_start..offset]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "line {}, column {}: {}\n{line}\n{padding}^",
            (position.line - 1).saturating_add(first_line),
            position.column,
            self.message,
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Renders bytes as one word that [`parse`] reads back as exactly those bytes:
/// bare when safe, otherwise double-quoted with escapes.
///
/// Control characters and whitespace other than a plain space are escaped even
/// inside quotes, so the result stays readable on one line.
pub fn quote_word(bytes: &[u8]) -> String {
    let mut quoted = String::with_capacity(bytes.len() + 2);
    push_quoted(&mut quoted, bytes);
    quoted
}

/// True when `bytes` is printable ASCII without `;`, not opening like a
/// quote or a comment: safe to write bare (the common case, checked byte by
/// byte before anything slower).
pub fn is_safe_bare_ascii(bytes: &[u8]) -> bool {
    bytes
        .first()
        .is_some_and(|first| !matches!(first, b'"' | b'\'' | b'#'))
        && bytes.iter().all(|&b| b.is_ascii_graphic() && b != b';')
}

/// Appends [`quote_word`]'s rendering of `bytes` to `quoted`.
pub fn push_quoted(quoted: &mut String, bytes: &[u8]) {
    if is_safe_bare_ascii(bytes)
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        quoted.push_str(text);
        return;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if is_safe_bare(text) => {
            quoted.push_str(text);
            return;
        }
        _ => {}
    }
    quoted.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                '\r' => quoted.push_str("\\r"),
                '\0' => quoted.push_str("\\0"),
                c if c.is_ascii_control() => push_hex_byte(quoted, c as u8),
                // `\xNN` above 0x7f would be a raw byte, not this character.
                c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                    // Writing to a String cannot fail.
                    let _ = write!(quoted, "\\u{{{:x}}}", u32::from(c));
                }
                c => quoted.push(c),
            }
        }
        for &byte in chunk.invalid() {
            push_hex_byte(quoted, byte);
        }
    }
    quoted.push('"');
}

/// Appends `\xNN`, the escape for one raw byte.
fn push_hex_byte(quoted: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    quoted.push_str("\\x");
    quoted.push(char::from(HEX[usize::from(byte >> 4)]));
    quoted.push(char::from(HEX[usize::from(byte & 0xf)]));
}

/// Whether `text` reads back as itself when written bare, and is plainly
/// visible as one word.
fn is_safe_bare(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(['"', '\'', '#'])
        && !text
            .chars()
            .any(|c| c == ';' || c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The words of each statement, as byte vectors.
    fn words(text: &str) -> Vec<Vec<Vec<u8>>> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|statement| statement.words.into_iter().map(|w| w.bytes).collect())
            .collect()
    }

    /// Shorthand for statements of UTF-8 words.
    fn stmts(statements: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        statements
            .iter()
            .map(|words| words.iter().map(|w| w.as_bytes().to_vec()).collect())
            .collect()
    }

    /// The bytes of the single word of the single statement of `text`.
    fn one_word(text: &str) -> Vec<u8> {
        let all = words(text);
        assert_eq!(all.len(), 1, "statements of {text:?}");
        assert_eq!(all[0].len(), 1, "words of {text:?}");
        all[0][0].clone()
    }

    fn error(text: &str) -> ParseError {
        parse(text).unwrap_err()
    }

    // Separators.

    #[test]
    fn newline_separates_statements() {
        assert_eq!(
            words("put a 1\nget a"),
            stmts(&[&["put", "a", "1"], &["get", "a"]])
        );
    }

    #[test]
    fn semicolon_separates_statements() {
        assert_eq!(
            words("put a 1; get a"),
            stmts(&[&["put", "a", "1"], &["get", "a"]])
        );
        assert_eq!(words("a;b"), stmts(&[&["a"], &["b"]]));
    }

    #[test]
    fn empty_statements_are_skipped() {
        assert_eq!(words("a;;b"), stmts(&[&["a"], &["b"]]));
        assert_eq!(words(";; ; a"), stmts(&[&["a"]]));
        assert_eq!(words("\n\n  \n\t\na\n\n \nb\n\n"), stmts(&[&["a"], &["b"]]));
    }

    #[test]
    fn trailing_semicolon_is_allowed() {
        assert_eq!(words("get a;"), stmts(&[&["get", "a"]]));
        assert_eq!(words("get a; \n"), stmts(&[&["get", "a"]]));
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            words("put a 1\r\nget a\r\n"),
            stmts(&[&["put", "a", "1"], &["get", "a"]])
        );
        assert_eq!(words("'x'\r\n\"y\"\r\n"), stmts(&[&["x"], &["y"]]));
    }

    #[test]
    fn blank_text_has_no_statements() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(" \t\r\n;\n").unwrap(), vec![]);
    }

    #[test]
    fn tabs_separate_words() {
        assert_eq!(words("a\tb \t c"), stmts(&[&["a", "b", "c"]]));
    }

    // Comments.

    #[test]
    fn full_line_comment_is_skipped() {
        assert_eq!(
            words("# setup\nput a 1\n  # done"),
            stmts(&[&["put", "a", "1"]])
        );
        assert_eq!(parse("# only a comment").unwrap(), vec![]);
    }

    #[test]
    fn comment_after_words_ends_at_newline() {
        assert_eq!(
            words("put a 1 # note; get b\nget a"),
            stmts(&[&["put", "a", "1"], &["get", "a"]])
        );
        assert_eq!(
            words("get a;# note\nget b"),
            stmts(&[&["get", "a"], &["get", "b"]])
        );
        assert_eq!(words("get a\t#x"), stmts(&[&["get", "a"]]));
    }

    #[test]
    fn comment_may_hold_quotes() {
        assert_eq!(
            words("get a # it's \"fine\nget b"),
            stmts(&[&["get", "a"], &["get", "b"]])
        );
        assert!(!is_incomplete("# it's"));
    }

    #[test]
    fn hash_inside_word_is_literal() {
        assert_eq!(words("put a#b c#"), stmts(&[&["put", "a#b", "c#"]]));
    }

    #[test]
    fn hash_inside_quotes_is_literal() {
        assert_eq!(
            words("put \"#a\" '#b' \"x # y\""),
            stmts(&[&["put", "#a", "#b", "x # y"]])
        );
    }

    // Bare words.

    #[test]
    fn bare_word_keeps_backslashes() {
        assert_eq!(one_word(r"^user:\d+$"), br"^user:\d+$".to_vec());
        assert_eq!(one_word(r"a\"), b"a\\".to_vec());
    }

    #[test]
    fn quote_inside_bare_word_is_literal() {
        assert_eq!(words(r#"it's a"b c'"#), stmts(&[&["it's", "a\"b", "c'"]]));
        assert!(!is_incomplete("it's"));
    }

    #[test]
    fn multi_byte_utf8_words() {
        let text = "put clé 值😀 'ü x'";
        let statements = parse(text).unwrap();
        let words: Vec<_> = statements[0]
            .words
            .iter()
            .map(|w| (w.bytes.clone(), w.offset))
            .collect();
        assert_eq!(
            words,
            vec![
                (b"put".to_vec(), 0),
                ("clé".as_bytes().to_vec(), 4),
                ("值😀".as_bytes().to_vec(), 9),
                ("ü x".as_bytes().to_vec(), 17),
            ]
        );
        assert_eq!(statements[0].span, 0..23);
        assert_eq!(text.len(), 23);
    }

    // Double quotes.

    #[test]
    fn double_quoted_word_keeps_spaces_and_separators() {
        assert_eq!(one_word("\"a b;c\""), b"a b;c".to_vec());
    }

    #[test]
    fn each_double_quote_escape() {
        let cases: [(&str, &[u8]); 10] = [
            (r#""\"""#, b"\""),
            (r#""\\""#, b"\\"),
            (r#""\n""#, b"\n"),
            (r#""\t""#, b"\t"),
            (r#""\r""#, b"\r"),
            (r#""\0""#, b"\0"),
            (r#""\x41""#, b"A"),
            (r#""\x7F""#, b"\x7f"),
            (r#""\u{41}""#, b"A"),
            (r#""a\tb\\c\"d""#, b"a\tb\\c\"d"),
        ];
        for (text, expected) in cases {
            assert_eq!(one_word(text), expected.to_vec(), "{text}");
        }
    }

    #[test]
    fn hex_escape_gives_raw_byte() {
        assert_eq!(one_word(r#""\xff""#), vec![0xff]);
        assert_eq!(one_word(r#""a\x00\xC3b""#), vec![b'a', 0, 0xc3, b'b']);
    }

    #[test]
    fn unicode_escape_gives_utf8() {
        assert_eq!(one_word(r#""\u{1F600}""#), "😀".as_bytes().to_vec());
        assert_eq!(
            one_word(r#""\u{e9}\u{10FFFF}""#),
            "é\u{10FFFF}".as_bytes().to_vec()
        );
    }

    #[test]
    fn bad_escapes_are_reported_at_the_backslash() {
        let cases = [
            (r#""\u{}""#, BAD_UNICODE_ESCAPE),
            (r#""\u{110000}""#, BAD_UNICODE_ESCAPE),
            (r#""\u{D800}""#, BAD_UNICODE_ESCAPE),
            (r#""\u{1234567}""#, BAD_UNICODE_ESCAPE),
            (r#""\u1F600""#, BAD_UNICODE_ESCAPE),
            (r#""\u{41""#, BAD_UNICODE_ESCAPE),
            (r#""\x4""#, BAD_HEX_ESCAPE),
            (r#""\xg0""#, BAD_HEX_ESCAPE),
            (r#""\q""#, BAD_ESCAPE),
            (r#""\d+""#, BAD_ESCAPE),
            (r#""\é""#, BAD_ESCAPE),
            ("\"\\\n\"", BAD_ESCAPE),
        ];
        for (text, message) in cases {
            let err = error(&format!("put k {text}"));
            assert_eq!(err.kind, ParseErrorKind::BadEscape, "{text}");
            assert_eq!(err.offset, 7, "{text}");
            assert_eq!(err.message, message, "{text}");
        }
        assert!(BAD_ESCAPE.contains(r"\xNN") && BAD_ESCAPE.contains(r"\u{H..}"));
    }

    #[test]
    fn multi_line_quoted_words() {
        assert_eq!(
            words("put a \"line1\nline2\"\nget a"),
            stmts(&[&["put", "a", "line1\nline2"], &["get", "a"]])
        );
        assert_eq!(words("put a 'x\n;y'"), stmts(&[&["put", "a", "x\n;y"]]));
    }

    #[test]
    fn empty_quoted_words() {
        assert_eq!(words("put \"\" ''"), stmts(&[&["put", "", ""]]));
        assert_eq!(one_word("''"), Vec::<u8>::new());
    }

    // Single quotes.

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(one_word(r"'a\nb'"), br"a\nb".to_vec());
        assert_eq!(one_word(r"'a\nb'").len(), 4);
        assert_eq!(one_word(r#"'say "hi" \'"#), br#"say "hi" \"#.to_vec());
    }

    // Errors.

    #[test]
    fn unclosed_double_quote_points_at_opening_quote() {
        let err = error("get a\nput b \"abc\ndef");
        assert_eq!(err.kind, ParseErrorKind::UnclosedQuote);
        assert_eq!(err.offset, 12);
        assert_eq!(err.message, UNCLOSED_DOUBLE);
        assert_eq!(
            Position::of("get a\nput b \"abc\ndef", err.offset),
            Position { line: 2, column: 7 }
        );
    }

    #[test]
    fn unclosed_single_quote_points_at_opening_quote() {
        let err = error("put 'a b");
        assert_eq!(err.kind, ParseErrorKind::UnclosedQuote);
        assert_eq!(err.offset, 4);
        assert_eq!(err.message, UNCLOSED_SINGLE);
    }

    #[test]
    fn backslash_at_end_of_text_is_an_unclosed_quote() {
        let err = error(r#"put "a\"#);
        assert_eq!(err.kind, ParseErrorKind::UnclosedQuote);
        assert_eq!(err.offset, 4);
    }

    #[test]
    fn missing_separator_after_closing_quote() {
        let cases = [
            ("put \"a\"b", 7),
            ("put 'a'b", 7),
            ("'a'\"b\"", 3),
            ("\"a\"#c", 3),
            ("x \"\"''", 4),
        ];
        for (text, offset) in cases {
            let err = error(text);
            assert_eq!(err.kind, ParseErrorKind::MissingSeparator, "{text}");
            assert_eq!(err.offset, offset, "{text}");
            assert_eq!(err.message, MISSING_SEPARATOR, "{text}");
        }
    }

    #[test]
    fn first_error_wins_and_no_statement_is_returned() {
        let err = error("put a 1\nget \"b\"c\nput \"x");
        assert_eq!(err.kind, ParseErrorKind::MissingSeparator);
        assert_eq!(err.offset, 15);
    }

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "put a 1\nput clé \"x\\q\"";
        let err = error(text);
        assert_eq!(err.kind, ParseErrorKind::BadEscape);
        assert_eq!(err.offset, 19);
        // `clé` is 4 bytes but 3 characters, so the backslash is column 11.
        assert_eq!(
            Position::of(text, err.offset),
            Position {
                line: 2,
                column: 11
            }
        );
        assert_eq!(Position::of(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(text, 7), Position { line: 1, column: 8 });
        assert_eq!(Position::of(text, 8), Position { line: 2, column: 1 });
    }

    #[test]
    fn position_of_odd_offsets_does_not_panic() {
        // Offset 1 is inside `é`: it counts as that character.
        assert_eq!(Position::of("é", 1), Position { line: 1, column: 1 });
        assert_eq!(Position::of("ab\nc", 99), Position { line: 2, column: 2 });
        assert_eq!(Position::of("", 5), Position { line: 1, column: 1 });
    }

    #[test]
    fn report_shows_line_and_caret() {
        let text = "get a\nput clé \"x\\q\" 1\nget b";
        let err = error(text);
        assert_eq!(
            err.report(text, 1),
            "line 2, column 11: unknown escape: expected one of \\\" \\\\ \\n \\t \\r \\0 \\xNN \\u{H..} after a backslash\n\
             put clé \"x\\q\" 1\n          ^"
        );
    }

    #[test]
    fn report_shifts_line_by_first_line() {
        let text = "get a\nput 'x";
        let err = error(text);
        assert_eq!(
            err.report(text, 10),
            format!("line 11, column 5: {UNCLOSED_SINGLE}\nput 'x\n    ^")
        );
    }

    #[test]
    fn report_keeps_tabs_and_drops_carriage_return() {
        let text = "\tput \"a\"b\r\n";
        let err = error(text);
        assert_eq!(
            err.report(text, 1),
            format!("line 1, column 9: {MISSING_SEPARATOR}\n\tput \"a\"b\n\t       ^")
        );
    }

    #[test]
    fn display_is_the_message() {
        let err = error("'a");
        assert_eq!(err.to_string(), UNCLOSED_SINGLE);
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(boxed.to_string(), UNCLOSED_SINGLE);
    }

    // Incompleteness.

    #[test]
    fn open_quotes_are_incomplete() {
        assert!(is_incomplete("put a \"hello"));
        assert!(is_incomplete("put a 'hello\nworld"));
        assert!(is_incomplete(r#"put a "a\""#));
        assert!(is_incomplete(r#"put a "a\"#));
    }

    #[test]
    fn complete_text_is_not_incomplete() {
        assert!(!is_incomplete("put a \"hello\nworld\""));
        assert!(!is_incomplete("put a 'it''s'x"));
        assert!(!is_incomplete(""));
        assert!(!is_incomplete("get a"));
    }

    #[test]
    fn earlier_error_is_not_incomplete() {
        // More lines cannot fix these, so the reader should report them.
        assert!(!is_incomplete("put \"a\\q \"b"));
        assert!(!is_incomplete("put \"a\"b \"c"));
    }

    // Spans and offsets.

    #[test]
    fn spans_and_offsets_of_two_statements() {
        let statements = parse("put a 1; get a").unwrap();
        assert_eq!(
            statements,
            vec![
                Statement {
                    words: vec![
                        Word {
                            bytes: b"put".to_vec(),
                            offset: 0
                        },
                        Word {
                            bytes: b"a".to_vec(),
                            offset: 4
                        },
                        Word {
                            bytes: b"1".to_vec(),
                            offset: 6
                        },
                    ],
                    span: 0..7,
                },
                Statement {
                    words: vec![
                        Word {
                            bytes: b"get".to_vec(),
                            offset: 9
                        },
                        Word {
                            bytes: b"a".to_vec(),
                            offset: 13
                        },
                    ],
                    span: 9..14,
                },
            ]
        );
    }

    #[test]
    fn span_excludes_blanks_comment_and_separator() {
        let text = "  put \"a b\" 'c'  # note\r\n";
        let statements = parse(text).unwrap();
        assert_eq!(statements[0].span, 2..15);
        assert_eq!(&text[statements[0].span.clone()], "put \"a b\" 'c'");
        assert_eq!(statements[0].words[1].offset, 6);
        assert_eq!(statements[0].words[2].offset, 12);
    }

    #[test]
    fn span_of_multi_line_word() {
        let text = "x\nput 'a\nb' ;";
        let statements = parse(text).unwrap();
        assert_eq!(statements[1].span, 2..11);
    }

    #[test]
    fn texts_with_quotes_or_comments_take_the_full_grammar() {
        for text in ["put a \"b\"", "put a 'b'", "put a # c", "put a#b"] {
            assert!(!plain::is_plain(text.as_bytes()), "{text:?}");
        }
        assert!(plain::is_plain(b"put a b; get a\n\tx\\y\r\n"));
        assert_eq!(
            parse(" put  a\tb ;;\n get a \r\n").unwrap(),
            parse_full(" put  a\tb ;;\n get a \r\n").unwrap()
        );
    }

    // Quoting.

    #[test]
    fn quote_word_leaves_safe_words_bare() {
        assert_eq!(quote_word(b"abc"), "abc");
        assert_eq!(quote_word(br"^user:\d+$"), r"^user:\d+$");
        assert_eq!(quote_word(b"it's"), "it's");
        assert_eq!(quote_word(b"a#b"), "a#b");
        assert_eq!(quote_word("值😀".as_bytes()), "值😀");
    }

    #[test]
    fn quote_word_quotes_unsafe_words() {
        assert_eq!(quote_word(b""), "\"\"");
        assert_eq!(quote_word(b"a b"), "\"a b\"");
        assert_eq!(quote_word(b"a;b"), "\"a;b\"");
        assert_eq!(quote_word(b"#a"), "\"#a\"");
        assert_eq!(quote_word(b"'a"), "\"'a\"");
        assert_eq!(quote_word(b"\"a\\"), r#""\"a\\""#);
        assert_eq!(quote_word(b"a\n\t\r\0\x01"), r#""a\n\t\r\0\x01""#);
        assert_eq!(quote_word(b"\xff"), r#""\xff""#);
        assert_eq!(quote_word("\u{85}\u{a0}é".as_bytes()), r#""\u{85}\u{a0}é""#);
    }

    fn chars_of_interest() -> impl Strategy<Value = String> {
        let alphabet = vec![
            'a', 'x', 'u', '{', '}', '1', 'f', '"', '\'', '\\', '#', ';', '\n', '\r', ' ', '\t',
            'é', '😀',
        ];
        prop::collection::vec(prop::sample::select(alphabet), 0..40)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn check_invariants(text: &str) {
        match parse(text) {
            Ok(statements) => {
                for statement in statements {
                    assert!(!statement.words.is_empty());
                    assert!(statement.span.end <= text.len());
                    assert!(text.get(statement.span.clone()).is_some());
                    for word in &statement.words {
                        assert!(statement.span.contains(&word.offset));
                    }
                }
            }
            Err(err) => {
                assert!(err.offset < text.len(), "{err:?} in {text:?}");
                assert!(text.is_char_boundary(err.offset));
                assert_ne!(err.message, UNEXPECTED, "grammar hole at {text:?}");
                let _ = err.report(text, 1);
                assert_eq!(
                    is_incomplete(text),
                    err.kind == ParseErrorKind::UnclosedQuote
                );
            }
        }
    }

    proptest! {
        #[test]
        fn quote_word_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let quoted = quote_word(&bytes);
            let statements = parse(&quoted).unwrap();
            prop_assert_eq!(statements.len(), 1);
            prop_assert_eq!(statements[0].words.len(), 1);
            prop_assert_eq!(&statements[0].words[0].bytes, &bytes);
        }

        #[test]
        fn quoted_words_joined_by_spaces_round_trip(
            words in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 1..5)
        ) {
            let text = words.iter().map(|w| quote_word(w)).collect::<Vec<_>>().join(" ");
            let statements = parse(&text).unwrap();
            prop_assert_eq!(statements.len(), 1);
            let parsed: Vec<Vec<u8>> = statements[0].words.iter().map(|w| w.bytes.clone()).collect();
            prop_assert_eq!(parsed, words);
        }

        #[test]
        fn any_text_parses_or_errors_without_panicking(text in any::<String>()) {
            check_invariants(&text);
        }

        #[test]
        fn grammar_characters_parse_or_error_without_panicking(text in chars_of_interest()) {
            check_invariants(&text);
        }

        #[test]
        fn plain_text_fast_path_reads_as_the_grammar_does(
            text in prop::collection::vec(
                prop::sample::select(vec!['a', 'Z', '\\', ';', '\n', '\r', ' ', '\t', '\u{b}', 'é', '😀']),
                0..40,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            prop_assert!(plain::is_plain(text.as_bytes()));
            prop_assert_eq!(parse_plain(&text), parse_full(&text).unwrap());
        }

        #[test]
        fn position_of_any_offset_does_not_panic(text in chars_of_interest(), offset in 0usize..64) {
            let position = Position::of(&text, offset);
            prop_assert!(position.line >= 1 && position.column >= 1);
        }
    }
}
