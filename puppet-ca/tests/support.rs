//! What the modules share: the captured fixtures, and `openssl`, the independent judge and
//! maker of CSRs.

use std::path::Path;
use std::process::Command;

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// Runs `openssl args`: whether it succeeded, and its stdout then stderr.
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A CSR for `cn` made by `openssl req` with a fresh P-256 key, `extra` options added (such
/// as `-addext`); the key and CSR are written in `dir`. Returns the CSR's PEM.
pub fn openssl_csr(dir: &Path, cn: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(format!("{cn}.csr"));
    let key = dir.join(format!("{cn}.key"));
    let subj = format!("/CN={cn}");
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        &subj,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        out.to_str().unwrap(),
    ]);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    std::fs::read(out).unwrap()
}
