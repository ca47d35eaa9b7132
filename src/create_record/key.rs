//! The record key: the secret the operator seals its create records with.
//!
//! Kept in a Secret in the operator's own namespace, which people who write Groups cannot read.
//! The first operator to start creates it with 32 random bytes (a create that lost the race to
//! another replica reads the winner's), so every replica and every restart seals with the same
//! key. Rotation: put a new value under `key` and the old one under `previous` (still accepted
//! for records written before), then restart the operator; docs/architecture.md says how.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};

/// Name of the Secret holding the record key.
pub const KEY_SECRET: &str = "igz-operator-record-key";
/// Shortest key accepted (a hand-made key of fewer bytes is refused with a message).
const MIN_KEY_BYTES: usize = 16;

/// The key records are sealed with, and the previous one (still accepted when verifying).
#[derive(Clone)]
pub struct RecordKeys {
    current: SecretSlice<u8>,
    previous: Option<SecretSlice<u8>>,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKeys(redacted)")
    }
}

impl RecordKeys {
    /// A new random key (what the operator stores when the Secret does not exist yet).
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            current: key.into(),
            previous: None,
        }
    }

    pub(super) fn current(&self) -> &[u8] {
        self.current.expose_secret()
    }

    /// Every key a record may have been sealed with, current first.
    pub(super) fn all(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.current()).chain(self.previous.iter().map(|k| k.expose_secret()))
    }

    /// Reads the keys from the Secret in `namespace`, creating it when it does not exist.
    pub async fn load_or_create(client: &Client, namespace: &str) -> Result<Self, String> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for _ in 0..3 {
            match secrets.get_opt(KEY_SECRET).await {
                Ok(Some(secret)) => return Self::from_secret(&secret, namespace),
                Ok(None) => {}
                Err(e) => return Err(access_error(namespace, "read", &e)),
            }
            let generated = Self::generate();
            match secrets
                .create(&PostParams::default(), &generated.to_secret())
                .await
            {
                Ok(_) => {
                    tracing::info!(namespace, secret = KEY_SECRET, "created the record key");
                    return Ok(generated);
                }
                // Another replica created it meanwhile: read theirs.
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(e) => return Err(access_error(namespace, "create", &e)),
            }
        }
        Err(format!(
            "the record key Secret {namespace}/{KEY_SECRET} keeps appearing and disappearing"
        ))
    }

    pub(super) fn from_secret(secret: &Secret, namespace: &str) -> Result<Self, String> {
        let data = secret.data.clone().unwrap_or_default();
        let value = |name: &str| -> Result<Option<SecretSlice<u8>>, String> {
            match data.get(name) {
                None => Ok(None),
                Some(ByteString(bytes)) if bytes.len() >= MIN_KEY_BYTES => {
                    Ok(Some(bytes.clone().into()))
                }
                Some(_) => Err(format!(
                    "the record key Secret {namespace}/{KEY_SECRET} has a `{name}` shorter than \
                     {MIN_KEY_BYTES} bytes: put a longer random value there (or delete the Secret \
                     and restart the operator to have one made)"
                )),
            }
        };
        let current = value("key")?.ok_or_else(|| {
            format!(
                "the record key Secret {namespace}/{KEY_SECRET} has no `key`: add one (or delete \
                 the Secret and restart the operator to have one made)"
            )
        })?;
        Ok(Self {
            current,
            previous: value("previous")?,
        })
    }

    fn to_secret(&self) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(KEY_SECRET.to_owned()),
                labels: Some(
                    [(
                        "app.kubernetes.io/name".to_owned(),
                        "igz-operator".to_owned(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            data: Some([("key".to_owned(), ByteString(self.current().to_vec()))].into()),
            type_: Some("Opaque".to_owned()),
            ..Default::default()
        }
    }
}

fn access_error(namespace: &str, verb: &str, error: &kube::Error) -> String {
    let hint = match error {
        kube::Error::Api(status) if status.code == 404 => {
            format!(" (does namespace \"{namespace}\" exist? create it, or pass --namespace)")
        }
        kube::Error::Api(status) if status.code == 403 => format!(
            " (the operator needs get and create on Secrets in namespace \"{namespace}\": the chart's Role grants them)"
        ),
        _ => String::new(),
    };
    format!("cannot {verb} the record key Secret {namespace}/{KEY_SECRET}: {error}{hint}")
}
