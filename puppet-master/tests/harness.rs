//! The test master as a harness uses it: three lines to a master and a client.

use puppet_master::testing::TestMaster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harness_starts_the_test_master_in_three_lines() {
    let master = TestMaster::start().await.unwrap();
    let mut conn = master
        .client_for("n1.example.test")
        .unwrap()
        .connect()
        .await
        .unwrap();
    let answer = conn
        .request("GET", "/puppet/v3/environments", None, vec![])
        .await
        .unwrap();

    assert_eq!(answer.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(v["environments"]["production"].is_object(), "{v}");
    // The client TLS material: the CA certificate clients trust, and a bootstrap-less
    // client that the CA endpoints answer.
    assert!(master.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let mut anonymous = master.client(None).unwrap().connect().await.unwrap();
    let ca = anonymous
        .request("GET", "/puppet-ca/v1/certificate/ca", None, vec![])
        .await
        .unwrap();
    assert_eq!(String::from_utf8(ca.body).unwrap(), master.ca_pem());
    master.shutdown().await;
}
