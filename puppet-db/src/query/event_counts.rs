//! `/event-counts` and `/aggregate-event-counts`: resource events counted by status per
//! subject (a resource, a containing class or a node), as PuppetDB's event-counts query does.
//!
//! The counting is the database's: the events query is compiled with `group_by`, so one row
//! per subject and status comes back (per subject, status and node with `count_by=certname`),
//! never one row per event. `counts_filter`, paging and the aggregate are applied to those.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{OrderBy, Paging};
use crate::error::{DbError, QueryErrorKind};

fn ast_err(message: impl Into<String>) -> DbError {
    DbError::query(QueryErrorKind::Ast, message)
}

/// What the events are counted for (`summarize_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SummarizeBy {
    /// One row per node (`certname`).
    Certname,
    /// One row per containing class (`containing_class`).
    ContainingClass,
    /// One row per resource (`resource_type`, `resource_title`).
    Resource,
}

impl SummarizeBy {
    /// PuppetDB's name of it.
    pub fn name(self) -> &'static str {
        match self {
            SummarizeBy::Certname => "certname",
            SummarizeBy::ContainingClass => "containing_class",
            SummarizeBy::Resource => "resource",
        }
    }

    /// The events fields a subject is made of.
    fn fields(self) -> &'static [&'static str] {
        match self {
            SummarizeBy::Certname => &["certname"],
            SummarizeBy::ContainingClass => &["containing_class"],
            SummarizeBy::Resource => &["resource_type", "resource_title"],
        }
    }

    fn parse(s: &str) -> Result<SummarizeBy, DbError> {
        match s.trim() {
            "certname" => Ok(SummarizeBy::Certname),
            "containing_class" => Ok(SummarizeBy::ContainingClass),
            "resource" => Ok(SummarizeBy::Resource),
            other => Err(ast_err(format!(
                "Unsupported value for 'summarize_by': '{other}'"
            ))),
        }
    }
}

/// What one count counts (`count_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CountBy {
    /// Every event (PuppetDB's default, named `resource`).
    #[default]
    Resource,
    /// Each node once per subject and status.
    Certname,
}

/// The parameters of an event-counts query besides `query` and paging.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCountsQuery {
    /// `summarize_by` (several only for `/aggregate-event-counts`, comma-separated there).
    pub summarize_by: Vec<SummarizeBy>,
    /// `count_by`.
    pub count_by: CountBy,
    /// `counts_filter`: `=`, `<`, `>`, `<=`, `>=` (and `and`, `or`, `not`) over `failures`,
    /// `successes`, `noops` and `skips`.
    pub counts_filter: Option<Value>,
}

impl EventCountsQuery {
    /// Reads `summarize_by` (required), `count_by` and `counts_filter` from a request's
    /// parameters, as PuppetDB names them.
    ///
    /// ```
    /// use puppet_db::query::event_counts::{CountBy, EventCountsQuery, SummarizeBy};
    /// let q = EventCountsQuery::from_params(&[("summarize_by", "certname,resource"),
    ///     ("count_by", "certname"), ("counts_filter", r#"[">", "failures", 0]"#)]).unwrap();
    /// assert_eq!(q.summarize_by, [SummarizeBy::Certname, SummarizeBy::Resource]);
    /// assert_eq!(q.count_by, CountBy::Certname);
    /// assert!(EventCountsQuery::from_params(&[("count_by", "resource")]).is_err());
    /// assert!(EventCountsQuery::from_params(&[("summarize_by", "class")]).is_err());
    /// ```
    pub fn from_params<K: AsRef<str>, V: AsRef<str>>(
        params: &[(K, V)],
    ) -> Result<EventCountsQuery, DbError> {
        let get = |name: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref())
        };
        let summarize_by = get("summarize_by")
            .ok_or_else(|| ast_err("Missing required query parameter 'summarize_by'"))?
            .split(',')
            .map(SummarizeBy::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let count_by = match get("count_by").map(str::trim) {
            None | Some("resource") => CountBy::Resource,
            Some("certname") => CountBy::Certname,
            Some(other) => {
                return Err(ast_err(format!(
                    "Unsupported value for 'count_by': '{other}'"
                )));
            }
        };
        let counts_filter = match get("counts_filter").filter(|f| !f.trim().is_empty()) {
            None => None,
            Some(text) => {
                let f: Value = serde_json::from_str(text).map_err(|e| {
                    ast_err(format!("Malformed JSON for counts_filter: {text}: {e}"))
                })?;
                // Checked once here, so a bad filter fails even when nothing is counted.
                matches(&f, &Counts::default())?;
                Some(f)
            }
        };
        Ok(EventCountsQuery {
            summarize_by,
            count_by,
            counts_filter,
        })
    }
}

/// The four counts of one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    failures: u64,
    successes: u64,
    noops: u64,
    skips: u64,
}

impl Counts {
    fn get(&self, field: &str) -> Option<u64> {
        match field {
            "failures" => Some(self.failures),
            "successes" => Some(self.successes),
            "noops" => Some(self.noops),
            "skips" => Some(self.skips),
            _ => None,
        }
    }

    fn add(&mut self, status: &str, n: u64) {
        match status {
            "failure" => self.failures += n,
            "success" => self.successes += n,
            "noop" => self.noops += n,
            "skipped" => self.skips += n,
            _ => {}
        }
    }
}

/// `counts_filter` on one subject's counts.
fn matches(filter: &Value, c: &Counts) -> Result<bool, DbError> {
    let items = filter
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ast_err(format!("{filter} is not a valid counts_filter term")))?;
    let op = items[0].as_str().unwrap_or_default();
    match op {
        "and" | "or" => {
            let mut result = op == "and";
            for term in &items[1..] {
                let m = matches(term, c)?;
                result = if op == "and" {
                    result && m
                } else {
                    result || m
                };
            }
            Ok(result)
        }
        "not" if items.len() == 2 => Ok(!matches(&items[1], c)?),
        "=" | "<" | ">" | "<=" | ">=" if items.len() == 3 => {
            let field = items[1].as_str().unwrap_or_default();
            let have = c.get(field).ok_or_else(|| {
                DbError::query(
                    QueryErrorKind::UnknownField,
                    format!(
                        "'{}' is not a queryable object for event counts, known queryable objects are failures, successes, noops and skips",
                        items[1]
                    ),
                )
            })?;
            let want = match &items[2] {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| ast_err(format!("Value {} must be a number for {op}", items[2])))?;
            let have = have as f64;
            Ok(match op {
                "=" => have == want,
                "<" => have < want,
                ">" => have > want,
                "<=" => have <= want,
                _ => have >= want,
            })
        }
        _ => Err(ast_err(format!(
            "{filter} is not a valid counts_filter term: operators are =, <, >, <=, >=, and, or, not"
        ))),
    }
}

/// The events query that counts for `by`: `["extract", [fields, status, count], filter,
/// ["group_by", fields, status]]` (with `certname` among the groups for `count_by=certname`).
pub(crate) fn counting_query(by: SummarizeBy, count_by: CountBy, filter: Option<&Value>) -> Value {
    let mut groups: Vec<&str> = by.fields().to_vec();
    if count_by == CountBy::Certname && !groups.contains(&"certname") {
        groups.push("certname");
    }
    groups.push("status");
    let mut extract: Vec<Value> = groups.iter().map(|g| json!(g)).collect();
    extract.push(json!(["function", "count"]));
    let mut group_by = vec![json!("group_by")];
    group_by.extend(groups.iter().map(|g| json!(g)));
    let mut ast = vec![json!("extract"), Value::Array(extract)];
    if let Some(f) = filter {
        ast.push(f.clone());
    }
    ast.push(Value::Array(group_by));
    Value::Array(ast)
}

/// Folds the grouped rows into one row per subject: `{"subject_type", "subject",
/// "failures", "successes", "noops", "skips"}`, `counts_filter` applied, in subject order.
pub(crate) fn fold(
    by: SummarizeBy,
    count_by: CountBy,
    counts_filter: Option<&Value>,
    grouped: &[Value],
) -> Result<Vec<(Vec<Value>, Counts)>, DbError> {
    let fields = by.fields();
    let mut subjects: BTreeMap<String, (Vec<Value>, Counts)> = BTreeMap::new();
    for row in grouped {
        let key: Vec<Value> = fields
            .iter()
            .map(|f| row.get(*f).cloned().unwrap_or(Value::Null))
            .collect();
        let status = row
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let n = match count_by {
            CountBy::Resource => row.get("count").and_then(Value::as_u64).unwrap_or(0),
            CountBy::Certname => 1,
        };
        let entry = subjects
            .entry(Value::Array(key.clone()).to_string())
            .or_insert_with(|| (key, Counts::default()));
        entry.1.add(status, n);
    }
    let mut out = Vec::with_capacity(subjects.len());
    for (_, (key, counts)) in subjects {
        if let Some(f) = counts_filter
            && !matches(f, &counts)?
        {
            continue;
        }
        out.push((key, counts));
    }
    Ok(out)
}

/// One `/event-counts` row.
pub(crate) fn row(by: SummarizeBy, key: &[Value], c: &Counts) -> Value {
    let subject = match by {
        SummarizeBy::Resource => json!({
            "type": key.first().cloned().unwrap_or(Value::Null),
            "title": key.get(1).cloned().unwrap_or(Value::Null),
        }),
        _ => json!({"title": key.first().cloned().unwrap_or(Value::Null)}),
    };
    let mut m = Map::new();
    m.insert("subject_type".into(), json!(by.name()));
    m.insert("subject".into(), subject);
    m.insert("failures".into(), json!(c.failures));
    m.insert("successes".into(), json!(c.successes));
    m.insert("noops".into(), json!(c.noops));
    m.insert("skips".into(), json!(c.skips));
    Value::Object(m)
}

/// One `/aggregate-event-counts` row: how many subjects had at least one event of each status.
pub(crate) fn aggregate(by: SummarizeBy, subjects: &[(Vec<Value>, Counts)]) -> Value {
    let with = |f: fn(&Counts) -> u64| subjects.iter().filter(|(_, c)| f(c) > 0).count();
    json!({
        "summarize_by": by.name(),
        "successes": with(|c| c.successes),
        "failures": with(|c| c.failures),
        "noops": with(|c| c.noops),
        "skips": with(|c| c.skips),
        "total": subjects.len(),
    })
}

/// `order_by`, `offset`, `limit` over the folded rows (fields: the counts and the subject's
/// fields); answers the rows and the total before paging.
pub(crate) fn page(
    by: SummarizeBy,
    mut subjects: Vec<(Vec<Value>, Counts)>,
    paging: &Paging,
) -> Result<(Vec<Value>, u64), DbError> {
    let fields = by.fields();
    for OrderBy { field, .. } in &paging.order_by {
        if Counts::default().get(field).is_none() && !fields.contains(&field.as_str()) {
            return Err(DbError::query(
                QueryErrorKind::Paging,
                format!(
                    "Unrecognized column '{field}' specified in :order_by; Supported columns are 'failures', 'successes', 'noops', 'skips', {}",
                    fields
                        .iter()
                        .map(|f| format!("'{f}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let value = |key: &[Value], c: &Counts, field: &str| -> Value {
        match c.get(field) {
            Some(n) => json!(n),
            None => fields
                .iter()
                .position(|f| *f == field)
                .and_then(|i| key.get(i).cloned())
                .unwrap_or(Value::Null),
        }
    };
    subjects.sort_by(|(ka, ca), (kb, cb)| {
        for o in &paging.order_by {
            let ord = compare(&value(ka, ca, &o.field), &value(kb, cb, &o.field));
            let ord = if o.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    let total = subjects.len() as u64;
    let offset = usize::try_from(paging.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = paging
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let rows = subjects
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(k, c)| row(by, k, c))
        .collect();
    Ok((rows, total))
}

/// Numbers by value, strings by text, null first.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_filter_operators() {
        let c = Counts {
            failures: 2,
            successes: 0,
            noops: 1,
            skips: 0,
        };
        let m = |f: Value| matches(&f, &c).unwrap();
        assert!(m(json!([">", "failures", 0])));
        assert!(!m(json!(["=", "successes", 1])));
        assert!(m(json!(["and", [">=", "noops", 1], ["<", "skips", 1]])));
        assert!(m(json!([
            "or",
            ["=", "successes", 1],
            ["<=", "failures", "2"]
        ])));
        assert!(m(json!(["not", ["=", "failures", 0]])));
        assert!(matches(&json!(["~", "failures", "1"]), &c).is_err());
        assert!(matches(&json!(["=", "certname", "x"]), &c).is_err());
        assert!(matches(&json!(["=", "failures", "many"]), &c).is_err());
        assert!(matches(&json!("failures"), &c).is_err());
    }

    #[test]
    fn counting_query_groups_in_the_database() {
        let ast = counting_query(SummarizeBy::Resource, CountBy::Certname, None);
        assert_eq!(
            ast,
            json!([
                "extract",
                [
                    "resource_type",
                    "resource_title",
                    "certname",
                    "status",
                    ["function", "count"]
                ],
                [
                    "group_by",
                    "resource_type",
                    "resource_title",
                    "certname",
                    "status"
                ]
            ])
        );
    }
}
