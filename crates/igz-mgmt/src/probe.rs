//! The connection probe: one round of cheap requests telling who the credentials act as, the
//! platform's version and when the access key expires, for a health report.
//!
//! Only the session check decides whether the probe fails. The version and the key's expiry are
//! extras some platforms do not tell (a 404, a 403 for a user who may not read access keys):
//! they are then `None`. A refusal of the credentials (401) is never `None`, though: it fails the
//! probe, as everywhere in this client.

use jiff::Timestamp;
use secrecy::ExposeSecret as _;

use super::client::MgmtClient;
use super::config::Credentials;
use super::error::MgmtError;
use super::jsonapi::{Document, KeepNone, Resource};
use super::model::{AccessKeyAttributes, PlatformIdentity, VersionAttributes};
use super::routes;
use super::transport::Request;

/// The nodes whose version service the vendor SDK asks, in order.
const VERSION_NODES: [&str; 3] = ["igz0", "igz1", "igz2"];

impl MgmtClient {
    /// Who the credentials in use act as (username, tenant), the platform version when the
    /// platform tells it, and when the access key expires when it tells that. Costs the session
    /// check, one version request per node until one answers (three at most), and one list of
    /// the user's access keys (access keys only).
    pub async fn probe(&self) -> Result<PlatformIdentity, MgmtError> {
        // The credentials the answers are about (a replacement during the probe is not mixed in
        // the expiry lookup; the next probe sees it).
        let credentials = self.inner.transport.auth().credentials();
        let session = self.verify().await?;
        let (version, expiry) = futures::join!(
            self.platform_version(),
            self.credentials_expiry(&credentials)
        );
        Ok(PlatformIdentity {
            username: session.username,
            tenant_id: session.tenant_id,
            platform_version: version?,
            credentials_expire: expiry?,
        })
    }

    /// The version the first node that tells it reports (`GET /api/tunnel/...`, as the SDK does).
    async fn platform_version(&self) -> Result<Option<String>, MgmtError> {
        for node in VERSION_NODES {
            let tunnel = format!("{node}.version.0");
            let req = Request::get(routes::VERSION, &[&tunnel, node]);
            match self
                .fetch::<Document<Resource<VersionAttributes>, KeepNone>>(req)
                .await
            {
                Ok(doc) => {
                    let version = doc.data.attributes.external.trim();
                    if !version.is_empty() {
                        return Ok(Some(version.to_owned()));
                    }
                }
                Err(e) => optional("platform version", e)?,
            }
        }
        Ok(None)
    }

    /// When the access key in use expires: its `expires_at` in the user's list of access keys.
    /// The key is found by comparing ids here (the id of an access key is the key), so the
    /// secret never goes into a URL.
    async fn credentials_expiry(
        &self,
        credentials: &Credentials,
    ) -> Result<Option<Timestamp>, MgmtError> {
        let Credentials::AccessKey { key, .. } = credentials else {
            return Ok(None);
        };
        let listing = match self
            .list_all::<AccessKeyAttributes, KeepNone>(routes::ACCESS_KEYS, &[])
            .await
        {
            Ok(listing) => listing,
            Err(e) => {
                optional("access key expiry", e)?;
                return Ok(None);
            }
        };
        let secret = key.expose_secret();
        Ok(listing
            .items
            .iter()
            .find(|k| k.id == secret)
            .and_then(|k| key_expiry(&k.attributes)))
    }
}

/// A failure of an optional lookup: a refusal of the credentials fails the probe, anything else
/// means "not told".
fn optional(what: &str, e: MgmtError) -> Result<(), MgmtError> {
    if e.status() == Some(401) {
        return Err(e);
    }
    tracing::debug!(error = %e, "the platform does not tell the {what}");
    Ok(())
}

/// When a key expires: `expires_at` (epoch seconds as the SDK models it; milliseconds and RFC
/// 3339 text are read too), else `created_at` + `ttl`. Zero or nothing: not told.
fn key_expiry(attrs: &AccessKeyAttributes) -> Option<Timestamp> {
    instant(&attrs.expires_at).or_else(|| {
        let created = instant(&attrs.created_at)?;
        let ttl = number(&attrs.ttl).filter(|ttl| *ttl > 0)?;
        created
            .checked_add(jiff::SignedDuration::from_secs(ttl))
            .ok()
    })
}

fn number(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Epoch seconds (or milliseconds, when too large to be seconds) or RFC 3339 text.
fn instant(value: &serde_json::Value) -> Option<Timestamp> {
    if let Some(n) = number(value) {
        if n <= 0 {
            return None;
        }
        // 10^11 seconds is the year 5138: larger values are milliseconds.
        return if n >= 100_000_000_000 {
            Timestamp::from_millisecond(n).ok()
        } else {
            Timestamp::from_second(n).ok()
        };
    }
    value.as_str()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(value: serde_json::Value) -> AccessKeyAttributes {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn expiry_is_read_the_way_platforms_write_it() {
        let at = |s: i64| Some(Timestamp::from_second(s).unwrap());
        assert_eq!(
            key_expiry(&attrs(json!({"expires_at": 1_900_000_000}))),
            at(1_900_000_000)
        );
        assert_eq!(
            key_expiry(&attrs(json!({"expires_at": 1_900_000_000_000i64}))),
            at(1_900_000_000)
        );
        assert_eq!(
            key_expiry(&attrs(json!({"expires_at": "1900000000"}))),
            at(1_900_000_000)
        );
        assert_eq!(
            key_expiry(&attrs(json!({"expires_at": "2030-03-17T17:46:40Z"}))),
            at(1_900_000_000)
        );
        // No expires_at: created_at + ttl.
        assert_eq!(
            key_expiry(&attrs(
                json!({"expires_at": 0, "created_at": "2030-03-17T17:46:40Z", "ttl": 60})
            )),
            at(1_900_000_060)
        );
        for untold in [
            json!({}),
            json!({"expires_at": 0}),
            json!({"expires_at": null, "ttl": 60}),
            json!({"expires_at": "soon"}),
            json!({"created_at": "2030-03-17T17:46:40Z", "ttl": 0}),
        ] {
            assert_eq!(key_expiry(&attrs(untold.clone())), None, "{untold}");
        }
    }
}
