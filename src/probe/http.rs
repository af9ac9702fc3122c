//! The HTTP probe: `GET` a health URL over the real network.
//!
//! A plain probe requests the URL as it stands. A probe with a
//! `server_name` connects to the addresses the URL's host resolves to (a
//! load balancer's DNS name) but speaks to the server as that name: SNI,
//! certificate verification and the default Host header all use it, as a
//! client of the public name would. A probe with `tls_verify: false`
//! accepts any certificate, and every result of it says so.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::HOST;
use reqwest::{Certificate, Client, ClientBuilder, Url};

use super::{bounded, ProbeError};
use crate::policy::HttpProbe;

/// `GET` the probe's URL as the probe says; passes on a 2xx status. The
/// result says how the certificate was checked whenever the probe differs
/// from a plain `GET`.
pub async fn http_probe(probe: &HttpProbe, timeout: Duration) -> Result<String, ProbeError> {
    check(probe, timeout, &[]).await
}

/// As [`http_probe`], trusting `roots` besides the web's (tests' own CA).
async fn check(
    probe: &HttpProbe,
    timeout: Duration,
    roots: &[Certificate],
) -> Result<String, ProbeError> {
    bounded(timeout, async {
        let (client, url) = prepare(probe, roots).await?;
        let mut request = client.get(url).timeout(timeout);
        if let Some(host) = &probe.host {
            request = request.header(HOST, host);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| ProbeError::from(format!("{}{}", error_chain(&e), tls_note(probe))))?;
        let status = resp.status();
        let seen = format!("HTTP {}{}", status.as_u16(), tls_note(probe));
        if status.is_success() {
            Ok(seen)
        } else {
            Err(seen.into())
        }
    })
    .await
}

/// How the certificate was checked, when not the plain way.
fn tls_note(probe: &HttpProbe) -> String {
    match (&probe.server_name, probe.tls_verify) {
        (_, false) => "; TLS certificate NOT verified (tls_verify: false)".into(),
        (Some(name), true) => format!("; TLS certificate verified for {name}"),
        (None, true) => String::new(),
    }
}

/// The client and URL for one request of `probe`. With a server name, the
/// URL's host is resolved now (a load balancer's addresses change) and the
/// request goes to the server name pinned to those addresses.
async fn prepare(probe: &HttpProbe, roots: &[Certificate]) -> Result<(Client, Url), ProbeError> {
    let mut url = Url::parse(&probe.url)
        .map_err(|e| ProbeError::inconclusive(format!("invalid URL {}: {e}", probe.url)))?;
    if probe.server_name.is_none() && probe.tls_verify && roots.is_empty() {
        return Ok((shared_client().clone(), url));
    }
    let mut builder = builder().danger_accept_invalid_certs(!probe.tls_verify);
    for root in roots {
        builder = builder.add_root_certificate(root.clone());
    }
    if let Some(name) = &probe.server_name {
        let addrs = resolve(&url).await?;
        url.set_host(Some(name))
            .map_err(|e| ProbeError::inconclusive(format!("server name {name}: {e}")))?;
        builder = builder.resolve_to_addrs(name, &addrs);
    }
    let client = builder
        .build()
        .map_err(|e| ProbeError::inconclusive(format!("cannot build the HTTP client: {e}")))?;
    Ok((client, url))
}

/// The addresses of the URL's host (an address in the URL stands for
/// itself). A name that does not resolve counts against the primary, as it
/// does for a plain probe.
async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, ProbeError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let Some(host) = url.host_str() else {
        return Err(ProbeError::inconclusive(format!("no host in {url}")));
    };
    // An IPv6 address comes bracketed.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| ProbeError::from(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address").into());
    }
    Ok(addrs)
}

/// Settings every probe client shares: no redirects followed (a health
/// endpoint that redirects is not answering), no connection reuse across
/// rounds.
fn builder() -> ClientBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
}

/// The client of plain probes, built once.
fn shared_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        builder()
            .build()
            .expect("an HTTP client with these settings always builds")
    })
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
