//! Plain statement text, split without the grammar's combinators and without
//! an allocation per word: the fast path of script mode.
//!
//! Text is plain when it holds no quote and no `#`. Then every word is bare,
//! nothing can fail to parse, and the grammar's reading is simply: statements
//! end at `;` or a newline (empty ones are skipped), words are separated by
//! spaces, tabs and `\r`. The grammar's own tests check that this module reads
//! plain text exactly as the full grammar does.

use super::grammar::AsWord;

/// A word of plain text, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainWord<'a> {
    /// The word's bytes, exactly as written.
    pub bytes: &'a [u8],
    /// Byte offset in the text where the word starts.
    pub offset: usize,
}

impl AsRef<[u8]> for PlainWord<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl AsWord for PlainWord<'_> {
    fn offset(&self) -> usize {
        self.offset
    }
}

/// True for a byte that keeps text from being plain, or from being known to
/// be UTF-8 without a check: a quote, `#`, or any byte outside ASCII.
fn is_special(byte: u8) -> bool {
    byte >= 0x80 || matches!(byte, b'"' | b'\'' | b'#')
}

/// True when `text` holds no quote and no `#`.
pub fn is_plain(text: &[u8]) -> bool {
    !text.iter().any(|&b| matches!(b, b'"' | b'\'' | b'#'))
}

/// Length of the longest prefix of `bytes` that is plain ASCII text (so also
/// valid UTF-8).
pub fn plain_ascii_len(bytes: &[u8]) -> usize {
    // Eight bytes at a time while none is special; then byte by byte from
    // the block that holds one.
    let mut at = 0;
    for block in bytes.chunks_exact(8) {
        let Ok(block) = <[u8; 8]>::try_from(block) else {
            break;
        };
        if has_special(u64::from_le_bytes(block)) {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| is_special(b))
        .unwrap_or(bytes.len() - at)
}

/// Length of the plain ASCII whole lines (see [`plain_ascii_len`]) at the
/// start of `bytes`: up to and including the last newline before the first
/// byte that is not plain, or before the end.
pub fn plain_whole_lines(bytes: &[u8]) -> usize {
    bytes[..plain_ascii_len(bytes)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1)
}

/// 0x01 in every byte.
const ONES: u64 = u64::from_le_bytes([1; 8]);
/// The top bit of every byte.
const TOPS: u64 = ONES << 7;

/// True when some byte of `block` is zero.
fn has_zero_byte(block: u64) -> bool {
    block.wrapping_sub(ONES) & !block & TOPS != 0
}

/// True when some byte of `block` (eight bytes read as one number) is
/// special: a top bit set (not ASCII), or `"` or `#` (0x22 and 0x23, equal
/// once the lowest bit is cleared), or `'`.
fn has_special(block: u64) -> bool {
    block & TOPS != 0
        || has_zero_byte((block & !ONES) ^ (ONES * u64::from(b'"')))
        || has_zero_byte(block ^ (ONES * u64::from(b'\'')))
}

/// How a byte of plain text reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Part of a word.
    Word,
    /// A space, tab or `\r`: between words.
    Blank,
    /// A newline or `;`: the end of a statement.
    End,
}

/// The class of every byte.
const CLASSES: [Class; 256] = {
    let mut classes = [Class::Word; 256];
    classes[b' ' as usize] = Class::Blank;
    classes[b'\t' as usize] = Class::Blank;
    classes[b'\r' as usize] = Class::Blank;
    classes[b'\n' as usize] = Class::End;
    classes[b';' as usize] = Class::End;
    classes
};

/// Splits the statement of plain `text` that starts at byte `at`: fills
/// `words` with its words (none for an empty statement) and returns where it
/// ends: the offset of the `;` or newline that ends it, or the text's length.
/// Returns `None` once `at` is past the end of the text.
pub fn split_statement<'a>(
    text: &'a [u8],
    at: usize,
    words: &mut Vec<PlainWord<'a>>,
) -> Option<usize> {
    words.clear();
    let rest = text.get(at..)?;
    let class = |i: usize| rest.get(i).map_or(Class::End, |&b| CLASSES[usize::from(b)]);
    let mut i = 0;
    loop {
        while class(i) == Class::Blank {
            i += 1;
        }
        if class(i) == Class::End {
            return Some(at + i.min(rest.len()));
        }
        let from = i;
        i = next_break(rest, i + 1);
        // Control bytes other than blanks and newlines belong to the word.
        while class(i) == Class::Word {
            i = next_break(rest, i + 1);
        }
        words.push(word(rest, at, from, i));
    }
}

/// The offset of the first byte at or after `from` that may end a word: a
/// byte below `!` (a blank or a newline, or a control byte that the caller
/// finds belongs to the word after all) or `;`; the length when none does.
/// `text` is plain ASCII.
fn next_break(text: &[u8], from: usize) -> usize {
    let mut i = from;
    // Eight bytes at a time; every byte is below 0x80, so the lowest byte
    // flagged is exactly the first that is below `!` or is `;`.
    while let Some(block) = text.get(i..i + 8) {
        let Ok(block) = <[u8; 8]>::try_from(block) else {
            break;
        };
        let block = u64::from_le_bytes(block);
        let below = block.wrapping_sub(ONES * u64::from(b'!')) & !block & TOPS;
        let semicolon = block ^ (ONES * u64::from(b';'));
        let flagged = below | (semicolon.wrapping_sub(ONES) & !semicolon & TOPS);
        if flagged != 0 {
            return i + (flagged.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&byte) = text.get(i) {
        if byte < b'!' || byte == b';' {
            break;
        }
        i += 1;
    }
    i
}

fn word(rest: &[u8], at: usize, from: usize, to: usize) -> PlainWord<'_> {
    PlainWord {
        bytes: &rest[from..to],
        offset: at + from,
    }
}

/// The byte range a statement's words cover, from the first word's start to
/// the last word's end.
pub fn span(words: &[PlainWord<'_>]) -> Option<std::ops::Range<usize>> {
    let (first, last) = (words.first()?, words.last()?);
    Some(first.offset..last.offset + last.bytes.len())
}

/// Plain text split into statements in one pass, ahead of running them (by
/// the thread that reads script input): every statement that has words,
/// with its words and its line, exactly as running the text splits it line
/// by line with [`split_statement`]. Offsets are kept as `u32`, half the
/// bytes for the runner to read, so a split holds text under 4 GiB.
#[derive(Debug, Default)]
pub struct Split {
    statements: Vec<SplitStatement>,
    /// Every statement's words, one after another: offset in the text and length.
    words: Vec<(u32, u32)>,
    /// Index of the text's last line (0 for the first).
    last_line: usize,
}

/// A statement of a [`Split`].
#[derive(Debug, Clone, Copy)]
struct SplitStatement {
    /// Offset in the text where the statement's line starts.
    line_start: u32,
    /// Index of its line (0 for the text's first).
    line: u32,
    /// Where its words end in [`Split::words`] (they start where the
    /// previous statement's end).
    words_end: u32,
}

/// A statement of a [`Split`], as [`Split::statement`] gives it.
#[derive(Debug)]
pub struct SplitPlace {
    /// Offset in the text where the statement's line starts: its words'
    /// offsets count from there.
    pub line_start: usize,
    /// Index of its line (0 for the text's first).
    pub line: usize,
}

/// `n` as a `u32`, for a text known to be shorter than 4 GiB.
fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Split {
    /// Splits plain `text` (see [`plain_ascii_len`]) into `self`, replacing
    /// what it held. False, leaving `self` empty, when the text is 4 GiB or
    /// longer.
    pub fn fill(&mut self, text: &[u8]) -> bool {
        self.statements.clear();
        self.words.clear();
        self.last_line = 0;
        if u32::try_from(text.len()).is_err() {
            return false;
        }
        let mut words = Vec::new();
        let (mut line_start, mut at, mut line) = (0, 0, 0);
        while let Some(end) = split_statement(&text[line_start..], at, &mut words) {
            if !words.is_empty() {
                self.words.extend(
                    words
                        .iter()
                        .map(|word| (small(line_start + word.offset), small(word.bytes.len()))),
                );
                self.statements.push(SplitStatement {
                    line_start: small(line_start),
                    line: small(line),
                    words_end: small(self.words.len()),
                });
            }
            if text.get(line_start + end) == Some(&b'\n') {
                line_start += end + 1;
                at = 0;
                if line_start < text.len() {
                    line += 1;
                }
            } else {
                at = end + 1;
            }
        }
        self.last_line = line;
        true
    }

    /// How many statements with words the text holds.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when the text holds no statement with words.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Index of the text's last line (0 for the first).
    pub fn last_line(&self) -> usize {
        self.last_line
    }

    /// Statement `index` of `text` (the text this split was filled from):
    /// fills `words` with its words, their offsets counted from the start of
    /// its line, as [`split_statement`] gives them for that line.
    pub fn statement<'a>(
        &self,
        index: usize,
        text: &'a [u8],
        words: &mut Vec<PlainWord<'a>>,
    ) -> Option<SplitPlace> {
        let statement = self.statements.get(index)?;
        let from = match index {
            0 => 0,
            _ => self.statements[index - 1].words_end as usize,
        };
        let line_start = statement.line_start as usize;
        words.clear();
        for &(offset, len) in self.words.get(from..statement.words_end as usize)? {
            let (offset, len) = (offset as usize, len as usize);
            words.push(PlainWord {
                bytes: text.get(offset..offset + len)?,
                offset: offset - line_start,
            });
        }
        Some(SplitPlace {
            line_start,
            line: statement.line as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(text: &str) -> Vec<Vec<(&str, usize)>> {
        let mut out = Vec::new();
        let mut words = Vec::new();
        let mut at = 0;
        while let Some(end) = split_statement(text.as_bytes(), at, &mut words) {
            if !words.is_empty() {
                out.push(
                    words
                        .iter()
                        .map(|w| (std::str::from_utf8(w.bytes).unwrap(), w.offset))
                        .collect(),
                );
            }
            at = end + 1;
        }
        out
    }

    #[test]
    fn splits_statements_and_words_with_offsets() {
        assert_eq!(
            statements(" put a\tb ;;\nget  a\r\nx"),
            vec![
                vec![("put", 1), ("a", 5), ("b", 7)],
                vec![("get", 12), ("a", 17)],
                vec![("x", 20)],
            ]
        );
        assert!(statements("").is_empty());
        assert!(statements(" \t\r\n;").is_empty());
    }

    #[test]
    fn words_end_at_blanks_newlines_and_semicolons_only() {
        let text = "put k\x0b1 long-enough-value;x\ty\x00z\r\nlast";
        assert_eq!(
            statements(text),
            vec![
                vec![("put", 0), ("k\x0b1", 4), ("long-enough-value", 8)],
                vec![("x", 26), ("y\x00z", 28)],
                vec![("last", 33)],
            ]
        );
        for (i, _) in text.char_indices() {
            let expected = text.as_bytes()[i..]
                .iter()
                .position(|&b| b < b'!' || b == b';')
                .map_or(text.len(), |n| i + n);
            assert_eq!(next_break(text.as_bytes(), i), expected, "from {i}");
        }
    }

    /// Statements as running plain text line by line splits them: the
    /// offset where each one's line starts, its line index and its words.
    fn split_line_by_line(text: &str) -> (Vec<(usize, usize, Vec<PlainWord<'_>>)>, usize) {
        let mut out = Vec::new();
        let mut words = Vec::new();
        let (mut line_start, mut at, mut line) = (0, 0, 0);
        while let Some(end) = split_statement(&text.as_bytes()[line_start..], at, &mut words) {
            if !words.is_empty() {
                out.push((line_start, line, words.clone()));
            }
            match text[line_start..].get(end + 1..) {
                Some(next) if text.as_bytes()[line_start + end] == b'\n' => {
                    line_start += end + 1;
                    at = 0;
                    if !next.is_empty() {
                        line += 1;
                    }
                }
                _ => at = end + 1,
            }
        }
        (out, line)
    }

    #[test]
    fn a_split_holds_what_splitting_line_by_line_gives() {
        let texts = [
            "",
            "\n",
            "put a b\n",
            "put a b",
            " put a\tb ;; get a\n\n\r\nx y z w v\n;\nlast one\n",
            "a;b;c\n d \n\n",
            "put k\x0b1 long-enough-value;x\ty\x00z\r\nlast",
        ];
        let mut split = Split::default();
        let mut words = Vec::new();
        for text in texts {
            assert!(split.fill(text.as_bytes()));
            let (expected, last_line) = split_line_by_line(text);
            assert_eq!(split.len(), expected.len(), "{text:?}");
            assert_eq!(split.is_empty(), expected.is_empty());
            assert_eq!(split.last_line(), last_line, "{text:?}");
            for (index, (line_start, line, expected_words)) in expected.iter().enumerate() {
                let place = split.statement(index, text.as_bytes(), &mut words).unwrap();
                assert_eq!((place.line_start, place.line), (*line_start, *line));
                assert_eq!(&words, expected_words, "{text:?} statement {index}");
            }
            assert!(
                split
                    .statement(expected.len(), text.as_bytes(), &mut words)
                    .is_none()
            );
        }
    }

    #[test]
    fn span_covers_first_to_last_word() {
        let mut words = Vec::new();
        split_statement(b"  put a bc  ;", 0, &mut words);
        assert_eq!(span(&words), Some(2..10));
        split_statement(b" ;", 0, &mut words);
        assert_eq!(span(&words), None);
    }

    #[test]
    fn plain_whole_lines_end_at_the_last_newline_before_anything_not_plain() {
        assert_eq!(plain_whole_lines(b""), 0);
        assert_eq!(plain_whole_lines(b"put a b"), 0);
        assert_eq!(plain_whole_lines(b"put a b\nput c"), 8);
        assert_eq!(plain_whole_lines(b"put a b\nput c\n"), 14);
        assert_eq!(plain_whole_lines(b"put a b\nput c\"d\"\nput e f\n"), 8);
        assert_eq!(plain_whole_lines(b"put a \xc3\xa9\n"), 0);
    }

    #[test]
    fn plain_ascii_prefix_stops_at_quotes_comments_and_non_ascii() {
        assert_eq!(plain_ascii_len(b""), 0);
        assert_eq!(plain_ascii_len(b"put a b\n"), 8);
        let long = "put key:1 value:1\n".repeat(10);
        assert_eq!(plain_ascii_len(long.as_bytes()), long.len());
        for special in ["\"", "'", "#", "\u{e9}"] {
            let text = format!("{long}put a {special}b\n{long}");
            assert_eq!(
                plain_ascii_len(text.as_bytes()),
                long.len() + 6,
                "{special}"
            );
        }
    }

    #[test]
    fn plain_means_no_quote_and_no_comment() {
        assert!(is_plain("put a b; get a\n\tx\\y\r\n é".as_bytes()));
        for text in ["put a \"b\"", "put a 'b'", "put a # c", "put a#b"] {
            assert!(!is_plain(text.as_bytes()), "{text:?}");
        }
    }
}
