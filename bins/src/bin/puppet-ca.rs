//! `puppet-ca`: `puppetserver ca`'s verbs on a CA directory, done by the `puppet-ca` crate;
//! prints what `puppetserver ca` prints; exit 0 success, 1 refused, 24 nothing to sign.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use puppet_ca::{CaError, CaSettings, CertificateAuthority, KeyType};

/// Manage a Puppet CA directory offline, with `puppetserver ca`'s verbs.
#[derive(Parser)]
#[command(name = "puppet-ca", version)]
struct Cli {
    /// CA directory [default: Puppetserver's on this platform: /etc/puppet/puppetserver/ca
    /// with Debian's packages (Debian, or /etc/puppet, and no /etc/puppetlabs), else
    /// /etc/puppetlabs/puppetserver/ca]
    #[arg(long, global = true, value_name = "DIR")]
    cadir: Option<PathBuf>,
    /// Allow subject alternative names in CSRs (Puppetserver's allow-subject-alt-names)
    #[arg(long, global = true)]
    allow_subject_alt_names: bool,
    /// Allow authorization extensions in CSRs (allow-authorization-extensions)
    #[arg(long, global = true)]
    allow_authorization_extensions: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args)]
struct Names {
    #[arg(long, value_name = "NAME[,NAME]")]
    #[arg(value_delimiter = ',', required = true)]
    certname: Vec<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Create a new self-signed CA in the CA directory
    Setup {
        /// Common name of the CA certificate [default: "Puppet CA: <hostname>"]
        #[arg(long, value_name = "NAME")]
        ca_name: Option<String>,
        /// RSA key length in bits
        #[arg(long, value_name = "BITS", default_value_t = 4096)]
        keylength: u32,
        /// Key type: rsa, ec-p256 or ec-p384
        #[arg(long, value_name = "TYPE", default_value = "rsa")]
        key_type: String,
    },
    /// Import an external CA: its certificate bundle (CA first, then its issuers), key and CRL chain
    Import {
        #[arg(long, value_name = "FILE")]
        cert_bundle: PathBuf,
        #[arg(long, value_name = "FILE")]
        private_key: PathBuf,
        #[arg(long, value_name = "FILE")]
        crl_chain: PathBuf,
    },
    /// List certificate requests; with --all, signed and revoked certificates too
    List {
        #[arg(long)]
        all: bool,
    },
    /// Sign certificate requests
    Sign {
        #[arg(long, value_name = "NAME[,NAME]", value_delimiter = ',')]
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        certname: Vec<String>,
        /// Sign every pending request
        #[arg(long)]
        all: bool,
    },
    /// Revoke certificates (adds them to the CRL)
    Revoke(Names),
    /// Revoke certificates and remove their files from the CA
    Clean(Names),
    /// Generate a key and a certificate signed by the CA, saved in an ssldir
    Generate {
        #[command(flatten)]
        names: Names,
        /// Subject alternative names (DNS names, or IP:address)
        #[arg(long, value_name = "NAME[,NAME]", value_delimiter = ',')]
        subject_alt_names: Vec<String>,
        /// ssldir for the key and certificate [default: /var/lib/puppet/ssl on Debian, else
        /// /etc/puppetlabs/puppet/ssl]
        #[arg(long, value_name = "DIR")]
        ssldir: Option<PathBuf>,
    },
    /// Place a CSR in requests/<certname>.pem, as Puppetserver does when an agent submits one
    Submit {
        #[arg(long, value_name = "NAME")]
        certname: String,
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = CaSettings {
        allow_subject_alt_names: cli.allow_subject_alt_names,
        allow_authorization_extensions: cli.allow_authorization_extensions,
        ..CaSettings::default()
    };
    let cadir = cli.cadir.unwrap_or_else(puppet_ca::default_cadir);
    run(&cadir, cli.action, settings).unwrap_or_else(|e| {
        eprintln!("Error: {e}");
        ExitCode::FAILURE
    })
}

/// Runs one action; a per-certname failure is printed and makes the exit status 1.
fn run(cadir: &Path, action: Action, mut settings: CaSettings) -> Result<ExitCode, CaError> {
    let open = |s: &CaSettings| CertificateAuthority::open(cadir, s.clone());
    let read = |p: &Path| std::fs::read(p).map_err(|e| CaError::io(p, e));
    let mut failed = false;
    let mut each = |names: &[String], f: &mut dyn FnMut(&str) -> Result<(), CaError>| {
        for name in names {
            if let Err(e) = f(name) {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    };
    match action {
        Action::Setup {
            ca_name,
            keylength,
            key_type,
        } => {
            settings.key = KeyType::from_name(&key_type, keylength)?;
            settings.ca_name = ca_name.unwrap_or(settings.ca_name);
            CertificateAuthority::setup(cadir, settings)?;
            println!(
                "Generation succeeded. Find your files in {}",
                cadir.display()
            );
        }
        Action::Import {
            cert_bundle,
            private_key,
            crl_chain,
        } => {
            let (b, k, c) = (read(&cert_bundle)?, read(&private_key)?, read(&crl_chain)?);
            CertificateAuthority::import(cadir, &b, &k, &c, settings)?;
            println!("Import succeeded. Find your files in {}", cadir.display());
        }
        Action::List { all } => print!("{}", puppet_ca::list_text(&open(&settings)?.list()?, all)),
        Action::Sign { certname, all } => {
            let ca = open(&settings)?;
            let names = if all { ca.pending()? } else { certname };
            if all && names.is_empty() {
                eprintln!("Error: No waiting certificate requests to sign");
                return Ok(ExitCode::from(24));
            }
            // Signed several at once (they share their fsyncs), reported in order.
            let mut results = ca.sign_many(&names).into_iter();
            each(&names, &mut |n| {
                results.next().unwrap_or(Err(CaError::NoCsr {
                    certname: n.to_string(),
                }))?;
                println!("Successfully signed certificate request for {n}");
                Ok(())
            });
        }
        Action::Revoke(Names { certname }) => {
            let ca = open(&settings)?;
            each(&certname, &mut |n| {
                ca.revoke(n)?;
                println!("Certificate for {n} has been revoked");
                Ok(())
            });
        }
        Action::Clean(Names { certname }) => {
            let ca = open(&settings)?;
            each(&certname, &mut |n| {
                if ca.clean(n)?.revoked {
                    println!("Certificate for {n} has been revoked");
                }
                println!("Cleaned files related to {n}");
                Ok(())
            });
        }
        Action::Generate {
            names,
            subject_alt_names,
            ssldir,
        } => {
            let ca = open(&settings)?;
            let ssldir = ssldir.unwrap_or_else(puppet_ca::default_ssldir);
            each(&names.certname, &mut |n| {
                let (key, cert) = ca.generate(n, &subject_alt_names)?;
                for (what, path) in ca.save_to_ssldir(&ssldir, n, &key, &cert)? {
                    println!("Successfully saved {what} for {n} to {}", path.display());
                }
                Ok(())
            });
        }
        Action::Submit { certname, csr } => {
            let ca = open(&settings)?;
            ca.submit_csr(&certname, &read(&csr)?)
                .map_err(|e| match e {
                    // Name the file: "CSR for x is malformed" alone does not say which one.
                    CaError::Malformed { what, reason } => CaError::Malformed {
                        what: format!("{what} ({})", csr.display()),
                        reason,
                    },
                    e => e,
                })?;
            println!("Successfully submitted certificate request for {certname}");
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}
