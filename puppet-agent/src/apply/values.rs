//! Parameter values: reading them from a catalog resource and showing them as Puppet does.

use puppet_catalog::Resource;
use serde_json::Value;

/// A value as Puppet shows it in change messages (`format_value_for_display`): strings in
/// single quotes, arrays as `['a', 'b']`, numbers and booleans bare.
///
/// ```
/// use serde_json::json;
/// use puppet_agent::apply::format_value;
/// assert_eq!(format_value(&json!("0644")), "'0644'");
/// assert_eq!(format_value(&json!(["0"])), "['0']");
/// assert_eq!(format_value(&json!(3)), "3");
/// ```
pub fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(format_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Null => "undef".into(),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}' => {}", format_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A parameter as a string (numbers and booleans as their text); `None` when absent or null.
///
/// ```
/// let c = puppet_catalog::Catalog::from_json(br#"{"name":"n","resources":[
///   {"type":"File","title":"/x","parameters":{"mode":"0644","recurse":true}}],"edges":[]}"#).unwrap();
/// let r = &c.resources[0];
/// assert_eq!(puppet_agent::apply::param_str(r, "mode").as_deref(), Some("0644"));
/// assert_eq!(puppet_agent::apply::param_str(r, "recurse").as_deref(), Some("true"));
/// assert_eq!(puppet_agent::apply::param_str(r, "owner"), None);
/// ```
pub fn param_str(r: &Resource, name: &str) -> Option<String> {
    match r.parameter(name)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.len() == 1 => match &a[0] {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        },
        other => Some(other.to_string()),
    }
}

/// A parameter as a list of strings (a single value is a one-element list).
///
/// ```
/// let c = puppet_catalog::Catalog::from_json(br#"{"name":"n","resources":[
///   {"type":"Exec","title":"x","parameters":{"path":["/bin","/usr/bin"],"returns":0}}],"edges":[]}"#).unwrap();
/// let r = &c.resources[0];
/// assert_eq!(puppet_agent::apply::param_list(r, "path"), ["/bin", "/usr/bin"]);
/// assert_eq!(puppet_agent::apply::param_list(r, "returns"), ["0"]);
/// assert!(puppet_agent::apply::param_list(r, "unless").is_empty());
/// ```
pub fn param_list(r: &Resource, name: &str) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match r.parameter(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
    }
}

/// A boolean parameter (`true`/`"true"`/`"yes"`).
pub(crate) fn param_bool(r: &Resource, name: &str) -> Option<bool> {
    match r.parameter(name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(s.as_str(), "true" | "yes")),
        _ => None,
    }
}
