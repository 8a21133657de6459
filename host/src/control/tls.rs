//! TLS for the control API (rustls, ring provider): the server certificate
//! and its CA come from a directory; when the directory has none, a
//! self-signed CA and a server certificate for `localhost`/127.0.0.1/::1
//! are generated there on first start (`rcgen`). Private keys are written
//! 0600 and read only when still 0600. Clients may present a certificate
//! issued by the same CA ([`issue_client_cert`]); it is then their identity
//! (its SHA-256, matched against the users file).

use super::secrets::{read_private, write_private, SecretError};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";

#[derive(Debug, Error)]
pub enum TlsError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation: {0}")]
    Gen(#[from] rcgen::Error),
    #[error("{0}: no PEM certificate or key in it")]
    Pem(PathBuf),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "ETI control plane CA");
    dn.push(DnType::OrganizationName, "ETI");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// The CA (certificate rebuilt from its key: same name, same key, so what it
/// signs verifies under the `ca.pem` clients hold).
fn load_ca(dir: &Path) -> Result<(rcgen::Certificate, KeyPair), TlsError> {
    let key_path = dir.join(CA_KEY);
    let pem = read_private(&key_path)?;
    let key = KeyPair::from_pem(&String::from_utf8_lossy(&pem))?;
    let cert = ca_params()?.self_signed(&key)?;
    Ok((cert, key))
}

/// Make sure `dir` holds a CA and a server certificate; generate what is
/// missing. Returns whether anything was generated.
///
/// # Errors
/// I/O, a key file readable by others, generation.
pub fn ensure(dir: &Path) -> Result<bool, TlsError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let have = |f: &str| dir.join(f).exists();
    if have(CA_CERT) && have(SERVER_CERT) && have(SERVER_KEY) {
        return Ok(false);
    }
    let (ca, ca_key) = if have(CA_KEY) {
        load_ca(dir)?
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        write_private(&dir.join(CA_KEY), key.serialize_pem().as_bytes())
            .map_err(io(&dir.join(CA_KEY)))?;
        (cert, key)
    };
    std::fs::write(dir.join(CA_CERT), ca.pem()).map_err(io(&dir.join(CA_CERT)))?;
    let mut p = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])?;
    p.distinguished_name
        .push(DnType::CommonName, "ETI control plane");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &ca, &ca_key)?;
    write_private(&dir.join(SERVER_KEY), key.serialize_pem().as_bytes())
        .map_err(io(&dir.join(SERVER_KEY)))?;
    std::fs::write(dir.join(SERVER_CERT), cert.pem()).map_err(io(&dir.join(SERVER_CERT)))?;
    Ok(true)
}

/// A client certificate for `name` signed by `dir`'s CA: (cert PEM, key PEM, SHA-256 of the DER).
///
/// # Errors
/// No CA in `dir`, generation.
pub fn issue_client_cert(dir: &Path, name: &str) -> Result<(String, String, [u8; 32]), TlsError> {
    use sha2::Digest;
    let (ca, ca_key) = load_ca(dir)?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, &ca, &ca_key)?;
    let fp: [u8; 32] = sha2::Sha256::digest(cert.der()).into();
    Ok((cert.pem(), key.serialize_pem(), fp))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let v: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if v.is_empty() {
        return Err(TlsError::Pem(path.to_path_buf()));
    }
    Ok(v)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_private(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Pem(path.to_path_buf()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut r = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        r.add(c)?;
    }
    Ok(r)
}

/// The server's rustls config from `dir` (see [`ensure`]); client
/// certificates issued by the CA are accepted, not required.
///
/// # Errors
/// Missing or unreadable files, a bad key.
pub fn server_config(dir: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certs(&dir.join(SERVER_CERT))?;
    let key = private_key(&dir.join(SERVER_KEY))?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(&dir.join(CA_CERT))?),
        provider(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut c = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

/// A client config trusting `ca` (PEM file), optionally presenting a
/// client certificate (PEM cert and key files).
///
/// # Errors
/// Unreadable files, bad PEM.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?);
    let c = match identity {
        None => b.with_no_client_auth(),
        Some((cert, key)) => b.with_client_auth_cert(certs(cert)?, private_key(key)?)?,
    };
    Ok(Arc::new(c))
}

/// The name to check the server certificate against.
///
/// # Errors
/// A host that is neither a DNS name nor an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string())
        .map_err(|e| TlsError::Verifier(format!("server name {host:?}: {e}")))
}
