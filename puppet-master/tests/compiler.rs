//! The data compiler's output (snapshot).

#[test]
fn data_compiler_output() {
    use puppet_master::compiler::compile_data;
    use puppet_protocol::server::{CompileRequest, NodeInfo};
    let data: serde_json::Value = serde_json::from_str(
        r#"{
          "classes": {
            "base": [
              {"type": "file", "title": "/etc/motd",
               "parameters": {"content": "${certname} runs ${facts.os.family} ${facts.missing}\n", "notify": "Exec[x]", "backup": "${facts.nope|/var/backup}"},
               "tags": ["Banner"]},
              {"type": "Exec", "title": "x", "parameters": {"command": "/bin/true", "refreshonly": true}}
            ],
            "web::server": [
              {"type": "Package", "title": "nginx", "parameters": {"ensure": "installed", "tag": "frontend"}}
            ],
            "never": [ {"type": "Notify", "title": "no"} ]
          },
          "nodes": [
            {"certname": "*.example.test", "classes": ["base"]},
            {"facts": {"os.family": "Debian", "role": "web"}, "classes": ["web::server"]},
            {"certname": "other*", "classes": ["never"]}
          ]
        }"#,
    )
    .unwrap();
    let req = CompileRequest {
        certname: "web1.example.test".into(),
        environment: "production".into(),
        facts: Some(
            puppet_facts::Facts::from_value(serde_json::json!({"name": "web1.example.test",
                "values": {"os": {"family": "Debian"}, "role": "web"}}))
            .unwrap(),
        ),
        node: NodeInfo::default(),
        transaction_uuid: None,
        static_catalog: false,
        checksum_types: vec![],
    };
    let mut catalog = compile_data(&data, &req, &[]).unwrap();
    catalog.version = None;
    catalog.catalog_uuid = Some("<uuid>".into());
    let json: serde_json::Value = serde_json::from_str(&catalog.to_json().unwrap()).unwrap();
    insta::assert_json_snapshot!(json);
    // The result is a catalog the graph accepts: no unresolved references, no cycles.
    let checked = puppet_catalog::check(catalog.to_json().unwrap().as_bytes()).unwrap();
    assert_eq!(checked.resources, 8);
    assert!(
        !json.to_string().contains("Notify"),
        "class never must not be included"
    );
}

/// Facts are looked up as facter does (`Facts::get`): array indexes, and a top-level fact
/// whose name has dots; types in any case get one capitalization; a resource declared twice
/// is an error naming where.
#[test]
fn data_compiler_uses_facts_get_and_the_catalog_builder() {
    use puppet_master::compiler::compile_data;
    use puppet_protocol::server::{CompileRequest, NodeInfo};
    let data = serde_json::json!({
        "classes": {"c": [
            {"type": "notify", "title": "cpu ${facts.processors.models.1} ${facts.my.fact}"},
            {"type": "mymod::THING", "title": "x"}
        ], "dup": [
            {"type": "Notify", "title": "same"}, {"type": "notify", "title": "same"}
        ]},
        "nodes": [{"facts": {"processors.models.0": "AMD"}, "classes": ["c"]}]
    });
    let facts = puppet_facts::Facts::from_value(serde_json::json!({"name": "n1",
        "values": {"processors": {"models": ["AMD", "Intel"]}, "my.fact": "dotted"}}))
    .unwrap();
    let req = CompileRequest {
        certname: "n1".into(),
        environment: "production".into(),
        facts: Some(facts),
        node: NodeInfo::default(),
        transaction_uuid: None,
        static_catalog: false,
        checksum_types: vec![],
    };
    let catalog = compile_data(&data, &req, &[]).unwrap();
    let refs: Vec<String> = catalog
        .resources
        .iter()
        .map(|r| r.reference().to_string())
        .collect();
    assert!(
        refs.contains(&"Notify[cpu Intel dotted]".to_string()),
        "{refs:?}"
    );
    assert!(refs.contains(&"Mymod::Thing[x]".to_string()), "{refs:?}");
    let err = compile_data(&data, &req, &["dup".to_string()]).unwrap_err();
    assert!(err.contains("classes.dup[1]"), "{err}");
}
