//! Client regexes for PostgreSQL: parsed with the `regex` crate's own parser and written out
//! again in PostgreSQL's "advanced regular expression" syntax, with the same meaning.
//!
//! Why not hand the client's pattern to PostgreSQL's `~` as it is: PostgreSQL's engine accepts
//! back-references (whose matching can take exponential time) and reads several escapes
//! differently from the `regex` crate (`\b` is a backspace there, a word boundary here), so
//! the two backends would answer differently and a hostile pattern could run away. The pattern
//! is parsed into the `regex` crate's high-level IR (which has no back-references or
//! look-around: a regular language only) and printed back with only constructs both engines
//! share: literals as escapes, classes as bracket expressions of `\uXXXX` ranges (case
//! insensitivity already expanded), non-capturing groups, bounded repetition, `\A`/`\Z`, and
//! `\y`/`\Y`/`\m`/`\M` for word boundaries. Without back-references PostgreSQL matches with
//! its DFA, in time linear in the text; the statement timeout of each connection is a second
//! fence.

use std::fmt::Write;

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The longest pattern PostgreSQL is given (Unicode classes such as `\w` expand to many
/// ranges).
pub(crate) const MAX_PG_PATTERN: usize = 64 * 1024;

/// PostgreSQL's largest repetition bound (`DUPMAX`).
const PG_DUPMAX: u32 = 255;

/// `pattern` (the `regex` crate's syntax) as a PostgreSQL ARE with the same matches.
pub(crate) fn to_postgres(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    write_hir(&hir, &mut out)?;
    if out.len() > MAX_PG_PATTERN {
        return Err(format!(
            "the pattern is too large for PostgreSQL once its classes are expanded ({} bytes, at most {MAX_PG_PATTERN})",
            out.len()
        ));
    }
    Ok(out)
}

fn char_escape(c: char, out: &mut String) {
    let n = u32::from(c);
    if n <= 0xFFFF {
        let _ = write!(out, "\\u{n:04x}");
    } else {
        let _ = write!(out, "\\U{n:08x}");
    }
}

fn literal_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else if c.is_ascii_graphic() {
        // `\` before a non-alphanumeric character is that character, in both syntaxes.
        out.push('\\');
        out.push(c);
    } else {
        char_escape(c, out);
    }
}

fn write_hir(hir: &Hir, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0)
                .map_err(|_| "a literal that is not UTF-8 is not supported".to_string())?;
            for c in text.chars() {
                literal_char(c, out);
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            if class.ranges().is_empty() {
                return Err("a class that matches nothing is not supported".into());
            }
            out.push('[');
            for r in class.ranges() {
                char_escape(r.start(), out);
                if r.end() != r.start() {
                    out.push('-');
                    char_escape(r.end(), out);
                }
            }
            out.push(']');
        }
        HirKind::Class(Class::Bytes(class)) => {
            if class.ranges().is_empty() || class.ranges().iter().any(|r| r.end() > 0x7f) {
                return Err("a byte class beyond ASCII is not supported".into());
            }
            out.push('[');
            for r in class.ranges() {
                char_escape(char::from(r.start()), out);
                if r.end() != r.start() {
                    out.push('-');
                    char_escape(char::from(r.end()), out);
                }
            }
            out.push(']');
        }
        HirKind::Look(look) => out.push_str(match look {
            Look::Start => "\\A",
            Look::End => "\\Z",
            Look::StartLF => "(?:\\A|(?<=\\n))",
            Look::EndLF => "(?:\\Z|(?=\\n))",
            Look::WordAscii | Look::WordUnicode => "\\y",
            Look::WordAsciiNegate | Look::WordUnicodeNegate => "\\Y",
            Look::WordStartAscii | Look::WordStartUnicode => "\\m",
            Look::WordEndAscii | Look::WordEndUnicode => "\\M",
            other => return Err(format!("the assertion {other:?} is not supported")),
        }),
        HirKind::Repetition(rep) => {
            out.push_str("(?:");
            write_hir(&rep.sub, out)?;
            out.push(')');
            // Greediness does not change whether a text matches: `~` only asks that.
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (min, max) => {
                    if min > PG_DUPMAX || max.is_some_and(|m| m > PG_DUPMAX) {
                        return Err(format!(
                            "a repetition count above {PG_DUPMAX} is not supported"
                        ));
                    }
                    match max {
                        None => {
                            let _ = write!(out, "{{{min},}}");
                        }
                        Some(max) if max == min => {
                            let _ = write!(out, "{{{min}}}");
                        }
                        Some(max) => {
                            let _ = write!(out, "{{{min},{max}}}");
                        }
                    }
                }
            }
        }
        HirKind::Capture(cap) => {
            // Non-capturing: PostgreSQL then needs no sub-match tracking at all.
            out.push_str("(?:");
            write_hir(&cap.sub, out)?;
            out.push(')');
        }
        HirKind::Concat(parts) => {
            for p in parts {
                write_hir(p, out)?;
            }
        }
        HirKind::Alternation(alts) => {
            out.push_str("(?:");
            for (i, a) in alts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write_hir(a, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_postgres_syntax() {
        assert_eq!(to_postgres("^web").as_deref(), Ok("\\Aweb"));
        assert_eq!(
            to_postgres("a.b$").as_deref(),
            Ok("a[\\u0000-\\u0009\\u000b-\\U0010ffff]b\\Z")
        );
        assert_eq!(
            to_postgres(r"\bx[0-9]{2,3}").as_deref(),
            Ok("\\yx(?:[\\u0030-\\u0039]){2,3}")
        );
        assert_eq!(
            to_postgres("(a|b)+?").as_deref(),
            Ok("(?:(?:[\\u0061-\\u0062]))+")
        );
        assert!(to_postgres(r"(a)\1").is_err(), "no back-references");
        assert!(to_postgres("(?=a)").is_err(), "no look-around");
        assert!(to_postgres("a{300}").is_err());
    }
}
