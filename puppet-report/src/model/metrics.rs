//! Metrics in Puppet's `[name, label, value]` layout.

use std::fmt;

use puppet_catalog::reference::ruby_capitalize;
use serde::de::{MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// One metric (`Puppet::Util::Metric`): a name, a label and `[name, label, value]` rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metric {
    /// The metric's name (`resources`, `time`, `changes`, `events`).
    pub name: String,
    /// Its label (`Resources`).
    pub label: String,
    /// Its rows, in the order Puppet added them.
    pub values: Vec<MetricValue>,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Metric {
    /// An empty metric labelled as Puppet does (`out_of_sync` → `Out of sync`).
    ///
    /// ```
    /// let m = puppet_report::Metric::new("resources");
    /// assert_eq!(m.label, "Resources");
    /// ```
    pub fn new(name: &str) -> Metric {
        Metric {
            name: name.to_owned(),
            label: labelize(name),
            values: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Adds a row labelled as Puppet does.
    ///
    /// ```
    /// let mut m = puppet_report::Metric::new("resources");
    /// m.push("failed_to_restart", 0u64.into());
    /// assert_eq!(m.values[0].label, "Failed to restart");
    /// ```
    pub fn push(&mut self, name: &str, value: Number) {
        self.values.push(MetricValue {
            name: name.to_owned(),
            label: labelize(name),
            value,
        });
    }

    /// The value of a row (the first with that name).
    ///
    /// ```
    /// let mut m = puppet_report::Metric::new("changes");
    /// m.push("total", 3u64.into());
    /// assert_eq!(m.get("total").and_then(|n| n.as_u64()), Some(3));
    /// ```
    pub fn get(&self, name: &str) -> Option<&Number> {
        self.values
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.value)
    }
}

/// Puppet's `Metric.labelize`: capitalize, underscores to spaces.
pub(crate) fn labelize(name: &str) -> String {
    ruby_capitalize(name).replace('_', " ")
}

/// One `[name, label, value]` row of a metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricValue {
    /// The row's name (`total`, `out_of_sync`, `config_retrieval`).
    pub name: String,
    /// Its label (`Total`, `Out of sync`, `Config retrieval`).
    pub label: String,
    /// The value: an integer for counts, a float for times.
    pub value: Number,
}

impl Serialize for MetricValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(3))?;
        seq.serialize_element(&self.name)?;
        seq.serialize_element(&self.label)?;
        seq.serialize_element(&self.value)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for MetricValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (name, label, value) = <(String, String, Number)>::deserialize(deserializer)?;
        Ok(MetricValue { name, label, value })
    }
}

/// The report's metrics by name, in the document's order (`resources`, `time`, `changes`,
/// `events` from Puppet).
///
/// ```
/// let report = puppet_report::ReportBuilder::new("agent1.example.test", "production").finish();
/// let names: Vec<&str> = report.metrics.iter().map(|(k, _)| k).collect();
/// assert_eq!(names, ["resources", "time", "changes", "events"]);
/// assert_eq!(report.metrics.value("resources", "total").and_then(|n| n.as_u64()), Some(0));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    entries: Vec<(String, Metric)>,
}

impl Metrics {
    /// The metric under a key.
    pub fn get(&self, key: &str) -> Option<&Metric> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    /// A row's value: `value("resources", "failed")`.
    pub fn value(&self, metric: &str, row: &str) -> Option<&Number> {
        self.get(metric).and_then(|m| m.get(row))
    }

    /// Sets the metric under a key (in place if the key is there, else at the end).
    pub fn insert(&mut self, key: impl Into<String>, metric: Metric) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = metric,
            None => self.entries.push((key, metric)),
        }
    }

    /// The metrics with their keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Metric)> {
        self.entries.iter().map(|(k, m)| (k.as_str(), m))
    }

    /// The number of metrics.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no metrics.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, m) in &self.entries {
            map.serialize_entry(k, m)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metrics;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of metrics")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metrics, A::Error> {
                let mut metrics = Metrics::default();
                while let Some(key) = map.next_key::<String>()? {
                    let metric: Metric = map.next_value()?;
                    metrics.insert(key, metric);
                }
                Ok(metrics)
            }
        }
        deserializer.deserialize_map(V)
    }
}
