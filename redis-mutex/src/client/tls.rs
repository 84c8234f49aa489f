//! What a `rediss://` URL cannot say (feature `tls`): the roots to trust, and a crypto provider
//! for rustls.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{TlsRoots, redact};
use crate::error::{Error, Result};

/// A Redis client for `url` that trusts the certificates in `roots` instead of the system's.
/// `display` is the URL with its password redacted.
pub(super) fn client_with_roots(
    url: &str,
    display: &str,
    roots: &TlsRoots,
) -> Result<redis::Client> {
    let invalid = |reason: String| Error::InvalidConfig {
        option: "tls_root_certificates",
        reason,
    };
    if !url.starts_with("rediss://") {
        return Err(invalid(format!(
            "root certificates are for TLS, so the URL must be `rediss://…`, not `{display}`"
        )));
    }
    let certificates = CertificateDer::pem_slice_iter(&roots.0)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("malformed PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid(
            "no PEM certificate (`-----BEGIN CERTIFICATE-----`) found; pass the contents of the \
             CA's certificate file, e.g. `std::fs::read(\"ca.crt\")?`"
                .into(),
        ));
    }
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(roots.0.clone()),
    };
    redis::Client::build_with_tls(url, certificates)
        .map_err(|error| invalid(redact(&error.to_string())))
}

/// Refuses a `rediss://…#insecure` URL, which would turn certificate verification off when
/// another crate enables redis-rs's `tls-rustls-insecure` feature (and otherwise fails only at
/// the first connection).
pub(super) fn refuse_insecure(client: &redis::Client, display: &str) -> Result<()> {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::TcpTls { insecure: true, .. } => Err(Error::InvalidUrl {
            url: display.to_owned(),
            reason: "`#insecure` (no certificate verification) is not supported; trust the \
                     server's CA with `ClientBuilder::tls_root_certificates` instead"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// Installs rustls's `ring` provider as the process default unless one is installed already:
/// redis-rs builds its TLS configuration from the process default, and rustls panics when there
/// is none it can choose by itself (as when several providers are compiled in).
pub(super) fn ensure_crypto_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing a race to another thread's installation is fine: any provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
