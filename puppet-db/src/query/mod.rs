//! `/pdb/query/v4`: the AST language, PQL, paging, and their compilation to SQL.

mod compile;
pub(crate) mod entities;
pub mod event_counts;
mod json_query;
pub mod pql;
mod pql_failure;
pub(crate) mod to_char;

use serde_json::Value;

pub(crate) use compile::{Compiled, Compiler, href_key};

use crate::error::{DbError, QueryErrorKind};

/// One `order_by` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// The field.
    pub field: String,
    /// `desc`.
    pub descending: bool,
}

/// Paging, from the query parameters (`limit`, `offset`, `order_by`, `include_total`) or
/// the query's own clauses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paging {
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Skip this many rows.
    pub offset: Option<u64>,
    /// Sort order.
    pub order_by: Vec<OrderBy>,
    /// Count the rows before `limit`/`offset` (answered in `X-Records`).
    pub include_total: bool,
}

fn paging_err(message: String) -> DbError {
    DbError::query(QueryErrorKind::Paging, message)
}

impl Paging {
    /// Paging from query parameters as PuppetDB takes them (`order_by` is JSON:
    /// `[{"field": "certname", "order": "desc"}]`).
    ///
    /// ```
    /// use puppet_db::Paging;
    /// let p = Paging::from_params(&[("limit", "10"), ("order_by", r#"[{"field":"certname","order":"desc"}]"#),
    ///     ("include_total", "true")]).unwrap();
    /// assert_eq!(p.limit, Some(10));
    /// assert!(p.order_by[0].descending && p.include_total);
    /// assert!(Paging::from_params(&[("limit", "-1")]).is_err());
    /// ```
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Result<Paging, DbError> {
        let mut p = Paging::default();
        for (k, v) in params {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "limit" | "offset" => {
                    let n = v.parse::<u64>().map_err(|_| {
                        // PuppetDB's words differ for the two.
                        paging_err(if k == "limit" {
                            format!(
                                "Illegal value '{v}' for :limit; expected a positive non-zero integer."
                            )
                        } else {
                            format!(
                                "Illegal value '{v}' for :{k}; expected a non-negative integer."
                            )
                        })
                    })?;
                    if k == "limit" {
                        if n == 0 {
                            return Err(paging_err(format!(
                                "Illegal value '{v}' for :limit; expected a positive non-zero integer."
                            )));
                        }
                        p.limit = Some(n);
                    } else {
                        p.offset = Some(n);
                    }
                }
                "include_total" => p.include_total = v == "true" || v.is_empty(),
                "order_by" => {
                    let list: Value = serde_json::from_str(v).map_err(|e| {
                        paging_err(format!(
                            "Illegal value '{v}' for :order_by; expected a JSON array: {e}"
                        ))
                    })?;
                    let items = list.as_array().ok_or_else(|| {
                        paging_err(format!(
                            "Illegal value '{v}' for :order_by; expected an array of maps."
                        ))
                    })?;
                    for item in items {
                        let field = item.get("field").and_then(Value::as_str).ok_or_else(|| {
                            paging_err(format!(
                                "Illegal value '{item}' in :order_by; missing required key 'field'."
                            ))
                        })?;
                        let descending = match item.get("order").and_then(Value::as_str) {
                            None => false,
                            Some(o) if o.eq_ignore_ascii_case("asc") => false,
                            Some(o) if o.eq_ignore_ascii_case("desc") => true,
                            Some(_) => {
                                return Err(paging_err(format!(
                                    "Illegal value '{}' in :order_by; 'order' must be either 'asc' or 'desc'",
                                    clojure_map(item)
                                )));
                            }
                        };
                        p.order_by.push(OrderBy {
                            field: field.to_string(),
                            descending,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// Fills what the query itself did not set from the request's parameters.
    pub(crate) fn merge(&mut self, from_params: &Paging) {
        if self.limit.is_none() {
            self.limit = from_params.limit;
        }
        if self.offset.is_none() {
            self.offset = from_params.offset;
        }
        if self.order_by.is_empty() {
            self.order_by = from_params.order_by.clone();
        }
        self.include_total |= from_params.include_total;
    }
}

/// A JSON object as PuppetDB prints it in its paging errors (a Clojure map with keyword
/// keys): `{:field "certname", :order "up"}`.
fn clojure_map(v: &Value) -> String {
    match v.as_object() {
        Some(map) => {
            let items: Vec<String> = map.iter().map(|(k, v)| format!(":{k} {v}")).collect();
            format!("{{{}}}", items.join(", "))
        }
        None => v.to_string(),
    }
}

/// A query as a client sends it in `query=` to the root endpoint: the AST as JSON (text
/// starting with `[`, blanks aside) or PQL (anything else), as PuppetDB tells them apart.
/// Answers the AST; the errors are PuppetDB's texts (Jackson's or PQL's, framed with the
/// line and column).
///
/// ```
/// let ast = puppet_db::parse_query(r#"nodes { certname ~ "web" }"#).unwrap();
/// assert_eq!(ast, serde_json::json!(["from", "nodes", ["~", "certname", "web"]]));
/// let ast = puppet_db::parse_query(r#"["=", "certname", "web1"]"#).unwrap();
/// assert_eq!(ast, serde_json::json!(["=", "certname", "web1"]));
/// let e = puppet_db::parse_query(r#"["=", "certname""#).unwrap_err();
/// assert!(e.to_string().starts_with("Json parse error at line 1, column 17:"), "{e}");
/// ```
pub fn parse_query(text: &str) -> Result<Value, DbError> {
    // Java's `^\s*\[`.
    let json = text
        .trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r'])
        .starts_with('[');
    if json {
        Ok(json_query::parse(text)?.unwrap_or(Value::Null))
    } else {
        pql::parse(text)
    }
}

/// A query as a client sends it in `query=` to an entity endpoint (`/nodes`, `/facts`,
/// ...): the AST as JSON, read as PuppetDB reads it (no PQL there). `None` when the text
/// holds no JSON value (blank) or `null`.
///
/// ```
/// let ast = puppet_db::parse_ast_query(r#"["=", "certname", "web1"]"#).unwrap();
/// assert_eq!(ast, Some(serde_json::json!(["=", "certname", "web1"])));
/// assert_eq!(puppet_db::parse_ast_query("  ").unwrap(), None);
/// let e = puppet_db::parse_ast_query("not json").unwrap_err();
/// assert_eq!(e.to_string(), "Json parse error at line 1, column 4:\n\nnot json\n  ^\n\n\
///     Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token \
///     'null', 'true' or 'false')");
/// ```
pub fn parse_ast_query(text: &str) -> Result<Option<Value>, DbError> {
    // `null` is Clojure's nil to PuppetDB: no query at all.
    Ok(json_query::parse(text)?.filter(|v| !v.is_null()))
}

/// `query` restricted by `criteria` (an endpoint's own filter, such as the certname of
/// `/nodes/<certname>/facts`), as PuppetDB adds it: into an `extract`'s filter (beside a
/// `group_by`, or into a `select_<entity>` subquery's query) rather than around it.
pub(crate) fn add_criteria(criteria: Value, query: Option<Value>) -> Value {
    let Some(query) = query else {
        return criteria;
    };
    let Some(items) = query
        .as_array()
        .filter(|a| a.first() == Some(&Value::from("extract")))
    else {
        return serde_json::json!(["and", query, criteria]);
    };
    let mut items = items.clone();
    let is =
        |v: &Value, word: &str| v.as_array().and_then(|a| a.first()) == Some(&Value::from(word));
    match items.get(2).cloned() {
        None | Some(Value::Null) => {
            items.truncate(2);
            items.push(criteria);
        }
        Some(g) if is(&g, "group_by") => items.insert(2, criteria),
        Some(Value::Array(mut sub))
            if sub
                .first()
                .and_then(Value::as_str)
                .is_some_and(|h| h.starts_with("select_")) =>
        {
            let restricted = match sub.get(1).cloned() {
                Some(inner) => serde_json::json!(["and", inner, criteria]),
                None => criteria,
            };
            sub.truncate(1);
            sub.push(restricted);
            items[2] = Value::Array(sub);
        }
        Some(filter) => items[2] = serde_json::json!(["and", filter, criteria]),
    }
    Value::Array(items)
}
