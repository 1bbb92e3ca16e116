//! A query's JSON (the AST) read as PuppetDB reads it: with Jackson (through Cheshire's
//! settings: no comments, no single quotes, control characters allowed in strings), every
//! JSON value of the text in turn, refusing a second one. When the text is not JSON the
//! error is Jackson's message in PuppetDB's frame:
//!
//! ```text
//! Json parse error at line 1, column 4:
//!
//! not json
//!   ^
//!
//! Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')
//! ```
//!
//! (the marker one column left of the one named, as PuppetDB draws it). A hand-written
//! reader, iterative over nesting (a stack, no recursion), linear in the text.

use serde_json::{Map, Number, Value};

use crate::error::{DbError, QueryErrorKind};

const VALID_VALUES: &str =
    "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

/// Reads `text` as PuppetDB reads a JSON query: `None` when it holds no value at all (an
/// empty or blank query), the value when it holds one.
pub(crate) fn parse(text: &str) -> Result<Option<Value>, DbError> {
    let mut r = Reader {
        s: text.chars().collect(),
        ptr: 0,
        row: 1,
        row_start: 0,
    };
    let mut values = Vec::new();
    loop {
        match r.read_root_value() {
            Ok(Some(v)) => values.push(v),
            Ok(None) => break,
            Err(e) => return Err(framed(text, e)),
        }
    }
    let mut values = values.into_iter();
    let first = values.next();
    let others: Vec<Value> = values.collect();
    if let (Some(first), false) = (&first, others.is_empty()) {
        let others: Vec<String> = others.iter().map(clojure).collect();
        return Err(DbError::query(
            QueryErrorKind::Ast,
            format!(
                "Only one query may be sent in a request. Found JSON ({}) after the query {}",
                others.join(" "),
                clojure(first)
            ),
        ));
    }
    Ok(first)
}

/// A Jackson error: its message's first line, and the line and column it names.
struct JsonError {
    message: String,
    line: usize,
    column: usize,
}

/// PuppetDB's frame around a Jackson error.
fn framed(text: &str, e: JsonError) -> DbError {
    // The line as Clojure's `split-lines` cuts the text (at `\n` and `\r\n`).
    let line_text = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .nth(e.line - 1)
        .unwrap_or("");
    let message = format!(
        "Json parse error at line {}, column {}:\n\n{line_text}\n{}^\n\n{}",
        super::pql_failure::grouped(e.line),
        super::pql_failure::grouped(e.column),
        " ".repeat(e.column.saturating_sub(2)),
        e.message
    );
    DbError::query(QueryErrorKind::Ast, message)
}

/// How Jackson names a character in its messages.
fn desc(c: char) -> String {
    let code = u32::from(c);
    if c.is_control() {
        format!("(CTRL-CHAR, code {code})")
    } else if code > 255 {
        format!("'{c}' (code {code} / 0x{code:x})")
    } else {
        format!("'{c}' (code {code})")
    }
}

/// Java's `Character.isJavaIdentifierStart` / `isJavaIdentifierPart`, near enough.
fn ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '$' || c == '_'
}
fn ident_part(c: char) -> bool {
    c.is_alphanumeric() || c == '$' || c == '_'
}

enum Frame {
    Array {
        items: Vec<Value>,
        line: usize,
        column: usize,
    },
    Object {
        map: Map<String, Value>,
        key: String,
        line: usize,
        column: usize,
    },
}

impl Frame {
    fn start(&self) -> String {
        let (what, line, column) = match self {
            Frame::Array { line, column, .. } => ("Array", line, column),
            Frame::Object { line, column, .. } => ("Object", line, column),
        };
        format!("{what} starting at [Source: (StringReader); line: {line}, column: {column}]")
    }
    fn marker(&self) -> String {
        let (what, line, column) = match self {
            Frame::Array { line, column, .. } => ("Array", line, column),
            Frame::Object { line, column, .. } => ("Object", line, column),
        };
        format!(
            "expected close marker for {what} (start marker at [Source: (StringReader); line: {line}, column: {column}])"
        )
    }
}

struct Reader {
    s: Vec<char>,
    /// The next character to read.
    ptr: usize,
    row: usize,
    row_start: usize,
}

impl Reader {
    /// Jackson's column: UTF-16 units since the row's start, plus one.
    fn column_at(&self, ptr: usize) -> usize {
        self.s[self.row_start.min(ptr)..ptr]
            .iter()
            .map(|c| c.len_utf16())
            .sum::<usize>()
            + 1
    }

    fn err<T>(&self, message: String) -> Result<T, JsonError> {
        self.err_at(self.ptr, message)
    }

    fn err_at<T>(&self, ptr: usize, message: String) -> Result<T, JsonError> {
        Err(JsonError {
            message,
            line: self.row,
            column: self.column_at(ptr),
        })
    }

    fn unexpected<T>(&self, c: char, comment: &str) -> Result<T, JsonError> {
        self.err(format!("Unexpected character ({}): {comment}", desc(c)))
    }

    fn unexpected_in_number<T>(&self, c: char, comment: &str) -> Result<T, JsonError> {
        self.err(format!(
            "Unexpected character ({}) in numeric value: {comment}",
            desc(c)
        ))
    }

    /// An error inside a number (`c` after its start): Jackson names the column two past
    /// the number's first character, wherever `c` is.
    fn number_error<T>(&self, start: usize, c: char, comment: &str) -> Result<T, JsonError> {
        self.err_at(
            (start + 2).min(self.s.len()),
            format!(
                "Unexpected character ({}) in numeric value: {comment}",
                desc(c)
            ),
        )
    }

    /// Skips white space; the next character (not consumed), `None` at the end.
    fn skip_ws(&mut self) -> Result<Option<char>, JsonError> {
        while let Some(&c) = self.s.get(self.ptr) {
            match c {
                ' ' | '\t' => self.ptr += 1,
                '\n' => {
                    self.ptr += 1;
                    self.row += 1;
                    self.row_start = self.ptr;
                }
                '\r' => {
                    self.ptr += 1;
                    if self.s.get(self.ptr) == Some(&'\n') {
                        self.ptr += 1;
                    }
                    self.row += 1;
                    self.row_start = self.ptr;
                }
                '/' => {
                    self.ptr += 1;
                    return self.unexpected(
                        c,
                        "maybe a (non-standard) comment? (not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)",
                    );
                }
                c if u32::from(c) < 0x20 => {
                    self.ptr += 1;
                    return self.err(format!(
                        "Illegal character ({}): only regular white space (\\r, \\n, \\t) is allowed between tokens",
                        desc(c)
                    ));
                }
                c => return Ok(Some(c)),
            }
        }
        Ok(None)
    }

    fn mismatched_close(&self, c: char, frame: Option<&Frame>) -> Result<(), JsonError> {
        let expected = if c == '}' { ']' } else { '}' };
        let start = match frame {
            Some(f) => f.start(),
            None => "root starting at [Source: (StringReader); line: 1, column: 0]".to_string(),
        };
        self.err(format!(
            "Unexpected close marker '{c}': expected '{expected}' (for {start})"
        ))
    }

    /// The next root-level value, `None` at the end of the text.
    fn read_root_value(&mut self) -> Result<Option<Value>, JsonError> {
        let Some(c) = self.skip_ws()? else {
            return Ok(None);
        };
        self.ptr += 1;
        if c == ']' || c == '}' {
            return self.mismatched_close(c, None).map(|()| None);
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut value = self.start_value(c, &mut stack, true)?;
        loop {
            let opened = match value.take() {
                Some(v) => {
                    let Some(frame) = stack.last_mut() else {
                        return Ok(Some(v));
                    };
                    match frame {
                        Frame::Array { items, .. } => items.push(v),
                        Frame::Object { map, key, .. } => {
                            map.insert(std::mem::take(key), v);
                        }
                    }
                    false
                }
                None => true,
            };
            let Some(c) = self.skip_ws()? else {
                return self.eof_in(&stack);
            };
            self.ptr += 1;
            if c == ']' || c == '}' {
                value = self.close(c, &mut stack)?;
                continue;
            }
            if !opened {
                let what = match stack.last() {
                    Some(Frame::Object { .. }) => "Object",
                    _ => "Array",
                };
                if c != ',' {
                    return self.unexpected(
                        c,
                        &format!("was expecting comma to separate {what} entries"),
                    );
                }
                let Some(next) = self.skip_ws()? else {
                    return self.err(format!(
                        "Unexpected end-of-input within/between {what} entries"
                    ));
                };
                self.ptr += 1;
                value = self.entry(next, &mut stack)?;
            } else {
                value = self.entry(c, &mut stack)?;
            }
        }
    }

    /// An entry starting with `c` (consumed) of the innermost container: a value, or in an
    /// object a name, a colon and a value. `None`: a container was opened.
    fn entry(&mut self, c: char, stack: &mut Vec<Frame>) -> Result<Option<Value>, JsonError> {
        if let Some(Frame::Object { .. }) = stack.last() {
            if c != '"' {
                return self.unexpected(c, "was expecting double-quote to start field name");
            }
            let name = self.string()?;
            let Some(c) = self.skip_ws()? else {
                return self
                    .err("Unexpected end-of-input within/between Object entries".to_string());
            };
            self.ptr += 1;
            if c != ':' {
                return self
                    .unexpected(c, "was expecting a colon to separate field name and value");
            }
            let Some(c) = self.skip_ws()? else {
                return self
                    .err("Unexpected end-of-input within/between Object entries".to_string());
            };
            self.ptr += 1;
            if let Some(Frame::Object { key, .. }) = stack.last_mut() {
                *key = name;
            }
            return self.start_value(c, stack, false);
        }
        self.start_value(c, stack, false)
    }

    /// Closes the innermost container with `c` (consumed).
    fn close(&mut self, c: char, stack: &mut Vec<Frame>) -> Result<Option<Value>, JsonError> {
        let matches = matches!(
            (c, stack.last()),
            (']', Some(Frame::Array { .. })) | ('}', Some(Frame::Object { .. }))
        );
        if !matches {
            self.mismatched_close(c, stack.last())?;
        }
        Ok(match stack.pop() {
            Some(Frame::Array { items, .. }) => Some(Value::Array(items)),
            Some(Frame::Object { map, .. }) => Some(Value::Object(map)),
            None => None,
        })
    }

    fn eof_in<T>(&self, stack: &[Frame]) -> Result<T, JsonError> {
        let marker = stack.last().map(Frame::marker).unwrap_or_default();
        self.err(format!("Unexpected end-of-input: {marker}"))
    }

    /// A value starting with `c` (consumed): scalars answered, a container pushed (`None`).
    fn start_value(
        &mut self,
        c: char,
        stack: &mut Vec<Frame>,
        root: bool,
    ) -> Result<Option<Value>, JsonError> {
        let (line, column) = (self.row, self.column_at(self.ptr - 1));
        match c {
            '[' => {
                stack.push(Frame::Array {
                    items: Vec::new(),
                    line,
                    column,
                });
                Ok(None)
            }
            '{' => {
                stack.push(Frame::Object {
                    map: Map::new(),
                    key: String::new(),
                    line,
                    column,
                });
                Ok(None)
            }
            '"' => self.string().map(|s| Some(Value::String(s))),
            '-' | '0'..='9' => self.number(c, root).map(Some),
            '}' => self.unexpected(c, "expected a value"),
            '+' => {
                if self.ptr >= self.s.len() {
                    return self.err("Unexpected end-of-input in a Number value".to_string());
                }
                self.ptr += 1;
                self.unexpected_in_number(
                    '+',
                    "JSON spec does not allow numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow",
                )
            }
            c if ident_start(c) => {
                let start = self.ptr - 1;
                while self.s.get(self.ptr).is_some_and(|c| ident_part(*c)) {
                    self.ptr += 1;
                }
                // Jackson shows at most 256 characters of the token (and stops there).
                let token: String = self.s[start..self.ptr].iter().collect();
                if token.chars().count() > 256 {
                    self.ptr = start + 256;
                }
                match token.as_str() {
                    "true" => Ok(Some(Value::Bool(true))),
                    "false" => Ok(Some(Value::Bool(false))),
                    "null" => Ok(Some(Value::Null)),
                    "NaN" | "Infinity" => self.err(format!(
                        "Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
                    )),
                    _ => {
                        let shown: String = token.chars().take(256).collect();
                        let more = if token.chars().count() > 256 { "..." } else { "" };
                        self.err(format!(
                            "Unrecognized token '{shown}{more}': was expecting {VALID_VALUES}"
                        ))
                    }
                }
            }
            c => self.unexpected(c, &format!("expected a valid value {VALID_VALUES}")),
        }
    }

    /// A string after its opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.ptr) else {
                return self.err(
                    "Unexpected end-of-input: was expecting closing quote for a string value"
                        .to_string(),
                );
            };
            self.ptr += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(&e) = self.s.get(self.ptr) else {
                        return self.err(
                            "Unexpected end-of-input in character escape sequence".to_string(),
                        );
                    };
                    self.ptr += 1;
                    match e {
                        '"' | '\\' | '/' => out.push(e),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let mut code = 0u32;
                            for _ in 0..4 {
                                let Some(&h) = self.s.get(self.ptr) else {
                                    return self.err(
                                        "Unexpected end-of-input in character escape sequence"
                                            .to_string(),
                                    );
                                };
                                self.ptr += 1;
                                let Some(d) = h.to_digit(16) else {
                                    return self.unexpected(
                                        h,
                                        "expected a hex-digit for character escape sequence",
                                    );
                                };
                                code = code * 16 + d;
                            }
                            self.push_utf16(&mut out, code);
                        }
                        e => {
                            return self.err(format!("Unrecognized character escape {}", desc(e)));
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// A `\uXXXX` unit: surrogate pairs joined, lone surrogates replaced.
    fn push_utf16(&mut self, out: &mut String, code: u32) {
        if (0xD800..0xDC00).contains(&code) {
            // A high surrogate: a `\uDC00`-`\uDFFF` may follow.
            let tail: String = self.s[self.ptr..(self.ptr + 6).min(self.s.len())]
                .iter()
                .collect();
            if let Some(hex) = tail.strip_prefix("\\u")
                && let Ok(low) = u32::from_str_radix(hex, 16)
                && (0xDC00..0xE000).contains(&low)
            {
                self.ptr += 6;
                let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                return;
            }
        }
        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
    }

    /// A number whose first character `c` is consumed.
    fn number(&mut self, c: char, root: bool) -> Result<Value, JsonError> {
        let start = self.ptr - 1;
        let digit = |r: &Self| r.s.get(r.ptr).is_some_and(char::is_ascii_digit);
        if c == '-' {
            let Some(&n) = self.s.get(self.ptr) else {
                return self
                    .err("Unexpected end-of-inputNo digit following minus sign".to_string());
            };
            self.ptr += 1;
            if !n.is_ascii_digit() {
                if n == 'I' {
                    let rest: String = self.s[self.ptr - 1..].iter().take(8).collect();
                    if rest == "Infinity" {
                        self.ptr += 7;
                        return self.err(
                            "Non-standard token '-Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
                                .to_string(),
                        );
                    }
                }
                return self.number_error(
                    start,
                    n,
                    "expected digit (0-9) to follow minus sign, for valid numeric value",
                );
            }
        }
        // The first digit is consumed: leading zeroes are refused.
        if self.s[self.ptr - 1] == '0' && digit(self) {
            return self.err("Invalid numeric value: Leading zeroes not allowed".to_string());
        }
        while digit(self) {
            self.ptr += 1;
        }
        let mut float = false;
        if self.s.get(self.ptr) == Some(&'.') {
            float = true;
            self.ptr += 1;
            if !digit(self) {
                let Some(&c) = self.s.get(self.ptr) else {
                    return self.unexpected_in_number('.', "Decimal point not followed by a digit");
                };
                return self.number_error(start, c, "Decimal point not followed by a digit");
            }
            while digit(self) {
                self.ptr += 1;
            }
        }
        if matches!(self.s.get(self.ptr), Some('e' | 'E')) {
            float = true;
            self.ptr += 1;
            if matches!(self.s.get(self.ptr), Some('+' | '-')) {
                self.ptr += 1;
            }
            if !digit(self) {
                let Some(&c) = self.s.get(self.ptr) else {
                    return self.err(
                        "Unexpected end-of-inputexpected a digit for number exponent".to_string(),
                    );
                };
                return self.number_error(start, c, "Exponent indicator not followed by a digit");
            }
            while digit(self) {
                self.ptr += 1;
            }
        }
        let text: String = self.s[start..self.ptr].iter().collect();
        if root && let Some(&c) = self.s.get(self.ptr) {
            match c {
                ' ' | '\t' | '\r' | '\n' => {}
                c => {
                    self.ptr += 1;
                    return self.unexpected(c, "Expected space separating root-level values");
                }
            }
        }
        let number = if float {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        } else if let Ok(i) = text.parse::<i64>() {
            Some(Number::from(i))
        } else if let Ok(u) = text.parse::<u64>() {
            Some(Number::from(u))
        } else {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        };
        Ok(number.map_or(Value::Null, Value::Number))
    }
}

/// A value as Clojure prints it (`pr`): `["=" "certname" "a"]`, `{"a" 1}`, `nil`.
fn clojure(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    '\u{c}' => out.push_str("\\f"),
                    '\u{8}' => out.push_str("\\b"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(clojure).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} {}", clojure(&Value::String(k.clone())), clojure(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}
