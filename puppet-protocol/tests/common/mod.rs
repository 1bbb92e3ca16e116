//! A master on a free loopback port over a fresh EC CA, for the HTTP tests.

#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use puppet_ca::{CaSettings, CertificateAuthority, KeyType};
use puppet_protocol::AuthPolicy;
use puppet_protocol::client::{Client, Identity};
use puppet_protocol::server::{
    Master, MasterOptions, RunningMaster, Services, TlsFiles, TlsSource,
};

pub struct Fixture {
    pub envs: std::path::PathBuf,
    pub dir: tempfile::TempDir,
    pub ca: Arc<CertificateAuthority>,
    pub running: RunningMaster,
    pub ca_pem: String,
}

impl Fixture {
    pub fn client(&self, identity: Option<&Identity>) -> Client {
        Client::new(
            self.running.local_addr(),
            "localhost",
            &self.ca_pem,
            identity,
        )
        .unwrap()
    }

    pub fn identity(&self, name: &str) -> Identity {
        let (key_pem, cert_pem) = self.ca.generate(name, &[]).unwrap();
        Identity { cert_pem, key_pem }
    }
}

pub async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let settings = CaSettings {
        key: KeyType::EcP256,
        ..CaSettings::new("Puppet CA: master.example.test")
    };
    let ca = Arc::new(CertificateAuthority::setup(&dir.path().join("ca"), settings).unwrap());
    let (key_pem, cert_pem) = ca
        .generate(
            "master.example.test",
            &["localhost".into(), "IP:127.0.0.1".into()],
        )
        .unwrap();
    let tls = TlsSource::new(TlsFiles {
        cert_pem,
        key_pem,
        ca_pem: ca.ca_certificate_pem().unwrap(),
        crl_path: dir.path().join("ca/ca_crl.pem"),
    })
    .unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir_all(envs.join("production/modules")).unwrap();
    let services = Services::with_defaults(ca.clone(), &envs, dir.path().join("data"));
    let options = MasterOptions {
        auth: AuthPolicy {
            admin_certnames: vec!["admin.example.test".into()],
        },
        ..MasterOptions::default()
    };
    let running = Master::new(tls, services, options)
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ca_pem = ca.ca_certificate_pem().unwrap();
    Fixture {
        envs,
        dir,
        ca,
        running,
        ca_pem,
    }
}
