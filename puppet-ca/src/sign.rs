//! Issuing certificates: submitted CSRs (autosign), signing, generation, renewal.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use x509_cert::ext::Extension;

use crate::cert::{self, LeafRequest};
use crate::group::Group;
use crate::keys::{self, PrivateKey};
use crate::store::{self, CaLock};
use crate::{
    CaError, CertificateAuthority, CsrOutcome, csr, oids, validate_certname, validate_subject,
};

impl CertificateAuthority {
    /// Handles a CSR submitted for `certname` (the agent's `PUT certificate_request`): checks
    /// the name, size, signature, CN and extensions, refuses a name that already has a
    /// certificate, then signs it if the autosign policy says so, else stores it in
    /// `requests/<certname>.pem`. On refusal nothing on disk changes.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-plain.pem")).unwrap();
    /// assert_eq!(ca.submit_csr("agent1.example.test", &csr).unwrap(), CsrOutcome::Pending);
    /// assert!(matches!(ca.submit_csr("other.example.test", &csr), Err(CaError::CertnameMismatch { .. })));
    /// ```
    pub fn submit_csr(&self, certname: &str, csr_pem: &[u8]) -> Result<CsrOutcome, CaError> {
        let csr = self.check_csr(certname, csr_pem)?;
        let pem = csr.to_pem()?;
        let sign = self
            .settings
            .autosign
            .decide(certname, &pem, self.settings.autosign_timeout)?;
        // A CSR kept for later is written under the lock; one signed now takes it in the
        // commit step (which checks again that the name has no certificate).
        let _lock = if sign {
            None
        } else {
            Some(CaLock::acquire(&self.layout)?)
        };
        self.check_no_certificate(certname)?;
        let request = self.layout.request(certname);
        // Puppetserver refuses any CSR for a name with a pending request, the very same
        // CSR included (`already has a requested certificate`).
        if request.exists() && !self.settings.allow_duplicate_certs {
            return Err(CaError::AlreadyHasCertificate {
                certname: certname.to_string(),
                state: "requested",
            });
        }
        if sign {
            let exclusive = !self.settings.allow_duplicate_certs;
            return self
                .issue(
                    certname,
                    csr.public_key(),
                    csr.extensions(),
                    exclusive,
                    self.settings.ca_ttl,
                )
                .map(CsrOutcome::Signed);
        }
        store::write_atomic(&request, pem.as_bytes(), store::PRIVATE_MODE)?;
        Ok(CsrOutcome::Pending)
    }

    /// Signs the pending CSR of `certname` (checked again against the current policy).
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// # let csr = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agent-csr-plain.pem")).unwrap();
    /// ca.submit_csr("agent1.example.test", &csr).unwrap();
    /// let pem = ca.sign("agent1.example.test").unwrap();
    /// assert_eq!(ca.certificate_pem("agent1.example.test").unwrap(), Some(pem));
    /// assert_eq!(ca.csr_pem("agent1.example.test").unwrap(), None);
    /// ```
    pub fn sign(&self, certname: &str) -> Result<String, CaError> {
        validate_certname(certname)?;
        let pem =
            store::read_opt(&self.layout.request(certname))?.ok_or_else(|| CaError::NoCsr {
                certname: certname.to_string(),
            })?;
        let csr = self.check_csr(certname, &pem)?;
        self.check_no_certificate(certname)?;
        let exclusive = !self.settings.allow_duplicate_certs;
        self.issue(
            certname,
            csr.public_key(),
            csr.extensions(),
            exclusive,
            self.settings.ca_ttl,
        )
    }

    /// Signs the pending CSRs of `certnames` ([`Self::sign`] for each), several at once on
    /// threads of its own, so that they share their fsyncs (see
    /// [Durability](CertificateAuthority#durability)): one result per name, in the order
    /// given. How `puppet-ca sign --all` signs.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// for name in ["a.example.test", "b.example.test"] {
    ///     let csr = CsrBuilder::new(name)?.key_type(KeyType::EcP256).build()?.csr_pem;
    ///     ca.submit_csr(name, csr.as_bytes())?;
    /// }
    /// let results = ca.sign_many(&ca.pending()?);
    /// assert!(results.iter().all(Result::is_ok));
    /// assert!(matches!(ca.sign_many(&["c.example.test".to_string()])[0], Err(CaError::NoCsr { .. })));
    /// # Ok::<(), CaError>(())
    /// ```
    pub fn sign_many(&self, certnames: &[String]) -> Vec<Result<String, CaError>> {
        // More threads than cores: while some wait for a commit's fsyncs, others sign.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = certnames.len().min(cores * 4).min(32);
        if workers <= 1 {
            return certnames.iter().map(|n| self.sign(n)).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut results: Vec<(usize, Result<String, CaError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            let Some(name) = certnames.get(i) else {
                                return mine;
                            };
                            mine.push((i, self.sign(name)));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        results.sort_by_key(|(i, _)| *i);
        let mut results = results.into_iter().peekable();
        // A worker that panicked took its names' results with it.
        (0..certnames.len())
            .map(|i| match results.next_if(|(j, _)| *j == i) {
                Some((_, r)) => r,
                None => Err(leader_panicked(&self.layout.dir)),
            })
            .collect()
    }

    /// Issues a certificate: the signing path every certificate takes (autosign, `sign`,
    /// `generate`, `renew`). Thread-safe, and built for many threads at once: the durable
    /// steps are group-committed (see [`Signer`]), the signature is computed by the calling
    /// thread, in parallel with the others.
    ///
    /// 1. The TBS certificate is built and checked (everything a request can make fail
    ///    happens before a serial is reserved); with `exclusive`, the name is claimed in
    ///    this process (a second call for a name being issued is refused at once).
    /// 2. Reserve: a serial, taken with the serials of every thread waiting at that moment,
    ///    under the CA lock, by one write of `serial` (temp file, fsync, rename).
    /// 3. The signature, then the certificate written to a temp file in `signed/` and
    ///    fsynced, by this thread. When this is the only certificate being issued (one
    ///    client: a core is free), a helper thread meanwhile creates the temp file and does
    ///    the record step, with the lines of every thread waiting at that moment, under the
    ///    CA lock: the inventory lines appended in one write and fsynced, the CA directory
    ///    fsynced when a `serial` rename is not yet durable. The inventory's fsync and the
    ///    inode's allocation then cost no time of their own: they overlap the signature.
    ///    When others are being issued (the cores are busy signing), no helper: the line
    ///    goes with the commit.
    /// 4. Commit, with every certificate waiting at that moment, under the CA lock: with
    ///    `exclusive`, a name that got a certificate meanwhile (from another process) is
    ///    refused (its serial skipped; a line already recorded stays); the lines not yet
    ///    recorded appended and fsynced as in the record step; the certificates renamed
    ///    into `signed/`; `signed/` fsynced once. Only then does any of them return.
    ///
    /// A crash at any point can skip serials but never issues one twice, and never leaves a
    /// certificate without its inventory line: `serial` is durable before a certificate
    /// bearing a serial is renamed into place, and the inventory line is durable before it.
    pub(crate) fn issue(
        &self,
        certname: &str,
        public_key: &x509_cert::spki::SubjectPublicKeyInfoOwned,
        requested: &[Extension],
        exclusive: bool,
        ttl: Duration,
    ) -> Result<String, CaError> {
        let now = self.now();
        let req = LeafRequest {
            subject: certname,
            public_key,
            requested,
            // Set once reserved; the TBS part is built and checked before.
            serial: 1,
            not_before: now - cert::BACKDATE,
            not_after: now + ttl,
        };
        let mut tbs = cert::leaf_tbs(&self.issuer(), &req)?;
        let not_before = cert::puppet_time(&tbs.validity.not_before);
        let not_after = cert::puppet_time(&tbs.validity.not_after);
        let _claim = if exclusive {
            Some(self.claim(certname)?)
        } else {
            None
        };
        let alone = self.signer.in_flight.fetch_add(1, Ordering::SeqCst) == 0;
        let _in_flight = InFlight(&self.signer.in_flight);

        let serial = self
            .signer
            .reserve
            .run((), |jobs| self.reserve_serials(jobs.len()))
            .unwrap_or_else(|| Err(leader_panicked(&self.layout.dir)))?;
        self.fail_at(FailPoint::AfterReserve)?;
        tbs.serial_number = cert::serial_number(serial)?;
        let line = store::inventory_line(serial, &not_before, &not_after, certname);
        let signed = self.layout.signed(certname);
        let (temp, pem, line) = if alone {
            // The inventory line recorded and the certificate's temp file created (an inode's
            // allocation: costly on a busy filesystem) by a helper thread while this one
            // signs: a core is free, this is the only certificate being issued.
            let ahead = || {
                let temp = store::create_temp(
                    &self.layout.signed_dir(),
                    store::PUBLIC_MODE,
                    store::owner_for(&signed),
                );
                let recorded = self
                    .signer
                    .record
                    .run(line.clone(), |jobs| self.record_lines(jobs))
                    .unwrap_or_else(|| Err(leader_panicked(&self.layout.dir)));
                recorded.and(temp)
            };
            let (ahead, pem) = std::thread::scope(|s| {
                let helper = std::thread::Builder::new()
                    .name("puppet-ca-record".into())
                    .spawn_scoped(s, ahead);
                let pem = cert::sign_tbs(&self.key, tbs).and_then(|c| cert::cert_pem(&c));
                let ahead = match helper {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|_| Err(leader_panicked(&self.layout.dir))),
                    // No thread to spare: done after the signature, on this thread.
                    Err(_) => ahead(),
                };
                (ahead, pem)
            });
            let mut temp = ahead?;
            let pem = pem?;
            store::fill_temp(&mut temp, pem.as_bytes())?;
            (temp, pem, None)
        } else {
            // Other certificates are being issued: their signatures keep the cores busy, a
            // helper thread would only add work. The line goes with the commit, appended
            // and fsynced once for the whole batch.
            let pem = cert::cert_pem(&cert::sign_tbs(&self.key, tbs)?)?;
            let temp = store::write_temp(
                &self.layout.signed_dir(),
                pem.as_bytes(),
                store::PUBLIC_MODE,
                store::owner_for(&signed),
            )?;
            (temp, pem, Some(line))
        };
        let job = Commit {
            certname: certname.to_string(),
            line,
            temp,
            exclusive,
        };
        self.signer
            .commit
            .run(job, |jobs| self.commit_certificates(jobs))
            .unwrap_or_else(|| Err(leader_panicked(&self.layout.dir)))?;
        Ok(pem)
    }

    /// Claims `certname` for an exclusive issue in this process until the guard is dropped:
    /// a second one at the same time is refused as the commit would refuse it (the name
    /// has a certificate), before it reserves a serial or records a line.
    fn claim(&self, certname: &str) -> Result<Claim<'_>, CaError> {
        let mut claims = self.signer.claims.lock().unwrap_or_else(|e| e.into_inner());
        if !claims.insert(certname.to_string()) {
            return Err(CaError::AlreadyHasCertificate {
                certname: certname.to_string(),
                state: "signed",
            });
        }
        Ok(Claim {
            claims: &self.signer.claims,
            certname: certname.to_string(),
        })
    }

    /// The record step for a batch of inventory lines (see [`Self::issue`]): appended in
    /// one write and fsynced, as Puppetserver appends; then the CA directory fsynced if a
    /// `serial` rename (or a new `inventory.txt`) is not yet durable.
    fn record_lines(&self, lines: Vec<String>) -> Vec<Result<(), CaError>> {
        let n = lines.len();
        let recorded =
            CaLock::acquire(&self.layout).and_then(|_lock| self.append_inventory(&lines.concat()));
        match recorded {
            Ok(()) => (0..n).map(|_| Ok(())).collect(),
            Err(e) => for_each(e, n),
        }
    }

    /// Appends `lines` to `inventory.txt` in one write and fsyncs it, then the CA directory
    /// if a `serial` rename (or a new `inventory.txt`) is not yet durable. Under the CA lock.
    fn append_inventory(&self, lines: &str) -> Result<(), CaError> {
        let inventory = self.layout.inventory();
        let created = !inventory.exists();
        let unsynced = self.signer.cadir_unsynced.swap(false, Ordering::SeqCst);
        let done = store::append_line(&inventory, lines, store::PRIVATE_MODE)
            .and_then(|()| self.fail_at(FailPoint::AfterInventory))
            // Makes the `serial` renames (and a new inventory.txt) durable; not needed when
            // these serials came from a block whose write was synced already.
            .and_then(|()| {
                if unsynced || created {
                    store::sync_dir(&self.layout.dir)
                } else {
                    Ok(())
                }
            });
        if done.is_err() && unsynced {
            self.signer.cadir_unsynced.store(true, Ordering::SeqCst);
        }
        done
    }

    /// The reserve step for `n` certificates: `n` serials from the block this CA reserved
    /// ahead ([`crate::CaSettings::serial_block`]) while `serial` still holds the block's
    /// end (nobody else reserved since), else from `serial`: at least `n` reserved by one
    /// write (durable content, renamed; the rename is made durable by the commit step's
    /// fsync of the CA directory, before any certificate bearing one of them is renamed
    /// into place). Refused, nothing written, when `serial` is missing or corrupt, when
    /// `inventory.txt` is corrupt, or when it already records one of the serials.
    fn reserve_serials(&self, n: usize) -> Vec<Result<u64, CaError>> {
        let reserved = (|| {
            let _lock = CaLock::acquire(&self.layout)?;
            let serial_path = self.layout.serial();
            let serial_text =
                store::read_string_opt(&serial_path)?.ok_or_else(|| CaError::CorruptSerial {
                    path: serial_path.clone(),
                    reason: "missing".into(),
                })?;
            let first = store::parse_serial(&serial_path, &serial_text)?;
            let exhausted = || CaError::CorruptSerial {
                path: serial_path.clone(),
                reason: "exhausted".into(),
            };
            let n64 = u64::try_from(n).map_err(|_| exhausted())?;
            let mut block = self.signer.block.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(b) = block.as_mut()
                && b.end == first
                && b.end - b.next >= n64
            {
                let taken = b.next;
                b.next += n64;
                return Ok(taken);
            }
            // What is left of a block is skipped: `serial` moved on, or it is too small.
            *block = None;
            let end = first
                .checked_add(n64.max(self.settings.serial_block))
                .ok_or_else(exhausted)?;
            let inv_path = self.layout.inventory();
            let inventory = store::read_string_opt(&inv_path)?.unwrap_or_default();
            if let Some(used) = store::parse_inventory(&inv_path, &inventory)?
                .into_iter()
                .find(|s| (first..end).contains(s))
            {
                return Err(CaError::CorruptSerial {
                    path: serial_path,
                    reason: format!("serial 0x{used:04X} is already in inventory.txt"),
                });
            }
            self.fail_at(FailPoint::BeforeSerialWrite)?;
            store::write_renamed(
                &serial_path,
                store::format_serial(end).as_bytes(),
                store::PUBLIC_MODE,
            )?;
            self.signer.cadir_unsynced.store(true, Ordering::SeqCst);
            if end > first + n64 {
                *block = Some(SerialBlock {
                    next: first + n64,
                    end,
                });
            }
            Ok(first)
        })();
        match reserved {
            Ok(first) => (first..).take(n).map(Ok).collect(),
            Err(e) => for_each(e, n),
        }
    }

    /// Gives back the serials reserved ahead and not used (see
    /// [`crate::CaSettings::serial_block`]): `serial` rewritten to the first of them, if it
    /// still holds the block's end. Best effort: on failure they are skipped.
    pub(crate) fn give_back_serials(&self) {
        let Some(b) = self
            .signer
            .block
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let Ok(_lock) = CaLock::acquire(&self.layout) else {
            return;
        };
        let path = self.layout.serial();
        let current = store::read_string_opt(&path)
            .ok()
            .flatten()
            .and_then(|t| store::parse_serial(&path, &t).ok());
        if current == Some(b.end) {
            let _ = store::write_renamed(
                &path,
                store::format_serial(b.next).as_bytes(),
                store::PUBLIC_MODE,
            )
            .and_then(|()| store::sync_dir(&self.layout.dir));
        }
    }

    /// The commit step for a batch of signed certificates (see [`Self::issue`]).
    fn commit_certificates(&self, jobs: Vec<Commit>) -> Vec<Result<(), CaError>> {
        let n = jobs.len();
        let _lock = match CaLock::acquire(&self.layout) {
            Ok(l) => l,
            Err(e) => return for_each(e, n),
        };
        let mut results: Vec<Option<Result<(), CaError>>> = (0..n).map(|_| None).collect();
        let mut kept = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            // Claimed in this process: only another process can have given the name a
            // certificate since the checks before the signature.
            if job.exclusive
                && let Err(e) = self.check_no_certificate(&job.certname)
            {
                // The temp file goes with the job; its serial is skipped.
                results[i] = Some(Err(e));
                continue;
            }
            kept.push((i, job));
        }
        // The lines not recorded yet (certificates signed while others were), before the
        // certificates: a certificate is never unrecorded.
        let lines: String = kept.iter().filter_map(|(_, j)| j.line.as_deref()).collect();
        if !lines.is_empty()
            && let Err(e) = self.append_inventory(&lines)
        {
            for ((i, _), e) in kept.iter().zip(for_each(e, kept.len())) {
                results[*i] = Some(e);
            }
            kept.clear();
        }
        let mut placed = Vec::new();
        for (i, job) in kept {
            let path = self.layout.signed(&job.certname);
            let renamed = self.fail_at(FailPoint::BeforeRename).and_then(|()| {
                job.temp
                    .persist(&path)
                    .map_err(|e| CaError::io(&path, e.error))
            });
            match renamed {
                Ok(_) => placed.push((i, job.certname)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        if !placed.is_empty() {
            let synced = self
                .fail_at(FailPoint::BeforeSignedSync)
                .and_then(|()| store::sync_dir(&self.layout.signed_dir()));
            if let Err(e) = synced {
                for ((i, _), e) in placed.iter().zip(for_each(e, placed.len())) {
                    results[*i] = Some(e);
                }
                placed.clear();
            }
        }
        for (i, certname) in placed {
            // Not synced: if a crash brings the request back, it sits beside its
            // certificate and is refused when signed (the name has a certificate).
            results[i] = Some(store::remove_unsynced(&self.layout.request(&certname)).map(|_| ()));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(leader_panicked(&self.layout.dir))))
            .collect()
    }

    /// Fails with an injected error at `point` (tests of crash safety); nothing otherwise.
    #[cfg(test)]
    fn fail_at(&self, point: FailPoint) -> Result<(), CaError> {
        let armed = self
            .signer
            .fail_at
            .lock()
            .map(|f| *f == Some(point))
            .unwrap_or(false);
        if armed {
            return Err(CaError::io(
                &self.layout.dir,
                std::io::Error::other(format!("injected failure at {point:?}")),
            ));
        }
        Ok(())
    }

    #[cfg(not(test))]
    #[inline]
    fn fail_at(&self, _: FailPoint) -> Result<(), CaError> {
        Ok(())
    }

    /// Makes a key and a certificate for `certname` without a CSR (how a master gets its own
    /// certificate): key type per the settings, subject alternative names `alt_names`
    /// (`DNS:x`, `IP:x`, or bare DNS names) plus `DNS:<certname>`. Returns (key PEM, cert PEM).
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let (key, cert) = ca.generate("puppet.example.test", &["puppet".into(), "IP:127.0.0.1".into()]).unwrap();
    /// assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// assert!(ca.status("puppet.example.test").unwrap().unwrap().subject_alt_names.contains(&"IP:127.0.0.1".to_string()));
    /// ```
    pub fn generate(
        &self,
        certname: &str,
        alt_names: &[String],
    ) -> Result<(String, String), CaError> {
        validate_subject(certname)?;
        let mut names: Vec<String> = alt_names
            .iter()
            .map(|n| {
                if n.contains(':') {
                    n.clone()
                } else {
                    format!("DNS:{n}")
                }
            })
            .collect();
        let own = format!("DNS:{certname}");
        if !names.contains(&own) {
            names.push(own);
        }
        let san = cert::san_extension(&names)?;
        let key = PrivateKey::generate(self.settings.key)?;
        let spki = key.spki()?;
        self.check_no_certificate(certname)?;
        let exclusive = !self.settings.allow_duplicate_certs;
        let cert = self.issue(certname, &spki, &[san], exclusive, self.settings.ca_ttl)?;
        Ok((key.to_pem()?, cert))
    }

    /// Saves a generated key and certificate into a Puppet ssldir as `puppetserver ca generate`
    /// does: `private_keys/<name>.pem` (0600), `public_keys/<name>.pem`, `certs/<name>.pem` and
    /// `certs/ca.pem`, with `private_keys/` 0750 as Puppet makes it. Returns what was saved
    /// where.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let ca = CertificateAuthority::setup(dir.path(), CaSettings { key: KeyType::EcP256, ..CaSettings::new("Puppet CA: t") }).unwrap();
    /// let ssldir = dir.path().join("ssl");
    /// let (key, cert) = ca.generate("puppet.example.test", &[]).unwrap();
    /// let saved = ca.save_to_ssldir(&ssldir, "puppet.example.test", &key, &cert).unwrap();
    /// assert_eq!(saved[0].1, ssldir.join("private_keys/puppet.example.test.pem"));
    /// ```
    pub fn save_to_ssldir(
        &self,
        ssldir: &Path,
        certname: &str,
        key_pem: &str,
        cert_pem: &str,
    ) -> Result<Vec<(&'static str, std::path::PathBuf)>, CaError> {
        validate_certname(certname)?;
        let key = PrivateKey::from_pem(key_pem.as_bytes(), "private key")?;
        let public = keys::pem("PUBLIC KEY", &key.spki_der()?)?;
        let ca = self.ca_certificate_pem()?;
        let file = format!("{certname}.pem");
        let items = [
            (
                "private key",
                "private_keys",
                file.as_str(),
                key_pem,
                store::KEY_MODE,
            ),
            (
                "public key",
                "public_keys",
                file.as_str(),
                public.as_str(),
                store::PUBLIC_MODE,
            ),
            (
                "certificate",
                "certs",
                file.as_str(),
                cert_pem,
                store::PUBLIC_MODE,
            ),
            (
                "CA certificate",
                "certs",
                "ca.pem",
                ca.as_str(),
                store::PUBLIC_MODE,
            ),
        ];
        let mut saved = Vec::new();
        for (what, sub, name, pem, mode) in items {
            let dir = ssldir.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| CaError::io(&dir, e))?;
            if sub == "private_keys" {
                // Puppet's private_keys/ is 0750 (rwxr-x---), its keys 0600.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(store::DIR_MODE))
                    .map_err(|e| CaError::io(&dir, e))?;
            }
            let path = dir.join(name);
            store::write_atomic(&path, pem.as_bytes(), mode)?;
            saved.push((what, path));
        }
        Ok(saved)
    }

    /// Puppet 7's certificate renewal (`POST /puppet-ca/v1/certificate_renewal`): a new
    /// certificate (new serial, validity `auto_renewal_cert_ttl`) for the same name, key and
    /// extensions as `cert_pem`. Only when [`crate::CaSettings::allow_auto_renewal`] is on
    /// ([`CaError::RenewalDisabled`] otherwise, where Puppetserver answers 404), and only for
    /// a certificate issued by this CA, valid now and not revoked
    /// ([`CaError::RenewalRefused`]). It replaces `signed/<certname>.pem`; the old serial
    /// stays in `inventory.txt`, so [`Self::revoke`] revokes both.
    ///
    /// ```
    /// # use puppet_ca::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let settings = CaSettings { key: KeyType::EcP256, allow_auto_renewal: true, ..CaSettings::new("Puppet CA: t") };
    /// let ca = CertificateAuthority::setup(dir.path(), settings)?;
    /// let (_, old) = ca.generate("node1.example.test", &[])?;
    /// let new = ca.renew(old.as_bytes())?;
    /// assert_ne!(old, new);
    /// assert_eq!(ca.status("node1.example.test")?.unwrap().serial_number, Some(3));
    /// # Ok::<(), CaError>(())
    /// ```
    pub fn renew(&self, cert_pem: &[u8]) -> Result<String, CaError> {
        if !self.settings.allow_auto_renewal {
            return Err(CaError::RenewalDisabled);
        }
        let text = std::str::from_utf8(cert_pem)
            .map_err(|_| CaError::malformed("certificate", "not UTF-8"))?;
        let (cert, der) = cert::parse_certs(text, "certificate")?
            .into_iter()
            .next()
            .ok_or_else(|| CaError::malformed("certificate", "no certificate"))?;
        let certname = csr::common_name(&cert.tbs_certificate.subject)
            .ok_or_else(|| CaError::malformed("certificate", "subject has no CN"))?;
        validate_certname(&certname)?;
        let refuse = |reason: &str| CaError::RenewalRefused {
            certname: certname.clone(),
            reason: reason.to_string(),
        };
        if cert.tbs_certificate.issuer != self.cert.tbs_certificate.subject
            || !cert::signed_by(&der, &self.cert)?
        {
            return Err(refuse("it was not issued by this CA"));
        }
        let validity = &cert.tbs_certificate.validity;
        let now = self.now();
        if now < validity.not_before.to_system_time() {
            return Err(refuse("it is not valid yet"));
        }
        if now > validity.not_after.to_system_time() {
            return Err(refuse("it has expired"));
        }
        if self
            .revoked_serials()?
            .contains(cert.tbs_certificate.serial_number.as_bytes())
        {
            return Err(refuse("it is revoked"));
        }
        let carried: Vec<Extension> = cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .filter(|e| {
                let oid = e.extn_id.to_string();
                e.extn_id == oids::SUBJECT_ALT_NAME
                    || oids::is_under(&oid, oids::PP_REG_CERT_EXT)
                    || oids::is_under(&oid, oids::PP_PRIV_CERT_EXT)
                    || oids::is_under(&oid, oids::PP_AUTH_CERT_EXT)
            })
            .cloned()
            .collect();
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let ttl = self.settings.auto_renewal_cert_ttl;
        self.issue(&certname, spki, &carried, false, ttl)
    }
}

/// The group-commit queues of a CA: concurrent calls that issue certificates share the
/// `serial` write of their reservations, the inventory append (and CA directory fsync) of
/// their records and the `signed/` fsync of their commits (see
/// [`CertificateAuthority::issue`]).
#[derive(Default)]
pub(crate) struct Signer {
    reserve: Group<(), Result<u64, CaError>>,
    /// Inventory lines to append (one write and one fsync per batch).
    record: Group<String, Result<(), CaError>>,
    commit: Group<Commit, Result<(), CaError>>,
    /// Certificates being issued by this CA value now.
    in_flight: std::sync::atomic::AtomicUsize,
    /// Names being issued exclusively by this process (see `CertificateAuthority::claim`).
    claims: std::sync::Mutex<HashSet<String>>,
    /// Serials reserved ahead, not used yet.
    block: std::sync::Mutex<Option<SerialBlock>>,
    /// A `serial` rename not yet made durable by an fsync of the CA directory.
    cadir_unsynced: AtomicBool,
    #[cfg(test)]
    pub(crate) fail_at: std::sync::Mutex<Option<FailPoint>>,
}

/// Serials `next..end` reserved by this CA value, `serial` holding `end`.
#[derive(Debug, Clone, Copy)]
struct SerialBlock {
    next: u64,
    end: u64,
}

/// A signed certificate waiting for the commit step.
struct Commit {
    certname: String,
    /// Its inventory line, when not recorded yet.
    line: Option<String>,
    /// The certificate, fsynced, to be renamed to `signed/<certname>.pem`.
    temp: tempfile::NamedTempFile,
    exclusive: bool,
}

/// One certificate being issued (`Signer::in_flight`), until dropped.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A name claimed by [`CertificateAuthority::claim`], released when dropped.
struct Claim<'a> {
    claims: &'a std::sync::Mutex<HashSet<String>>,
    certname: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.certname);
    }
}

/// Where a test can make [`CertificateAuthority::issue`] fail, as a crash there would stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum FailPoint {
    /// Serials checked, `serial` not yet written.
    BeforeSerialWrite,
    /// Serial reserved, nothing signed.
    AfterReserve,
    /// Inventory lines appended and fsynced, the CA directory not yet synced.
    AfterInventory,
    /// Recorded and durable; the certificate not yet renamed into `signed/`.
    BeforeRename,
    /// Renamed into `signed/`, the directory not yet synced.
    BeforeSignedSync,
}

/// The error of a step that failed for a whole batch, once per job.
fn for_each<T>(e: CaError, n: usize) -> Vec<Result<T, CaError>> {
    let mut out: Vec<Result<T, CaError>> = (1..n).map(|_| Err(e.duplicate())).collect();
    out.insert(0, Err(e));
    out
}

fn leader_panicked(cadir: &Path) -> CaError {
    CaError::io(
        cadir,
        std::io::Error::other("the thread committing this batch of certificates panicked"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Autosign, CaSettings, CsrBuilder, KeyType};

    fn settings() -> CaSettings {
        CaSettings {
            key: KeyType::EcP256,
            autosign: Autosign::On,
            ..CaSettings::new("Puppet CA: failpoints.test")
        }
    }

    fn submit(ca: &CertificateAuthority, certname: &str) -> Result<CsrOutcome, CaError> {
        let csr = CsrBuilder::new(certname)
            .unwrap()
            .key_type(KeyType::EcP256)
            .build()
            .unwrap()
            .csr_pem;
        ca.submit_csr(certname, csr.as_bytes())
    }

    fn serial_file(dir: &Path) -> u64 {
        u64::from_str_radix(
            std::fs::read_to_string(dir.join("serial")).unwrap().trim(),
            16,
        )
        .unwrap()
    }

    /// (serial, subject) of every inventory line, checked unique and below `serial`.
    fn recorded(dir: &Path) -> Vec<(u64, String)> {
        let text = std::fs::read_to_string(dir.join("inventory.txt")).unwrap();
        let serials = store::parse_inventory(Path::new("inventory.txt"), &text).unwrap();
        let unique: HashSet<u64> = serials.iter().copied().collect();
        assert_eq!(unique.len(), serials.len(), "a serial recorded twice");
        assert!(serials.iter().all(|s| *s < serial_file(dir)));
        text.lines()
            .zip(serials)
            .map(|(l, s)| (s, l.splitn(4, ' ').nth(3).unwrap().to_string()))
            .collect()
    }

    /// A signing stopped at each step (as a crash there would stop it, the process then
    /// started again): the caller gets an error, nothing it was not given is half-made, no
    /// serial is reused, and what is in `signed/` is recorded.
    #[test]
    fn a_signing_stopped_at_any_step_leaves_the_ca_consistent() {
        use FailPoint::*;
        // (where, the certificate is in signed/ after, a retry is then refused)
        let cases = [
            (BeforeSerialWrite, false),
            (AfterReserve, false),
            (AfterInventory, false),
            (BeforeRename, false),
            (BeforeSignedSync, true),
        ];
        let dir = tempfile::tempdir().unwrap();
        CertificateAuthority::setup(dir.path(), settings()).unwrap();
        for (point, placed) in cases {
            let ca = CertificateAuthority::open(dir.path(), settings()).unwrap();
            let name = format!("{point:?}.example.test").to_lowercase();
            let serial_before = serial_file(dir.path());
            let lines_before = recorded(dir.path()).len();
            *ca.signer.fail_at.lock().unwrap() = Some(point);
            let err = submit(&ca, &name).unwrap_err();
            assert!(
                err.to_string().contains("injected failure"),
                "{point:?}: {err}"
            );
            let lines = recorded(dir.path());
            let cert = ca.certificate_pem(&name).unwrap();
            assert_eq!(cert.is_some(), placed, "{point:?}");
            if let Some(pem) = &cert {
                let serial = crate::cert::parse_certs(pem, "cert").unwrap()[0]
                    .0
                    .tbs_certificate
                    .serial_number
                    .clone();
                let serial = crate::cert::serial_u64(&serial).unwrap();
                assert!(
                    lines.contains(&(serial, format!("/CN={name}"))),
                    "{point:?}"
                );
            }
            let appended = matches!(point, AfterInventory | BeforeRename | BeforeSignedSync);
            assert_eq!(
                lines.len(),
                lines_before + usize::from(appended),
                "{point:?}"
            );
            let reserved = point != BeforeSerialWrite;
            assert_eq!(
                serial_file(dir.path()),
                serial_before + u64::from(reserved),
                "{point:?}: a reserved serial is skipped, not given back"
            );
            let temps = std::fs::read_dir(dir.path().join("signed"))
                .unwrap()
                .filter(|e| {
                    let n = e.as_ref().unwrap().file_name();
                    n.to_str().unwrap().starts_with(store::TEMP_PREFIX)
                })
                .count();
            assert_eq!(temps, 0, "{point:?}: no temp file left");

            // Started again.
            drop(ca);
            let ca = CertificateAuthority::open(dir.path(), settings()).unwrap();
            match submit(&ca, &name) {
                Ok(CsrOutcome::Signed(pem)) => {
                    assert!(!placed, "{point:?}");
                    let serial = crate::cert::serial_u64(
                        &crate::cert::parse_certs(&pem, "cert").unwrap()[0]
                            .0
                            .tbs_certificate
                            .serial_number,
                    )
                    .unwrap();
                    assert!(
                        lines.iter().all(|(s, _)| *s != serial),
                        "{point:?}: serial 0x{serial:04X} issued again"
                    );
                }
                Err(CaError::AlreadyHasCertificate { .. }) => assert!(placed, "{point:?}"),
                other => panic!("{point:?}: {other:?}"),
            }
            recorded(dir.path());
        }
    }
}
