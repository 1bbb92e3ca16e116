//! Sensitive values taken out of a catalog, as PuppetDB receives catalogs from Puppetserver.
//!
//! What Puppet's PuppetDB terminus (`Puppet::Resource::Catalog::Puppetdb#munge_catalog`,
//! puppetdb-termini 7) does to a catalog before sending it, checked against Puppet 7.23:
//!
//! - the catalog is converted with `stringify_rich`, so a Sensitive value nested in a
//!   parameter (rich data `{"__ptype": "Sensitive", "__pvalue": ...}`) becomes the string
//!   `#<Sensitive [value redacted]:ID>`, where `ID` is the Ruby object's id (distinct per
//!   value);
//! - `redact_sensitive_params` then deletes each parameter named in a resource's
//!   `sensitive_parameters` (the compiler unwraps a parameter whose whole value is
//!   Sensitive and lists it there), and deletes the `sensitive_parameters` key.

use serde_json::Value;

use super::{Catalog, Resource, is_rich_sensitive};

/// What a nested Sensitive value becomes, before its number.
const REDACTED_SENSITIVE_PREFIX: &str = "#<Sensitive [value redacted]:";

impl Catalog {
    /// Takes every Sensitive value out of the catalog, as PuppetDB receives catalogs from
    /// Puppetserver: for each resource, the parameters named in `sensitive_parameters` are
    /// removed along with that list, and every other Sensitive value (rich data
    /// `{"__ptype": "Sensitive", ...}`, at any depth of a parameter) is replaced by the string
    /// `#<Sensitive [value redacted]:N>`. Puppet writes the Ruby object's id as `N`; here it
    /// is the value's number in document order (1, 2, ...), so that distinct values stay
    /// distinct (they may be hash keys) and the result does not depend on a process.
    ///
    /// Use it on anything written for other readers: archived catalogs, catalogs sent to a
    /// PuppetDB. The agent itself needs the values: send it the catalog unredacted.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let mut catalog = Catalog::from_json(br#"{"name": "db1", "resources": [
    ///   {"type": "File", "title": "/etc/db.key", "sensitive_parameters": ["content"],
    ///    "parameters": {"content": "s3cret", "mode": "0600"}},
    ///   {"type": "Notify", "title": "n", "parameters": {"message":
    ///     {"password": {"__ptype": "Sensitive", "__pvalue": "hunter2"}}}}
    /// ], "edges": []}"#)?;
    /// catalog.redact_sensitive();
    /// let text = catalog.to_json()?;
    /// assert!(!text.contains("s3cret") && !text.contains("hunter2"));
    /// assert_eq!(catalog.resources[0].parameters.as_ref().map(|p| p.len()), Some(1));
    /// assert_eq!(catalog.resources[0].sensitive_parameters, None);
    /// assert_eq!(
    ///     catalog.resources[1].parameter("message").unwrap()["password"],
    ///     "#<Sensitive [value redacted]:1>"
    /// );
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn redact_sensitive(&mut self) {
        let mut count = 0u64;
        for resource in &mut self.resources {
            resource.redact_sensitive_counting(&mut count);
        }
    }

    /// A copy of the catalog with its Sensitive values taken out
    /// ([`Catalog::redact_sensitive`]).
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let catalog = Catalog::from_json(br#"{"name": "db1", "resources": [
    ///   {"type": "Exec", "title": "x", "sensitive_parameters": ["command"],
    ///    "parameters": {"command": "/bin/echo s3cret"}}], "edges": []}"#)?;
    /// let redacted = catalog.redacted();
    /// assert!(!redacted.to_json()?.contains("s3cret"));
    /// assert!(catalog.to_json()?.contains("s3cret"));
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn redacted(&self) -> Catalog {
        let mut copy = self.clone();
        copy.redact_sensitive();
        copy
    }

    /// Whether the catalog holds a Sensitive value ([`Catalog::redact_sensitive`] would change
    /// it).
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// let catalog = Catalog::from_json(br#"{"name": "n", "resources": [
    ///   {"type": "Exec", "title": "x", "sensitive_parameters": ["command"],
    ///    "parameters": {"command": "/bin/echo s3cret"}}], "edges": []}"#)?;
    /// assert!(catalog.has_sensitive());
    /// assert!(!catalog.redacted().has_sensitive());
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn has_sensitive(&self) -> bool {
        self.resources.iter().any(|r| {
            r.sensitive_parameters.is_some()
                || r.parameters
                    .as_ref()
                    .is_some_and(|p| p.values().any(holds_sensitive))
        })
    }
}

impl Resource {
    fn redact_sensitive_counting(&mut self, count: &mut u64) {
        if let Some(names) = self.sensitive_parameters.take()
            && let Some(params) = &mut self.parameters
        {
            for name in &names {
                params.shift_remove(name);
            }
        }
        if let Some(params) = &mut self.parameters {
            for value in params.values_mut() {
                redact_value(value, count);
            }
        }
    }
}

/// Replaces every rich-data Sensitive value inside `value`.
fn redact_value(value: &mut Value, count: &mut u64) {
    if is_rich_sensitive(value) {
        *count += 1;
        *value = Value::String(format!("{REDACTED_SENSITIVE_PREFIX}{count}>"));
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, count)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_value(v, count)),
        _ => {}
    }
}

/// Whether a rich-data Sensitive value is inside `value`.
fn holds_sensitive(value: &Value) -> bool {
    is_rich_sensitive(value)
        || match value {
            Value::Array(items) => items.iter().any(holds_sensitive),
            Value::Object(map) => map.values().any(holds_sensitive),
            _ => false,
        }
}
