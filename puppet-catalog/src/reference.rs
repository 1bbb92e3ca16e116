//! Resource references: `File[/etc/motd]`, `Foo::Bar[x]`.

/// A reference to a resource: its type, capitalized as Puppet writes it (`File`, `Foo::Bar`),
/// and its title.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    /// The type name, each `::` segment capitalized (`Foo::Bar`).
    pub type_name: String,
    /// The title, unquoted.
    pub title: String,
}
