//! Sensitive values taken out of a report, as Puppet's agent writes them.
//!
//! Puppet redacts at the source: when a property is sensitive (its value was `Sensitive` in
//! the catalog, so the catalog lists it in the resource's `sensitive_parameters`), the
//! agent's `ResourceHarness#create_change_event` writes `[redacted]` for each value that is
//! not `nil`, the event is marked `redacted: true`, and the message is formatted with every
//! argument replaced by `[redacted]` (`Puppet::Parameter#format`):
//!
//! | event status | message |
//! |---|---|
//! | `success` | `changed [redacted] to [redacted]` |
//! | `noop` | `current_value [redacted], should be [redacted] (noop)` |
//! | `audit` | `audit change: previously recorded value [redacted] has been changed to [redacted]` |
//! | `failure` | `change from [redacted] to [redacted] failed: <the error>` |
//!
//! followed by ` (previously recorded value was [redacted])` for an audited property whose
//! value changed, and ` (corrective)` for a corrective change. The log line the event sends
//! (same message, source `<containment path>/<property>`) carries the same text. A `File`'s
//! `ensure` is sensitive when its `content` is, and `content` and `ensure` when its `source`
//! is (`Puppet::Type::File#set_sensitive_parameters`).

use std::collections::HashMap;

use puppet_catalog::{Catalog, Resource};
use serde_json::Value;

use crate::{Event, EventStatus, Report};

/// What Puppet writes in place of a sensitive value.
pub const REDACTED: &str = "[redacted]";

impl Event {
    /// Puts the event in the form Puppet writes for a sensitive property: `[redacted]` for
    /// each value that is not `null`, Puppet's message for its status with `[redacted]` for
    /// the values, `redacted: true`. A failure keeps its error text (Puppet does); an audit
    /// note and ` (corrective)` are kept in redacted form. Doing it twice changes nothing.
    ///
    /// ```
    /// use puppet_report::{Event, EventStatus};
    /// let mut event = Event::new(EventStatus::Success)
    ///     .with_property("content")
    ///     .with_values("old s3cret", "new s3cret")
    ///     .with_message("content changed 'old s3cret' to 'new s3cret'");
    /// event.redact();
    /// assert_eq!(event.previous_value, "[redacted]");
    /// assert_eq!(event.desired_value, "[redacted]");
    /// assert_eq!(event.message.as_deref(), Some("changed [redacted] to [redacted]"));
    /// assert_eq!(event.redacted, Some(true));
    /// ```
    pub fn redact(&mut self) {
        for value in [
            &mut self.previous_value,
            &mut self.desired_value,
            &mut self.historical_value,
        ] {
            if !value.is_null() {
                *value = Value::String(REDACTED.to_owned());
            }
        }
        self.redacted = Some(true);
        let Some(original) = self.message.as_deref() else {
            return;
        };
        let mut message = match self.status {
            EventStatus::Success => "changed [redacted] to [redacted]".to_owned(),
            EventStatus::Noop => "current_value [redacted], should be [redacted] (noop)".to_owned(),
            EventStatus::Audit => {
                "audit change: previously recorded value [redacted] has been changed to [redacted]"
                    .to_owned()
            }
            EventStatus::Failure => {
                // Puppet keeps the error after its redacted prefix. The last separator is the
                // real one: a value may hold the text, the error does not come before it.
                let error = original
                    .strip_prefix("change from ")
                    .and_then(|rest| rest.rsplit_once(" failed: "))
                    .map_or(REDACTED, |(_, error)| error);
                format!("change from [redacted] to [redacted] failed: {error}")
            }
        };
        if self.status != EventStatus::Failure {
            if original.contains(" (previously recorded value was ") {
                message.push_str(" (previously recorded value was [redacted])");
            }
            if self.corrective_change == Some(true) || original.ends_with(" (corrective)") {
                message.push_str(" (corrective)");
            }
        }
        self.message = Some(message);
    }
}

impl Report {
    /// Redacts every event marked `redacted: true` ([`Event::redact`]) and the log line each
    /// sent (the log whose message was the event's and whose source ends with
    /// `<resource>/<property>`), as Puppet's agent writes them. A report from a Puppet agent
    /// is already in that form and does not change; use this on reports made by a custom
    /// agent that marks sensitive events, before the report leaves for other readers.
    ///
    /// ```
    /// use puppet_report::{Event, EventStatus, Log, LogLevel, ReportBuilder, ResourceStatus};
    /// let mut status = ResourceStatus::new("notify", "db");
    /// let mut event = Event::new(EventStatus::Success)
    ///     .with_property("message")
    ///     .with_values("absent", "hunter2")
    ///     .with_message("defined 'message' as 'hunter2'");
    /// event.redacted = Some(true);
    /// status.add_event(event);
    /// let mut builder = ReportBuilder::new("db1.example.test", "production");
    /// builder.add_resource_status(status).add_log(Log::new(
    ///     LogLevel::Notice,
    ///     "defined 'message' as 'hunter2'",
    ///     "/Stage[main]/Main/Notify[db]/message",
    /// ));
    /// let mut report = builder.finish();
    /// report.redact_sensitive();
    /// let wire = String::from_utf8(report.to_json()?).unwrap();
    /// assert!(!wire.contains("hunter2"));
    /// assert_eq!(report.logs[0].message, "changed [redacted] to [redacted]");
    /// # Ok::<(), puppet_report::ReportError>(())
    /// ```
    pub fn redact_sensitive(&mut self) {
        // (source suffix, original message, redacted message) of each redacted event.
        let mut changed: Vec<(String, String, String)> = Vec::new();
        for (key, status) in self.resource_statuses.iter_mut() {
            for event in status
                .events
                .iter_mut()
                .filter(|e| e.redacted == Some(true))
            {
                let original = event.message.clone();
                event.redact();
                if let (Some(original), Some(redacted), Some(property)) =
                    (original, &event.message, &event.property)
                    && &original != redacted
                {
                    changed.push((format!("{key}/{property}"), original, redacted.clone()));
                }
            }
        }
        if changed.is_empty() {
            return;
        }
        for log in &mut self.logs {
            if let Some((_, _, redacted)) = changed.iter().find(|(suffix, original, _)| {
                log.message == *original && log.source.ends_with(suffix)
            }) {
                log.message = redacted.clone();
            }
        }
    }

    /// Marks the events of the properties `catalog` holds as Sensitive (listed in a
    /// resource's `sensitive_parameters` or written as rich-data Sensitive; a `File`'s
    /// `ensure` when its `content` is, `content` and `ensure` when its `source` is), then
    /// [`Report::redact_sensitive`]. The catalog is the one the run applied; resources are
    /// matched by reference.
    ///
    /// ```
    /// use puppet_catalog::Catalog;
    /// use puppet_report::{Event, EventStatus, ReportBuilder, ResourceStatus};
    /// let catalog = Catalog::from_json(br#"{"name": "db1", "resources": [
    ///   {"type": "File", "title": "/etc/db.key", "sensitive_parameters": ["content"],
    ///    "parameters": {"content": "s3cret"}}], "edges": []}"#)?;
    /// let mut status = ResourceStatus::new("file", "/etc/db.key");
    /// status.add_event(
    ///     Event::new(EventStatus::Success)
    ///         .with_property("ensure")
    ///         .with_values("absent", "file")
    ///         .with_message("defined content as '{sha256}5a4c'"),
    /// );
    /// let mut builder = ReportBuilder::new("db1.example.test", "production");
    /// builder.add_resource_status(status);
    /// let mut report = builder.finish();
    /// report.redact_sensitive_with(&catalog);
    /// let event = &report.resource_statuses.get("File[/etc/db.key]").unwrap().events[0];
    /// assert_eq!(event.message.as_deref(), Some("changed [redacted] to [redacted]"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redact_sensitive_with(&mut self, catalog: &Catalog) {
        let by_reference: HashMap<String, &Resource> = catalog
            .resources
            .iter()
            .filter(|r| r.sensitive_parameters.is_some() || has_rich_sensitive(r))
            .map(|r| (r.reference().to_string(), r))
            .collect();
        if !by_reference.is_empty() {
            for (key, status) in self.resource_statuses.iter_mut() {
                let Some(resource) = by_reference.get(key) else {
                    continue;
                };
                for event in &mut status.events {
                    if event
                        .property
                        .as_deref()
                        .is_some_and(|p| property_is_sensitive(resource, p))
                    {
                        event.redacted = Some(true);
                    }
                }
            }
        }
        self.redact_sensitive();
    }
}

fn has_rich_sensitive(r: &Resource) -> bool {
    r.parameters
        .as_ref()
        .is_some_and(|p| p.keys().any(|k| r.is_sensitive(k)))
}

/// Whether the agent treats `property` of `resource` as sensitive.
fn property_is_sensitive(resource: &Resource, property: &str) -> bool {
    if resource.is_sensitive(property) {
        return true;
    }
    if resource.resource_type.eq_ignore_ascii_case("file") {
        let source = resource.is_sensitive("source");
        return match property {
            "ensure" => resource.is_sensitive("content") || source,
            "content" => source,
            _ => false,
        };
    }
    false
}
