//! The few YAML scalars `last_run_summary.yaml` holds, written as Ruby's Psych (4.0, over
//! libyaml) writes them: strings plain, single- or double-quoted or as literal blocks by
//! Psych's rules, floats as Ruby's `Float#to_s`, long lines folded at column 80.

/// libyaml's default line width.
const BEST_WIDTH: usize = 80;

/// Ruby's `Float#to_s` as Psych writes it (`0.0001`, `8.1565e-05`, `1.0e+16`, `.nan`).
pub(crate) fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Ruby's dtoa (mode 0) gives the shortest digits that read back as the same float and,
    // among those, the nearest to its exact value, ties to even. Rust's shortest form has the
    // right length but may round a tie up; its exact formatting to that many digits is
    // correctly rounded, ties to even.
    let shortest = format!("{:e}", f.abs());
    let length = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let nearest = format!("{:.*e}", length.saturating_sub(1), f.abs());
    let sci = if nearest.parse::<f64>() == Ok(f.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let decpt = exponent + 1;
    let sign = if f < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    // Ruby's flo_to_s: fixed notation when the point falls inside the digits, or after them
    // within 15 places, or up to 3 zeros after "0."; exponent notation otherwise.
    if decpt > 0 && decpt < n {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{sign}{int}.{frac}")
    } else if decpt > 0 && decpt <= 15 {
        format!("{sign}{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else if decpt <= 0 && decpt > -4 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(decpt.unsigned_abs() as usize)
        )
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}.{rest}e{esign}{:02}", exponent.unsigned_abs())
    }
}

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
    fn inline(text: String) -> Written {
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

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_z(c: Option<&char>) -> bool {
    match c {
        None => true,
        Some(&c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// libyaml's `IS_PRINTABLE`.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
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

fn newline_indent(out: &mut String, indent: usize) -> usize {
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    indent
}

fn write_plain(chars: &[char], mut column: usize, indent: usize, allow_breaks: bool) -> String {
    let mut out = String::new();
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if allow_breaks && !spaces && column > BEST_WIDTH && chars.get(i + 1) != Some(&' ') {
                column = newline_indent(&mut out, indent);
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            column += 1;
            spaces = false;
        }
    }
    out
}

fn write_single(chars: &[char], mut column: usize, indent: usize, allow_breaks: bool) -> String {
    let mut out = String::from("'");
    column += 1;
    let (mut spaces, mut breaks) = (false, false);
    let last = chars.len().saturating_sub(1);
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if allow_breaks
                && !spaces
                && column > BEST_WIDTH
                && i != 0
                && i != last
                && chars.get(i + 1) != Some(&' ')
            {
                column = newline_indent(&mut out, indent);
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else if is_break(c) {
            // One line break is folded away inside quotes: a first `\n` is doubled.
            if !breaks && c == '\n' {
                out.push('\n');
            }
            out.push(c);
            column = 0;
            breaks = true;
        } else {
            if breaks {
                column = pad(&mut out, column, indent);
            }
            if c == '\'' {
                out.push('\'');
                column += 1;
            }
            out.push(c);
            column += 1;
            spaces = false;
            breaks = false;
        }
    }
    if breaks {
        pad(&mut out, column, indent);
    }
    out.push('\'');
    out
}

/// libyaml's `write_indent` right after a line break: spaces up to the indentation.
fn pad(out: &mut String, column: usize, indent: usize) -> usize {
    out.push_str(&" ".repeat(indent.saturating_sub(column)));
    column.max(indent)
}

/// A literal block: `|`, the indentation hint when the text starts with a space or a
/// break, the chomping hint (`-` no final break, `+` several), then the lines indented.
fn write_literal(chars: &[char], indent: usize) -> Written {
    let mut out = String::from("|");
    if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
        out.push('2');
    }
    let trailing = chars.iter().rev().take_while(|c| is_break(**c)).count();
    let open_ended = trailing >= 2 || (trailing == 1 && chars.len() == 1);
    if trailing == 0 {
        out.push('-');
    } else if open_ended {
        out.push('+');
    }
    out.push('\n');
    let mut breaks = true;
    for &c in chars {
        if is_break(c) {
            out.push(c);
            breaks = true;
        } else {
            if breaks {
                out.push_str(&" ".repeat(indent));
            }
            out.push(c);
            breaks = false;
        }
    }
    Written {
        ends_line: out.ends_with('\n'),
        text: out,
        block: true,
        open_ended,
    }
}

fn write_double(chars: &[char], mut column: usize, indent: usize, allow_breaks: bool) -> String {
    let mut out = String::from("\"");
    column += 1;
    let mut spaces = false;
    let last = chars.len().saturating_sub(1);
    for (i, &c) in chars.iter().enumerate() {
        if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
            let escape = match c {
                '\0' => "0".to_owned(),
                '\u{7}' => "a".to_owned(),
                '\u{8}' => "b".to_owned(),
                '\t' => "t".to_owned(),
                '\n' => "n".to_owned(),
                '\u{B}' => "v".to_owned(),
                '\u{C}' => "f".to_owned(),
                '\r' => "r".to_owned(),
                '\u{1B}' => "e".to_owned(),
                '"' => "\"".to_owned(),
                '\\' => "\\".to_owned(),
                '\u{85}' => "N".to_owned(),
                '\u{A0}' => "_".to_owned(),
                '\u{2028}' => "L".to_owned(),
                '\u{2029}' => "P".to_owned(),
                c if (c as u32) <= 0xFF => format!("x{:02X}", c as u32),
                c if (c as u32) <= 0xFFFF => format!("u{:04X}", c as u32),
                c => format!("U{:08X}", c as u32),
            };
            out.push('\\');
            out.push_str(&escape);
            column += 1 + escape.len();
            spaces = false;
        } else if c == ' ' {
            if allow_breaks && !spaces && column > BEST_WIDTH && i != 0 && i != last {
                column = newline_indent(&mut out, indent);
                if chars.get(i + 1) == Some(&' ') {
                    out.push('\\');
                    column += 1;
                }
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            column += 1;
            spaces = false;
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each string and how Psych 4.0.4 (Ruby 3.1.7, Debian 12) writes it as a mapping value
    /// (`YAML.dump({"k" => s})`), observed on the real thing.
    const PSYCH_VALUES: &[(&str, &str)] = &[
        ("1795369503", "'1795369503'"),
        ("production", "production"),
        ("true", "'true'"),
        ("", "''"),
        ("a: b", "'a: b'"),
        ("-x", "\"-x\""),
        ("x#y", "x#y"),
        ("x #y", "'x #y'"),
        ("1.5", "'1.5'"),
        ("null", "'null'"),
        ("~", "\"~\""),
        ("yes", "'yes'"),
        ("é", "é"),
        ("0o17", "0o17"),
        ("1_000", "'1_000'"),
        ("@x", "\"@x\""),
        ("x:", "'x:'"),
        (" x", "\" x\""),
        ("9a3f", "9a3f"),
        ("2026-01-01", "'2026-01-01'"),
        ("1e5", "1e5"),
        (".5", "\".5\""),
        ("0x1F", "'0x1F'"),
        ("*a", "\"*a\""),
        ("y", "\"y\""),
        ("n", "\"n\""),
        ("on", "'on'"),
        ("x\ty", "\"x\\ty\""),
        ("\u{1}", "\"\\x01\""),
        ("it's", "it's"),
        ("{a}", "\"{a}\""),
        ("a,b", "a,b"),
        ("%x", "\"%x\""),
        ("x?", "x?"),
        ("?x", "\"?x\""),
        ("!x", "\"!x\""),
        ("`x", "\"`x\""),
        ("|x", "\"|x\""),
        (">x", "\">x\""),
        ("[x", "\"[x\""),
        ("=", "\"=\""),
        ("<<", "!!str '<<'"),
        ("12:30", "'12:30'"),
        ("+1", "\"+1\""),
        (".inf", "\".inf\""),
        ("x ", "'x '"),
        ("-", "\"-\""),
        ("1:2:3", "'1:2:3'"),
        ("0b101", "'0b101'"),
        ("7.23.0", "7.23.0"),
        ("agent", "agent"),
        ("user", "user"),
    ];

    fn value(s: &str, column: usize, indent: usize) -> String {
        string(s, Place::Value { column, indent }).text
    }

    #[test]
    fn strings_are_written_as_psych_writes_them() {
        for (input, want) in PSYCH_VALUES {
            assert_eq!(&value(input, 5, 2), want, "for {input:?}");
        }
    }

    #[test]
    fn keys_y_and_n_are_quoted() {
        assert_eq!(string("n", Place::Key).text, "\"n\"");
        assert_eq!(string("total", Place::Key).text, "total");
        assert_eq!(string("", Place::Key).text, "''");
    }

    #[test]
    fn long_values_fold_at_column_80_as_psych_does() {
        // YAML.dump({"version" => {"config" => ..., "puppet" => ...}}) on the real Psych.
        let plain = "commit abcdef0123 by Somebody Important on a long day in november with several words more";
        assert_eq!(
            value(plain, 10, 4),
            "commit abcdef0123 by Somebody Important on a long day in november with several\n    words more"
        );
        let single = "it's: a long string with a colon that forces single quoting and goes past eighty columns wide";
        assert_eq!(
            value(single, 10, 4),
            "'it''s: a long string with a colon that forces single quoting and goes past\n    eighty columns wide'"
        );
    }

    #[test]
    fn line_breaks_are_written_as_psych_writes_them() {
        // YAML.dump({"k" => {"v" => s, "w" => 1}}) on the real Psych: the text after "  v: ".
        let cases: &[(&str, &str)] = &[
            ("a\n", "'a\n\n    '"),
            ("a\n\n", "\"a\\n\\n\""),
            ("\n", "\"\\n\""),
            ("a\nb", "|-\n    a\n    b"),
            ("a\nb\n", "|\n    a\n    b\n"),
            ("a\nb\n\n", "|+\n    a\n    b\n\n"),
            (" a\nb", "|2-\n     a\n    b"),
            ("\na", "|2-\n\n    a"),
            ("a\n\nb", "|-\n    a\n\n    b"),
            ("x: y\nz", "|-\n    x: y\n    z"),
            ("a \nb", "\"a \\nb\""),
            ("a\n b", "|-\n    a\n     b"),
            ("\"\n-", "|-\n    \"\n    -"),
            ("-\nx", "|-\n    -\n    x"),
            ("a\n-x\n", "|\n    a\n    -x\n"),
            ("ab\n\"", "|-\n    ab\n    \""),
            ("é\nb", "|-\n    é\n    b"),
            ("it's\n", "'it''s\n\n    '"),
        ];
        for (input, want) in cases {
            assert_eq!(&value(input, 5, 4), want, "for {input:?}");
        }
        assert!(
            string(
                "a\nb\n\n",
                Place::Value {
                    column: 5,
                    indent: 4
                }
            )
            .open_ended
        );
        assert!(
            !string(
                "a\nb\n",
                Place::Value {
                    column: 5,
                    indent: 4
                }
            )
            .open_ended
        );
    }

    #[test]
    fn floats_are_written_as_ruby_does() {
        // [1.0e-05, 8.1565e-05, 0.0001, 1e15, 1e16, 123456789012345.6, 0.1+0.2, 2.0, -0.5,
        //  100.0, 1e100, 5e-324].map(&:to_s) and more, on Ruby 3.1.7.
        let cases: &[(f64, &str)] = &[
            (1.0e-05, "1.0e-05"),
            (8.1565e-05, "8.1565e-05"),
            (0.0001, "0.0001"),
            (1e15, "1.0e+15"),
            (1e16, "1.0e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2.0, "2.0"),
            (-0.5, "-0.5"),
            (100.0, "100.0"),
            (1e100, "1.0e+100"),
            (5e-324, "5.0e-324"),
            (1e14, "100000000000000.0"),
            (1.5e15, "1.5e+15"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (0.00012345, "0.00012345"),
            (0.00018227399999999998, "0.00018227399999999998"),
            (0.0, "0.0"),
            // Exactly 777187067870500.25: a tie, broken to even.
            (f64::from_bits(0x4306_16c7_b8d5_e922), "777187067870500.2"),
            (2627912520770068.5, "2627912520770068.5"),
            (9999999999999998.0, "9.999999999999998e+15"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (f64::NAN, ".nan"),
            (f64::NEG_INFINITY, "-.inf"),
        ];
        for (f, want) in cases {
            assert_eq!(ruby_float(*f), *want, "for {f:?}");
        }
    }
}
