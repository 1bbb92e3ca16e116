//! Reading the document without buffering: serde's `flatten` (how `extra` would otherwise be
//! filled) first copies every value of a struct, the whole `resources` array included, into
//! an intermediate tree. These visitors read each key once, straight into its field or into
//! `extra`.
//!
//! A known key whose value is `null` goes to `extra` (with `null`), so that it is written back
//! as it came; `name`, `type`, `title`, `source`, `target`, `resources` and `edges` must not be
//! `null`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{Catalog, CatalogVersion, Edge, Resource};

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The fields of one object being read: rejects a key seen twice.
struct Fields {
    extra: Map<String, Value>,
    seen: u32,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            extra: Map::new(),
            seen: 0,
        }
    }

    fn first<E: de::Error>(&mut self, bit: u32, key: &str) -> Result<(), E> {
        if self.seen & (1 << bit) != 0 {
            return Err(E::custom(format_args!("duplicate field `{key}`")));
        }
        self.seen |= 1 << bit;
        Ok(())
    }

    /// An optional field: `null` is kept in `extra`.
    fn optional<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
        &mut self,
        map: &mut A,
        bit: u32,
        key: &str,
        slot: &mut Option<T>,
    ) -> Result<(), A::Error> {
        self.first(bit, key)?;
        match map.next_value::<Option<T>>()? {
            Some(v) => *slot = Some(v),
            None => {
                self.extra.insert(key.to_string(), Value::Null);
            }
        }
        Ok(())
    }

    /// A required (non-null) field.
    fn required<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
        &mut self,
        map: &mut A,
        bit: u32,
        key: &str,
        slot: &mut Option<T>,
    ) -> Result<(), A::Error> {
        self.first(bit, key)?;
        *slot = Some(map.next_value()?);
        Ok(())
    }

    fn other<'de, A: MapAccess<'de>>(
        &mut self,
        map: &mut A,
        key: Cow<'de, str>,
    ) -> Result<(), A::Error> {
        let value: Value = map.next_value()?;
        if self.extra.insert(key.to_string(), value).is_some() {
            return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Catalog;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a catalog object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Catalog, A::Error> {
                let mut f = Fields::new();
                let (mut tags, mut name, mut version, mut code_id, mut catalog_uuid) =
                    (None, None, None, None, None);
                let (mut catalog_format, mut environment, mut resources, mut edges) =
                    (None, None, None, None);
                let (mut classes, mut metadata, mut recursive_metadata) = (None, None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "tags" => f.optional(&mut map, 0, "tags", &mut tags)?,
                        "name" => f.required(&mut map, 1, "name", &mut name)?,
                        "version" => f.optional(&mut map, 2, "version", &mut version)?,
                        "code_id" => {
                            f.first(3, "code_id")?;
                            code_id = Some(map.next_value::<Value>()?);
                        }
                        "catalog_uuid" => {
                            f.optional(&mut map, 4, "catalog_uuid", &mut catalog_uuid)?
                        }
                        "catalog_format" => {
                            f.optional(&mut map, 5, "catalog_format", &mut catalog_format)?
                        }
                        "environment" => {
                            f.optional(&mut map, 6, "environment", &mut environment)?
                        }
                        "resources" => f.required(&mut map, 7, "resources", &mut resources)?,
                        "edges" => f.required(&mut map, 8, "edges", &mut edges)?,
                        "classes" => f.optional(&mut map, 9, "classes", &mut classes)?,
                        "metadata" => f.optional(&mut map, 10, "metadata", &mut metadata)?,
                        "recursive_metadata" => {
                            f.optional(&mut map, 11, "recursive_metadata", &mut recursive_metadata)?
                        }
                        _ => f.other(&mut map, key)?,
                    }
                }
                Ok(Catalog {
                    tags,
                    name: name.ok_or_else(|| de::Error::missing_field("name"))?,
                    version,
                    code_id,
                    catalog_uuid,
                    catalog_format,
                    environment,
                    resources: resources.unwrap_or_default(),
                    edges: edges.unwrap_or_default(),
                    classes,
                    metadata,
                    recursive_metadata,
                    extra: f.extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Resource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a resource object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Resource, A::Error> {
                let mut f = Fields::new();
                let (mut ty, mut title, mut tags, mut file, mut line) =
                    (None, None, None, None, None);
                let (mut exported, mut kind, mut parameters, mut sensitive) =
                    (None, None, None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "type" => f.required(&mut map, 0, "type", &mut ty)?,
                        "title" => f.required(&mut map, 1, "title", &mut title)?,
                        "tags" => f.optional(&mut map, 2, "tags", &mut tags)?,
                        "file" => f.optional(&mut map, 3, "file", &mut file)?,
                        "line" => f.optional(&mut map, 4, "line", &mut line)?,
                        "exported" => f.optional(&mut map, 5, "exported", &mut exported)?,
                        "kind" => f.optional(&mut map, 6, "kind", &mut kind)?,
                        "parameters" => f.optional(&mut map, 7, "parameters", &mut parameters)?,
                        "sensitive_parameters" => {
                            f.optional(&mut map, 8, "sensitive_parameters", &mut sensitive)?
                        }
                        _ => f.other(&mut map, key)?,
                    }
                }
                Ok(Resource {
                    resource_type: ty.ok_or_else(|| de::Error::missing_field("type"))?,
                    title: title.ok_or_else(|| de::Error::missing_field("title"))?,
                    tags,
                    file,
                    line,
                    exported,
                    kind,
                    parameters,
                    sensitive_parameters: sensitive,
                    extra: f.extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Edge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Edge;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an edge object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Edge, A::Error> {
                let mut f = Fields::new();
                let (mut source, mut target) = (None, None);
                while let Some(Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "source" => f.required(&mut map, 0, "source", &mut source)?,
                        "target" => f.required(&mut map, 1, "target", &mut target)?,
                        _ => f.other(&mut map, key)?,
                    }
                }
                Ok(Edge {
                    source: source.ok_or_else(|| de::Error::missing_field("source"))?,
                    target: target.ok_or_else(|| de::Error::missing_field("target"))?,
                    extra: f.extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for CatalogVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CatalogVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CatalogVersion, E> {
                Ok(CatalogVersion::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CatalogVersion, E> {
                i64::try_from(v)
                    .map(CatalogVersion::Integer)
                    .map_err(|_| E::custom(format_args!("version {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CatalogVersion, E> {
                Ok(CatalogVersion::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CatalogVersion, E> {
                Ok(CatalogVersion::String(v))
            }
        }
        d.deserialize_any(V)
    }
}
