//! The heartbeat on a Redis primary/replica pair, and promotion of a
//! replica.
//!
//! TLS is not supported yet: `rediss://` URLs are refused.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo};

use super::{config_error, Beat, Endpoint, HeartbeatError};
use crate::clock::now_ms;

/// A heartbeat on a Redis primary/replica pair: key `drctl:heartbeat:<site>`.
///
/// TLS is not supported yet.
pub struct RedisHeartbeat {
    key: String,
    primary: RedisConn,
    replica: RedisConn,
}

impl RedisHeartbeat {
    /// `primary_url`/`replica_url` are `redis://host:port[/db]` URLs;
    /// `password` overrides any password in them. `site` names the key.
    /// `timeout` bounds the connect and each command.
    ///
    /// Fails if either URL does not parse; the error says which one.
    pub fn new(
        site: &str,
        primary_url: &str,
        replica_url: &str,
        password: Option<String>,
        timeout: Duration,
    ) -> Result<Self, HeartbeatError> {
        Ok(Self {
            key: format!("drctl:heartbeat:{site}"),
            primary: RedisConn::parse("primary", primary_url, password.as_deref(), timeout)?,
            replica: RedisConn::parse("replica", replica_url, password.as_deref(), timeout)?,
        })
    }

    /// Writes the wall clock into this site's key on the primary. The
    /// connection is kept between calls and made anew after any error.
    pub async fn beat(&mut self) -> Result<Beat, HeartbeatError> {
        let written_ms = now_ms();
        let set = redis::cmd("SET").arg(&self.key).arg(written_ms).clone();
        self.primary.run::<()>("write", set).await?;
        Ok(Beat {
            written_ms,
            acked_ms: now_ms(),
        })
    }

    /// Whether the replica's link to its primary is up (`INFO replication`,
    /// `master_link_status`); `None` on a server that is not a replica.
    pub async fn source_link(&mut self) -> Result<Option<bool>, HeartbeatError> {
        let info = redis::cmd("INFO").arg("replication").clone();
        let text: String = self.replica.run("read", info).await?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_string)
        };
        if field("role").as_deref() != Some("slave") {
            return Ok(None);
        }
        Ok(Some(field("master_link_status").as_deref() == Some("up")))
    }

    /// The newest value of this site's key visible on the replica; `None`
    /// while the key has not reached it.
    pub async fn visible(&mut self) -> Result<Option<u64>, HeartbeatError> {
        let get = redis::cmd("GET").arg(&self.key).clone();
        let Some(text) = self.replica.run::<Option<String>>("read", get).await? else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| {
            self.replica
                .endpoint
                .query_error("read", format!("{} holds {text:?}, not a number", self.key))
        })
    }
}

/// Promotes the Redis replica at `url` with `REPLICAOF NO ONE` (which is
/// also harmless on a primary).
pub async fn promote_redis(
    url: &str,
    password: Option<String>,
    timeout: Duration,
) -> Result<(), HeartbeatError> {
    let mut conn = RedisConn::parse("replica", url, password.as_deref(), timeout)?;
    let promote = redis::cmd("REPLICAOF").arg("NO").arg("ONE").clone();
    conn.run::<()>("promote", promote).await
}

/// Makes the Redis server at `url` a replica of the one at `primary_url`
/// (`REPLICAOF host port`; a replica of it already is left replicating).
/// The primary's address is taken from its URL as given: it must be the
/// address the replica reaches it at. `password` authenticates to the
/// replica; the primary is expected to need none (`masterauth` is not set).
pub async fn replicate_redis(
    url: &str,
    password: Option<String>,
    primary_url: &str,
    timeout: Duration,
) -> Result<(), HeartbeatError> {
    let info = primary_url
        .into_connection_info()
        .map_err(|e| config_error("primary", &e.to_string()))?;
    let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
        return Err(config_error(
            "primary",
            "only redis:// TCP addresses can be replicated from",
        ));
    };
    let mut conn = RedisConn::parse("replica", url, password.as_deref(), timeout)?;
    let replicate = redis::cmd("REPLICAOF").arg(host).arg(port).clone();
    conn.run::<()>("replicate", replicate).await
}

/// One Redis endpoint: its client and, once connected, its connection.
/// The fencing methods and the divergence measurement connect through it
/// too.
pub(crate) struct RedisConn {
    endpoint: Endpoint,
    client: Client,
    conn: Option<MultiplexedConnection>,
}

impl RedisConn {
    /// Parses `url` for the endpoint called `role` in errors; `password`
    /// overrides any password in it; `timeout` bounds the connect and each
    /// command.
    pub(crate) fn parse(
        role: &'static str,
        url: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, HeartbeatError> {
        let bad = |detail: String| config_error(role, &detail);
        let mut info = url.into_connection_info().map_err(|e| bad(e.to_string()))?;
        let name = match info.addr() {
            ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            ConnectionAddr::Unix(path) => path.display().to_string(),
            _ => return Err(bad("TLS is not supported yet".into())),
        };
        if let Some(password) = password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = Client::open(info).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            endpoint: Endpoint {
                role,
                name,
                timeout,
            },
            client,
            conn: None,
        })
    }

    /// The endpoint's `host:port`, as errors name it.
    pub(crate) fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// Runs `cmd`, connecting first if needed; any error drops the
    /// connection so that the next call makes a new one.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &mut self,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, HeartbeatError> {
        let result = self.try_run(op, cmd).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn try_run<T: redis::FromRedisValue>(
        &mut self,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, HeartbeatError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let limits = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.endpoint.timeout))
                    .set_response_timeout(Some(self.endpoint.timeout));
                let connect = self
                    .client
                    .get_multiplexed_async_connection_with_config(&limits);
                let conn = self.endpoint.bounded("connect", connect).await?;
                self.conn.insert(conn)
            }
        };
        self.endpoint.bounded(op, cmd.query_async(conn)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1);

    fn parse_err(primary: &str, replica: &str) -> String {
        match RedisHeartbeat::new("eu", primary, replica, None, T) {
            Ok(_) => panic!("{primary:?} / {replica:?} parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_bad_url_is_reported_with_its_role() {
        let good = "redis://127.0.0.1:6379";
        let err = parse_err("http://example.com", good);
        assert!(
            err.starts_with("primary connection string is invalid"),
            "{err}"
        );
        let err = parse_err(good, "not a url");
        assert!(
            err.starts_with("replica connection string is invalid"),
            "{err}"
        );
        let err = parse_err(good, "rediss://cache:6379");
        assert!(
            err.starts_with("replica connection string is invalid"),
            "{err}"
        );
    }

    #[test]
    fn the_key_and_endpoints_come_from_site_and_urls() {
        let hb = RedisHeartbeat::new(
            "eu-west-1",
            "redis://:inline@10.0.0.1:6380/2",
            "redis://r1",
            Some("override".into()),
            T,
        )
        .unwrap();
        assert_eq!(hb.key, "drctl:heartbeat:eu-west-1");
        assert_eq!(hb.primary.endpoint.name, "10.0.0.1:6380");
        assert_eq!(hb.replica.endpoint.name, "r1:6379");
        let info = hb.primary.client.get_connection_info();
        assert_eq!(info.redis_settings().password(), Some("override"));
        assert_eq!(info.redis_settings().db(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_replica_is_a_connect_error_naming_it() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("redis://127.0.0.1:{port}");
        let mut hb = RedisHeartbeat::new("eu", &url, &url, None, T).unwrap();
        let err = hb.visible().await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("replica 127.0.0.1:{port}: connect failed")),
            "{err}"
        );
    }
}
