//! PQL, PuppetDB's query language, parsed to the AST (as PuppetDB's grammar and transform
//! do): `inventory[certname] { facts.os.family = "Debian" and certname ~ "web" }`.
//!
//! A hand-written recursive-descent parser: linear in the input apart from backtracking
//! over one condition, no recursion deeper than the input's nesting (bounded). A query it
//! refuses gets PuppetDB's own error text: the line and column of the furthest failure of
//! PuppetDB's grammar and what that grammar expected there, in PuppetDB's (Instaparse's)
//! order, found by `pql_failure` (bounded work; past the bound, and for nesting deeper than
//! ours allows, our parser's own list).

use serde_json::{Value, json};

use crate::error::{DbError, QueryErrorKind};

/// The entities PQL knows: the catalog inputs endpoints, then its grammar's list in the
/// grammar's order (which [`super::pql_failure`] explores).
pub(super) const ENTITIES: [&str; 16] = [
    "catalog_inputs",
    "catalog_input_contents",
    "facts",
    "reports",
    "catalogs",
    "packages",
    "package_inventory",
    "resources",
    "nodes",
    "environments",
    "factsets",
    "fact_paths",
    "fact_contents",
    "inventory",
    "edges",
    "events",
];

const FUNCTIONS: [&str; 6] = ["count", "avg", "sum", "min", "max", "to_string"];

/// Deepest nesting of parentheses, `!` and subqueries accepted.
const MAX_DEPTH: usize = 64;

/// Parses PQL to the AST (`["from", entity, ...]`).
///
/// ```
/// use serde_json::json;
/// let ast = puppet_db::query::pql::parse("inventory[certname] { facts.os.family = \"Debian\" }").unwrap();
/// assert_eq!(ast, json!(["from", "inventory",
///     ["extract", ["certname"], ["=", "facts.os.family", "Debian"]]]));
/// let e = puppet_db::query::pql::parse("nodes { certname = }").unwrap_err();
/// assert!(e.to_string().starts_with("PQL parse error at line 1, column 20:"), "{e}");
/// ```
pub fn parse(text: &str) -> Result<Value, DbError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        depth: 0,
        fail_pos: 0,
        expected: Vec::new(),
        too_deep: false,
    };
    p.ws();
    let result = p.from();
    if let Some(v) = result {
        p.ws();
        if p.pos == text.len() {
            return Ok(v);
        }
        p.fail("end of input");
    }
    // PuppetDB's own explanation (its parser's furthest failure and what it expected
    // there), when it can be had; ours otherwise.
    if let Some((line, column, message)) = (!p.too_deep)
        .then(|| super::pql_failure::message(text))
        .flatten()
    {
        return Err(DbError::query(
            QueryErrorKind::Pql { line, column },
            message,
        ));
    }
    Err(p.error())
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    fail_pos: usize,
    expected: Vec<String>,
    /// Refused for its nesting (PuppetDB's grammar has no limit: nothing to explain).
    too_deep: bool,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Records that `what` was expected here (the furthest failure is reported).
    fn fail(&mut self, what: &str) {
        if self.pos > self.fail_pos {
            self.fail_pos = self.pos;
            self.expected.clear();
        }
        if self.pos == self.fail_pos && !self.expected.iter().any(|e| e == what) {
            self.expected.push(what.to_string());
        }
    }

    fn error(&self) -> DbError {
        let before = &self.src[..self.fail_pos.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let text = self.src[line_start..].lines().next().unwrap_or("");
        let mut message = format!(
            "PQL parse error at line {}, column {}:\n\n{text}\n{}^\n\n",
            super::pql_failure::grouped(line),
            super::pql_failure::grouped(column),
            " ".repeat(column - 1)
        );
        match self.expected.len() {
            0 => {}
            1 => message.push_str("Expected:\n"),
            _ => message.push_str("Expected one of:\n\n"),
        }
        for e in &self.expected {
            message.push_str(e);
            message.push('\n');
        }
        DbError::query(QueryErrorKind::Pql { line, column }, message)
    }

    fn ws(&mut self) -> bool {
        let start = self.pos;
        let n = self.rest().len() - self.rest().trim_start().len();
        self.pos += n;
        self.pos > start
    }

    /// A literal token.
    fn lit(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            self.fail(&format!("\"{s}\""));
            false
        }
    }

    /// A keyword: the word, not followed by an identifier character.
    fn keyword(&mut self, s: &str) -> bool {
        let r = self.rest();
        if r.starts_with(s)
            && !r[s.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += s.len();
            true
        } else {
            self.fail(&format!("\"{s}\""));
            false
        }
    }

    fn entity(&mut self) -> Option<&'static str> {
        // Longest first: `package_inventory` before `packages`, `fact_paths` before `facts`.
        let mut sorted = ENTITIES;
        sorted.sort_by_key(|e| std::cmp::Reverse(e.len()));
        for e in sorted {
            if self.rest().starts_with(e) {
                self.pos += e.len();
                return Some(e);
            }
        }
        self.fail("an entity (nodes, facts, resources, ...)");
        None
    }

    fn from(&mut self) -> Option<Value> {
        let entity = self.entity()?;
        let mut out = vec![json!("from"), json!(entity)];
        let save = self.pos;
        self.ws();
        let extract = if self.rest().starts_with('[') {
            Some(self.extract()?)
        } else {
            self.pos = save;
            None
        };
        self.ws();
        let clauses = self.where_clause()?;
        // As PuppetDB's transform: the filter and group_by go inside the extract, paging
        // clauses after it.
        let (paging, other): (Vec<Value>, Vec<Value>) = clauses
            .into_iter()
            .partition(|c| matches!(c[0].as_str(), Some("limit" | "offset" | "order_by")));
        match extract {
            Some(fields) => {
                let mut e = vec![json!("extract"), fields];
                e.extend(other);
                out.push(Value::Array(e));
            }
            None => out.extend(other),
        }
        out.extend(paging);
        Some(Value::Array(out))
    }

    fn extract(&mut self) -> Option<Value> {
        if !self.lit("[") {
            return None;
        }
        self.ws();
        let mut fields = Vec::new();
        if !self.rest().starts_with(']') {
            fields = self.fieldlist(true)?;
        }
        self.ws();
        if !self.lit("]") {
            return None;
        }
        Some(Value::Array(fields))
    }

    fn fieldlist(&mut self, functions: bool) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            let item = if functions {
                let save = self.pos;
                match self.function() {
                    Some(f) => f,
                    None => {
                        self.pos = save;
                        json!(self.field()?)
                    }
                }
            } else {
                json!(self.field()?)
            };
            out.push(item);
            let save = self.pos;
            self.ws();
            if self.rest().starts_with(',') {
                self.pos += 1;
                self.ws();
            } else {
                self.pos = save;
                return Some(out);
            }
        }
    }

    fn function(&mut self) -> Option<Value> {
        let name = FUNCTIONS
            .iter()
            .find(|f| self.rest().starts_with(**f))
            .copied();
        let Some(name) = name else {
            self.fail("a function (count, avg, sum, min, max, to_string)");
            return None;
        };
        self.pos += name.len();
        self.ws();
        if !self.lit("(") {
            return None;
        }
        self.ws();
        let mut out = vec![json!("function"), json!(name)];
        if !self.rest().starts_with(')') {
            let save = self.pos;
            let first = match self.string() {
                Some(s) => json!(s),
                None => {
                    self.pos = save;
                    json!(self.field()?)
                }
            };
            out.push(first);
            loop {
                let save = self.pos;
                self.ws();
                if !self.rest().starts_with(',') {
                    self.pos = save;
                    break;
                }
                self.pos += 1;
                self.ws();
                out.push(json!(self.string()?));
            }
        }
        self.ws();
        if !self.lit(")") {
            return None;
        }
        Some(Value::Array(out))
    }

    /// A field name: `certname`, `latest_report?`, `facts.os."a.b".c[0]`.
    fn field(&mut self) -> Option<String> {
        let r = self.rest();
        for dotted in ["facts", "trusted", "parameters"] {
            if r.starts_with(dotted) && r[dotted.len()..].starts_with('.') {
                let mut end = dotted.len();
                let bytes = r.as_bytes();
                while end < r.len() && bytes[end] == b'.' {
                    let seg_start = end + 1;
                    let seg = &r[seg_start..];
                    let len = if seg.starts_with('"') {
                        // A quoted segment ends at the quote before a dot or whitespace.
                        let mut found = None;
                        for (i, c) in seg.char_indices().skip(1) {
                            if c == '"' {
                                let next = seg[i + 1..].chars().next();
                                if next.is_none_or(|n| n == '.' || n.is_whitespace()) {
                                    found = Some(i + 1);
                                    break;
                                }
                            }
                        }
                        found?
                    } else if let Some(end) = seg
                        .strip_prefix("match(")
                        .and_then(|m| m.find([')', '\n', '\r']))
                        .filter(|e| seg.as_bytes()[6 + e] == b')')
                    {
                        // `match(...)` up to its `)` on the line; without one, a standard
                        // segment (as PuppetDB's grammar reads it).
                        6 + end + 1
                    } else {
                        seg.find(|c: char| c.is_whitespace() || ".\",[]!<=>~".contains(c))
                            .unwrap_or(seg.len())
                    };
                    if len == 0 {
                        self.pos += seg_start;
                        self.fail("a field name after \".\"");
                        return None;
                    }
                    end = seg_start + len;
                    // `[n]` after a standard segment.
                    let tail = &r[end..];
                    if let Some(inside) = tail.strip_prefix('[') {
                        let digits = inside.chars().take_while(char::is_ascii_digit).count();
                        if digits > 0 && inside[digits..].starts_with(']') {
                            end += digits + 2;
                        }
                    }
                }
                let field = r[..end].to_string();
                self.pos += end;
                return Some(field);
            }
        }
        let len = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        if len == 0 {
            self.fail("a field");
            return None;
        }
        let mut end = len;
        if r[end..].starts_with('?') {
            end += 1;
        }
        self.pos += end;
        Some(r[..end].to_string())
    }

    /// `{ expression? (group by ... | paging*) }`: the clauses in order.
    fn where_clause(&mut self) -> Option<Vec<Value>> {
        if !self.lit("{") {
            return None;
        }
        self.ws();
        let mut clauses = Vec::new();
        if !self.at_modifier()
            && !self.rest().starts_with("group by")
            && !self.rest().starts_with('}')
        {
            clauses.push(self.expression()?);
            self.ws();
        }
        if self.rest().starts_with("group by") {
            self.pos += "group by".len();
            if !self.ws() {
                self.fail("whitespace");
                return None;
            }
            let mut g = vec![json!("group_by")];
            g.extend(self.fieldlist(false)?);
            clauses.push(Value::Array(g));
            self.ws();
        } else {
            while self.at_modifier() {
                clauses.push(self.paging()?);
                self.ws();
            }
        }
        if !self.lit("}") {
            if !self.at_modifier() {
                self.fail("\"limit\"");
                self.fail("\"offset\"");
                self.fail("\"order by\"");
                self.fail("\"group by\"");
            }
            return None;
        }
        Some(clauses)
    }

    fn at_modifier(&self) -> bool {
        let r = self.rest();
        r.starts_with("limit") || r.starts_with("offset") || r.starts_with("order by")
    }

    fn paging(&mut self) -> Option<Value> {
        for word in ["limit", "offset"] {
            if self.rest().starts_with(word) {
                self.pos += word.len();
                if !self.ws() {
                    self.fail("whitespace");
                    return None;
                }
                let n = self.integer()?;
                return Some(json!([word, n]));
            }
        }
        if !self.lit("order by") {
            return None;
        }
        if !self.ws() {
            self.fail("whitespace");
            return None;
        }
        let mut params = Vec::new();
        loop {
            // PuppetDB's grammar: `!('asc' | 'desc') field` (no field starts so).
            if self.rest().starts_with("asc") || self.rest().starts_with("desc") {
                self.fail("a field (not asc or desc)");
                return None;
            }
            let field = self.field()?;
            let save = self.pos;
            let dir = if self.ws() {
                if self.keyword("asc") {
                    Some("asc")
                } else if self.keyword("desc") {
                    Some("desc")
                } else {
                    self.pos = save;
                    None
                }
            } else {
                None
            };
            params.push(match dir {
                Some(d) => json!([field, d]),
                None => json!(field),
            });
            let save = self.pos;
            self.ws();
            if self.rest().starts_with(',') {
                self.pos += 1;
                self.ws();
            } else {
                self.pos = save;
                break;
            }
        }
        Some(json!(["order_by", params]))
    }

    fn expression(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.too_deep = true;
            self.fail("less nesting");
            return None;
        }
        let r = self.or();
        self.depth -= 1;
        r
    }

    /// `a or b or c`, flattened as PuppetDB does.
    fn or(&mut self) -> Option<Value> {
        let first = self.and()?;
        let mut items = vec![first];
        loop {
            let save = self.pos;
            if self.ws() && self.keyword("or") && self.ws() {
                items.push(self.and()?);
            } else {
                self.pos = save;
                break;
            }
        }
        Some(flatten("or", items))
    }

    fn and(&mut self) -> Option<Value> {
        let first = self.not()?;
        let mut items = vec![first];
        loop {
            let save = self.pos;
            if self.ws() && self.keyword("and") && self.ws() {
                items.push(self.not()?);
            } else {
                self.pos = save;
                break;
            }
        }
        Some(flatten("and", items))
    }

    fn not(&mut self) -> Option<Value> {
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.pos += 1;
            self.ws();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                self.too_deep = true;
                self.fail("less nesting");
                return None;
            }
            let inner = self.not();
            self.depth -= 1;
            return Some(json!(["not", inner?]));
        }
        self.rest_expr()
    }

    fn rest_expr(&mut self) -> Option<Value> {
        if self.rest().starts_with('(') {
            self.pos += 1;
            self.ws();
            let e = self.expression()?;
            self.ws();
            if !self.lit(")") {
                return None;
            }
            return Some(e);
        }
        // An implicit subquery: an entity name followed by `{`.
        let save = self.pos;
        if let Some(entity) = self.entity() {
            self.ws();
            if self.rest().starts_with('{') {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    self.too_deep = true;
                    self.fail("less nesting");
                    return None;
                }
                let clauses = self.where_clause();
                self.depth -= 1;
                let mut out = vec![json!("subquery"), json!(entity)];
                out.extend(clauses?);
                return Some(Value::Array(out));
            }
        }
        self.pos = save;
        self.condition()
    }

    fn condition(&mut self) -> Option<Value> {
        let grouped = self.rest().starts_with('[');
        let lhs = if grouped {
            self.pos += 1;
            self.ws();
            let fields = self.fieldlist(false)?;
            self.ws();
            if !self.lit("]") {
                return None;
            }
            Value::Array(fields)
        } else {
            json!(self.field()?)
        };
        self.ws();
        if !grouped && self.rest().starts_with("is") {
            if self.rest().starts_with("is null") {
                self.pos += "is null".len();
                return Some(json!(["null?", lhs, true]));
            }
            if self.rest().starts_with("is not null") {
                self.pos += "is not null".len();
                return Some(json!(["null?", lhs, false]));
            }
        }
        if self.keyword("in") {
            self.ws();
            let rhs = if self.rest().starts_with('[') {
                let list = self.literal_list()?;
                json!(["array", list])
            } else {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    self.too_deep = true;
                    self.fail("less nesting");
                    return None;
                }
                let q = self.from();
                self.depth -= 1;
                q?
            };
            return Some(json!(["in", lhs, rhs]));
        }
        if grouped {
            self.fail("\"in\"");
            return None;
        }
        let op = ["~>", "!=", "!~", ">=", "<=", "=", "~", "<", ">"]
            .into_iter()
            .find(|op| self.rest().starts_with(op));
        let Some(op) = op else {
            for op in [
                "=",
                "!=",
                "~",
                "!~",
                "~>",
                "<",
                "<=",
                ">",
                ">=",
                "in",
                "is null",
                "is not null",
            ] {
                self.fail(&format!("\"{op}\""));
            }
            return None;
        };
        self.pos += op.len();
        self.ws();
        let value = match op {
            "~" => json!(self.string()?),
            "~>" => {
                if !self.lit("[") {
                    return None;
                }
                self.ws();
                let mut items = vec![json!(self.string()?)];
                loop {
                    self.ws();
                    if self.rest().starts_with(',') {
                        self.pos += 1;
                        self.ws();
                        items.push(json!(self.string()?));
                    } else {
                        break;
                    }
                }
                if !self.lit("]") {
                    return None;
                }
                Value::Array(items)
            }
            "<" | ">" | "<=" | ">=" => {
                let save = self.pos;
                match self.number() {
                    Some(n) => n,
                    None => {
                        self.pos = save;
                        json!(self.string()?)
                    }
                }
            }
            _ => self.literal()?,
        };
        Some(match op {
            "!=" => json!(["not", ["=", lhs, value]]),
            "!~" => json!(["not", ["~", lhs, value]]),
            _ => json!([op, lhs, value]),
        })
    }

    fn literal_list(&mut self) -> Option<Vec<Value>> {
        if !self.lit("[") {
            return None;
        }
        self.ws();
        let mut items = vec![self.literal()?];
        loop {
            self.ws();
            if self.rest().starts_with(',') {
                self.pos += 1;
                self.ws();
                items.push(self.literal()?);
            } else {
                break;
            }
        }
        if !self.lit("]") {
            return None;
        }
        Some(items)
    }

    fn literal(&mut self) -> Option<Value> {
        let r = self.rest();
        if r.starts_with('"') || r.starts_with('\'') {
            return self.string().map(Value::String);
        }
        if r.starts_with('[') {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                self.too_deep = true;
                self.fail("less nesting");
                return None;
            }
            let l = self.literal_list();
            self.depth -= 1;
            return l.map(Value::Array);
        }
        if self.keyword("true") {
            return Some(json!(true));
        }
        if self.keyword("false") {
            return Some(json!(false));
        }
        self.number()
    }

    fn integer(&mut self) -> Option<i64> {
        let r = self.rest();
        let neg = r.starts_with('-');
        let digits = r[usize::from(neg)..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        if digits == 0 {
            self.fail("an integer");
            return None;
        }
        let len = usize::from(neg) + digits;
        match r[..len].parse::<i64>() {
            Ok(n) => {
                self.pos += len;
                Some(n)
            }
            Err(_) => {
                self.fail("an integer that fits in 64 bits");
                None
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let r = self.rest();
        let neg = usize::from(r.starts_with('-'));
        let int_digits = r[neg..].chars().take_while(char::is_ascii_digit).count();
        if int_digits == 0 {
            self.fail("a string, number, boolean or array");
            return None;
        }
        let mut end = neg + int_digits;
        let frac = r[end..]
            .strip_prefix('.')
            .map_or(0, |f| f.chars().take_while(char::is_ascii_digit).count());
        if frac == 0 {
            return self.integer().map(Value::from);
        }
        end += 1 + frac;
        if let Some(e) = r[end..].strip_prefix(['e', 'E']) {
            let sign = usize::from(e.starts_with(['+', '-']));
            let exp = e[sign..].chars().take_while(char::is_ascii_digit).count();
            if exp > 0 {
                end += 1 + sign + exp;
            }
        }
        let f: f64 = r[..end].parse().ok()?;
        self.pos += end;
        serde_json::Number::from_f64(f).map(Value::Number)
    }

    /// A single- or double-quoted string, unescaped as PuppetDB does (double-quoted: JSON
    /// escapes; single-quoted: only `\'`).
    fn string(&mut self) -> Option<String> {
        let r = self.rest();
        let Some(quote) = r.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            self.fail("a string");
            return None;
        };
        let mut escaped = false;
        let mut end = None;
        for (i, c) in r.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            self.pos += r.len();
            self.fail(&format!("a closing {quote}"));
            return None;
        };
        let body = &r[1..end];
        let value = if quote == '"' {
            match serde_json::from_str::<String>(&r[..=end]) {
                Ok(s) => s,
                Err(_) => {
                    self.fail("a string with valid escapes");
                    return None;
                }
            }
        } else {
            body.replace("\\'", "'")
        };
        self.pos += end + 1;
        Some(value)
    }
}

fn flatten(op: &str, items: Vec<Value>) -> Value {
    if items.len() == 1 {
        return items.into_iter().next().unwrap_or(Value::Null);
    }
    let mut out = vec![json!(op)];
    for item in items {
        match item.as_array() {
            Some(a) if a.first().and_then(Value::as_str) == Some(op) => {
                out.extend(a[1..].iter().cloned());
            }
            _ => out.push(item),
        }
    }
    Value::Array(out)
}
