//! Resource references: `File[/etc/motd]`, `Foo::Bar[x]`, `Class[Foo::Bar]`.
//!
//! One implementation of Puppet's rules, used by the graph, the diff, the builder and the
//! public API:
//!
//! - the type is canonicalized as `Puppet::Resource.type_and_title` does, with
//!   [`capitalize_type_name`]: each `::` segment capitalized (Ruby's `capitalize`: first letter
//!   up, the rest down) unless the name already starts with an ASCII capital; a leading `::`
//!   is dropped first, as the Puppet language does (`::foo::bar` → `Foo::Bar`);
//! - for `Class`, the title is a class name and is canonicalized the same way
//!   (`Class[foo::bar]` → `Class[Foo::Bar]`, `Class[main]` → `Class[Main]`);
//! - the title is everything between the first `[` and the final `]` (`File[/a[1]]` has the
//!   title `/a[1]`), kept as it is: no trimming (Puppet's agent keeps spaces);
//! - as in the Puppet language, a title written in quotes is unquoted (`File['/etc/motd']`,
//!   `File["x"]`, with `\\` and the quote escaped by a backslash), and blanks around the whole
//!   reference, before `[` and around a quoted title are ignored.
//!
//! In catalogs (`catalog_format` 1 and 2, rich data included) Puppet writes references as
//! plain strings, one or an array of them: the compiler turns `File['/etc/motd']` into the
//! string `File[/etc/motd]` (`Puppet::Resource.value_to_json_data`), so there is no rich-data
//! form of a reference to read.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::CatalogError;

mod capitalize;

pub use capitalize::{capitalize_type_name, ruby_capitalize};

/// A reference to a resource: its type, capitalized as Puppet writes it (`File`, `Foo::Bar`),
/// and its title.
///
/// ```
/// use puppet_catalog::ResourceRef;
/// let r: ResourceRef = "file['/etc/motd']".parse()?;
/// assert_eq!(r, ResourceRef::new("File", "/etc/motd"));
/// assert_eq!(r.to_string(), "File[/etc/motd]");
/// assert_eq!("class[foo::bar]".parse::<ResourceRef>()?.to_string(), "Class[Foo::Bar]");
/// assert!("not a reference".parse::<ResourceRef>().is_err());
/// # Ok::<(), puppet_catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    /// The type name, each `::` segment capitalized (`Foo::Bar`).
    pub type_name: String,
    /// The title, unquoted.
    pub title: String,
}

impl ResourceRef {
    /// A reference to the resource `title` of type `type_name`, canonicalized as Puppet does
    /// (type segments capitalized; for `Class`, the title too). The parts are not validated:
    /// parse a string with [`str::parse`] to have them checked.
    ///
    /// ```
    /// use puppet_catalog::ResourceRef;
    /// let r = ResourceRef::new("apache::vhost", "example.com");
    /// assert_eq!(r.type_name, "Apache::Vhost");
    /// assert_eq!(ResourceRef::new("class", "nginx::config").title, "Nginx::Config");
    /// ```
    pub fn new(type_name: impl AsRef<str>, title: impl Into<String>) -> ResourceRef {
        let type_name = canonical_type(type_name.as_ref()).into_owned();
        let title = title.into();
        let title = if type_name == "Class" {
            match canonical_class_title(&title) {
                Cow::Borrowed(_) => title,
                Cow::Owned(t) => t,
            }
        } else {
            title
        };
        ResourceRef { type_name, title }
    }

    /// Every reference in a relationship metaparameter's value (`require`, `before`,
    /// `notify`, `subscribe`): a string, or an array of them (nested arrays are flattened,
    /// `null` holds none).
    ///
    /// ```
    /// use puppet_catalog::ResourceRef;
    /// let value = serde_json::json!(["Package[nginx]", ["file[/etc/nginx/nginx.conf]"]]);
    /// let refs = ResourceRef::list_from_value(&value)?;
    /// assert_eq!(refs[1].to_string(), "File[/etc/nginx/nginx.conf]");
    /// assert!(ResourceRef::list_from_value(&serde_json::json!(3)).is_err());
    /// # Ok::<(), puppet_catalog::CatalogError>(())
    /// ```
    pub fn list_from_value(value: &Value) -> Result<Vec<ResourceRef>, CatalogError> {
        let mut texts = Vec::new();
        collect_refs(value, &mut texts).map_err(|bad| CatalogError::InvalidReference {
            reference: bad,
            reason: "a relationship holds reference strings or arrays of them".into(),
        })?;
        texts.into_iter().map(str::parse).collect()
    }

    /// Whether this names a container the agent replaces by sentinels when it has no
    /// resource kind to go by: `Class`, `Node`, `Stage` or a type that is not one of
    /// Puppet's native types (a defined type).
    ///
    /// ```
    /// use puppet_catalog::ResourceRef;
    /// assert!(ResourceRef::new("Class", "nginx").is_container_type());
    /// assert!(ResourceRef::new("Nginx::Vhost", "a").is_container_type());
    /// assert!(!ResourceRef::new("File", "/etc/motd").is_container_type());
    /// ```
    pub fn is_container_type(&self) -> bool {
        matches!(
            self.type_name.as_str(),
            "Class" | "Node" | "Stage" | "Component"
        ) || !NATIVE_TYPES.contains(&self.type_name.as_str())
    }
}

impl fmt::Display for ResourceRef {
    /// `Type[title]`, as Puppet's `Puppet::Resource#to_s` (no quotes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.type_name, self.title)
    }
}

impl serde::Serialize for ResourceRef {
    /// As its string, `Type[title]`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ResourceRef {
    /// From a reference string, with Puppet's rules.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for ResourceRef {
    type Err = CatalogError;

    fn from_str(text: &str) -> Result<ResourceRef, CatalogError> {
        match split_ref(text) {
            Ok((ty, title)) => Ok(ResourceRef {
                type_name: ty.into_owned(),
                title: title.into_owned(),
            }),
            Err(reason) => Err(CatalogError::InvalidReference {
                reference: text.to_string(),
                reason: reason.to_string(),
            }),
        }
    }
}

/// Types of Puppet 7 (and the modules Debian ships with it) that are native, i.e. not turned
/// into a component by the agent.
pub(crate) const NATIVE_TYPES: &[&str] = &[
    "Augeas",
    "Cron",
    "Exec",
    "File",
    "Filebucket",
    "Group",
    "Host",
    "K5login",
    "Mailalias",
    "Maillist",
    "Mount",
    "Notify",
    "Package",
    "Resources",
    "Schedule",
    "Scheduled_task",
    "Selboolean",
    "Selmodule",
    "Service",
    "Ssh_authorized_key",
    "Sshkey",
    "Tidy",
    "User",
    "Yumrepo",
    "Zfs",
    "Zone",
    "Zpool",
];

/// Every reference string in a metaparameter value (a string or nested arrays of them); the
/// JSON text of the first value that is neither.
pub(crate) fn collect_refs<'v>(value: &'v Value, out: &mut Vec<&'v str>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            out.push(s);
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| collect_refs(v, out)),
        Value::Null => Ok(()),
        other => Err(other.to_string()),
    }
}

/// `Type[title]` read as Puppet reads it, canonicalized; borrowed when nothing changes.
pub(crate) fn split_ref(text: &str) -> Result<(Cow<'_, str>, Cow<'_, str>), &'static str> {
    let text = text.trim_matches(is_blank);
    let open = text
        .find('[')
        .ok_or("a reference is `Type[title]`: no `[`")?;
    let inner = text
        .strip_suffix(']')
        .ok_or("a reference is `Type[title]`: it does not end with `]`")?;
    let raw_type = text[..open].trim_end_matches(is_blank);
    if raw_type.is_empty() {
        return Err("the type is empty");
    }
    if raw_type.contains(']') {
        return Err("the type holds a `]`");
    }
    if !valid_type_name(raw_type) {
        return Err("the type is not a Puppet type name (letters, digits, `_`, `::`)");
    }
    let raw_title = &inner[open + 1..];
    if raw_title.is_empty() {
        return Err("the title is empty");
    }
    let title = unquote(raw_title)?;
    if title.is_empty() {
        return Err("the title is empty");
    }
    let ty = canonical_type(raw_type);
    let title = if ty == "Class" {
        match canonical_class_title(&title) {
            Cow::Borrowed(_) => title,
            Cow::Owned(t) => Cow::Owned(t),
        }
    } else {
        title
    };
    Ok((ty, title))
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `[A-Za-z_][A-Za-z0-9_]*` segments joined by `::`, with an optional leading `::`.
fn valid_type_name(name: &str) -> bool {
    let name = name.strip_prefix("::").unwrap_or(name);
    name.split("::").all(|seg| {
        let mut bytes = seg.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// A title in single or double quotes (blanks around allowed) loses them, with `\\` and an
/// escaped quote unescaped; any other title is kept as it is.
fn unquote(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let trimmed = raw.trim_matches(is_blank);
    let quote = match trimmed.as_bytes().first() {
        Some(&q @ (b'\'' | b'"')) => q as char,
        _ => return Ok(Cow::Borrowed(raw)),
    };
    if trimmed.len() < 2 || !trimmed.ends_with(quote) {
        return Ok(Cow::Borrowed(raw));
    }
    let body = &trimmed[1..trimmed.len() - 1];
    if !body.contains('\\') && !body.contains(quote) {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) if n == quote || n == '\\' => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else if c == quote {
            // An unescaped quote inside: not one quoted string; keep the title as written.
            return Ok(Cow::Borrowed(raw));
        } else {
            out.push(c);
        }
    }
    Ok(Cow::Owned(out))
}

/// A class title: `main` and every other name get their segments capitalized.
fn canonical_class_title(title: &str) -> Cow<'_, str> {
    canonical_type(title)
}

/// A type (or class) name as references hold it: without a leading `::` (as the Puppet
/// language reads `::foo`), then [`capitalize_type_name`].
pub(crate) fn canonical_type(name: &str) -> Cow<'_, str> {
    capitalize_type_name(name.strip_prefix("::").unwrap_or(name))
}

/// Whether `tag` is a valid Puppet tag (`Puppet::Util::Tagging#valid_tag?`):
/// `[[:alnum:]_][[:alnum:]_:.-]*`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_alphanumeric() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<ResourceRef, CatalogError> {
        s.parse()
    }

    #[test]
    fn puppets_capitalization() {
        let cases = [
            ("File[/etc/motd]", "File", "/etc/motd"),
            ("file[/etc/motd]", "File", "/etc/motd"),
            ("foo::bar[x]", "Foo::Bar", "x"),
            ("FOO::bar[x]", "FOO::bar", "x"),
            ("fOO::BAR[x]", "Foo::Bar", "x"),
            ("::foo[x]", "Foo", "x"),
            ("Class[foo::bar]", "Class", "Foo::Bar"),
            ("class[main]", "Class", "Main"),
            ("Class[Foo::bar]", "Class", "Foo::bar"),
            ("Notify[thing one]", "Notify", "thing one"),
            ("Notify[ a ]", "Notify", " a "),
            ("File[/a[1]]", "File", "/a[1]"),
            ("Exec[line1\nline2]", "Exec", "line1\nline2"),
        ];
        for (text, ty, title) in cases {
            let r = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (r.type_name.as_str(), r.title.as_str()),
                (ty, title),
                "{text}"
            );
        }
    }

    #[test]
    fn quotes_and_blanks() {
        let cases = [
            ("File['/etc/motd']", "/etc/motd"),
            ("File[\"x\"]", "x"),
            ("  File [ '/etc/motd' ]  ", "/etc/motd"),
            ("Notify['it\\'s']", "it's"),
            ("Notify['a\\\\b']", "a\\b"),
            ("Notify['a\\nb']", "a\\nb"),
            ("Notify['a'b']", "'a'b'"),
            ("Notify[']", "'"),
        ];
        for (text, title) in cases {
            let r = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.title, title, "{text}");
        }
    }

    #[test]
    fn not_references() {
        for text in [
            "",
            "File",
            "[x]",
            "File[]",
            "File['']",
            "File[x",
            "File]x[",
            "Fi le[x]",
            "9file[x]",
            "Foo::[x]",
            "Foo-bar[x]",
        ] {
            match parse(text) {
                Err(CatalogError::InvalidReference { reference, reason }) => {
                    assert_eq!(reference, text);
                    assert!(!reason.is_empty());
                }
                other => panic!("{text:?} parsed: {other:?}"),
            }
        }
    }

    #[test]
    fn lists_of_references() {
        let v = serde_json::json!(["Package[a]", ["service[b]"], null]);
        let refs = ResourceRef::list_from_value(&v).unwrap_or_default();
        assert_eq!(
            refs,
            [
                ResourceRef::new("Package", "a"),
                ResourceRef::new("Service", "b")
            ]
        );
        assert_eq!(
            ResourceRef::list_from_value(&serde_json::json!("Exec[x]"))
                .map(|r| r.len())
                .ok(),
            Some(1)
        );
        assert!(matches!(
            ResourceRef::list_from_value(&serde_json::json!({"a": 1})),
            Err(CatalogError::InvalidReference { .. })
        ));
        assert!(ResourceRef::list_from_value(&serde_json::json!(["x"])).is_err());
    }

    #[test]
    fn tags() {
        for t in [
            "a",
            "make-flag",
            "agent1.example.test",
            "foo::bar",
            "_x",
            "é",
        ] {
            assert!(valid_tag(t), "{t}");
        }
        for t in ["", "-a", "thing one", "/tmp/x", ".a"] {
            assert!(!valid_tag(t), "{t}");
        }
    }

    fn type_name() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,8}", 1..4).prop_map(|s| s.join("::"))
    }

    /// Titles as they occur: anything non-empty, except a title that is itself one quoted
    /// string (`'x'`), which reads back unquoted, as in the Puppet language.
    fn title() -> impl Strategy<Value = String> {
        "[^\\x00]{1,24}".prop_filter("quoted", |t| {
            let b = t.trim_matches(is_blank);
            // `Class[::]` has no class name left.
            if t.trim_start_matches(':').is_empty() {
                return false;
            }
            !(b.len() >= 2
                && ((b.starts_with('\'') && b.ends_with('\''))
                    || (b.starts_with('"') && b.ends_with('"'))))
        })
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(ty in type_name(), title in title()) {
            let r = ResourceRef::new(&ty, title);
            let back: ResourceRef = r.to_string().parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(back, r);
        }

        #[test]
        fn canonical_form_is_stable(ty in type_name(), title in "[a-z:]{1,12}") {
            let r = ResourceRef::new(&ty, title);
            let again = ResourceRef::new(&r.type_name, r.title.clone());
            prop_assert_eq!(again, r);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<ResourceRef>();
        }
    }
}
