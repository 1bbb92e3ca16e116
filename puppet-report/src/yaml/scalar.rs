//! Which style a string takes (plain, single- or double-quoted, literal block), as Psych
//! requests it and libyaml's analysis of the text allows.

use super::emit::{
    is_blank_z, is_break, is_printable, write_double, write_literal, write_plain, write_single,
};

/// Where a scalar goes: a mapping key (no folding, a simple key) or a value that starts at
/// `column` and continues, when folded, at `indent`.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    Key,
    Value { column: usize, indent: usize },
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// A string as Psych writes it. A literal block (`|`) runs to the end of its last line; a
/// block kept with `|+` makes the document end with `...` unless another block follows it
/// ([`Written::block`], [`Written::open_ended`]).
pub(crate) fn string(s: &str, place: Place) -> Written {
    if s == "<<" {
        return Written::inline("!!str '<<'".to_owned());
    }
    let requested = if has_inner_newline(s) {
        Style::Literal
    } else if s == "y" || s == "n" || line_starts_with_non_word_without_quote(s) {
        Style::Double
    } else if !tokenizes_as_string(s) || octal_looking_decimal(s) {
        Style::Single
    } else {
        Style::Plain
    };
    let a = analyze(s);
    let simple_key = matches!(place, Place::Key);
    let mut style = requested;
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    let (column, indent, allow_breaks) = match place {
        Place::Key => (0, 0, false),
        Place::Value { column, indent } => (column, indent, true),
    };
    let chars: Vec<char> = s.chars().collect();
    match style {
        Style::Plain => Written::inline(write_plain(&chars, column, indent, allow_breaks)),
        Style::Single => Written::inline(write_single(&chars, column, indent, allow_breaks)),
        Style::Double => Written::inline(write_double(&chars, column, indent, allow_breaks)),
        Style::Literal => write_literal(&chars, indent),
    }
}

/// A scalar as written.
pub(crate) struct Written {
    /// The text.
    pub(crate) text: String,
    /// Whether the text ends its line (a literal block ending with a line break).
    pub(crate) ends_line: bool,
    /// Whether this is a literal block (`|`): libyaml decides on `...` at the end of the
    /// document from the last block scalar it wrote.
    pub(crate) block: bool,
    /// Whether this is a `|+` block: when it is the document's last block scalar, the
    /// document ends with `...`.
    pub(crate) open_ended: bool,
}

impl Written {
    pub(super) fn inline(text: String) -> Written {
        Written {
            text,
            ends_line: false,
            block: false,
            open_ended: false,
        }
    }
}

/// `o =~ /\n(?!\Z)/`: a newline followed by more than a final newline (Ruby's `\Z`
/// matches at the end and before a final newline).
fn has_inner_newline(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    b.iter()
        .enumerate()
        .any(|(i, c)| *c == b'\n' && i + 1 < n && !(i + 2 == n && b.get(n - 1) == Some(&b'\n')))
}

/// Ruby's `[[:word:]]`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `o =~ /^[^[:word:]][^"]*$/`: at the start of some line, a non-word character (a line
/// break counts) followed by no `"` up to the end of that line.
fn line_starts_with_non_word_without_quote(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let starts = std::iter::once(0).chain(
        chars
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '\n')
            .map(|(i, _)| i + 1),
    );
    for p in starts {
        let Some(&c) = chars.get(p) else { continue };
        if is_word(c) {
            continue;
        }
        let rest = chars.get(p + 1..).unwrap_or_default();
        let line = rest.iter().take_while(|c| **c != '\n');
        if !line.clone().any(|c| *c == '"') {
            return true;
        }
    }
    false
}

/// `/\A0[0-7]*[89]/`
fn octal_looking_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() != Some(&b'0') {
        return false;
    }
    let rest = b.get(1..).unwrap_or_default();
    let after = rest.iter().position(|c| !(b'0'..=b'7').contains(c));
    matches!(after.and_then(|i| rest.get(i)), Some(b'8' | b'9'))
}

/// Whether `Psych::ScalarScanner#tokenize` (4.0) reads the text back as a string.
fn tokenizes_as_string(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if string_prefix(s) || s.contains('\n') {
        if s.chars().count() > 5 {
            return true;
        }
        let lower = s.to_ascii_lowercase();
        if !lower.starts_with(['y', 't', 'o', 'n', 'f', '~']) {
            return true;
        }
        return !(s == "~"
            || lower == "null"
            || ["yes", "true", "on", "no", "false", "off"].contains(&lower.as_str()));
    }
    let lower = s.to_ascii_lowercase();
    !(is_time(s)
        || is_date(s)
        || lower == ".inf"
        || lower == "+.inf"
        || lower == "-.inf"
        || lower == ".nan"
        || (s.starts_with(':') && s.chars().count() > 1)
        || is_sexagesimal(s)
        || is_float(s)
        || is_integer(s))
}

/// `%r{^[^\d.:-]?[[:alpha:]_\s!@#$%\^&*(){}<>|/\\~;=]+}`, matched at the start.
fn string_prefix(s: &str) -> bool {
    let class = |c: char| {
        c.is_alphabetic() || c.is_ascii_whitespace() || "_!@#$%^&*(){}<>|/\\~;=".contains(c)
    };
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if class(first) {
        return true;
    }
    if first.is_ascii_digit() || ".:-".contains(first) {
        return false;
    }
    chars.next().is_some_and(class)
}

/// A small cursor for the scanner's regular expressions.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_any(&mut self, set: &[u8]) -> bool {
        match self.b.get(self.i) {
            Some(c) if set.contains(c) => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }
    fn digits(&mut self, min: usize, max: usize) -> bool {
        let start = self.i;
        while self.i - start < max && self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start >= min
    }
    fn many(&mut self, ok: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(|c| ok(*c)) {
            self.i += 1;
        }
        self.i - start
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// `TIME`: `^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$`
fn is_time(s: &str) -> bool {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    c.eat(b'-');
    if !(c.digits(4, 4) && c.eat(b'-') && c.digits(1, 2) && c.eat(b'-') && c.digits(1, 2)) {
        return false;
    }
    if !c.eat_any(b"Tt") && c.many(|b| b.is_ascii_whitespace()) == 0 {
        return false;
    }
    if !(c.digits(1, 2) && c.eat(b':') && c.digits(2, 2) && c.eat(b':') && c.digits(2, 2)) {
        return false;
    }
    if c.eat(b'.') {
        c.digits(0, usize::MAX);
    }
    if c.done() {
        return true;
    }
    c.many(|b| b.is_ascii_whitespace());
    if c.eat(b'Z') {
        return c.done();
    }
    if !(c.eat_any(b"+-") && c.digits(1, 2)) {
        return false;
    }
    c.eat(b':');
    c.digits(0, 2);
    c.done()
}

/// `^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$`, and a real date.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let all_digits = |p: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !(all_digits(y, 4, 4) && all_digits(m, 1, 2) && all_digits(d, 1, 2)) {
        return false;
    }
    let (m, d): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    (1..=12).contains(&m) && (1..=31).contains(&d)
}

/// `^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}(\.[0-9_]*)?$`
fn is_sexagesimal(s: &str) -> bool {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    c.eat_any(b"+-");
    if !c.digits(1, 1) {
        return false;
    }
    c.many(|b| b.is_ascii_digit() || b == b'_');
    let mut groups = 0;
    while groups < 2 && c.eat(b':') {
        let start = c.i;
        let n = c.many(|b| b.is_ascii_digit());
        let ok = match n {
            1 => true,
            2 => c.b.get(start).is_some_and(|d| (b'0'..=b'5').contains(d)),
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if c.eat(b'.') {
        c.many(|b| b.is_ascii_digit() || b == b'_');
    }
    c.done()
}

/// `FLOAT`: `^[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?$`, but not `.` alone.
fn is_float(s: &str) -> bool {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    c.eat_any(b"+-");
    let int = c.many(|b| b.is_ascii_digit() || b == b'_' || b == b',');
    if int > 0 && !c.b.get(c.i - int).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    if !c.eat(b'.') {
        return false;
    }
    let frac = c.many(|b| b.is_ascii_digit());
    if c.eat_any(b"eE") && !(c.eat_any(b"+-") && c.many(|b| b.is_ascii_digit()) > 0) {
        return false;
    }
    c.done() && (int > 0 || frac > 0 || c.b.len() > 2)
}

/// `INTEGER_LEGACY` (commas allowed).
fn is_integer(s: &str) -> bool {
    let b = s.as_bytes();
    let b = match b.first() {
        Some(b'+' | b'-') => b.get(1..).unwrap_or_default(),
        _ => b,
    };
    let all = |rest: &[u8], ok: fn(u8) -> bool| !rest.is_empty() && rest.iter().all(|c| ok(*c));
    if let Some(rest) = b.strip_prefix(b"0b") {
        return all(rest, |c| matches!(c, b'0' | b'1' | b'_' | b','));
    }
    if let Some(rest) = b.strip_prefix(b"0x") {
        return all(rest, |c| c.is_ascii_hexdigit() || c == b'_' || c == b',');
    }
    if b == b"0" {
        return true;
    }
    if let Some(rest) = b.strip_prefix(b"0") {
        return all(rest, |c| matches!(c, b'0'..=b'7' | b'_' | b','));
    }
    // [1-9](?:[0-9]|,[0-9]|_[0-9])*
    match b.split_first() {
        Some((first, rest)) if (b'1'..=b'9').contains(first) => {
            let mut i = 0;
            while i < rest.len() {
                match rest.get(i) {
                    Some(c) if c.is_ascii_digit() => i += 1,
                    Some(b',' | b'_') if rest.get(i + 1).is_some_and(u8::is_ascii_digit) => i += 2,
                    _ => return false,
                }
            }
            true
        }
        _ => false,
    }
}

/// What libyaml's `yaml_emitter_analyze_scalar` allows for a scalar (block context).
struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut special, mut line_breaks) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blank_z(chars.get(i + 1));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '-' && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_z(Some(&c));
    }
    let mut block_plain_allowed = true;
    let mut single_quoted_allowed = true;
    let mut block_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain_allowed = false;
    }
    if trailing_space {
        block_allowed = false;
    }
    if break_space {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if space_break || special {
        block_plain_allowed = false;
        single_quoted_allowed = false;
        block_allowed = false;
    }
    if line_breaks || block_indicators {
        block_plain_allowed = false;
    }
    Analysis {
        block_plain_allowed,
        single_quoted_allowed,
        block_allowed,
    }
}
