//! Writing a scalar in its style as libyaml's emitter does: folding at the best width,
//! escapes, indentation, block chomping.

use super::scalar::Written;

/// libyaml's default line width.
const BEST_WIDTH: usize = 80;

fn newline_indent(out: &mut String, indent: usize) -> usize {
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    indent
}

pub(super) fn write_plain(
    chars: &[char],
    mut column: usize,
    indent: usize,
    allow_breaks: bool,
) -> String {
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

pub(super) fn write_single(
    chars: &[char],
    mut column: usize,
    indent: usize,
    allow_breaks: bool,
) -> String {
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
pub(super) fn write_literal(chars: &[char], indent: usize) -> Written {
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

pub(super) fn write_double(
    chars: &[char],
    mut column: usize,
    indent: usize,
    allow_breaks: bool,
) -> String {
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

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

pub(super) fn is_blank_z(c: Option<&char>) -> bool {
    match c {
        None => true,
        Some(&c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// libyaml's `IS_PRINTABLE`.
pub(super) fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}
