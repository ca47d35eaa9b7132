//! What a connection's client is built from, apart from the credentials: the spec's endpoint,
//! TLS settings and rate limit over the operator's defaults. Two connections with equal settings
//! could share nothing but would be built alike; a change of settings means a new client (a new
//! endpoint or trust is a new platform as far as caches go), while new credentials go into the
//! client in use.

use std::num::NonZeroU32;
use std::time::Duration;

use igz_mgmt::{Credentials, MgmtConfig, RateLimit};
use url::Url;

use crate::crd::PlatformConnectionSpec;

/// The operator's defaults for what a PlatformConnection leaves out (its flags).
#[derive(Clone, Debug)]
pub struct ClientDefaults {
    pub qps: u32,
    pub burst: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for ClientDefaults {
    fn default() -> Self {
        Self {
            qps: 50,
            burst: 100,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything a client is built from but the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    pub url: Url,
    pub ca_bundle: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub qps: u32,
    pub burst: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ClientSettings {
    /// The settings `spec` asks for. Admission has checked the URL already; a URL the client
    /// library still cannot use is refused here with the reason.
    pub fn of(spec: &PlatformConnectionSpec, defaults: &ClientDefaults) -> Result<Self, String> {
        let url = Url::parse(spec.url.trim())
            .map_err(|e| format!("spec.url {:?} cannot be used: {e}", spec.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "spec.url {:?} must be an http:// or https:// URL with a host",
                spec.url
            ));
        }
        let limit = spec.rate_limit.as_ref();
        Ok(Self {
            url,
            ca_bundle: spec.ca_bundle.clone(),
            insecure_skip_tls_verify: spec.insecure_skip_tls_verify,
            qps: limit.and_then(|l| l.qps).unwrap_or(defaults.qps).max(1),
            burst: limit.and_then(|l| l.burst).unwrap_or(defaults.burst).max(1),
            connect_timeout: defaults.connect_timeout,
            request_timeout: defaults.request_timeout,
        })
    }

    /// The client configuration for connection `name` with `credentials`.
    pub fn config(&self, name: &str, credentials: Credentials) -> MgmtConfig {
        let mut config = MgmtConfig::new(self.url.clone(), credentials);
        config.connection = name.to_owned();
        config.ca_bundle_pem = self.ca_bundle.as_ref().map(|pem| pem.as_bytes().to_vec());
        config.insecure_skip_tls_verify = self.insecure_skip_tls_verify;
        config.connect_timeout = self.connect_timeout;
        config.request_timeout = self.request_timeout;
        config.rate_limit = RateLimit {
            qps: f64::from(self.qps),
            burst: NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN),
        };
        config.user_agent = concat!("igz-operator/", env!("CARGO_PKG_VERSION")).to_owned();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ConnectionRateLimit, ConnectionSecretRef};

    fn spec(url: &str) -> PlatformConnectionSpec {
        PlatformConnectionSpec {
            url: url.into(),
            secret_ref: ConnectionSecretRef {
                name: "s".into(),
                namespace: None,
            },
            ca_bundle: None,
            insecure_skip_tls_verify: false,
            rate_limit: None,
        }
    }

    #[test]
    fn the_spec_wins_over_the_defaults_field_by_field() {
        let defaults = ClientDefaults::default();
        let plain = ClientSettings::of(&spec("https://dash.example"), &defaults).unwrap();
        assert_eq!((plain.qps, plain.burst), (50, 100));
        let mut limited = spec("https://dash.example");
        limited.rate_limit = Some(ConnectionRateLimit {
            qps: Some(5),
            burst: None,
        });
        let limited = ClientSettings::of(&limited, &defaults).unwrap();
        assert_eq!((limited.qps, limited.burst), (5, 100));
        assert_ne!(plain, limited, "a new rate limit is a new client");
    }

    #[test]
    fn the_config_carries_the_connection_name_and_tls_settings() {
        let mut s = spec("http://127.0.0.1:8470");
        s.ca_bundle = Some("-----BEGIN CERTIFICATE-----".into());
        let settings = ClientSettings::of(&s, &ClientDefaults::default()).unwrap();
        let config = settings.config(
            "prod",
            Credentials::AccessKey {
                username: None,
                key: "k".to_owned().into(),
            },
        );
        assert_eq!(config.connection, "prod");
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:8470/");
        assert!(config.ca_bundle_pem.is_some());
        assert_eq!(config.rate_limit.burst.get(), 100);
    }

    #[test]
    fn urls_the_client_cannot_use_are_refused_with_the_reason() {
        let defaults = ClientDefaults::default();
        assert!(
            ClientSettings::of(&spec("not a url"), &defaults)
                .unwrap_err()
                .contains("cannot be used")
        );
        assert!(ClientSettings::of(&spec("ftp://x.example"), &defaults).is_err());
    }
}
