//! Snapshots of what the crate produces: a catalog built in code, and the diff of two.

use puppet_catalog::{
    Catalog, CatalogBuilder, CatalogError, CatalogVersion, Declaration, Graph, ResourceRef, diff,
};

/// The catalog of this manifest, for node `web1.example.test`:
///
/// ```puppet
/// define app::vhost($port) {
///   file { "/etc/app/vhosts/${title}.conf": content => "port ${port}\n" }
/// }
/// class app($workers = 4) {
///   tag 'frontend'
///   package { 'app': ensure => installed }
///   file { '/etc/app': ensure => directory, require => Package['app'] }
///   file { '/etc/app/vhosts': ensure => directory }
///   file { '/etc/app/app.conf': content => "workers=${workers}\n", notify => Service['app'] }
///   app::vhost { 'www': port => 443 }
///   service { 'app': ensure => running, tag => 'restartable' }
/// }
/// node 'web1.example.test' {
///   include app
///   file { '/etc/app/secret': content => Sensitive('s3cret'), mode => '0600' }
/// }
/// ```
fn web1() -> Result<Catalog, CatalogError> {
    let mut b = CatalogBuilder::new("web1.example.test")
        .environment("production")
        .version(CatalogVersion::Integer(1_763_856_000))
        .catalog_uuid("6f1c3d9e-2b4a-4e8f-9c7d-0a1b2c3d4e5f");
    let node = b.node("web1.example.test")?;
    let app = b.add(Declaration::class("app").param("workers", 4).within(&node))?;
    b.tag_scope(&app, "frontend")?;
    let package = b.add(
        Declaration::new("package", "app")
            .param("ensure", "installed")
            .within(&app),
    )?;
    b.add(
        Declaration::new("file", "/etc/app")
            .param("ensure", "directory")
            .require(&package)
            .within(&app),
    )?;
    b.add(
        Declaration::new("file", "/etc/app/vhosts")
            .param("ensure", "directory")
            .within(&app),
    )?;
    b.add(
        Declaration::new("file", "/etc/app/app.conf")
            .param("content", "workers=4\n")
            .notify(&ResourceRef::new("Service", "app"))
            .within(&app),
    )?;
    let vhost = b.add(
        Declaration::new("app::vhost", "www")
            .param("port", 443)
            .within(&app),
    )?;
    b.add(
        Declaration::new("service", "app")
            .param("ensure", "running")
            .tag("restartable")
            .within(&app),
    )?;
    b.add(
        Declaration::new("file", "/etc/app/secret")
            .sensitive_param("content", "s3cret")
            .param("mode", "0600")
            .within(&node),
    )?;
    b.add(
        Declaration::new("file", "/etc/app/vhosts/www.conf")
            .param("content", "port 443\n")
            .within(&vhost),
    )?;
    b.build()
}

#[test]
fn built_catalog_snapshot() -> Result<(), CatalogError> {
    let catalog = web1()?;
    insta::assert_snapshot!("built_catalog", catalog.to_json_pretty()?);
    // It reads back as it was written.
    let again = Catalog::from_json(catalog.to_json()?.as_bytes())?;
    assert_eq!(again, catalog);
    let order: Vec<String> = Graph::new(&catalog)?
        .apply_order()?
        .iter()
        .map(ToString::to_string)
        .collect();
    insta::assert_snapshot!("built_catalog_order", order.join("\n"));
    Ok(())
}

#[test]
fn diff_snapshot() -> Result<(), CatalogError> {
    let old = web1()?;
    let mut new = web1()?;
    // Drop the vhost file, add a cron job, change the service and the secret.
    new.resources
        .retain(|r| r.title != "/etc/app/vhosts/www.conf");
    new.edges
        .retain(|e| e.target != "File[/etc/app/vhosts/www.conf]");
    for r in &mut new.resources {
        if let Some(params) = r.parameters.as_mut() {
            match r.title.as_str() {
                "app" if r.resource_type == "Service" => {
                    params.insert("ensure".into(), "stopped".into());
                    params.insert("enable".into(), false.into());
                }
                "/etc/app/secret" => {
                    params.insert("content".into(), "n3w s3cret".into());
                }
                "/etc/app/app.conf" => {
                    params.remove("notify");
                }
                _ => {}
            }
        }
    }
    let mut b = CatalogBuilder::new("x");
    b.add(Declaration::new("cron", "logrotate").param("command", "/usr/sbin/logrotate"))?;
    let built = b.build()?;
    new.resources.extend(built.resources.into_iter().skip(3));
    let d = diff(&old, &new);
    let text = d.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    insta::assert_snapshot!("diff_text", text);
    insta::assert_json_snapshot!("diff_json", d);
    Ok(())
}
