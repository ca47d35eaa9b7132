//! Wire types of the admin routes that change how the platform behaves at run time (login
//! sessions, the version it tells, revoking a key), shared with the test kit's admin client.

use serde::{Deserialize, Serialize};

/// `GET`/`PUT /__emulator/sessions`: how long login sessions last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Milliseconds a login session lasts, those already started included; none: until the next
    /// reset. A request on an ended session gets 401.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// `POST /__emulator/sessions/expire`: how many login sessions were ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsExpired {
    pub expired: usize,
}

/// `GET`/`PUT /__emulator/version`: what the version route reports; none: it answers 404.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformVersion {
    #[serde(default)]
    pub version: Option<String>,
}

/// `POST /__emulator/access_keys/revoke`: the key to revoke. In the body, not the path: the key
/// is a secret and paths end up in logs.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeAccessKey {
    pub key: String,
}

impl std::fmt::Debug for RevokeAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevokeAccessKey { key: <redacted> }")
    }
}
