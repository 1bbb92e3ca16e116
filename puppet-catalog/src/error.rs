//! The one error type of this crate.

/// Everything that can go wrong reading, checking or ordering a catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The document is not a catalog: the JSON path and the problem.
    #[error("invalid catalog at {path}: {message}")]
    Parse {
        /// JSON path of the problem, e.g. `resources[3].title`.
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A string that should be a resource reference (`Type[title]`) is not one.
    #[error("invalid resource reference {reference:?}: {reason}")]
    InvalidReference {
        /// The text that was read.
        reference: String,
        /// Why it is not a reference.
        reason: String,
    },
    /// A relationship metaparameter names a resource the catalog does not have (the agent
    /// fails the run with this message).
    #[error("{path}: Could not retrieve dependency '{reference}' of {resource}")]
    UnknownReference {
        /// JSON path of the metaparameter, e.g. `resources[3].parameters.require`.
        path: String,
        /// The resource whose metaparameter it is, e.g. `File[/etc/motd]`.
        resource: String,
        /// The reference that names no resource of the catalog.
        reference: String,
    },
    /// A containment edge names a resource the catalog does not have.
    #[error("{path}: {reference} is not a resource of the catalog")]
    UnknownEdgeEndpoint {
        /// JSON path of the end, e.g. `edges[3].target`.
        path: String,
        /// The reference that names no resource of the catalog.
        reference: String,
    },
    /// A resource is declared twice (the compiler's `Duplicate declaration`).
    #[error("Duplicate declaration: {reference} is already declared")]
    DuplicateResource {
        /// The reference declared twice.
        reference: String,
    },
    /// The catalog could not be written as JSON.
    #[error("cannot write the catalog as JSON: {message}")]
    Serialize {
        /// What went wrong.
        message: String,
    },
    /// Several problems with the references of a catalog ([`crate::check`]); displays one
    /// per line.
    #[error("{}", problems_message(.0))]
    Problems(Vec<CatalogError>),
    /// The relationships form dependency cycles; displays as Puppet's message.
    #[error("{}", crate::graph::cycles_message(.0))]
    Cycles(Vec<crate::graph::Cycle>),
}

fn problems_message(problems: &[CatalogError]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}
