//! Services from plain functions, for masters whose compiler or classifier needs no I/O of
//! its own (a catalog from facts, an environment from a fact): no trait impl, no `async`.

use std::sync::Arc;

use async_trait::async_trait;
use puppet_catalog::Catalog;
use puppet_facts::Facts;

use super::{CatalogCompiler, CompileRequest, NodeClassifier, NodeInfo};
use crate::ProtocolError;

/// A [`CatalogCompiler`] that calls `f`. An error of `f` that is a [`ProtocolError`] is
/// answered as that error; any other is a 500 keeping it as its source.
///
/// ```
/// use puppet_catalog::{CatalogBuilder, Declaration};
/// use puppet_protocol::server::compiler_fn;
///
/// let compiler = compiler_fn(|req| {
///     let mut b = CatalogBuilder::new(&req.certname).environment(&req.environment);
///     b.add(Declaration::new("notify", format!("hello {}", req.certname)))?;
///     b.build()
/// });
/// # let _ = compiler;
/// ```
pub fn compiler_fn<F, E>(f: F) -> Arc<dyn CatalogCompiler>
where
    F: Fn(&CompileRequest) -> Result<Catalog, E> + Send + Sync + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    Arc::new(FnCompiler(f))
}

/// A [`NodeClassifier`] that calls `f` with the certname, the environment the agent asked
/// for and its facts.
///
/// ```
/// use puppet_protocol::server::{NodeInfo, classifier_fn};
///
/// let classifier = classifier_fn(|name, asked, _facts| {
///     NodeInfo::new(name, asked.unwrap_or("production"))
/// });
/// # let _ = classifier;
/// ```
pub fn classifier_fn<F>(f: F) -> Arc<dyn NodeClassifier>
where
    F: Fn(&str, Option<&str>, Option<&Facts>) -> NodeInfo + Send + Sync + 'static,
{
    Arc::new(FnClassifier(f))
}

struct FnCompiler<F>(F);

#[async_trait]
impl<F, E> CatalogCompiler for FnCompiler<F>
where
    F: Fn(&CompileRequest) -> Result<Catalog, E> + Send + Sync + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    async fn compile(&self, request: &CompileRequest) -> Result<Catalog, ProtocolError> {
        (self.0)(request).map_err(|e| {
            let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
            match boxed.downcast::<ProtocolError>() {
                Ok(protocol) => *protocol,
                Err(other) => ProtocolError::Service(other),
            }
        })
    }
}

struct FnClassifier<F>(F);

#[async_trait]
impl<F> NodeClassifier for FnClassifier<F>
where
    F: Fn(&str, Option<&str>, Option<&Facts>) -> NodeInfo + Send + Sync + 'static,
{
    async fn classify(
        &self,
        certname: &str,
        environment: Option<&str>,
        facts: Option<&Facts>,
    ) -> Result<NodeInfo, ProtocolError> {
        Ok((self.0)(certname, environment, facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CompileRequest {
        CompileRequest {
            certname: "n1".into(),
            environment: "production".into(),
            facts: None,
            node: NodeInfo::new("n1", "production"),
            transaction_uuid: None,
            static_catalog: false,
            checksum_types: vec![],
        }
    }

    #[tokio::test]
    async fn a_protocol_error_keeps_its_status_and_others_are_500() {
        let not_found = compiler_fn(|_| Err(ProtocolError::NotFound("no such node".into())));
        let e = not_found.compile(&request()).await.err();
        assert_eq!(e.map(|e| e.status()), Some(404));
        let other = compiler_fn(|_| Err::<Catalog, _>(std::fmt::Error));
        let e = other.compile(&request()).await.err();
        assert!(matches!(e, Some(ProtocolError::Service(s)) if s.is::<std::fmt::Error>()));
    }

    #[tokio::test]
    async fn a_classifier_fn_is_called_with_the_request() {
        let c = classifier_fn(|name, asked, _| NodeInfo::new(name, asked.unwrap_or("x")));
        let node = c.classify("n1", Some("dev"), None).await.ok();
        assert_eq!(node, Some(NodeInfo::new("n1", "dev")));
    }
}
