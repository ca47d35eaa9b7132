//! Access keys as the vendor SDK's `AccessKey` resource models them: the key's id is the secret
//! itself, it belongs to one user, and it lives `ttl` seconds from its creation (`expires_at`, in
//! epoch seconds). An expired or revoked key is refused on every route, like an unknown one.
//!
//! Pure bookkeeping: the clock is an argument, so expiry is tested without waiting. Secrets are
//! only compared, never logged: `Debug` prints none.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The SDK's default `ttl`: ten years, in seconds.
pub const DEFAULT_TTL_SECONDS: u64 = 315_360_000;

/// The planes a key is good for when the request names none (the SDK's `SessionPlanes.all()`).
pub const ALL_PLANES: [&str; 2] = ["data", "control"];

/// One access key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The secret, which is also the resource id.
    pub key: String,
    /// The user the key acts as.
    pub owner: String,
    pub label: String,
    pub planes: Vec<String>,
    pub ttl: u64,
    pub created_at: Timestamp,
    /// Epoch seconds.
    pub expires_at: i64,
    /// Creation order, for stable listings.
    seq: u64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("key", &"<redacted>")
            .field("owner", &self.owner)
            .field("label", &self.label)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    pub fn expired(&self, now: Timestamp) -> bool {
        now.as_second() >= self.expires_at
    }
}

/// What a new key should look like; absent fields take the SDK's defaults.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub owner: String,
    /// The secret to use; a fresh uuid4 when absent.
    pub key: Option<String>,
    pub label: Option<String>,
    pub planes: Option<Vec<String>>,
    /// Seconds from creation; [`DEFAULT_TTL_SECONDS`] when absent.
    pub ttl: Option<u64>,
    /// Epoch seconds; wins over `ttl` (the admin routes use it to make a key that has expired).
    pub expires_at: Option<i64>,
}

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Invalid(String),
    Taken,
}

/// Every access key of the platform, by secret.
#[derive(Default)]
pub struct KeyStore {
    keys: HashMap<String, AccessKey>,
    next_seq: u64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The map is keyed by secret: list the keys' own (redacted) Debug instead.
        f.debug_list().entries(self.all()).finish()
    }
}

impl KeyStore {
    /// A store holding `keys`, owned by `owner`, with the default lifetime.
    pub fn with_keys<'a>(keys: impl IntoIterator<Item = &'a String>, owner: &str) -> Self {
        let mut store = Self::default();
        let now = Timestamp::now();
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
            // Duplicates in the configuration are harmless: the first one stays.
            let _ = store.issue(
                NewKey {
                    owner: owner.to_owned(),
                    key: Some(key.clone()),
                    ..NewKey::default()
                },
                now,
            );
        }
        store
    }

    /// The key with this secret when it may be used now (known, not expired).
    pub fn usable(&self, secret: &str, now: Timestamp) -> Option<&AccessKey> {
        self.keys.get(secret).filter(|k| !k.expired(now))
    }

    /// The key with this secret, expired or not.
    pub fn get(&self, secret: &str) -> Option<&AccessKey> {
        self.keys.get(secret)
    }

    /// Makes a key; validates everything before it stores anything.
    pub fn issue(&mut self, new: NewKey, now: Timestamp) -> Result<AccessKey, KeyError> {
        if new.owner.is_empty() {
            return Err(KeyError::Invalid("an access key needs an owner".into()));
        }
        let planes = match new.planes {
            Some(planes) if planes.is_empty() => {
                return Err(KeyError::Invalid("planes must not be empty".into()));
            }
            Some(planes) => {
                if let Some(bad) = planes.iter().find(|p| !ALL_PLANES.contains(&p.as_str())) {
                    return Err(KeyError::Invalid(format!(
                        "unknown plane {bad:?} (expected data or control)"
                    )));
                }
                planes
            }
            None => ALL_PLANES.iter().map(|p| (*p).to_owned()).collect(),
        };
        let ttl = new.ttl.unwrap_or(DEFAULT_TTL_SECONDS);
        if ttl == 0 || ttl > i64::MAX as u64 / 2 {
            return Err(KeyError::Invalid(
                "ttl must be a positive number of seconds".into(),
            ));
        }
        let key = match new.key {
            Some(key) if key.is_empty() => {
                return Err(KeyError::Invalid("the key must not be empty".into()));
            }
            Some(key) => key,
            None => Uuid::new_v4().to_string(),
        };
        if self.keys.contains_key(&key) {
            return Err(KeyError::Taken);
        }
        let expires_at = new
            .expires_at
            .unwrap_or_else(|| now.as_second().saturating_add(ttl as i64));
        self.next_seq += 1;
        let issued = AccessKey {
            key: key.clone(),
            owner: new.owner,
            label: new.label.unwrap_or_default(),
            planes,
            ttl,
            created_at: now,
            expires_at,
            seq: self.next_seq,
        };
        self.keys.insert(key, issued.clone());
        Ok(issued)
    }

    /// Removes a key; `false` when there was none.
    pub fn revoke(&mut self, secret: &str) -> bool {
        self.keys.remove(secret).is_some()
    }

    /// The keys of one user, oldest first (expired ones included: they still exist).
    pub fn owned_by(&self, owner: &str) -> Vec<&AccessKey> {
        let mut keys: Vec<&AccessKey> = self.keys.values().filter(|k| k.owner == owner).collect();
        keys.sort_by_key(|k| k.seq);
        keys
    }

    /// Every key, oldest first.
    pub fn all(&self) -> Vec<&AccessKey> {
        let mut keys: Vec<&AccessKey> = self.keys.values().collect();
        keys.sort_by_key(|k| k.seq);
        keys
    }

    /// The user's usable key with this label and exactly these planes (in any order).
    pub fn find_like(
        &self,
        owner: &str,
        label: &str,
        planes: &[String],
        now: Timestamp,
    ) -> Option<&AccessKey> {
        let mut wanted: Vec<&str> = planes.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        self.owned_by(owner).into_iter().find(|k| {
            let mut have: Vec<&str> = k.planes.iter().map(String::as_str).collect();
            have.sort_unstable();
            k.label == label && have == wanted && !k.expired(now)
        })
    }
}

/// `POST /__emulator/access_keys`: a key to issue. Everything is optional.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueAccessKey {
    /// The user the key acts as; `admin` (the owner of the start-up keys) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The secret to use; a fresh uuid4 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Lifetime in seconds from now (the SDK's `ttl`); ten years when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// Expiry in epoch seconds (the SDK's `expires_at`); wins over `ttl`. A past instant makes a
    /// key that is refused at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for IssueAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssueAccessKey")
            .field("username", &self.username)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("ttl", &self.ttl)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An access key as the admin routes report it (with its secret: these routes are for tests).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyInfo {
    pub key: String,
    pub username: String,
    pub label: String,
    pub ttl: u64,
    /// Epoch seconds.
    pub expires_at: i64,
    pub expired: bool,
}

impl std::fmt::Debug for AccessKeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyInfo")
            .field("key", &"<redacted>")
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

impl AccessKeyInfo {
    pub fn of(key: &AccessKey, now: Timestamp) -> Self {
        Self {
            key: key.key.clone(),
            username: key.owner.clone(),
            label: key.label.clone(),
            ttl: key.ttl,
            expires_at: key.expires_at,
            expired: key.expired(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn new(owner: &str) -> NewKey {
        NewKey {
            owner: owner.into(),
            ..NewKey::default()
        }
    }

    #[test]
    fn a_key_is_usable_until_it_expires_and_gone_once_revoked() {
        let mut store = KeyStore::default();
        let key = store
            .issue(
                NewKey {
                    ttl: Some(60),
                    ..new("alice")
                },
                at(1_000),
            )
            .unwrap();
        assert_eq!(key.expires_at, 1_060);
        assert_eq!(key.planes, ["data", "control"]);
        assert!(store.usable(&key.key, at(1_059)).is_some());
        assert!(store.usable(&key.key, at(1_060)).is_none(), "expired");
        assert!(store.get(&key.key).is_some(), "an expired key still exists");
        assert!(store.revoke(&key.key));
        assert!(!store.revoke(&key.key));
        assert!(store.usable(&key.key, at(1_000)).is_none());
    }

    #[test]
    fn explicit_expiry_wins_and_defaults_follow_the_sdk() {
        let mut store = KeyStore::default();
        let past = store
            .issue(
                NewKey {
                    expires_at: Some(10),
                    ttl: Some(600),
                    ..new("bob")
                },
                at(1_000),
            )
            .unwrap();
        assert!(store.usable(&past.key, at(1_000)).is_none());
        let default = store.issue(new("bob"), at(0)).unwrap();
        assert_eq!(default.ttl, DEFAULT_TTL_SECONDS);
        assert_eq!(default.expires_at, DEFAULT_TTL_SECONDS as i64);
        assert!(Uuid::parse_str(&default.key).is_ok());
    }

    #[test]
    fn bad_requests_store_nothing() {
        let mut store = KeyStore::default();
        for bad in [
            NewKey {
                ttl: Some(0),
                ..new("a")
            },
            NewKey {
                planes: Some(vec!["mgmt".into()]),
                ..new("a")
            },
            NewKey {
                planes: Some(vec![]),
                ..new("a")
            },
            NewKey {
                key: Some(String::new()),
                ..new("a")
            },
            new(""),
        ] {
            assert!(matches!(store.issue(bad, at(0)), Err(KeyError::Invalid(_))));
        }
        assert!(store.all().is_empty());
        let k = store
            .issue(
                NewKey {
                    key: Some("k".into()),
                    ..new("a")
                },
                at(0),
            )
            .unwrap();
        assert_eq!(
            store.issue(
                NewKey {
                    key: Some("k".into()),
                    ..new("b")
                },
                at(0)
            ),
            Err(KeyError::Taken)
        );
        assert_eq!(store.get("k").unwrap().owner, k.owner);
    }

    #[test]
    fn listings_are_per_owner_in_creation_order_and_find_like_matches_label_and_planes() {
        let mut store = KeyStore::default();
        let first = store.issue(new("a"), at(0)).unwrap();
        store.issue(new("b"), at(0)).unwrap();
        let control = store
            .issue(
                NewKey {
                    label: Some("sdk".into()),
                    planes: Some(vec!["control".into()]),
                    ..new("a")
                },
                at(0),
            )
            .unwrap();
        let owned: Vec<&str> = store.owned_by("a").iter().map(|k| k.key.as_str()).collect();
        assert_eq!(owned, [first.key.as_str(), control.key.as_str()]);
        assert_eq!(
            store
                .find_like("a", "sdk", &["control".into()], at(0))
                .map(|k| &k.key),
            Some(&control.key)
        );
        assert!(
            store
                .find_like("a", "sdk", &["data".into(), "control".into()], at(0))
                .is_none()
        );
        assert!(
            store
                .find_like("b", "sdk", &["control".into()], at(0))
                .is_none()
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let mut store = KeyStore::with_keys(&["s3cret-key-1".to_owned()], "admin");
        let issued = store.issue(new("a"), at(0)).unwrap();
        let text = format!(
            "{store:?} {:?} {:?}",
            AccessKeyInfo::of(&issued, at(0)),
            IssueAccessKey {
                key: Some("s3cret-key-2".into()),
                ..Default::default()
            }
        );
        assert!(
            !text.contains("s3cret-key") && !text.contains(&issued.key),
            "{text}"
        );
    }
}
