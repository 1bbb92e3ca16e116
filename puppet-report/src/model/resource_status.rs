//! Each resource's outcome and the statuses keyed by reference.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::Event;

/// The outcome of one resource in a run (`Puppet::Resource::Status`).
///
/// The derived fields (`changed`, `out_of_sync`, `failed`, the counts and
/// `corrective_change`) follow from the events when they are added with
/// [`ResourceStatus::add_event`].
///
/// Keys the report schema lets a status leave out (`resource`, `provider_used`, `file`,
/// `line`, `evaluation_time`, `time`, `failed`, `failed_to_restart`, `changed`,
/// `out_of_sync`, `corrective_change`) are read as empty or `false` when absent, and written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceStatus {
    /// The resource's title.
    pub title: String,
    /// The manifest file that declared it.
    pub file: Option<String>,
    /// The manifest line that declared it.
    pub line: Option<u64>,
    /// The resource reference, e.g. `File[/tmp/x]`.
    #[serde(default)]
    pub resource: String,
    /// The type, capitalized as Ruby's `String#capitalize` does (`File`, `Ssh_authorized_key`).
    pub resource_type: String,
    /// The provider that applied it (`posix`, `dpkg`, ...).
    #[serde(default)]
    pub provider_used: Option<String>,
    /// The containers from the outermost, ending with the resource itself.
    pub containment_path: Vec<String>,
    /// Seconds spent evaluating it; `None` for a skipped resource.
    pub evaluation_time: Option<f64>,
    /// Its tags.
    pub tags: Vec<String>,
    /// When its evaluation started.
    #[serde(default)]
    pub time: String,
    /// Whether it failed.
    #[serde(default)]
    pub failed: bool,
    /// Whether a refresh of it failed.
    #[serde(default)]
    pub failed_to_restart: bool,
    /// Whether it changed (a successful event).
    #[serde(default)]
    pub changed: bool,
    /// Whether it was out of sync (any event but an audit).
    #[serde(default)]
    pub out_of_sync: bool,
    /// Whether it was skipped (failed dependencies, tags, schedule).
    pub skipped: bool,
    /// The number of successful events.
    pub change_count: u64,
    /// The number of events that are not audits.
    pub out_of_sync_count: u64,
    /// Its events, in order.
    pub events: Vec<Event>,
    /// Whether one of its events was a corrective change.
    #[serde(default)]
    pub corrective_change: bool,
    /// Keys this crate does not model, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Whether it was refreshed (counted in the `restarted` metric; Puppet does not write it).
    #[serde(skip)]
    pub restarted: bool,
    /// Whether it was marked scheduled (counted in the `scheduled` metric; Puppet does not
    /// write it).
    #[serde(skip)]
    pub scheduled: bool,
}

/// The resource statuses keyed by resource reference, in the agent's evaluation order.
///
/// ```
/// use puppet_report::{ResourceStatus, ResourceStatuses};
/// let mut statuses = ResourceStatuses::default();
/// statuses.insert(ResourceStatus::new("file", "/tmp/b"));
/// statuses.insert(ResourceStatus::new("file", "/tmp/a"));
/// let keys: Vec<&str> = statuses.keys().collect();
/// assert_eq!(keys, ["File[/tmp/b]", "File[/tmp/a]"]);
/// assert!(statuses.get("File[/tmp/a]").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResourceStatuses {
    entries: Vec<(String, ResourceStatus)>,
    index: HashMap<String, usize>,
}

impl PartialEq for ResourceStatuses {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl ResourceStatuses {
    /// Adds a status under its `resource` reference; a status already under that key is
    /// replaced in place and returned.
    pub fn insert(&mut self, status: ResourceStatus) -> Option<ResourceStatus> {
        let key = status.resource.clone();
        self.insert_with_key(key, status)
    }

    /// Adds a status under a given key (normally its reference).
    pub fn insert_with_key(
        &mut self,
        key: String,
        status: ResourceStatus,
    ) -> Option<ResourceStatus> {
        match self.index.get(&key) {
            Some(&i) => self
                .entries
                .get_mut(i)
                .map(|slot| std::mem::replace(&mut slot.1, status)),
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, status));
                None
            }
        }
    }

    /// The status under a reference.
    pub fn get(&self, key: &str) -> Option<&ResourceStatus> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, s)| s)
    }

    /// The status under a reference, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut ResourceStatus> {
        match self.index.get(key) {
            Some(&i) => self.entries.get_mut(i).map(|(_, s)| s),
            None => None,
        }
    }

    /// Keeps only the statuses for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &ResourceStatus) -> bool) {
        self.entries.retain(|(k, s)| keep(k, s));
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
    }

    /// The statuses with their keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ResourceStatus)> {
        self.entries.iter().map(|(k, s)| (k.as_str(), s))
    }

    /// The statuses with their keys, in order, to change them (the keys stay).
    ///
    /// ```
    /// use puppet_report::{ResourceStatus, ResourceStatuses};
    /// let mut statuses = ResourceStatuses::default();
    /// statuses.insert(ResourceStatus::new("file", "/tmp/a"));
    /// for (_, status) in statuses.iter_mut() {
    ///     status.skipped = true;
    /// }
    /// assert!(statuses.get("File[/tmp/a]").is_some_and(|s| s.skipped));
    /// ```
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut ResourceStatus)> {
        self.entries.iter_mut().map(|(k, s)| (k.as_str(), s))
    }

    /// The keys (resource references), in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The statuses, in order.
    pub fn values(&self) -> impl Iterator<Item = &ResourceStatus> {
        self.entries.iter().map(|(_, s)| s)
    }

    /// The number of statuses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for ResourceStatuses {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, s) in &self.entries {
            map.serialize_entry(k, s)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ResourceStatuses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResourceStatuses;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of resource statuses")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ResourceStatuses, A::Error> {
                let mut statuses = ResourceStatuses::default();
                while let Some(key) = map.next_key::<String>()? {
                    let status: ResourceStatus = map.next_value()?;
                    statuses.insert_with_key(key, status);
                }
                Ok(statuses)
            }
        }
        deserializer.deserialize_map(V)
    }
}
