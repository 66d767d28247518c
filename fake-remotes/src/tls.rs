//! The test PKI and the TLS settings of a server: a per-process test CA, made with rcgen
//! the first time it is needed, and for each server the four certificates the `tls`
//! behaviour chooses from (valid, expired, wrong name, signed by an unknown CA).
//!
//! Clients verify a healthy remote against the test CA: [`TestCa::pem`] (or
//! [`write_ca_pem`] for a file, or [`client_config`] for a ready rustls client). The CA
//! lives only in this process's memory: a client in another process needs the PEM
//! written out. Keys are ECDSA P-256; crypto is rustls's `ring` provider, always passed
//! explicitly, so whichever other provider a program enables cannot change it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::behavior::tls::Certificate;

/// The host name in `wrong_name` certificates.
pub const WRONG_NAME: &str = "wrong-name.fake-remotes.invalid";

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A certificate authority made at start-up: the test CA that clients trust, or the
/// rogue one behind `unknown_ca`.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem: String,
}

static TEST_CA: OnceLock<TestCa> = OnceLock::new();
static ROGUE_CA: OnceLock<TestCa> = OnceLock::new();

impl TestCa {
    /// This process's test CA (made on first use).
    pub fn get() -> &'static TestCa {
        TEST_CA.get_or_init(|| TestCa::new("fake-remotes test CA"))
    }

    /// The test CA certificate as PEM, for clients to trust.
    pub fn pem() -> &'static str {
        &TestCa::get().pem
    }

    /// The test CA certificate as DER.
    pub fn der() -> CertificateDer<'static> {
        TestCa::get().cert.der().clone()
    }

    /// A CA nobody trusts (signs the `unknown_ca` certificates).
    fn rogue() -> &'static TestCa {
        ROGUE_CA.get_or_init(|| TestCa::new("fake-remotes unknown CA"))
    }

    fn new(name: &str) -> TestCa {
        // Generating a P-256 key and signing cannot fail with valid parameters; a
        // failure here is a bug, not an input problem.
        let key = KeyPair::generate().expect("generate a CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "mailquake");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - 2 * DAY;
        params.not_after = now + 3650 * DAY;
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let pem = cert.pem();
        TestCa { cert, key, pem }
    }

    /// Signs a server certificate for `names` (DNS names and IP addresses).
    fn issue(
        &self,
        names: &[SanType],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        key: &KeyPair,
    ) -> Result<CertificateDer<'static>, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = names.to_vec();
        params.distinguished_name = DistinguishedName::new();
        if let Some(SanType::DnsName(first)) = names.first() {
            params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(key, &self.cert, &self.key)?;
        Ok(cert.der().clone())
    }
}

/// The test CA certificate as PEM (the same as [`TestCa::pem`]).
pub fn ca_pem() -> &'static str {
    TestCa::pem()
}

/// Writes the test CA certificate as PEM to `path`, for clients in other processes.
pub fn write_ca_pem(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, ca_pem())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration that trusts only the test CA (for tests and for
/// clients in this process).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    // The test CA is well formed by construction.
    let _ = roots.add(TestCa::der());
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A server's TLS settings: one rustls configuration per certificate it may present.
#[derive(Clone)]
pub(crate) struct ServerTls {
    valid: Arc<rustls::ServerConfig>,
    expired: Arc<rustls::ServerConfig>,
    wrong_name: Arc<rustls::ServerConfig>,
    unknown_ca: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls { .. }")
    }
}

impl ServerTls {
    /// Certificates for `hostname` (and `ip`, so clients that verify by address pass too).
    /// Fails only for a host name that cannot be put in a certificate.
    pub(crate) fn new(hostname: &str, ip: Option<IpAddr>) -> Result<ServerTls, String> {
        let bad = |e: rcgen::Error| format!("cannot make a certificate for `{hostname}`: {e}");
        let dns = |name: &str| {
            name.to_string()
                .try_into()
                .map(SanType::DnsName)
                .map_err(bad)
        };
        let mut names = vec![dns(hostname)?];
        if let Some(ip) = ip.filter(|ip| !ip.is_unspecified()) {
            names.push(SanType::IpAddress(ip));
        }
        let key = KeyPair::generate().map_err(bad)?;
        let now = OffsetDateTime::now_utc();
        let (valid_from, valid_to) = (now - DAY, now + 30 * DAY);
        let ca = TestCa::get();
        let valid = ca.issue(&names, valid_from, valid_to, &key).map_err(bad)?;
        let expired = ca
            .issue(&names, now - 60 * DAY, now - 30 * DAY, &key)
            .map_err(bad)?;
        let wrong_name = ca
            .issue(&[dns(WRONG_NAME)?], valid_from, valid_to, &key)
            .map_err(bad)?;
        let unknown_ca = TestCa::rogue()
            .issue(&names, valid_from, valid_to, &key)
            .map_err(bad)?;
        let key_der = key.serialize_der();
        let config = |cert: CertificateDer<'static>| -> Result<_, String> {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.clone()));
            let config = rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .map_err(|e| format!("TLS settings for `{hostname}`: {e}"))?;
            Ok(Arc::new(config))
        };
        Ok(ServerTls {
            valid: config(valid)?,
            expired: config(expired)?,
            wrong_name: config(wrong_name)?,
            unknown_ca: config(unknown_ca)?,
        })
    }

    pub(crate) fn config(&self, cert: Certificate) -> Arc<rustls::ServerConfig> {
        match cert {
            Certificate::Valid => self.valid.clone(),
            Certificate::Expired => self.expired.clone(),
            Certificate::WrongName => self.wrong_name.clone(),
            Certificate::UnknownCa => self.unknown_ca.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_ca_is_one_per_process_and_pem() {
        assert!(ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(ca_pem(), TestCa::pem(), "made once");
        let dir = std::env::temp_dir().join(format!("fake-remotes-ca-{}", std::process::id()));
        write_ca_pem(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&dir).unwrap(), ca_pem());
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn server_settings_for_names_and_addresses() {
        assert!(ServerTls::new("mx.ok.test", Some("127.0.0.1".parse().unwrap())).is_ok());
        assert!(ServerTls::new("n1", None).is_ok());
        assert!(ServerTls::new("bäd.test", None).is_err(), "not ASCII");
    }
}
