//! Stage two, detection: probe timing, probes, heartbeats and the
//! manual-mode timeout.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::*;
use super::validate::Validator;
use super::*;

/// The shortest probe interval a policy may set. Every round opens new
/// connections (TCP, TLS) to each target, calls the RDS API and sends its
/// observation to every member: at 200 ms that is five rounds a second per
/// site, about five times the footprint budgeted for 1 s probes, and
/// shorter intervals only add load (below a millisecond a node spins).
pub const PROBE_INTERVAL_MIN: Duration = Duration::from_millis(200);

/// The shortest probe timeout a policy may set. A probe from the DR region
/// needs about three round trips to the primary region (TCP, TLS, the
/// request; us-west-2 to us-east-1 is about 65 ms each), and an AWS API
/// call adds the service's own time; a shorter timeout fails healthy probes
/// from the far sites, and failures count against the primary.
pub const PROBE_TIMEOUT_MIN: Duration = Duration::from_millis(200);

/// The shortest probe interval with a Route 53 health-check probe: every
/// site reads the health check each round, and Route 53's API takes five
/// requests a second per account, failover changes included; three sites
/// at 1 s leave room for those.
pub const HEALTH_CHECK_INTERVAL_MIN: Duration = Duration::from_secs(1);

impl Validator {
    /// Checks the probe interval and timeout against each other and their
    /// lower bounds ([`PROBE_INTERVAL_MIN`], [`PROBE_TIMEOUT_MIN`]): a
    /// probe must be able to answer, and a round must end before the next.
    pub(super) fn probe_timing(&mut self, interval: Duration, timeout: Duration) {
        let fmt = crate::duration::fmt;
        // Below a millisecond, fmt would show 0ms.
        let got = |d: Duration| match d < Duration::from_millis(1) {
            true => humantime::format_duration(d).to_string(),
            false => fmt(d),
        };
        if interval < PROBE_INTERVAL_MIN {
            self.problem(
                "detection.probe_interval",
                Some(got(interval)),
                format!(
                    "at least {} (each round costs connections and API calls at every site)",
                    fmt(PROBE_INTERVAL_MIN)
                ),
            );
        }
        if timeout < PROBE_TIMEOUT_MIN {
            self.problem(
                "detection.probe_timeout",
                Some(got(timeout)),
                format!(
                    "at least {} (a probe from another region needs several round trips; \
                     a probe cut short counts against the primary)",
                    fmt(PROBE_TIMEOUT_MIN)
                ),
            );
        } else if timeout > interval {
            self.problem(
                "detection.probe_timeout",
                Some(fmt(timeout)),
                format!("at most the probe interval ({})", fmt(interval)),
            );
        }
    }

    /// Adds the probes and heartbeats to checked detection settings. Each
    /// heartbeat needs its tier in the policy; at least one probe is needed.
    pub(super) fn probes_and_heartbeats(
        &mut self,
        mut detection: Detection,
        probes: Option<RawProbes>,
        heartbeats: Option<RawHeartbeats>,
        tiers: &Tiers,
    ) -> Option<Detection> {
        let probes = self.probe_set(
            "detection.probes",
            probes.unwrap_or_default(),
            detection.probe_interval,
            tiers,
        );
        let heartbeats = heartbeats.unwrap_or_default();
        let database = heartbeats.database.and_then(|h| {
            if tiers.database.is_none() {
                self.problem(
                    "detection.heartbeats.database",
                    None,
                    "no database heartbeat: the policy has no database tier",
                );
            }
            self.heartbeat("detection.heartbeats.database", h, false)
        });
        let cache = heartbeats.cache.and_then(|h| {
            if tiers.cache.is_none() {
                self.problem(
                    "detection.heartbeats.cache",
                    None,
                    "no cache heartbeat: the policy has no cache tier",
                );
            }
            self.heartbeat("detection.heartbeats.cache", h, true)
        });
        detection.probes = probes;
        detection.heartbeats = Heartbeats { database, cache };
        let any = !detection.probes.http.is_empty()
            || !detection.probes.tcp.is_empty()
            || detection.probes.database_status
            || detection.probes.health_check.is_some()
            || detection.heartbeats.database.is_some()
            || detection.heartbeats.cache.is_some();
        if !any {
            self.problem(
                "detection.probes",
                None,
                "at least one probe: http, tcp, database_status, health_check, or a heartbeat",
            );
            return None;
        }
        Some(detection)
    }

    /// One set of probes (`detection.probes` or `detection.secondary_probes`,
    /// named by `at`), each checked.
    pub(super) fn probe_set(
        &mut self,
        at: &str,
        probes: RawProbes,
        interval: Duration,
        tiers: &Tiers,
    ) -> Probes {
        let http = self.http_probes(&format!("{at}.http"), probes.http);
        let tcp = self.endpoints(&format!("{at}.tcp"), probes.tcp);
        let database_status = probes.database_status.unwrap_or(tiers.database.is_some());
        if database_status && tiers.database.is_none() {
            self.problem(
                format!("{at}.database_status"),
                Some("true".into()),
                "false: the policy has no database tier to read the status of",
            );
        }
        let health_check = match probes.health_check {
            Some(id) => self.name(
                &format!("{at}.health_check"),
                Some(id),
                "a Route 53 health check id",
            ),
            None => None,
        };
        if health_check.is_some() && interval < HEALTH_CHECK_INTERVAL_MIN {
            self.problem(
                "detection.probe_interval",
                Some(crate::duration::fmt(interval)),
                format!(
                    "at least {} with a health_check probe (every site reads it each round; \
                     Route 53 takes 5 requests a second per account)",
                    crate::duration::fmt(HEALTH_CHECK_INTERVAL_MIN)
                ),
            );
        }
        Probes {
            http,
            tcp,
            database_status,
            health_check,
        }
    }

    fn http_probes(&mut self, path: &str, raw: Vec<RawHttpProbe>) -> Vec<HttpProbe> {
        let mut out = Vec::new();
        for (i, entry) in raw.into_iter().enumerate() {
            let at = format!("{path}[{i}]");
            let probe = match entry {
                RawHttpProbe::Url(u) => self.url(&at, u).map(HttpProbe::url),
                RawHttpProbe::Fields(fields) => self.http_probe(&at, fields),
            };
            out.extend(probe);
        }
        out
    }

    /// An http probe written as a map; `at` is its path.
    fn http_probe(
        &mut self,
        at: &str,
        fields: Vec<(String, serde_yaml_ng::Value)>,
    ) -> Option<HttpProbe> {
        let (mut url, mut server_name, mut host, mut tls_verify) = (None, None, None, None);
        let mut has_url = false;
        for (key, value) in fields {
            let field = format!("{at}.{key}");
            match key.as_str() {
                "url" => {
                    has_url = true;
                    url = self
                        .text(&field, value, "an http:// or https:// URL")
                        .and_then(|u| self.url(&field, u));
                }
                "server_name" => server_name = self.text(&field, value, "a DNS name"),
                "host" => host = self.text(&field, value, "a host name, or host:port"),
                "tls_verify" => match value {
                    serde_yaml_ng::Value::Bool(b) => tls_verify = Some(b),
                    other => self.problem(&field, Some(shown(&other)), "true or false"),
                },
                _ => self.problem(
                    &field,
                    None,
                    "no such field (unknown field): url, server_name, host or tls_verify",
                ),
            }
        }
        if !has_url {
            self.problem(
                format!("{at}.url"),
                None,
                "required: an http:// or https:// URL such as https://lb.example.com/health",
            );
        }
        let plain_http = url.as_deref().is_some_and(|u| u.starts_with("http://"));
        if let Some(name) = &server_name {
            if rustls_pki_types::DnsName::try_from(name.as_str()).is_err() {
                self.problem(
                    format!("{at}.server_name"),
                    Some(format!("{name:?}")),
                    "a DNS name such as api.example.com (the name the certificate covers)",
                );
            } else if plain_http {
                self.problem(
                    format!("{at}.server_name"),
                    Some(format!("{name:?}")),
                    "no server_name with an http:// URL (it names the TLS server)",
                );
            }
        }
        if let Some(h) = host.as_ref().filter(|h| !host_header(h)) {
            self.problem(
                format!("{at}.host"),
                Some(format!("{h:?}")),
                "a host name or address, optionally with :port, such as api.example.com",
            );
        }
        if tls_verify.is_some() && plain_http {
            self.problem(
                format!("{at}.tls_verify"),
                None,
                "no tls_verify with an http:// URL (there is no certificate)",
            );
        }
        Some(HttpProbe {
            url: url?,
            server_name,
            host,
            tls_verify: tls_verify.unwrap_or(true),
        })
    }

    /// A string field of a map written by hand.
    fn text(&mut self, at: &str, value: serde_yaml_ng::Value, what: &str) -> Option<String> {
        match value {
            serde_yaml_ng::Value::String(s) => Some(s),
            other => {
                self.problem(at, Some(shown(&other)), what);
                None
            }
        }
    }

    fn url(&mut self, at: &str, u: String) -> Option<String> {
        let rest = u
            .strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"));
        let parsed = reqwest::Url::parse(&u);
        match rest {
            Some(r)
                if !r.is_empty()
                    && !r.starts_with('/')
                    && !u.contains(char::is_whitespace)
                    && parsed.is_ok_and(|p| p.host_str().is_some_and(|h| !h.is_empty())) =>
            {
                Some(u)
            }
            _ => {
                self.problem(
                    at,
                    Some(format!("{u:?}")),
                    "an http:// or https:// URL such as https://api.example.com/health",
                );
                None
            }
        }
    }

    fn endpoints(&mut self, path: &str, endpoints: Vec<String>) -> Vec<String> {
        let mut out = Vec::new();
        for (i, e) in endpoints.into_iter().enumerate() {
            let ok = e.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if ok {
                out.push(e);
            } else {
                self.problem(
                    format!("{path}[{i}]"),
                    Some(format!("{e:?}")),
                    "host:port, such as db.example.internal:5432",
                );
            }
        }
        out
    }

    fn heartbeat(&mut self, path: &str, raw: RawHeartbeat, redis: bool) -> Option<HeartbeatTarget> {
        let what = if redis {
            "a redis:// URL, without a password (TLS, rediss://, is not supported for the cache heartbeat yet)"
        } else {
            "libpq connection settings (host=… port=… dbname=… user=…) or a postgresql:// URL, without a password"
        };
        let endpoint = |me: &mut Self, field: &str, v: Option<String>| {
            let at = format!("{path}.{field}");
            let v = me.required(&at, v, what)?;
            // Any userinfo of a redis URL counts: a lone token before `@`
            // is a password to some clients.
            let has_password =
                crate::redact::has_password(&v) || (redis && crate::redact::redact(&v) != v);
            let well_formed = if redis {
                v.starts_with("redis://")
            } else {
                v.contains('=') || v.starts_with("postgres://") || v.starts_with("postgresql://")
            };
            if has_password {
                me.problem(
                    &at,
                    None,
                    format!("{what}: put the password in password_env or password_file"),
                );
                return None;
            }
            if !well_formed {
                me.problem(&at, Some(format!("{:?}", crate::redact::redact(&v))), what);
                return None;
            }
            Some(v)
        };
        let primary = endpoint(self, "primary", raw.primary);
        let replica = endpoint(self, "replica", raw.replica);
        let ca_file = match raw.ca_file {
            Some(_) if redis => {
                self.problem(
                    format!("{path}.ca_file"),
                    None,
                    "no ca_file: TLS is not supported for the cache heartbeat yet",
                );
                None
            }
            Some(f) => Some(PathBuf::from(f)),
            None => None,
        };
        let password = match (raw.password_env, raw.password_file) {
            (Some(_), Some(_)) => {
                self.problem(
                    format!("{path}.password_file"),
                    None,
                    "only one of password_env and password_file",
                );
                return None;
            }
            (Some(var), None) => SecretSource::Env(self.name(
                &format!("{path}.password_env"),
                Some(var),
                "an environment variable name",
            )?),
            (None, Some(file)) => SecretSource::File(PathBuf::from(file)),
            (None, None) => SecretSource::None,
        };
        Some(HeartbeatTarget {
            primary: primary?,
            replica: replica?,
            password,
            ca_file,
        })
    }

    /// The manual-mode timeout; only meaningful with `mode: manual`.
    pub(super) fn manual_timeout(
        &mut self,
        raw: Option<RawManualTimeout>,
        mode: Option<Mode>,
    ) -> Option<Option<ManualTimeout>> {
        let Some(raw) = raw else {
            return Some(None);
        };
        if mode == Some(Mode::Automatic) {
            self.problem(
                "manual_timeout",
                None,
                "no manual_timeout with mode: automatic (it applies to manual mode only)",
            );
        }
        let after = self.positive("manual_timeout.after", raw.after, None);
        let action = match raw.action.as_deref() {
            Some("proceed") => Some(TimeoutAction::Proceed),
            Some("wait") | None => Some(TimeoutAction::Wait),
            Some(other) => {
                self.problem(
                    "manual_timeout.action",
                    Some(format!("{other:?}")),
                    "proceed or wait",
                );
                None
            }
        };
        Some(Some(ManualTimeout {
            after: after?,
            action: action?,
        }))
    }
}

/// A YAML value as a problem shows it.
fn shown(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => format!("{s:?}"),
        other => serde_yaml_ng::to_string(other)
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// Whether `h` is a Host header value: a DNS name, an IPv4 address or a
/// bracketed IPv6 address, optionally with a port.
fn host_header(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (h, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            name.parse::<std::net::Ipv4Addr>().is_ok()
                || rustls_pki_types::DnsName::try_from(name).is_ok()
        }
    };
    port_ok && name_ok
}
