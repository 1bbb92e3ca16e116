//! The AST query language compiled to SQL. Client values are always bound parameters;
//! field names only ever come from the entity tables.

use serde_json::Value;

use super::entities::{self, Dotted, Entity, Kind};
use super::{OrderBy, Paging};
use crate::error::{DbError, QueryErrorKind};
use crate::store::regex_pg;
use crate::store::sqlite::client_regex;
use crate::store::{Decode, Dialect, Param, SqlQuery};
use crate::time::Timestamp;

fn ast_err(message: impl Into<String>) -> DbError {
    DbError::query(QueryErrorKind::Ast, message)
}

fn quoted_list(words: &[&str]) -> String {
    let q: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    if q.len() > 2 {
        format!(
            "{}, and {}",
            q[..q.len() - 1].join(", "),
            q.last().map(String::as_str).unwrap_or_default()
        )
    } else {
        q.join(" and ")
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// SQL text with its parameters, in order.
#[derive(Debug, Default, Clone)]
struct Frag {
    sql: String,
    params: Vec<Param>,
}

impl Frag {
    fn new(sql: impl Into<String>) -> Frag {
        Frag {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, sql: &str) -> &mut Frag {
        self.sql.push_str(sql);
        self
    }

    fn bind(&mut self, p: Param) -> &mut Frag {
        self.sql.push('?');
        self.params.push(p);
        self
    }

    fn append(&mut self, other: Frag) -> &mut Frag {
        self.sql.push_str(&other.sql);
        self.params.extend(other.params);
        self
    }
}

/// One use of an entity: its alias prefix.
struct Scope {
    entity: &'static Entity,
    prefix: String,
    /// SQLite, `facts` read from the leaves of one top-level fact (this name) in
    /// `fact_values` (see [`entities::FACT_LEAVES_FROM`]): `@f.value` is an indexed column
    /// there, and every row's name is this one.
    leaves: Option<String>,
}

impl Scope {
    fn sql(&self, template: &str) -> String {
        template.replace('@', &self.prefix)
    }
}

/// A field resolved in a scope: SQL for filters and SQL for answers.
struct FieldSql {
    kind: Kind,
    value: Frag,
    out: Frag,
    /// The field is a stored column (`q1_f.value`), not an expression: a JSON one holds
    /// `serde_json`'s text, so a string equals it as that text (which an index can find).
    column: bool,
    /// SQLite, a dotted fact field (`facts.os.family`): where its leaf is in `fact_values`.
    leaf: Option<Leaf>,
}

/// A dotted fact field's leaf in `fact_values` (one row per scalar of every fact, with its
/// path as JSON text and its value as `serde_json`'s text, indexed by path and value).
struct Leaf {
    /// The node's certname in the scope (`q1_c.certname`).
    certname: String,
    /// An alias for the `fact_values` subquery.
    alias: String,
    /// The path, as `fact_values.path` holds it (`["os","family"]`).
    path: String,
}

/// Whether a field template is a plain column (`@f.value`), not an expression.
fn is_column(template: &str) -> bool {
    template.strip_prefix('@').is_some_and(|rest| {
        rest.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    })
}

/// What an `extract` asks for.
#[derive(Debug, Clone)]
enum Proj {
    Field(String),
    Function(String, Option<String>),
    /// `["function", "to_string", field, format]`: the field, formatted after the query.
    ToString(String, String),
}

/// A compiled SELECT, its answer's columns and (top level with `include_total`) its COUNT.
type Selected = (Frag, Vec<(String, Decode)>, Option<Frag>);

/// A query against one entity.
struct Select<'a> {
    entity: &'static Entity,
    projection: Option<Vec<Proj>>,
    filter: Option<&'a Value>,
    group_by: Vec<String>,
    paging: Paging,
}

/// The one compiler from queries to SQL; [`Dialect`] switches what differs between SQLite
/// and PostgreSQL (placeholders, JSON operators, regex, booleans).
#[derive(Default)]
pub(crate) struct Compiler {
    aliases: usize,
    dialect: Dialect,
    /// Answer inactive nodes' data too (a single-object route such as `/nodes/<n>`).
    all_nodes: bool,
    /// The top-level query is restricted to active nodes (decided in `compile`).
    restrict: bool,
    /// The format of a top-level `to_string` (its column is `to_string`).
    to_string: Option<String>,
    /// How many `not`s the expression being compiled is under, in its SELECT. Where there
    /// is none, a condition that is NULL and one that is false reject a row alike, so a
    /// comparison may be written in a form that is false where the plain one is NULL (an
    /// indexed form: see `indexed_equality`).
    negated: usize,
}

/// The endpoints PuppetDB restricts to active nodes unless the query names `node_state`
/// (the root endpoint too); `/catalogs`, `/reports`, `/events` and the others answer
/// inactive nodes' data as well, and subqueries are never restricted.
const RESTRICTED: [&str; 10] = [
    "nodes",
    "facts",
    "fact_contents",
    "inventory",
    "resources",
    "edges",
    "factsets",
    "package_inventory",
    "catalog_inputs",
    "catalog_input_contents",
];

/// The entity a top-level query is about, and the compiled SQL.
pub(crate) struct Compiled {
    pub(crate) entity: &'static Entity,
    pub(crate) sql: SqlQuery,
    /// `to_string`'s format: the `to_string` column is formatted with it (`to_char`).
    pub(crate) to_string: Option<String>,
}

impl Compiler {
    /// A compiler for `dialect`.
    pub(crate) fn new(dialect: Dialect) -> Compiler {
        Compiler {
            aliases: 0,
            dialect,
            all_nodes: false,
            restrict: false,
            to_string: None,
            negated: 0,
        }
    }

    /// Not restricted to active nodes (PuppetDB's single-object routes: `/nodes/<n>`,
    /// `/catalogs/<n>`, `/factsets/<n>` answer inactive nodes too).
    pub(crate) fn all_nodes(mut self) -> Compiler {
        self.all_nodes = true;
        self
    }

    fn pg(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    fn scope(&mut self, entity: &'static Entity) -> Scope {
        self.aliases += 1;
        Scope {
            entity,
            prefix: format!("q{}_", self.aliases),
            leaves: None,
        }
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("a{}", self.aliases)
    }

    /// A query on `endpoint` (or on the root endpoint: then `query` is `["from", ...]`).
    pub(crate) fn compile(
        &mut self,
        endpoint: Option<&str>,
        query: Option<&Value>,
        paging: &Paging,
    ) -> Result<Compiled, DbError> {
        self.restrict = !self.all_nodes
            && endpoint.is_none_or(|name| RESTRICTED.contains(&name.replace('-', "_").as_str()));
        let select = match endpoint {
            Some(name) => {
                let entity = match entities::endpoint_entity(name) {
                    Some(e) => e,
                    None => entity(name)?,
                };
                let mut select = Select {
                    entity,
                    projection: None,
                    filter: None,
                    group_by: Vec::new(),
                    paging: paging.clone(),
                };
                if let Some(q) = query {
                    if head(q) == Some("from") {
                        return Err(ast_err(format!(
                            "\"from\" is not allowed on the {} endpoint: use the root endpoint /pdb/query/v4",
                            entity.name
                        )));
                    }
                    self.body(&mut select, q)?;
                }
                select
            }
            None => {
                let Some(q) = query else {
                    return Err(ast_err("The root endpoint needs a query (\"from\" or PQL)"));
                };
                let mut select = self.from(q)?;
                select.paging.merge(paging);
                select
            }
        };
        let entity = select.entity;
        let (main, columns, count) = self.select(&select, true, None)?;
        let dialect = self.dialect;
        let count = match count {
            Some(c) => Some((placeholders(dialect, c.sql, c.params.len())?, c.params)),
            None => None,
        };
        Ok(Compiled {
            entity,
            to_string: self.to_string.take(),
            sql: SqlQuery {
                sql: placeholders(dialect, main.sql, main.params.len())?,
                params: main.params,
                columns,
                count,
            },
        })
    }

    /// `["from", entity, query?, ...]` as the right side of an `in`: PuppetDB takes its
    /// subquery-only entities there too (`["from", "params", ...]`).
    fn in_from<'a>(&mut self, q: &'a Value) -> Result<Select<'a>, DbError> {
        let name = q.as_array().and_then(|a| a.get(1)).and_then(Value::as_str);
        match name.and_then(|n| entities::subquery_entity(&format!("select_{n}"))) {
            Some(sub) if entities::entity(sub.name).is_none() => self.entity_clauses(q, sub),
            _ => self.from(q),
        }
    }

    /// `["from", entity, query?, paging clauses...]`.
    fn from<'a>(&mut self, q: &'a Value) -> Result<Select<'a>, DbError> {
        let args = as_array(q)?;
        if head(q) != Some("from") {
            return Err(ast_err(format!(
                "{} is not well-formed: queries on the root endpoint must start with \"from\"",
                compact(q)
            )));
        }
        let name = args.get(1).and_then(Value::as_str).ok_or_else(|| {
            ast_err(format!(
                "{} is not well-formed: \"from\" needs an entity",
                compact(q)
            ))
        })?;
        self.entity_clauses(q, entity(name)?)
    }

    /// The clauses of `["from", _, query?, paging clauses...]` on `entity`.
    fn entity_clauses<'a>(
        &mut self,
        q: &'a Value,
        entity: &'static Entity,
    ) -> Result<Select<'a>, DbError> {
        let args = as_array(q)?;
        let mut select = Select {
            entity,
            projection: None,
            filter: None,
            group_by: Vec::new(),
            paging: Paging::default(),
        };
        for clause in args.iter().skip(2) {
            match head(clause) {
                Some("limit") => select.paging.limit = Some(paging_number(clause)?),
                Some("offset") => select.paging.offset = Some(paging_number(clause)?),
                Some("order_by") => {
                    let list = as_array(clause)?.get(1).ok_or_else(|| {
                        ast_err(format!("{} is not well-formed", compact(clause)))
                    })?;
                    select.paging.order_by = order_by(list)?;
                }
                _ => self.body(&mut select, clause)?,
            }
        }
        Ok(select)
    }

    /// A filter, or `["extract", fields, filter?, group_by?]`.
    fn body<'a>(&mut self, select: &mut Select<'a>, q: &'a Value) -> Result<(), DbError> {
        if head(q) != Some("extract") {
            select.filter = Some(q);
            return Ok(());
        }
        let args = as_array(q)?;
        let fields = args.get(1).ok_or_else(|| {
            ast_err(format!(
                "{} is not well-formed: extract needs fields",
                compact(q)
            ))
        })?;
        select.projection = Some(projection(fields)?);
        for clause in &args[2..] {
            if head(clause) == Some("group_by") {
                for g in &as_array(clause)?[1..] {
                    select.group_by.push(
                        g.as_str()
                            .ok_or_else(|| {
                                ast_err(format!("{} is not well-formed", compact(clause)))
                            })?
                            .to_string(),
                    );
                }
            } else if select.filter.is_none() {
                match subquery_of(clause) {
                    // `["extract", fields, ["select_<entity>", query?]]` as the query
                    // itself: PuppetDB answers the subquery's rows (its engine plans the
                    // extract over the subquery's entity).
                    Some(sub) => {
                        let inner = as_array(clause)?;
                        if inner.len() > 2 {
                            return Err(ast_err(format!(
                                "{} is not well-formed: a subquery takes one query",
                                compact(clause)
                            )));
                        }
                        select.entity = sub?;
                        select.filter = inner.get(1);
                    }
                    None => select.filter = Some(clause),
                }
            } else {
                return Err(ast_err(format!("{} is not well-formed", compact(q))));
            }
        }
        Ok(())
    }

    /// The SELECT, its columns and (top level with `include_total`) its COUNT. `compared`:
    /// the SELECT is the right side of an `in` whose fields are of these kinds; its columns
    /// are then written in their comparable form, converted to those kinds (a string
    /// compared with a JSON value as a JSON string, a JSON value with a string as its text:
    /// PuppetDB's type coercion for `in`).
    fn select(
        &mut self,
        select: &Select<'_>,
        top: bool,
        compared: Option<&[Kind]>,
    ) -> Result<Selected, DbError> {
        let scope = self.scope(select.entity);
        // A SELECT's WHERE is a context of its own: an `in` under a `not` negates the
        // subquery's answer, not the conditions inside it.
        let negated = std::mem::take(&mut self.negated);
        let selected = self.select_in(select, top, compared, scope);
        self.negated = negated;
        selected
    }

    fn select_in(
        &mut self,
        select: &Select<'_>,
        top: bool,
        compared: Option<&[Kind]>,
        mut scope: Scope,
    ) -> Result<Selected, DbError> {
        let entity = select.entity;
        scope.leaves = match self.dialect {
            Dialect::Sqlite if entity.name == "facts" => top_level_fact(select.filter),
            _ => None,
        };
        // Projection.
        let projection = match &select.projection {
            Some(p) => p.clone(),
            None => entity
                .projectable()
                .into_iter()
                .map(|n| Proj::Field(n.to_string()))
                .collect(),
        };
        let mut cols = Frag::default();
        let mut columns = Vec::new();
        for (i, p) in projection.iter().enumerate() {
            if i > 0 {
                cols.push(", ");
            }
            match p {
                Proj::Field(name) => {
                    let f = self.field(&scope, name, true).map_err(|_| {
                        DbError::query(
                            QueryErrorKind::UnknownField,
                            format!(
                                "Can't extract unknown '{}' field '{name}'. Acceptable fields are {}",
                                entity.name,
                                quoted_list(&entity.projectable())
                            ),
                        )
                    })?;
                    let kind = f.kind;
                    match compared.and_then(|k| k.get(i)) {
                        Some(&outer) => cols.append(coerce(self.dialect, f, outer)),
                        // PostgreSQL has no equality on `json`: a grouped JSON value is
                        // answered as the `jsonb` it is grouped by.
                        None if self.pg()
                            && matches!(kind, Kind::Json | Kind::Scalar)
                            && select.group_by.iter().any(|g| g == name) =>
                        {
                            cols.append(f.value)
                        }
                        None => cols.append(f.out),
                    };
                    columns.push((name.clone(), decode(kind)));
                }
                Proj::ToString(name, format) => {
                    if !top || self.to_string.is_some() {
                        return Err(ast_err(
                            "to_string is answered once per query, in the top-level extract",
                        ));
                    }
                    let f = self.field(&scope, name, false)?;
                    if !matches!(f.kind, Kind::Time | Kind::Int | Kind::Json | Kind::Scalar) {
                        return Err(ast_err(format!(
                            "to_string formats timestamps and numbers, not the field {name}"
                        )));
                    }
                    let kind = f.kind;
                    cols.append(f.out);
                    columns.push(("to_string".to_string(), decode(kind)));
                    self.to_string = Some(format.clone());
                }
                Proj::Function(func, arg) => {
                    let sql_func = match func.as_str() {
                        "count" | "avg" | "sum" | "min" | "max" => func.as_str(),
                        other => {
                            return Err(ast_err(format!(
                                "'{other}' is not a supported function: count, avg, sum, min, max and to_string are"
                            )));
                        }
                    };
                    let mut decode = Decode::Plain;
                    match arg {
                        None if sql_func == "count" => {
                            cols.push("count(*)");
                        }
                        None => return Err(ast_err(format!("{func}() needs a field"))),
                        Some(a) if self.pg() && sql_func != "count" => {
                            // PostgreSQL: JSON numbers as numeric; numeric results as text,
                            // read back as JSON numbers (the client decodes no NUMERIC).
                            let f = self.field(&scope, a, false)?;
                            let json = matches!(f.kind, Kind::Json | Kind::Scalar);
                            let numeric = json || matches!(sql_func, "avg" | "sum");
                            if numeric {
                                cols.push("CAST(");
                                decode = Decode::Json;
                            }
                            cols.push(sql_func).push("(");
                            if json {
                                cols.push("CASE WHEN jsonb_typeof(")
                                    .append(f.value.clone())
                                    .push(") = 'number' THEN CAST(")
                                    .append(f.value)
                                    .push(" #>> '{}' AS numeric) END");
                            } else {
                                cols.append(f.value);
                            }
                            cols.push(")");
                            if numeric {
                                cols.push(" AS text)");
                            }
                        }
                        Some(a) => {
                            let f = self.field(&scope, a, false)?;
                            if f.kind == Kind::Json && sql_func != "count" {
                                // The numbers among JSON values, compared as numbers and
                                // answered as numbers (as PuppetDB does), not JSON text;
                                // strings and booleans count as nothing (as on PostgreSQL).
                                cols.push(sql_func)
                                    .push("(CASE WHEN json_type(")
                                    .append(f.value.clone())
                                    .push(") IN ('integer', 'real') THEN json_extract(")
                                    .append(f.value)
                                    .push(", '$') END)");
                            } else {
                                cols.push(sql_func).push("(").append(f.value).push(")");
                            }
                        }
                    }
                    columns.push((func.clone(), decode));
                }
            }
        }
        // A wrapped field extracted without the field its href names (`reports ["extract",
        // ["metrics"], ...]`): PuppetDB keeps the href, so the key comes along unseen.
        if top && compared.is_none() && select.group_by.is_empty() {
            let projected = |n: &str| {
                projection
                    .iter()
                    .any(|p| matches!(p, Proj::Field(f) if f == n))
            };
            for (field, _, key, _) in entity.wrap {
                if projected(field)
                    && !projected(key)
                    && !columns.iter().any(|(n, _)| n == &href_key(key))
                {
                    let f = self.field(&scope, key, true)?;
                    if !columns.is_empty() {
                        cols.push(", ");
                    }
                    cols.append(f.out);
                    columns.push((href_key(key), decode(f.kind)));
                }
            }
        }
        // FROM and WHERE.
        let tables = if scope.leaves.is_some() {
            entities::FACT_LEAVES_FROM
        } else {
            entity.tables(self.dialect)
        };
        let mut from = Frag::new(format!(" FROM {}", scope.sql(tables)));
        let mut conditions = Vec::new();
        if let Some(name) = &scope.leaves {
            // The fact's leaf: its path as the store writes it (`["kernel"]`).
            let path = Value::Array(vec![Value::String(name.clone())]).to_string();
            let mut fr = Frag::new(format!("({} = ", scope.sql("@f.path")));
            fr.bind(Param::Text(path)).push(")");
            conditions.push(fr);
        }
        let mentions_state = select.filter.is_some_and(mentions_node_state);
        if let (Some(active), false, true) = (
            entity.active_for(self.dialect),
            mentions_state,
            top && self.restrict,
        ) {
            conditions.push(Frag::new(format!("({})", scope.sql(active))));
        }
        if let Some(filter) = select.filter {
            conditions.push(self.expr(&scope, filter)?);
        }
        for (i, c) in conditions.into_iter().enumerate() {
            from.push(if i == 0 { " WHERE " } else { " AND " })
                .append(c);
        }
        if !select.group_by.is_empty() {
            from.push(" GROUP BY ");
            for (i, g) in select.group_by.iter().enumerate() {
                if i > 0 {
                    from.push(", ");
                }
                let position = projection
                    .iter()
                    .position(|p| matches!(p, Proj::Field(n) if n == g));
                match position {
                    // PostgreSQL wants the very expression of the select list (parameters
                    // included): its position says that.
                    Some(pos) if self.pg() => {
                        from.push(&(pos + 1).to_string());
                    }
                    _ => {
                        let f = self.field(&scope, g, false)?;
                        from.append(f.value);
                    }
                }
            }
        }
        let count = (top && select.paging.include_total).then(|| {
            let mut c = Frag::new("SELECT count(*) FROM (SELECT 1");
            c.append(from.clone()).push(") AS total");
            c
        });
        let mut main = Frag::new("SELECT ");
        main.append(cols).append(from);
        if !select.paging.order_by.is_empty() {
            main.push(" ORDER BY ");
            for (i, o) in select.paging.order_by.iter().enumerate() {
                if i > 0 {
                    main.push(", ");
                }
                let known = entity.field(&o.field).is_some_and(|f| f.out || f.query)
                    || projection
                        .iter()
                        .any(|p| matches!(p, Proj::Function(n, _) if *n == o.field));
                if projection
                    .iter()
                    .any(|p| matches!(p, Proj::Function(n, _) if *n == o.field))
                {
                    // An aggregate's column: by its position.
                    let pos = projection
                        .iter()
                        .position(|p| matches!(p, Proj::Function(n, _) if *n == o.field))
                        .unwrap_or(0);
                    main.push(&(pos + 1).to_string());
                } else if known || o.field.contains('.') {
                    let f = self
                        .field(&scope, &o.field, false)
                        .map_err(|_| order_err(entity, &o.field))?;
                    match (f.kind, self.pg()) {
                        // As PuppetDB: a path by its text, elements joined by `#~`.
                        (Kind::Path, true) => {
                            main.push("(SELECT string_agg(el.e, '#~' ORDER BY el.n) FROM jsonb_array_elements_text(")
                                .append(f.value)
                                .push(") WITH ORDINALITY AS el(e, n))");
                        }
                        (Kind::Path, false) => {
                            main.push("(SELECT group_concat(CAST(el.value AS TEXT), '#~') FROM json_each(")
                                .append(f.value)
                                .push(") AS el)");
                        }
                        // SQLite: JSON values in jsonb's order (PostgreSQL's `jsonb`).
                        (Kind::Json, false) => {
                            main.append(f.value).push(" COLLATE JSONB");
                        }
                        (Kind::Scalar, false) => {
                            main.append(f.out).push(" COLLATE JSONB");
                        }
                        _ => {
                            main.append(f.value);
                        }
                    }
                } else {
                    return Err(order_err(entity, &o.field));
                }
                main.push(if o.descending { " DESC" } else { " ASC" });
                // PostgreSQL's (and so PuppetDB's) place for NULL: last going up, first
                // going down; SQLite's default is the reverse.
                if !self.pg() {
                    main.push(if o.descending {
                        " NULLS FIRST"
                    } else {
                        " NULLS LAST"
                    });
                }
            }
        }
        if select.paging.limit.is_some() || select.paging.offset.is_some() {
            main.push(" LIMIT ");
            let none = if self.pg() {
                Param::Null
            } else {
                Param::Int(-1)
            };
            main.bind(select.paging.limit.map_or(none, |l| Param::Int(clamp(l))));
            main.push(" OFFSET ");
            main.bind(Param::Int(select.paging.offset.map_or(0, clamp)));
        }
        Ok((main, columns, count))
    }

    /// A field of the scope's entity, dotted fields included.
    fn field(&mut self, scope: &Scope, name: &str, for_out: bool) -> Result<FieldSql, DbError> {
        let entity = scope.entity;
        if let Some(f) = entity.field_for(name, for_out) {
            {
                let sql = scope.sql(f.sql_for(self.dialect));
                // PostgreSQL: documents are `json` (key order kept for answers); filters
                // compare them as `jsonb`.
                let value = if self.pg() && f.kind == Kind::Json {
                    format!("CAST({sql} AS jsonb)")
                } else {
                    sql.clone()
                };
                return Ok(FieldSql {
                    kind: f.kind,
                    value: Frag::new(value),
                    out: Frag::new(sql),
                    column: is_column(f.sql_for(self.dialect)),
                    leaf: None,
                });
            }
        }
        let unknown = || {
            DbError::query(
                QueryErrorKind::UnknownField,
                format!(
                    "'{name}' is not a queryable object for {}. Known queryable objects are {}",
                    entity.name,
                    // Sorted, as PuppetDB lists them.
                    quoted_list(&{
                        let mut names = entity.queryable();
                        names.sort_unstable();
                        names
                    })
                ),
            )
        };
        match entity.dotted {
            Dotted::Facts => {
                let (fact, rest) = if let Some(rest) = name.strip_prefix("facts.") {
                    let segs = segments(rest).ok_or_else(unknown)?;
                    let (first, rest) = segs.split_first().ok_or_else(unknown)?;
                    match first {
                        Seg::Key(k) => (k.clone(), rest.to_vec()),
                        Seg::Index(_) => return Err(unknown()),
                    }
                } else if let Some(rest) = name.strip_prefix("trusted.") {
                    ("trusted".to_string(), segments(rest).ok_or_else(unknown)?)
                } else {
                    return Err(unknown());
                };
                let a = self.alias();
                if self.pg() {
                    let certname = scope.sql("@c.certname");
                    let build = |cast: bool| {
                        let mut fr = Frag::new(if cast { "CAST(" } else { "" });
                        fr.push(&format!("(SELECT {a}.value"));
                        pg_path(&mut fr, &rest);
                        fr.push(&format!(
                            " FROM facts {a} WHERE {a}.certname = {certname} AND {a}.name = "
                        ));
                        fr.bind(Param::Text(fact.clone())).push(")");
                        if cast {
                            fr.push(" AS jsonb)");
                        }
                        fr
                    };
                    return Ok(FieldSql {
                        kind: Kind::Scalar,
                        value: build(true),
                        out: build(false),
                        column: false,
                        leaf: None,
                    });
                }
                let path = json_path(&rest).ok_or_else(unknown)?;
                // `fact_values` keeps the leaves of paths of up to 64 elements.
                let leaf = (rest.len() < 64).then(|| {
                    let mut elements = vec![Value::String(fact.clone())];
                    elements.extend(rest.iter().map(|s| match s {
                        Seg::Key(k) => Value::String(k.clone()),
                        Seg::Index(i) => Value::from(*i),
                    }));
                    Leaf {
                        certname: scope.sql("@c.certname"),
                        alias: a.clone(),
                        path: Value::Array(elements).to_string(),
                    }
                });
                let build = |op: &str| {
                    let mut fr = Frag::new(format!("(SELECT {a}.value {op} "));
                    fr.bind(Param::Text(path.clone()));
                    fr.push(&format!(
                        " FROM facts {a} WHERE {a}.certname = {} AND {a}.name = ",
                        scope.sql("@c.certname")
                    ));
                    fr.bind(Param::Text(fact.clone()));
                    fr.push(")");
                    fr
                };
                Ok(FieldSql {
                    kind: Kind::Scalar,
                    value: build("->>"),
                    out: build("->"),
                    column: false,
                    leaf,
                })
            }
            Dotted::Parameters => {
                let rest = name.strip_prefix("parameters.").ok_or_else(unknown)?;
                let segs = segments(rest).ok_or_else(unknown)?;
                let column = scope.sql("@x.parameters");
                if self.pg() {
                    let build = |cast: bool| {
                        let mut fr = Frag::new(if cast { "CAST((" } else { "(" });
                        fr.push(&column);
                        pg_path(&mut fr, &segs);
                        fr.push(if cast { ") AS jsonb)" } else { ")" });
                        fr
                    };
                    return Ok(FieldSql {
                        kind: Kind::Scalar,
                        value: build(true),
                        out: build(false),
                        column: false,
                        leaf: None,
                    });
                }
                let path = json_path(&segs).ok_or_else(unknown)?;
                let build = |op: &str| {
                    let mut fr = Frag::new(format!("({column} {op} "));
                    fr.bind(Param::Text(path.clone()));
                    fr.push(")");
                    fr
                };
                Ok(FieldSql {
                    kind: Kind::Scalar,
                    value: build("->>"),
                    out: build("->"),
                    column: false,
                    leaf: None,
                })
            }
            Dotted::None => Err(unknown()),
        }
    }

    /// One filter expression.
    fn expr(&mut self, scope: &Scope, q: &Value) -> Result<Frag, DbError> {
        let args = as_array(q)?;
        let Some(op) = head(q) else {
            if args.is_empty() {
                return Err(ast_err(
                    "[] is not well-formed: queries must contain at least one operator",
                ));
            }
            return Err(ast_err(format!(
                "{} is not well-formed: the operator must be a string",
                compact(q)
            )));
        };
        match op {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(ast_err(format!(
                        "'{op}' takes at least one argument, but none were supplied"
                    )));
                }
                let mut fr = Frag::new("(");
                for (i, a) in args[1..].iter().enumerate() {
                    if i > 0 {
                        fr.push(if op == "and" { " AND " } else { " OR " });
                    }
                    let inner = self.expr(scope, a)?;
                    fr.append(inner);
                }
                fr.push(")");
                Ok(fr)
            }
            "not" => {
                if args.len() != 2 {
                    return Err(ast_err(format!(
                        "'not' takes exactly one argument, but {} were supplied",
                        args.len() - 1
                    )));
                }
                self.negated += 1;
                let inner = self.expr(scope, &args[1]);
                self.negated -= 1;
                let inner = inner?;
                // SQL's three-valued NOT, as PuppetDB compiles it: a row whose field is
                // null matches neither `x` nor `not x`.
                let mut fr = Frag::new("NOT (");
                fr.append(inner).push(")");
                Ok(fr)
            }
            "=" | "<" | ">" | "<=" | ">=" | "~" | "~>" => {
                if args.len() != 3 {
                    // PuppetDB's words.
                    return Err(ast_err(format!("{op} requires exactly two arguments")));
                }
                if let Some(pseudo) = args[1].as_array() {
                    return self.pseudo_field(scope, q, op, pseudo, &args[2]);
                }
                let field = args[1].as_str().ok_or_else(|| {
                    ast_err(format!(
                        "{} is not well-formed: the field must be a string",
                        compact(q)
                    ))
                })?;
                if field == "node_state" && op == "=" {
                    return node_state(scope, &args[2]);
                }
                let f = self.field(scope, field, false)?;
                if op == "~" && f.kind == Kind::Path && scope.entity.name == "fact_paths" {
                    return fact_path_regex(self.dialect, f, &args[2]);
                }
                if let (Some(leaf), "name", "=", Some(name)) =
                    (&scope.leaves, field, op, args[2].as_str())
                {
                    // Every row's name is the leaf's (nothing read: the index covers).
                    return Ok(Frag::new(if leaf == name { "(1)" } else { "(0)" }));
                }
                if self.negated == 0
                    && scope.leaves.is_some()
                    && field == "value"
                    && op == "="
                    && args[2].is_string()
                {
                    // A leaf's value: `serde_json`'s text, indexed whole (with the path).
                    let mut fr = Frag::new("(");
                    fr.append(f.value).push(" = ");
                    fr.bind(Param::Text(args[2].to_string())).push(")");
                    return Ok(fr);
                }
                if self.negated == 0
                    && let Some(indexed) = indexed_equality(self.dialect, op, &f, &args[2])
                {
                    return Ok(indexed);
                }
                compare(self.dialect, op, field, f, &args[2])
            }
            "null?" => {
                let (Some(field), Some(is_null)) = (
                    args.get(1).and_then(Value::as_str),
                    args.get(2).and_then(Value::as_bool),
                ) else {
                    return Err(ast_err(format!(
                        "{} is not well-formed: 'null?' takes a field and a boolean",
                        compact(q)
                    )));
                };
                let f = self.field(scope, field, false)?;
                let mut fr = Frag::new("(");
                if f.kind == Kind::Scalar {
                    // A path into a document (`facts.a.b`): as PuppetDB, a JSON null there is
                    // null, any other value is not, and a missing path is neither (SQL's
                    // NULL: `jsonb_typeof` of nothing).
                    if self.pg() {
                        fr.push("jsonb_typeof(").append(f.value).push(")");
                    } else {
                        // `->` answers a JSON null as the text `null`, nothing as NULL.
                        fr.append(f.out);
                    }
                    fr.push(if is_null { " = 'null')" } else { " <> 'null')" });
                    return Ok(fr);
                }
                fr.append(f.value).push(if is_null {
                    " IS NULL)"
                } else {
                    " IS NOT NULL)"
                });
                Ok(fr)
            }
            "in" => self.in_expr(scope, q, args),
            "subquery" => self.implicit(scope, q, args),
            other if other.starts_with("select_") || other.starts_with("select-") => {
                if let Some(Err(e)) = subquery_of(q) {
                    return Err(e);
                }
                Err(ast_err(format!(
                    "{} is not well-formed: '{other}' must be the query of an 'extract' (inside 'in', or as the whole query)",
                    compact(q)
                )))
            }
            other => Err(ast_err(format!(
                "{} is not well-formed: query operator '{other}' is unknown",
                compact(q)
            ))),
        }
    }

    fn in_expr(&mut self, scope: &Scope, q: &Value, args: &[Value]) -> Result<Frag, DbError> {
        if args.len() != 3 {
            return Err(ast_err(format!(
                "{} is not well-formed: 'in' takes fields and a subquery",
                compact(q)
            )));
        }
        let names: Vec<&str> = match &args[1] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| ast_err(format!("{} is not well-formed", compact(q))))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ast_err(format!("{} is not well-formed", compact(q)))),
        };
        let rhs = &args[2];
        match head(rhs) {
            Some("array") => {
                let values = as_array(rhs)?
                    .get(1)
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        ast_err(format!(
                            "{} is not well-formed: 'array' takes a list",
                            compact(rhs)
                        ))
                    })?;
                if names.len() != 1 {
                    return Err(ast_err("'in' with an array takes one field"));
                }
                let f = self.field(scope, names[0], false)?;
                if f.kind == Kind::Array {
                    return Err(ast_err(
                        "Operator 'in'...'array' is not supported on array types",
                    ));
                }
                if values.is_empty() {
                    return Ok(Frag::new("(1 = 0)"));
                }
                let kind = f.kind;
                let mut lhs = Frag::new("(");
                lhs.append(f.value);
                if kind == Kind::Json && !self.pg() {
                    // Values, not their JSON text, as `=` compares them.
                    lhs.push(" ->> '$'");
                }
                lhs.push(") IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        lhs.push(", ");
                    }
                    lhs.bind(param(kind, names[0], v)?);
                }
                lhs.push(")");
                Ok(lhs)
            }
            Some("extract") | Some("from") => {
                let sub = if head(rhs) == Some("from") {
                    self.in_from(rhs)?
                } else {
                    // Legacy: ["extract", fields, ["select_<entity>", query?]].
                    let a = as_array(rhs)?;
                    let inner = a
                        .get(2)
                        .ok_or_else(|| ast_err(format!("{} is not well-formed", compact(rhs))))?;
                    let sub = subquery_of(inner).ok_or_else(|| {
                        ast_err(format!(
                            "{} is not well-formed: expected a select_<entity> subquery",
                            compact(rhs)
                        ))
                    })?;
                    Select {
                        entity: sub?,
                        projection: Some(projection(&a[1])?),
                        filter: as_array(inner)?.get(1),
                        group_by: Vec::new(),
                        paging: Paging::default(),
                    }
                };
                // PuppetDB's check of the fields an `in` matches on: queryable fields of
                // the entity, no dotted field.
                let queryable = scope.entity.queryable();
                let unknown: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| !queryable.contains(n))
                    .collect();
                if !unknown.is_empty() {
                    return Err(DbError::query(
                        QueryErrorKind::UnknownField,
                        format!(
                            "Can't match on unknown '{}' {} {} for 'in'. Acceptable fields are {}",
                            scope.entity.name,
                            if unknown.len() > 1 { "fields" } else { "field" },
                            quoted_list(&unknown),
                            quoted_list(&queryable)
                        ),
                    ));
                }
                let width = sub.projection.as_ref().map_or(0, Vec::len);
                if width != names.len() {
                    return Err(ast_err(format!(
                        "{} is not well-formed: 'in' compares {} field(s) with a subquery extracting {width}",
                        compact(q),
                        names.len()
                    )));
                }
                self.in_select(scope, &names, &sub)
            }
            _ => Err(ast_err(format!(
                "{} is not well-formed: 'in' takes an \"extract\", \"from\" or \"array\"",
                compact(q)
            ))),
        }
    }

    /// PuppetDB's pseudo-fields, as its engine expands them: `[op, ["fact", name], v]` (the
    /// nodes whose fact `name` compares so: a `select_facts` subquery on `certname`),
    /// `[op, ["parameter", name], v]` (resources whose parameter compares so) and
    /// `["=", ["node", "active"], bool]` (`node_state`).
    fn pseudo_field(
        &mut self,
        scope: &Scope,
        q: &Value,
        op: &str,
        pseudo: &[Value],
        v: &Value,
    ) -> Result<Frag, DbError> {
        let bad = || {
            ast_err(format!(
                "{} is not well-formed: the field must be a string, [\"fact\", name], [\"parameter\", name] or [\"node\", \"active\"]",
                compact(q)
            ))
        };
        let (Some(kind), Some(name), 2) = (
            pseudo.first().and_then(Value::as_str),
            pseudo.get(1).and_then(Value::as_str),
            pseudo.len(),
        ) else {
            return Err(bad());
        };
        match kind {
            "node" if name == "active" && op == "=" => {
                let state = match v {
                    Value::Bool(true) => "active",
                    Value::Bool(false) => "inactive",
                    _ => {
                        return Err(ast_err(format!(
                            "{} is not well-formed: [\"node\", \"active\"] takes true or false",
                            compact(q)
                        )));
                    }
                };
                node_state(scope, &Value::from(state))
            }
            "fact" => {
                let allowed = match v {
                    Value::String(_) | Value::Bool(_) => matches!(op, "=" | "~"),
                    Value::Number(_) => op != "~",
                    _ => false,
                };
                if !allowed {
                    return Err(ast_err(format!(
                        "Operator '{op}' not allowed on value '{}'",
                        v.as_str().map_or_else(|| compact(v), str::to_string)
                    )));
                }
                let sub = serde_json::json!([
                    "in",
                    "certname",
                    [
                        "extract",
                        "certname",
                        [
                            "select_facts",
                            ["and", ["=", "name", name], [op, "value", v]]
                        ]
                    ]
                ]);
                self.expr(scope, &sub)
            }
            "parameter" if scope.entity.dotted == Dotted::Parameters && matches!(op, "=" | "~") => {
                if name.contains('"') {
                    return Err(ast_err(format!(
                        "The parameter name {name:?} cannot be queried (it holds a double quote)"
                    )));
                }
                let dotted = format!("parameters.\"{name}\"");
                let f = self.field(scope, &dotted, false)?;
                if op == "~" {
                    // PuppetDB matches the pattern's JSON text (quotes included: `"^app"`)
                    // against the value's JSON text, so `^` never matches and `app`
                    // matches the value "app" only where quotes surround it.
                    let pattern = Value::String(compact(v));
                    let mut fr = Frag::new("(");
                    if self.pg() {
                        fr.push("CAST(").append(f.out).push(" AS text) ~ ");
                        fr.bind(Param::Text(regex_value(self.dialect, &pattern)?));
                    } else {
                        fr.push("regexp(")
                            .bind(Param::Text(regex_value(self.dialect, &pattern)?))
                            .push(", ")
                            .append(f.out)
                            .push(")");
                    }
                    fr.push(")");
                    return Ok(fr);
                }
                compare(self.dialect, op, &dotted, f, v)
            }
            _ => Err(bad()),
        }
    }

    /// `(fields) IN (SELECT ...)`, the subquery's columns coerced to the fields' kinds.
    fn in_select(
        &mut self,
        scope: &Scope,
        names: &[&str],
        sub: &Select<'_>,
    ) -> Result<Frag, DbError> {
        let mut lhs = Frag::new("((");
        let mut kinds = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                lhs.push(", ");
            }
            let f = self.field(scope, n, false)?;
            kinds.push(f.kind);
            lhs.append(f.value);
        }
        let (inner, _, _) = self.select(sub, false, Some(&kinds))?;
        lhs.push(") IN (").append(inner).push("))");
        Ok(lhs)
    }

    /// `["subquery", entity, filter?]`: rows whose join fields are in the entity's matching
    /// rows, joined as PuppetDB's engine relates the two entities.
    fn implicit(&mut self, scope: &Scope, q: &Value, args: &[Value]) -> Result<Frag, DbError> {
        let name = args
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(|| ast_err(format!("{} is not well-formed", compact(q))))?;
        if args.len() > 3 {
            return Err(ast_err(format!("{} is not well-formed", compact(q))));
        }
        let (local, foreign) = entities::relationship(scope.entity.name, name)
            .ok_or_else(|| ast_err(format!("No implicit relationship for entity '{name}'")))?;
        let sub = Select {
            entity: entity(name)?,
            projection: Some(foreign.iter().map(|f| Proj::Field(f.to_string())).collect()),
            filter: args.get(2),
            group_by: Vec::new(),
            paging: Paging::default(),
        };
        self.in_select(scope, local, &sub)
    }
}

fn order_err(entity: &Entity, field: &str) -> DbError {
    // Sorted, as PuppetDB lists them.
    let mut columns = entity.projectable();
    columns.sort_unstable();
    DbError::query(
        QueryErrorKind::Paging,
        format!(
            "Unrecognized column '{field}' specified in :order_by; Supported columns are '{}'",
            columns.join("', '")
        ),
    )
}

/// The hidden column carrying `key` for an href when the extract leaves `key` out.
pub(crate) fn href_key(key: &str) -> String {
    format!("__href_{key}")
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn decode(kind: Kind) -> Decode {
    match kind {
        Kind::Bool => Decode::Bool,
        Kind::Json | Kind::Array | Kind::Path | Kind::Scalar => Decode::Json,
        _ => Decode::Plain,
    }
}

fn node_state(scope: &Scope, v: &Value) -> Result<Frag, DbError> {
    let active = "(@c.deactivated IS NULL AND @c.expired IS NULL)";
    let sql = match v.as_str() {
        Some("active") => active.to_string(),
        Some("inactive") => format!("NOT {active}"),
        Some("any") => "(1 = 1)".to_string(),
        _ => {
            return Err(ast_err(format!(
                "{} is not a valid node_state: active, inactive or any",
                compact(v)
            )));
        }
    };
    if scope.entity.active.is_none() {
        return Err(DbError::query(
            QueryErrorKind::UnknownField,
            format!(
                "'node_state' is not a queryable object for {}",
                scope.entity.name
            ),
        ));
    }
    Ok(Frag::new(scope.sql(&sql)))
}

/// `field op value`.
fn compare(d: Dialect, op: &str, name: &str, f: FieldSql, v: &Value) -> Result<Frag, DbError> {
    let pg = d == Dialect::Postgres;
    let mut fr = Frag::new("(");
    match (op, f.kind) {
        ("~", Kind::Array) if pg => {
            fr.push("EXISTS (SELECT 1 FROM jsonb_array_elements_text(")
                .append(f.value)
                .push(") AS el(value) WHERE el.value ~ ");
            fr.bind(Param::Text(regex_value(d, v)?)).push("))");
        }
        ("~", Kind::Array) => {
            fr.push("EXISTS (SELECT 1 FROM json_each(")
                .append(f.value)
                .push(") WHERE regexp(");
            fr.bind(Param::Text(regex_value(d, v)?)).push(", value)))");
        }
        ("=", Kind::Array) => {
            if pg {
                fr.push("EXISTS (SELECT 1 FROM jsonb_array_elements_text(")
                    .append(f.value)
                    .push(") AS el(value) WHERE el.value = ");
            } else {
                fr.push("EXISTS (SELECT 1 FROM json_each(")
                    .append(f.value)
                    .push(") WHERE value = ");
            }
            fr.bind(param(Kind::Scalar, name, v)?).push("))");
        }
        ("=", Kind::Path) => {
            if !v.is_array() {
                return Err(ast_err(format!("The path of {name} must be an array")));
            }
            fr.append(f.value).push(" = ");
            fr.bind(Param::Json(compact(v))).push(")");
        }
        ("~>", Kind::Path) => {
            let parts = v.as_array().ok_or_else(|| {
                ast_err(format!(
                    "Query operator ~> takes an array of regular expressions on {name}"
                ))
            })?;
            fr.push(if pg {
                "jsonb_array_length("
            } else {
                "json_array_length("
            })
            .append(f.value.clone())
            .push(") = ");
            fr.bind(Param::Int(parts.len() as i64));
            // As PuppetDB: each element matched as text (an index as its digits); a
            // pattern of digits only (`"0"`) wants a key, a number (`0`) an index, any
            // other pattern either.
            for (i, p) in parts.iter().enumerate() {
                let (pattern, wants) = match p {
                    Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                        (p.clone(), Some(false))
                    }
                    Value::String(_) => (p.clone(), None),
                    Value::Number(n) if n.is_u64() || n.is_i64() => {
                        (Value::String(n.to_string()), Some(true))
                    }
                    _ => {
                        return Err(ast_err(format!(
                            "Regex array element wasn't string or integer in {}",
                            compact(v)
                        )));
                    }
                };
                if let Some(index) = wants {
                    fr.push(" AND ");
                    if pg {
                        fr.push("jsonb_typeof(")
                            .append(f.value.clone())
                            .push(&format!(" -> {i}) = "));
                        fr.push(if index { "'number'" } else { "'string'" });
                    } else {
                        fr.push("json_type(")
                            .append(f.value.clone())
                            .push(&format!(", '$[{i}]') = "));
                        fr.push(if index { "'integer'" } else { "'text'" });
                    }
                }
                if pg {
                    fr.push(" AND (")
                        .append(f.value.clone())
                        .push(&format!(" ->> {i}) ~ "))
                        .bind(Param::Text(regex_value(d, &pattern)?));
                } else {
                    fr.push(" AND regexp(")
                        .bind(Param::Text(regex_value(d, &pattern)?))
                        .push(", CAST(");
                    fr.append(f.value.clone())
                        .push(&format!(" ->> '$[{i}]' AS TEXT))"));
                }
            }
            fr.push(")");
        }
        ("~>", _) => {
            return Err(ast_err(format!(
                "Query operator ~> is not allowed on field {name}"
            )));
        }
        (_, Kind::Array) | (_, Kind::Path) => {
            return Err(ast_err(format!(
                "Query operator {op} is not allowed on field {name}"
            )));
        }
        ("~", Kind::Int) | ("~", Kind::Bool) | ("~", Kind::Time) => {
            return Err(ast_err(format!(
                "Query operator ~ is not allowed on field {name}"
            )));
        }
        ("~", kind) if pg => {
            fr.push("(").append(f.value);
            if matches!(kind, Kind::Json | Kind::Scalar) {
                fr.push(" #>> '{}'");
            }
            fr.push(") ~ ")
                .bind(Param::Text(regex_value(d, v)?))
                .push(")");
        }
        ("~", kind) => {
            fr.push("regexp(")
                .bind(Param::Text(regex_value(d, v)?))
                .push(", ");
            // A JSON value's text as PostgreSQL's `#>> '{}'` gives it (numbers and
            // booleans as their JSON text, containers as jsonb prints them).
            match kind {
                Kind::Json => {
                    fr.push("jsonb_text(").append(f.value).push(")");
                }
                Kind::Scalar => {
                    fr.push("jsonb_text(").append(f.out).push(")");
                }
                _ => {
                    fr.append(f.value);
                }
            }
            fr.push("))");
        }
        (_, kind) => {
            if op != "=" && !matches!(kind, Kind::Int | Kind::Time | Kind::Scalar | Kind::Json) {
                return Err(ast_err(format!(
                    "Query operators >,>=,<,<= are not allowed on field {name}"
                )));
            }
            if op != "=" && kind != Kind::Time && !v.is_number() {
                return Err(ast_err(format!(
                    "Query operators >,>=,<,<= need a number or a timestamp, not {} (field {name})",
                    compact(v)
                )));
            }
            if kind == Kind::Int && op == "=" && v.is_string() {
                return Err(ast_err(format!(
                    "Argument \"{}\" is incompatible with numeric field \"{name}\".",
                    v.as_str().unwrap_or_default()
                )));
            }
            // SQLite: the JSON text of the value, whose type `->>` loses (true is 1).
            let json_text = if kind == Kind::Json {
                f.value.clone()
            } else {
                f.out.clone()
            };
            let mut lhs = f.value;
            if kind == Kind::Json && !pg {
                lhs.push(" ->> '$'");
            }
            let json = matches!(kind, Kind::Json | Kind::Scalar);
            if op != "=" && json {
                // Only numbers are ordered against a number (SQLite would put every
                // string above every number; jsonb orders across types too).
                if pg {
                    fr.push("jsonb_typeof(")
                        .append(lhs.clone())
                        .push(") = 'number' AND ");
                } else {
                    fr.push("json_type(")
                        .append(json_text)
                        .push(") IN ('integer', 'real') AND ");
                }
            } else if json && !pg && (v.is_number() || v.is_boolean()) {
                // A number equals numbers only, a boolean booleans only (as jsonb's `=`).
                fr.push("json_type(")
                    .append(json_text)
                    .push(if v.is_number() {
                        ") IN ('integer', 'real') AND "
                    } else {
                        ") IN ('true', 'false') AND "
                    });
            }
            fr.append(lhs);
            fr.push(&format!(" {op} "));
            fr.bind(param(kind, name, v)?).push(")");
        }
    }
    Ok(fr)
}

/// `~` on a fact path (`fact-paths ["~", "path", "os"]`): as PuppetDB, the pattern is
/// matched against the path's text, its elements (an index as its digits) joined by `#~`
/// (PuppetDB's stored form; its escaping of a `#~` inside a key is not reproduced).
fn fact_path_regex(d: Dialect, f: FieldSql, v: &Value) -> Result<Frag, DbError> {
    let mut fr = Frag::new("(");
    if d == Dialect::Postgres {
        fr.push("(SELECT string_agg(el.e, '#~' ORDER BY el.n) FROM jsonb_array_elements_text(")
            .append(f.value)
            .push(") WITH ORDINALITY AS el(e, n)) ~ ")
            .bind(Param::Text(regex_value(d, v)?));
    } else {
        fr.push("regexp(")
            .bind(Param::Text(regex_value(d, v)?))
            .push(", (SELECT group_concat(CAST(el.value AS TEXT), '#~') FROM json_each(")
            .append(f.value)
            .push(") el))");
    }
    fr.push(")");
    Ok(fr)
}

/// How many characters of a fact's value `facts_name_value` indexes (as the store's schema
/// writes it: `substr(value, 1, 256)`). A string shorter than that equals a value exactly
/// when it equals its first 256 characters.
const INDEXED_PREFIX: usize = 256;

/// SQLite: `field = "string"` in a form an index answers, where one exists: a JSON column
/// as its text (`q1_f.value = '"Linux"'`, from `facts_name_value`), a dotted fact field as
/// its leaf in `fact_values` (`q1_c.certname IN (SELECT certname FROM fact_values WHERE
/// path = '["os","family"]' AND value = '"Debian"')`, from `fact_values_path_value`) in
/// place of extracting the value from every node's fact.
///
/// Both are true exactly where the plain comparison is (both sides are `serde_json`'s text
/// of the value: stored so, and the string written so here); where the plain one is NULL
/// (no such fact, a JSON null), they are false. So the caller uses them only outside any
/// `not`, where NULL and false reject a row alike.
fn indexed_equality(d: Dialect, op: &str, f: &FieldSql, v: &Value) -> Option<Frag> {
    if d != Dialect::Sqlite || op != "=" || !v.is_string() {
        return None;
    }
    let text = v.to_string();
    match (f.kind, &f.leaf) {
        (Kind::Json, _) if f.column => {
            // `facts_name_value` indexes the first 256 characters of a fact's value (a big
            // structured fact stays out of the index): `substr` as it writes it.
            let head: String = text.chars().take(INDEXED_PREFIX).collect();
            let mut fr = Frag::new(format!("(substr({}, 1, {INDEXED_PREFIX}) = ", f.value.sql));
            fr.params.extend(f.value.params.iter().cloned());
            let whole = head.len() < text.len();
            fr.bind(Param::Text(head));
            if whole {
                fr.push(" AND ").append(f.value.clone()).push(" = ");
                fr.bind(Param::Text(text));
            }
            fr.push(")");
            Some(fr)
        }
        (Kind::Scalar, Some(leaf)) => {
            let a = &leaf.alias;
            let mut fr = Frag::new(format!(
                "({} IN (SELECT {a}.certname FROM fact_values {a} WHERE {a}.path = ",
                leaf.certname
            ));
            fr.bind(Param::Text(leaf.path.clone()))
                .push(&format!(" AND {a}.value = "))
                .bind(Param::Text(text))
                .push("))");
            Some(fr)
        }
        _ => None,
    }
}

/// A `facts` filter that says, outside any `not`, `["=", "name", N]` and `["=", "value",
/// <a string>]`: `N`. The rows such a filter keeps are facts named `N` whose value is a
/// string, so each is the one leaf of path `["N"]` of its node in `fact_values`, with the
/// same certname, name and value text.
fn top_level_fact(filter: Option<&Value>) -> Option<String> {
    fn conjuncts<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v.as_array() {
            Some(a) if head(v) == Some("and") => {
                for c in &a[1..] {
                    conjuncts(c, out);
                }
            }
            _ => out.push(v),
        }
    }
    let mut all = Vec::new();
    conjuncts(filter?, &mut all);
    let equals = |field: &str| {
        all.iter().find_map(|c| match c.as_array()?.as_slice() {
            [op, f, v] if op == "=" && f == field => v.as_str(),
            _ => None,
        })
    };
    let name = equals("name")?;
    equals("value")?;
    Some(name.to_string())
}

/// A subquery column (`f`) as the right side of an `in` on a field of kind `outer`.
fn coerce(d: Dialect, f: FieldSql, outer: Kind) -> Frag {
    let json = |k: Kind| matches!(k, Kind::Json | Kind::Scalar);
    let pg = d == Dialect::Postgres;
    let wrap = |pre: &str, inner: Frag, post: &str| {
        let mut fr = Frag::new(pre);
        fr.append(inner).push(post);
        fr
    };
    match (f.kind, outer) {
        // SQLite: a JSON column compares as JSON text; a dotted field's value is its SQL value.
        (Kind::Scalar, Kind::Json) if !pg => f.out,
        (Kind::Json, Kind::Scalar) if !pg => wrap("(", f.value, " ->> '$')"),
        (inner, outer) if json(inner) == json(outer) => f.value,
        (_, Kind::Json) if pg => wrap("to_jsonb(", f.value, ")"),
        (_, Kind::Scalar) if pg => wrap("to_jsonb(", f.value, ")"),
        (_, Kind::Json) => wrap("json_quote(", f.value, ")"),
        (_, Kind::Scalar) => f.value,
        (Kind::Json | Kind::Scalar, Kind::Text) if pg => wrap("(", f.value, " #>> '{}')"),
        (Kind::Json, Kind::Text) => wrap("(", f.value, " ->> '$')"),
        _ => f.value,
    }
}

/// PostgreSQL: `->` steps down a JSON value, keys and indexes as parameters.
fn pg_path(fr: &mut Frag, segs: &[Seg]) {
    for s in segs {
        match s {
            Seg::Key(k) => {
                fr.push(" -> CAST(")
                    .bind(Param::Text(k.clone()))
                    .push(" AS text)");
            }
            Seg::Index(i) => {
                fr.push(" -> CAST(")
                    .bind(Param::Int(i64::try_from(*i).unwrap_or(i64::MAX)))
                    .push(" AS integer)");
            }
        }
    }
}

/// `?` placeholders as the dialect writes them (`$1`, `$2`, ... on PostgreSQL). The SQL's
/// own text never holds a `?` outside string literals (client values are parameters).
fn placeholders(d: Dialect, sql: String, count: usize) -> Result<String, DbError> {
    if d == Dialect::Sqlite {
        return Ok(sql);
    }
    let mut out = String::with_capacity(sql.len() + count * 2);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    if n != count {
        return Err(DbError::Storage(format!(
            "compiled SQL has {n} placeholders for {count} parameters"
        )));
    }
    Ok(out)
}

/// A client regex, checked with the `regex` crate (and its size limit), as the dialect runs
/// it: as it is for SQLite's `regexp()` (the `regex` crate), rewritten for PostgreSQL's `~`.
fn regex_value(d: Dialect, v: &Value) -> Result<String, DbError> {
    let s = v.as_str().ok_or_else(|| {
        ast_err(format!(
            "A regular expression must be a string, not {}",
            compact(v)
        ))
    })?;
    client_regex(s).map_err(|e| {
        DbError::query(
            QueryErrorKind::Regex,
            format!("Invalid regular expression {s:?}: {e}"),
        )
    })?;
    match d {
        Dialect::Sqlite => Ok(s.to_string()),
        Dialect::Postgres => regex_pg::to_postgres(s).map_err(|e| {
            DbError::query(
                QueryErrorKind::Regex,
                format!("Invalid regular expression {s:?}: {e}"),
            )
        }),
    }
}

/// A client value as a parameter for a field of `kind`.
fn param(kind: Kind, name: &str, v: &Value) -> Result<Param, DbError> {
    Ok(match (kind, v) {
        (Kind::Time, Value::String(s)) => Param::Text(
            Timestamp::parse(s)
                .map_err(|_| ast_err(format!("'{s}' is not a valid timestamp value for {name}")))?
                .to_string(),
        ),
        (Kind::Time, other) => {
            return Err(ast_err(format!(
                "{} is not a valid timestamp value for {name}",
                compact(other)
            )));
        }
        (Kind::Bool, Value::String(s)) if s == "true" || s == "false" => Param::Bool(s == "true"),
        (_, Value::Null) => Param::Null,
        (_, Value::Bool(b)) => Param::Bool(*b),
        (_, Value::Number(n)) => match n.as_i64() {
            Some(i) => Param::Int(i),
            None => Param::Real(n.as_f64().unwrap_or(0.0)),
        },
        (_, Value::String(s)) => Param::Text(s.clone()),
        (_, other) => {
            return Err(ast_err(format!(
                "{} cannot be compared with field {name}",
                compact(other)
            )));
        }
    })
}

/// Whether the query has `["=", "node_state", _]` or `["=", ["node", "active"], _]`
/// anywhere, subqueries included (PuppetDB searches the whole tree): then the top-level
/// query is not restricted to active nodes.
fn mentions_node_state(v: &Value) -> bool {
    let Some(a) = v.as_array() else {
        return false;
    };
    let node_active = |f: &Value| {
        f.as_array()
            .is_some_and(|p| p.len() == 2 && p[0] == "node" && p[1] == "active")
    };
    if a.len() == 3 && a[0] == "=" && (a[1] == "node_state" || node_active(&a[1])) {
        return true;
    }
    a.iter().any(mentions_node_state)
}

/// The entity of `["select_<entity>", query?]` (`None` when `v` is not one); PuppetDB's
/// error for a `select…` name it does not know.
fn subquery_of(v: &Value) -> Option<Result<&'static Entity, DbError>> {
    let h = head(v)?;
    if !h.starts_with("select_") && !h.starts_with("select-") {
        return None;
    }
    Some(entities::subquery_entity(h).ok_or_else(|| {
        let underscored = h.replace('-', "_");
        let message = if entities::subquery_entity(&underscored).is_some() {
            format!("Unsupported subquery `{h}` - did you mean `{underscored}`?")
        } else {
            format!("Unsupported subquery `{h}`")
        };
        DbError::query(QueryErrorKind::UnknownEntity, message)
    }))
}

fn head(v: &Value) -> Option<&str> {
    v.as_array()?.first()?.as_str()
}

fn as_array(v: &Value) -> Result<&Vec<Value>, DbError> {
    v.as_array().ok_or_else(|| {
        ast_err(format!(
            "{} is not well-formed: a query is an array",
            compact(v)
        ))
    })
}

fn entity(name: &str) -> Result<&'static Entity, DbError> {
    entities::entity(name).ok_or_else(|| {
        DbError::query(
            QueryErrorKind::UnknownEntity,
            format!("Invalid entity '{name}' in query"),
        )
    })
}

fn paging_number(clause: &Value) -> Result<u64, DbError> {
    as_array(clause)?
        .get(1)
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            DbError::query(
                QueryErrorKind::Paging,
                format!(
                    "{} is not well-formed: it takes a non-negative integer",
                    compact(clause)
                ),
            )
        })
}

/// `["order_by", ["a", ["b", "desc"]]]`'s list.
fn order_by(list: &Value) -> Result<Vec<OrderBy>, DbError> {
    let bad = || {
        DbError::query(
            QueryErrorKind::Paging,
            format!("{} is not a valid order_by", compact(list)),
        )
    };
    list.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|o| match o {
            Value::String(f) => Ok(OrderBy {
                field: f.clone(),
                descending: false,
            }),
            Value::Array(a) => match (
                a.first().and_then(Value::as_str),
                a.get(1).and_then(Value::as_str),
            ) {
                (Some(f), Some(dir @ ("asc" | "desc"))) => Ok(OrderBy {
                    field: f.to_string(),
                    descending: dir == "desc",
                }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        })
        .collect()
}

fn projection(fields: &Value) -> Result<Vec<Proj>, DbError> {
    let one = |v: &Value| -> Result<Proj, DbError> {
        match v {
            Value::String(s) => Ok(Proj::Field(s.clone())),
            Value::Array(a) if head(v) == Some("function") => {
                let name = a
                    .get(1)
                    .and_then(Value::as_str)
                    .ok_or_else(|| ast_err("function needs a name"))?;
                let arg = a.get(2).and_then(Value::as_str).map(String::from);
                if name == "to_string" {
                    return match (arg, a.get(3).and_then(Value::as_str), a.len()) {
                        (Some(field), Some(format), 4) => {
                            Ok(Proj::ToString(field, format.to_string()))
                        }
                        _ => Err(ast_err(format!(
                            "wrong number of arguments ({}) provided for function to_string",
                            a.len().saturating_sub(2)
                        ))),
                    };
                }
                Ok(Proj::Function(name.to_string(), arg))
            }
            other => Err(ast_err(format!(
                "{} is not a field to extract",
                compact(other)
            ))),
        }
    };
    match fields {
        Value::Array(a) if head(fields) == Some("function") => Ok(vec![one(fields)?]),
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// A dotted field's segments after the first dot.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn segments(s: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (seg, after) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"')?;
            (r[..end].to_string(), &r[end + 1..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        // `name[3]`: a key then an index.
        let (key, index) = match (seg.find('['), seg.ends_with(']')) {
            (Some(open), true) if !seg.starts_with('[') => {
                let n = seg[open + 1..seg.len() - 1].parse::<usize>().ok()?;
                (seg[..open].to_string(), Some(n))
            }
            _ => (seg, None),
        };
        if key.is_empty() || key.starts_with("match(") {
            return None;
        }
        out.push(Seg::Key(key));
        if let Some(n) = index {
            out.push(Seg::Index(n));
        }
        rest = match after.strip_prefix('.') {
            Some(r) if !r.is_empty() => r,
            Some(_) => return None,
            None if after.is_empty() => "",
            None => return None,
        };
    }
    Some(out)
}

/// A JSON path for SQLite's `->`/`->>` (keys quoted; a key with `"` cannot be addressed).
fn json_path(segs: &[Seg]) -> Option<String> {
    let mut p = String::from("$");
    for s in segs {
        match s {
            Seg::Key(k) if k.contains('"') => return None,
            Seg::Key(k) => {
                p.push_str(".\"");
                p.push_str(k);
                p.push('"');
            }
            Seg::Index(i) => p.push_str(&format!("[{i}]")),
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_segments() {
        assert_eq!(
            segments("os.family"),
            Some(vec![Seg::Key("os".into()), Seg::Key("family".into())])
        );
        assert_eq!(
            segments("\"a.b\".c[2]"),
            Some(vec![
                Seg::Key("a.b".into()),
                Seg::Key("c".into()),
                Seg::Index(2)
            ])
        );
        assert_eq!(segments("a..b"), None);
        assert_eq!(
            json_path(&segments("os.family").unwrap_or_default()).as_deref(),
            Some("$.\"os\".\"family\"")
        );
    }

    #[test]
    fn client_values_are_bound_never_pasted() {
        let q = serde_json::json!(["=", "certname", "x'; DROP TABLE certnames; --"]);
        let c = Compiler::default()
            .compile(Some("nodes"), Some(&q), &Paging::default())
            .map(|c| c.sql)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.sql.contains("DROP"), "{}", c.sql);
        assert!(
            c.params
                .contains(&Param::Text("x'; DROP TABLE certnames; --".into()))
        );
    }
}
