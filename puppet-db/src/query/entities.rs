//! The entities of `/pdb/query/v4`: their tables, fields and how fields become SQL.
//!
//! `@` in a template is the alias prefix of one use of the entity (`q1_`, `q2_`, ...), so an
//! entity can appear in its own subqueries.
//!
//! Templates are SQLite's; a field or FROM clause whose SQL differs on PostgreSQL (JSON
//! functions, jsonb operators) carries PostgreSQL's as well (`pg`, `pg_from`).

use crate::store::Dialect;

/// How a field is stored, which decides how operators compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text.
    Text,
    /// Integer.
    Int,
    /// 0/1.
    Bool,
    /// A normalized timestamp (text order is time order).
    Time,
    /// JSON text of any value (compared through `->> '$'`).
    Json,
    /// JSON text of an array of strings (`=` and `~` match any element).
    Array,
    /// JSON text of a path array (fact-paths: `=` the whole path, `~>` element-wise).
    Path,
    /// The SQL value of a JSON scalar (a dotted field: `facts.os.family`).
    Scalar,
}

/// One field of an entity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
    /// PostgreSQL's SQL when it differs (JSON functions): `None` is the same as `sql`.
    pub(crate) pg: Option<&'static str>,
    pub(crate) kind: Kind,
    /// Part of the default answer (all but aliases such as `tag`).
    pub(crate) out: bool,
    /// Can be used in filters (composites such as a catalog's `resources` cannot).
    pub(crate) query: bool,
}

const fn f(name: &'static str, sql: &'static str, kind: Kind) -> Field {
    Field {
        name,
        sql,
        pg: None,
        kind,
        out: true,
        query: true,
    }
}

/// A field only answered, not queried (composites built by SQL).
const fn out(name: &'static str, sql: &'static str) -> Field {
    Field {
        name,
        sql,
        pg: None,
        kind: Kind::Json,
        out: true,
        query: false,
    }
}

/// A field only queried, not answered.
const fn hidden(name: &'static str, sql: &'static str, kind: Kind) -> Field {
    Field {
        name,
        sql,
        pg: None,
        kind,
        out: false,
        query: true,
    }
}

impl Field {
    /// The same field with PostgreSQL's SQL.
    const fn pg(self, sql: &'static str) -> Field {
        Field {
            pg: Some(sql),
            ..self
        }
    }

    /// The SQL template for `dialect`.
    pub(crate) fn sql_for(&self, dialect: Dialect) -> &'static str {
        match (dialect, self.pg) {
            (Dialect::Postgres, Some(pg)) => pg,
            _ => self.sql,
        }
    }
}

/// Dotted fields an entity accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dotted {
    None,
    /// `facts.<name>...` and `trusted....` against the node's facts (`@fs.certname`).
    Facts,
    /// `parameters.<name>...` against the resource's parameters.
    Parameters,
}

/// One queryable entity.
#[derive(Debug)]
pub(crate) struct Entity {
    pub(crate) name: &'static str,
    pub(crate) from: &'static str,
    /// PostgreSQL's FROM clause when it differs from `from`.
    pub(crate) pg_from: Option<&'static str>,
    pub(crate) fields: &'static [Field],
    /// The filter hiding deactivated and expired nodes (unless the query names
    /// `node_state`); `None` when the entity is not about nodes.
    pub(crate) active: Option<&'static str>,
    /// PostgreSQL's filter when it differs from `active`.
    pub(crate) pg_active: Option<&'static str>,
    pub(crate) dotted: Dotted,
    /// Composite fields wrapped as `{"data": ..., "href": ...}`: (field, href prefix, key
    /// field for the href, href suffix).
    pub(crate) wrap: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

impl Entity {
    /// The FROM template for `dialect`.
    pub(crate) fn tables(&self, dialect: Dialect) -> &'static str {
        match (dialect, self.pg_from) {
            (Dialect::Postgres, Some(pg)) => pg,
            _ => self.from,
        }
    }

    /// The active-node filter for `dialect`.
    pub(crate) fn active_for(&self, dialect: Dialect) -> Option<&'static str> {
        match (dialect, self.pg_active) {
            (Dialect::Postgres, Some(pg)) => Some(pg),
            _ => self.active,
        }
    }

    pub(crate) fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field `name` as a filter uses it (`for_out`: or as an answer shows it): a field
    /// may have a form for each.
    pub(crate) fn field_for(&self, name: &str, for_out: bool) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| f.name == name && (if for_out { f.out } else { f.query }))
            .or_else(|| self.field(name).filter(|f| f.query || for_out))
    }

    /// The queryable fields, sorted (as PuppetDB lists them in its errors).
    pub(crate) fn queryable(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .fields
            .iter()
            .filter(|f| f.query)
            .map(|f| f.name)
            .collect();
        if self.name == "factsets" {
            // PuppetDB lists `facts` as a factset's queryable object (a `queryable-json`
            // projection), though no dotted field of it is queryable there.
            names.push("facts");
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    pub(crate) fn projectable(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.out)
            .map(|f| f.name)
            .collect()
    }
}

const ACTIVE: &str = "@c.deactivated IS NULL AND @c.expired IS NULL";

static NODES: Entity = Entity {
    name: "nodes",
    from: "certnames @c LEFT JOIN factsets @fs ON @fs.certname = @c.certname \
           LEFT JOIN catalogs @ca ON @ca.certname = @c.certname \
           LEFT JOIN reports @r ON @r.hash = @c.latest_report_hash",
    pg_from: None,
    fields: &[
        f("certname", "@c.certname", Kind::Text),
        f("deactivated", "@c.deactivated", Kind::Time),
        f("expired", "@c.expired", Kind::Time),
        f("catalog_timestamp", "@ca.timestamp", Kind::Time),
        f("facts_timestamp", "@fs.timestamp", Kind::Time),
        f("report_timestamp", "@r.end_time", Kind::Time),
        f("catalog_environment", "@ca.environment", Kind::Text),
        f("facts_environment", "@fs.environment", Kind::Text),
        f("report_environment", "@r.environment", Kind::Text),
        f("latest_report_status", "@r.status", Kind::Text),
        f("latest_report_hash", "@r.hash", Kind::Text),
        f("latest_report_noop", "@r.noop", Kind::Bool),
        f("latest_report_noop_pending", "@r.noop_pending", Kind::Bool),
        f(
            "latest_report_corrective_change",
            "@r.corrective_change",
            Kind::Bool,
        ),
        f("latest_report_job_id", "@r.job_id", Kind::Text),
        f(
            "cached_catalog_status",
            "@r.cached_catalog_status",
            Kind::Text,
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    // PuppetDB 7.12 answers `facts.`/`trusted.` on nodes with 400 ("not a queryable
    // object"): dotted fields are inventory's only.
    dotted: Dotted::None,
    wrap: &[],
};

static ENVIRONMENTS: Entity = Entity {
    name: "environments",
    from: "environments @e",
    pg_from: None,
    fields: &[f("name", "@e.name", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// SQLite: active nodes' rows of a table with a `certname` column, tested without a join to
/// `certnames`: the (few) inactive nodes, read once from the partial index
/// `certnames_inactive`, are left out. A row of a node's data always has its `certnames` row (written
/// first, deleted last), so this keeps what `JOIN certnames` with [`ACTIVE`] keeps, and a
/// `LEFT JOIN certnames` that no field uses is left out of the plan.
macro_rules! active_of {
    ($certname:literal) => {
        concat!(
            $certname,
            " NOT IN (SELECT certname FROM certnames WHERE deactivated IS NOT NULL OR expired IS NOT NULL)"
        )
    };
}

/// A factset's rows in `facts` with the node and its factset: every row has both (written
/// together, deleted together), so on SQLite they are LEFT JOINs, which SQLite leaves out
/// when no field of theirs is used (a subquery extracting `certname` reads `facts` alone).
const FACTS_FROM: &str = "facts @f LEFT JOIN certnames @c ON @c.certname = @f.certname \
           LEFT JOIN factsets @fs ON @fs.certname = @f.certname";

/// SQLite, `facts` restricted to one top-level fact whose value is a scalar (a filter with
/// `name = "kernel"` and `value = "Linux"`): its rows are the leaves of path `["kernel"]` in
/// `fact_values`, one per node, with the same `certname`, `name` and `value` text, found by
/// `fact_values_path_value` without reading `facts` (the compiler adds `@f.path = ?`).
pub(crate) const FACT_LEAVES_FROM: &str = "fact_values @f \
           LEFT JOIN certnames @c ON @c.certname = @f.certname \
           LEFT JOIN factsets @fs ON @fs.certname = @f.certname";

static FACTS: Entity = Entity {
    name: "facts",
    from: FACTS_FROM,
    pg_from: Some(
        "facts @f JOIN certnames @c ON @c.certname = @f.certname \
         JOIN factsets @fs ON @fs.certname = @f.certname",
    ),
    fields: &[
        f("certname", "@f.certname", Kind::Text),
        f("name", "@f.name", Kind::Text),
        f("value", "@f.value", Kind::Json),
        f("environment", "@fs.environment", Kind::Text),
    ],
    active: Some(active_of!("@f.certname")),
    pg_active: Some(ACTIVE),
    dotted: Dotted::None,
    wrap: &[],
};

static FACTSETS: Entity = Entity {
    name: "factsets",
    from: "factsets @fs JOIN certnames @c ON @c.certname = @fs.certname",
    pg_from: None,
    fields: &[
        f("certname", "@fs.certname", Kind::Text),
        f("environment", "@fs.environment", Kind::Text),
        f("timestamp", "@fs.timestamp", Kind::Time),
        f("producer_timestamp", "@fs.producer_timestamp", Kind::Time),
        f("producer", "@fs.producer", Kind::Text),
        f("hash", "@fs.hash", Kind::Text),
        out(
            "facts",
            // json_each answers true/false as 1/0 and a real as a double (15 digits when
            // printed again): those as their JSON text, as stored.
            "(SELECT json_group_array(json_object('name', @je.key, 'value', \
             CASE WHEN @je.type IN ('true', 'false', 'real') \
             THEN json(@fs.facts -> @je.fullkey) ELSE @je.value END)) \
             FROM json_each(@fs.facts) @je)",
        )
        .pg(
            "(SELECT COALESCE(json_agg(json_build_object('name', @je.key, 'value', @je.value)), \
             '[]'::json) FROM json_each(@fs.facts) @je)",
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[("facts", "/pdb/query/v4/factsets/", "certname", "/facts")],
};

static FACT_CONTENTS: Entity = Entity {
    name: "fact_contents",
    from: "fact_values @fv JOIN certnames @c ON @c.certname = @fv.certname \
           JOIN factsets @fs ON @fs.certname = @fv.certname",
    pg_from: None,
    fields: &[
        f("certname", "@fv.certname", Kind::Text),
        f("environment", "@fs.environment", Kind::Text),
        f("path", "@fv.path", Kind::Path),
        f("name", "@fv.name", Kind::Text),
        f("value", "@fv.value", Kind::Json),
        hidden("depth", "@fv.depth", Kind::Int),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static FACT_PATHS: Entity = Entity {
    name: "fact_paths",
    from: "fact_paths @p",
    pg_from: None,
    fields: &[
        f("path", "@p.path", Kind::Path),
        f("type", "@p.type", Kind::Text),
        // PuppetDB 7.12 answers the fact's name too.
        f("name", "@p.name", Kind::Text),
        hidden("depth", "@p.depth", Kind::Int),
    ],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static INVENTORY: Entity = Entity {
    name: "inventory",
    from: "factsets @fs JOIN certnames @c ON @c.certname = @fs.certname",
    pg_from: None,
    fields: &[
        f("certname", "@fs.certname", Kind::Text),
        f("timestamp", "@fs.timestamp", Kind::Time),
        f("environment", "@fs.environment", Kind::Text),
        f("facts", "@fs.facts", Kind::Json),
        f("trusted", "(@fs.facts -> '$.trusted')", Kind::Json).pg("(@fs.facts -> 'trusted')"),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::Facts,
    wrap: &[],
};

static CATALOGS: Entity = Entity {
    name: "catalogs",
    from: "catalogs @ca JOIN certnames @c ON @c.certname = @ca.certname",
    pg_from: None,
    fields: &[
        f("certname", "@ca.certname", Kind::Text),
        f("version", "@ca.version", Kind::Text),
        f("environment", "@ca.environment", Kind::Text),
        f("transaction_uuid", "@ca.transaction_uuid", Kind::Text),
        f("catalog_uuid", "@ca.catalog_uuid", Kind::Text),
        f("code_id", "@ca.code_id", Kind::Text),
        f("job_id", "@ca.job_id", Kind::Text),
        f("producer_timestamp", "@ca.producer_timestamp", Kind::Time),
        f("producer", "@ca.producer", Kind::Text),
        f("hash", "@ca.hash", Kind::Text),
        out(
            "edges",
            "(SELECT json_group_array(json_object('source_type', @x.source_type, 'source_title', \
             @x.source_title, 'target_type', @x.target_type, 'target_title', @x.target_title, \
             'relationship', @x.relationship)) FROM edges @x WHERE @x.certname = @ca.certname)",
        )
        .pg(
            "(SELECT COALESCE(json_agg(json_build_object('source_type', @x.source_type, \
             'source_title', @x.source_title, 'target_type', @x.target_type, 'target_title', \
             @x.target_title, 'relationship', @x.relationship) ORDER BY @x.idx), '[]'::json) \
             FROM edges @x WHERE @x.certname = @ca.certname)",
        ),
        out(
            "resources",
            "(SELECT json_group_array(json_object('type', @x.type, 'title', @x.title, 'resource', \
             @x.resource, 'tags', json(@x.tags), 'exported', json(CASE WHEN @x.exported THEN 'true' \
             ELSE 'false' END), 'file', @x.file, 'line', @x.line, 'parameters', json(@x.parameters))) \
             FROM catalog_resources @x WHERE @x.certname = @ca.certname)",
        )
        .pg(
            "(SELECT COALESCE(json_agg(json_build_object('type', @x.type, 'title', @x.title, \
             'resource', @x.resource, 'tags', @x.tags, 'exported', @x.exported, 'file', @x.file, \
             'line', @x.line, 'parameters', @x.parameters) \
             ORDER BY @x.type COLLATE \"C\", @x.title COLLATE \"C\"), '[]'::json) \
             FROM catalog_resources @x WHERE @x.certname = @ca.certname)",
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[
        ("edges", "/pdb/query/v4/catalogs/", "certname", "/edges"),
        (
            "resources",
            "/pdb/query/v4/catalogs/",
            "certname",
            "/resources",
        ),
    ],
};

static CATALOG_INPUTS: Entity = Entity {
    name: "catalog_inputs",
    from: "catalog_inputs @ci JOIN certnames @c ON @c.certname = @ci.certname",
    pg_from: None,
    fields: &[
        f("certname", "@ci.certname", Kind::Text),
        f("producer_timestamp", "@ci.producer_timestamp", Kind::Time),
        f("catalog_uuid", "@ci.catalog_uuid", Kind::Text),
        out("inputs", "@ci.inputs"),
        // Filters see every type and name of the inputs (PuppetDB compares with its
        // two-dimensional text array, whose elements are those).
        hidden(
            "inputs",
            "(SELECT json_group_array(@j2.value) FROM json_each(@ci.inputs) @j1, \
             json_each(@j1.value) @j2)",
            Kind::Array,
        )
        .pg(
            "(SELECT COALESCE(jsonb_agg(@j2.e), '[]'::jsonb) FROM jsonb_array_elements(@ci.inputs) \
             @j1(v), jsonb_array_elements(@j1.v) @j2(e))",
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static CATALOG_INPUT_CONTENTS: Entity = Entity {
    name: "catalog_input_contents",
    from: "catalog_inputs @ci JOIN certnames @c ON @c.certname = @ci.certname \
           JOIN json_each(@ci.inputs) @in",
    pg_from: Some(
        "catalog_inputs @ci JOIN certnames @c ON @c.certname = @ci.certname \
         CROSS JOIN LATERAL jsonb_array_elements(@ci.inputs) @in(value)",
    ),
    fields: &[
        f("certname", "@ci.certname", Kind::Text),
        f("producer_timestamp", "@ci.producer_timestamp", Kind::Time),
        f("catalog_uuid", "@ci.catalog_uuid", Kind::Text),
        f("type", "(@in.value ->> '$[0]')", Kind::Text).pg("(@in.value ->> 0)"),
        f("name", "(@in.value ->> '$[1]')", Kind::Text).pg("(@in.value ->> 1)"),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static RESOURCES: Entity = Entity {
    name: "resources",
    // A node's resources are written and deleted with its catalog, so every row has its
    // catalog: LEFT JOIN answers the same, and lets SQLite leave the join out when no
    // catalog field (`environment`) is asked for.
    from: "catalog_resources @x LEFT JOIN catalogs @ca ON @ca.certname = @x.certname \
           LEFT JOIN certnames @c ON @c.certname = @x.certname",
    pg_from: Some(
        "catalog_resources @x LEFT JOIN catalogs @ca ON @ca.certname = @x.certname \
         JOIN certnames @c ON @c.certname = @x.certname",
    ),
    fields: &[
        f("certname", "@x.certname", Kind::Text),
        f("resource", "@x.resource", Kind::Text),
        f("type", "@x.type", Kind::Text),
        f("title", "@x.title", Kind::Text),
        f("tags", "@x.tags", Kind::Array),
        hidden("tag", "@x.tags", Kind::Array),
        f("exported", "@x.exported", Kind::Bool),
        f("file", "@x.file", Kind::Text),
        f("line", "@x.line", Kind::Int),
        f("environment", "@ca.environment", Kind::Text),
        f("parameters", "@x.parameters", Kind::Json),
    ],
    active: Some(active_of!("@x.certname")),
    pg_active: Some(ACTIVE),
    dotted: Dotted::Parameters,
    wrap: &[],
};

static EDGES: Entity = Entity {
    name: "edges",
    from: "edges @x JOIN certnames @c ON @c.certname = @x.certname",
    pg_from: None,
    fields: &[
        f("certname", "@x.certname", Kind::Text),
        f("relationship", "@x.relationship", Kind::Text),
        f("source_type", "@x.source_type", Kind::Text),
        f("source_title", "@x.source_title", Kind::Text),
        f("target_type", "@x.target_type", Kind::Text),
        f("target_title", "@x.target_title", Kind::Text),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static REPORTS: Entity = Entity {
    name: "reports",
    from: "reports @r JOIN certnames @c ON @c.certname = @r.certname",
    pg_from: None,
    fields: &[
        f("certname", "@r.certname", Kind::Text),
        f("hash", "@r.hash", Kind::Text),
        f("environment", "@r.environment", Kind::Text),
        f("status", "@r.status", Kind::Text),
        f("noop", "@r.noop", Kind::Bool),
        f("noop_pending", "@r.noop_pending", Kind::Bool),
        f("puppet_version", "@r.puppet_version", Kind::Text),
        f("report_format", "@r.report_format", Kind::Int),
        f(
            "configuration_version",
            "@r.configuration_version",
            Kind::Text,
        ),
        f("start_time", "@r.start_time", Kind::Time),
        f("end_time", "@r.end_time", Kind::Time),
        f("producer_timestamp", "@r.producer_timestamp", Kind::Time),
        f("producer", "@r.producer", Kind::Text),
        f("receive_time", "@r.receive_time", Kind::Time),
        f("transaction_uuid", "@r.transaction_uuid", Kind::Text),
        f("catalog_uuid", "@r.catalog_uuid", Kind::Text),
        f("code_id", "@r.code_id", Kind::Text),
        f("job_id", "@r.job_id", Kind::Text),
        f(
            "cached_catalog_status",
            "@r.cached_catalog_status",
            Kind::Text,
        ),
        f("corrective_change", "@r.corrective_change", Kind::Bool),
        f("type", "@r.type", Kind::Text),
        hidden(
            "latest_report?",
            "(@r.hash = @c.latest_report_hash)",
            Kind::Bool,
        ),
        out("metrics", "@r.metrics"),
        out("logs", "@r.logs"),
        out(
            "resource_events",
            // The timestamps as PostgreSQL writes a timestamptz in JSON (PuppetDB builds
            // this array there): `+00:00`, the fraction without trailing zeros.
            "(SELECT json_group_array(json_object('status', @v.status, 'timestamp', \
             (CASE WHEN substr(@v.timestamp, 20, 4) = '.000' THEN substr(@v.timestamp, 1, 19) \
             WHEN substr(@v.timestamp, 22, 2) = '00' THEN substr(@v.timestamp, 1, 21) \
             WHEN substr(@v.timestamp, 23, 1) = '0' THEN substr(@v.timestamp, 1, 22) \
             ELSE substr(@v.timestamp, 1, 23) END) || '+00:00', \
             'resource_type', @v.resource_type, 'resource_title', @v.resource_title, 'property', \
             @v.property, 'name', @v.name, 'new_value', json(@v.new_value), 'old_value', \
             json(@v.old_value), 'message', @v.message, 'file', @v.file, 'line', @v.line, \
             'containment_path', json(@v.containment_path), 'containing_class', @v.containing_class, \
             'corrective_change', json(CASE WHEN @v.corrective_change IS NULL THEN 'null' \
             WHEN @v.corrective_change THEN 'true' ELSE 'false' END))) \
             FROM resource_events @v WHERE @v.report_hash = @r.hash)",
        )
        .pg(
            "(SELECT COALESCE(json_agg(json_build_object('status', @v.status, 'timestamp', \
             (CASE WHEN substr(@v.timestamp, 20, 4) = '.000' THEN substr(@v.timestamp, 1, 19) \
             WHEN substr(@v.timestamp, 22, 2) = '00' THEN substr(@v.timestamp, 1, 21) \
             WHEN substr(@v.timestamp, 23, 1) = '0' THEN substr(@v.timestamp, 1, 22) \
             ELSE substr(@v.timestamp, 1, 23) END) || '+00:00', 'resource_type', @v.resource_type, 'resource_title', \
             @v.resource_title, 'property', @v.property, 'name', @v.name, 'new_value', \
             @v.new_value, 'old_value', @v.old_value, 'message', @v.message, 'file', @v.file, \
             'line', @v.line, 'containment_path', @v.containment_path, 'containing_class', \
             @v.containing_class, 'corrective_change', @v.corrective_change) ORDER BY @v.idx), \
             '[]'::json) FROM resource_events @v WHERE @v.report_hash = @r.hash)",
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[
        ("metrics", "/pdb/query/v4/reports/", "hash", "/metrics"),
        ("logs", "/pdb/query/v4/reports/", "hash", "/logs"),
        (
            "resource_events",
            "/pdb/query/v4/reports/",
            "hash",
            "/events",
        ),
    ],
};

static EVENTS: Entity = Entity {
    name: "events",
    from: "resource_events @v JOIN reports @r ON @r.hash = @v.report_hash \
           JOIN certnames @c ON @c.certname = @v.certname",
    pg_from: None,
    fields: &[
        f("certname", "@v.certname", Kind::Text),
        f("report", "@v.report_hash", Kind::Text),
        f("status", "@v.status", Kind::Text),
        f("timestamp", "@v.timestamp", Kind::Time),
        f("run_start_time", "@r.start_time", Kind::Time),
        f("run_end_time", "@r.end_time", Kind::Time),
        f("report_receive_time", "@r.receive_time", Kind::Time),
        f("resource_type", "@v.resource_type", Kind::Text),
        f("resource_title", "@v.resource_title", Kind::Text),
        f("property", "@v.property", Kind::Text),
        f("name", "@v.name", Kind::Text),
        f("new_value", "@v.new_value", Kind::Json),
        f("old_value", "@v.old_value", Kind::Json),
        f("message", "@v.message", Kind::Text),
        f("file", "@v.file", Kind::Text),
        f("line", "@v.line", Kind::Int),
        f("containment_path", "@v.containment_path", Kind::Array),
        f("containing_class", "@v.containing_class", Kind::Text),
        f("environment", "@r.environment", Kind::Text),
        f(
            "configuration_version",
            "@r.configuration_version",
            Kind::Text,
        ),
        f("corrective_change", "@v.corrective_change", Kind::Bool),
        hidden(
            "latest_report?",
            "(@r.hash = @c.latest_report_hash)",
            Kind::Bool,
        ),
    ],
    active: Some(ACTIVE),
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// The producers (Puppetservers) named by stored factsets, catalogs and reports.
static PRODUCERS: Entity = Entity {
    name: "producers",
    from: "(SELECT producer AS name FROM factsets WHERE producer IS NOT NULL \
           UNION SELECT producer FROM catalogs WHERE producer IS NOT NULL \
           UNION SELECT producer FROM reports WHERE producer IS NOT NULL) @p",
    pg_from: None,
    fields: &[f("name", "@p.name", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// `select_not_active_nodes` (PuppetDB's internal subquery: deactivated or expired nodes).
const NOT_ACTIVE: Entity = Entity {
    name: "not_active_nodes",
    from: "(SELECT certname FROM certnames \
           WHERE deactivated IS NOT NULL OR expired IS NOT NULL) @n",
    pg_from: None,
    fields: &[f("certname", "@n.certname", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

static NOT_ACTIVE_NODES: Entity = NOT_ACTIVE;

/// `select_inactive_nodes`: the nodes `node_state = "inactive"` finds (here the same as not
/// active: purged nodes are gone from storage).
static INACTIVE_NODES: Entity = Entity {
    name: "inactive_nodes",
    ..NOT_ACTIVE
};

/// `select_latest_report`: the hash of each node's latest report.
static LATEST_REPORT: Entity = Entity {
    name: "latest_report",
    from: "(SELECT latest_report_hash FROM certnames WHERE latest_report_hash IS NOT NULL) @l",
    pg_from: None,
    fields: &[f("latest_report_hash", "@l.latest_report_hash", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// `select_latest_report_id`: each node's latest report. PuppetDB answers its internal row
/// id (a number no other endpoint shows); this answers the report's hash, the identity of a
/// report here.
static LATEST_REPORT_ID: Entity = Entity {
    name: "latest_report_id",
    from: "(SELECT latest_report_hash FROM certnames WHERE latest_report_hash IS NOT NULL) @l",
    pg_from: None,
    fields: &[f("latest_report_id", "@l.latest_report_hash", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// `select_params`: one row per parameter of the stored resources (PuppetDB's
/// `resource_params`): the resource's hash, the parameter's name and its value as JSON text
/// (PuppetDB's serialized form, so `["=", "res_param_value", "\"present\""]`).
static PARAMS: Entity = Entity {
    name: "params",
    from: "(SELECT DISTINCT @x.resource AS resource, @pp.key AS name, \
           (@x.parameters -> @pp.fullkey) AS value \
           FROM catalog_resources @x, json_each(@x.parameters) @pp) @rp",
    pg_from: Some(
        "(SELECT DISTINCT @x.resource AS resource, @pp.key AS name, \
         CAST(@pp.value AS text) AS value \
         FROM catalog_resources @x CROSS JOIN LATERAL json_each(@x.parameters) @pp) @rp",
    ),
    fields: &[
        f("res_param_resource", "@rp.resource", Kind::Text),
        f("res_param_name", "@rp.name", Kind::Text),
        f("res_param_value", "@rp.value", Kind::Text),
    ],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// `/fact-names`: the distinct names of the stored facts (PuppetDB answers them as a list of
/// strings; an endpoint only, no `select_fact_names`).
static FACT_NAMES: Entity = Entity {
    name: "fact_names",
    from: "(SELECT DISTINCT name FROM fact_paths) @n",
    pg_from: None,
    fields: &[f("name", "@n.name", Kind::Text)],
    active: None,
    pg_active: None,
    dotted: Dotted::None,
    wrap: &[],
};

/// Entities PuppetDB has only as `select_<name>` subqueries, without an endpoint.
static SUBQUERY_ONLY: [&Entity; 5] = [
    &NOT_ACTIVE_NODES,
    &INACTIVE_NODES,
    &LATEST_REPORT,
    &LATEST_REPORT_ID,
    &PARAMS,
];

/// Every entity, by its name with underscores.
static ALL: [&Entity; 15] = [
    &NODES,
    &ENVIRONMENTS,
    &FACTS,
    &FACTSETS,
    &FACT_CONTENTS,
    &FACT_PATHS,
    &INVENTORY,
    &CATALOGS,
    &CATALOG_INPUTS,
    &CATALOG_INPUT_CONTENTS,
    &RESOURCES,
    &EDGES,
    &REPORTS,
    &EVENTS,
    &PRODUCERS,
];

/// The entity named `name` (`fact-paths` and `fact_paths` alike).
pub(crate) fn entity(name: &str) -> Option<&'static Entity> {
    let name = name.replace('-', "_");
    ALL.iter().copied().find(|e| e.name == name)
}

/// The entity an endpoint of its own answers (`/fact-names` besides every entity).
pub(crate) fn endpoint_entity(name: &str) -> Option<&'static Entity> {
    match name.replace('-', "_").as_str() {
        "fact_names" => Some(&FACT_NAMES),
        _ => entity(name),
    }
}

/// The entity of a `select_<name>` subquery (`select_facts`, and the subquery-only ones such
/// as `select_not_active_nodes`); `None` for a name PuppetDB does not know.
pub(crate) fn subquery_entity(select: &str) -> Option<&'static Entity> {
    let name = select.strip_prefix("select_")?;
    ALL.iter()
        .chain(SUBQUERY_ONLY.iter())
        .copied()
        .find(|e| e.name == name)
}

/// The entities with a certname that `["subquery", X, ...]` joins on `certname` (PuppetDB's
/// `certname-relations`).
const BY_CERTNAME: [&str; 12] = [
    "factsets",
    "reports",
    "inventory",
    "catalogs",
    "catalog_input_contents",
    "catalog_inputs",
    "nodes",
    "facts",
    "fact_contents",
    "events",
    "edges",
    "resources",
];

/// The fields an implicit subquery `["subquery", to, q]` on `from` joins by, as PuppetDB's
/// engine declares its relationships: `(local fields) in to[foreign fields] { q }`. `None`
/// when PuppetDB has no such relationship.
pub(crate) fn relationship(
    from: &str,
    to: &str,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    const CERTNAME: &[&str] = &["certname"];
    const CERTNAME_NAME: &[&str] = &["certname", "name"];
    const NAME: &[&str] = &["name"];
    const ENVIRONMENT: &[&str] = &["environment"];
    const PRODUCER: &[&str] = &["producer"];
    let by_certname = BY_CERTNAME.contains(&to).then_some((CERTNAME, CERTNAME));
    match (from, to) {
        ("facts", "fact_contents") | ("fact_contents", "facts") => {
            Some((CERTNAME_NAME, CERTNAME_NAME))
        }
        (
            "facts" | "fact_contents" | "reports" | "catalogs" | "factsets" | "events"
            | "resources",
            "environments",
        ) => Some((ENVIRONMENT, NAME)),
        ("reports" | "catalogs" | "factsets", "producers") => Some((PRODUCER, NAME)),
        ("reports", "events") => Some((&["hash"], &["report"])),
        ("events", "reports") => Some((&["report"], &["hash"])),
        ("resources", "catalogs" | "nodes") => Some((CERTNAME, CERTNAME)),
        ("resources", _) => None,
        ("fact_paths", "facts") => Some((NAME, NAME)),
        ("fact_paths", "fact_contents") => Some((&["path"], &["path"])),
        ("fact_paths", _) => None,
        (
            "environments",
            "inventory" | "factsets" | "catalogs" | "reports" | "facts" | "fact_contents"
            | "events" | "resources",
        ) => Some((NAME, ENVIRONMENT)),
        ("environments", _) => None,
        ("producers", "factsets" | "catalogs" | "reports") => Some((NAME, PRODUCER)),
        ("producers", _) => None,
        (
            "nodes"
            | "inventory"
            | "catalogs"
            | "catalog_inputs"
            | "catalog_input_contents"
            | "edges"
            | "factsets"
            | "facts"
            | "fact_contents"
            | "reports"
            | "events",
            _,
        ) => by_certname,
        _ => None,
    }
}
