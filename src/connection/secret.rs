//! A PlatformConnection's Secret read as credentials: keys `access-key` (with an optional
//! `username`), or `username` and `password`. Pure; every refusal says what to put in the Secret,
//! naming keys but never a value.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use secrecy::SecretString;

use crate::crd::{SECRET_KEY_ACCESS_KEY, SECRET_KEY_PASSWORD, SECRET_KEY_USERNAME};
use igz_mgmt::Credentials;

/// Why a Secret gives no credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretProblem {
    /// There is no such Secret (in the operator's namespace).
    Missing(String),
    /// The Secret holds no usable credentials.
    Invalid(String),
}

/// The credentials in `secret` (`namespace/name` names it in messages).
pub fn credentials(
    secret: Option<&Secret>,
    namespace: &str,
    name: &str,
) -> Result<Credentials, SecretProblem> {
    let at = format!("{namespace}/{name}");
    let Some(secret) = secret else {
        return Err(SecretProblem::Missing(format!(
            "Secret {at} does not exist: create it with the key {SECRET_KEY_ACCESS_KEY} (or the keys \
             {SECRET_KEY_USERNAME} and {SECRET_KEY_PASSWORD}), e.g. kubectl create secret generic \
             {name} -n {namespace} --from-file={SECRET_KEY_ACCESS_KEY}=./access-key"
        )));
    };
    let empty = BTreeMap::new();
    let data = secret.data.as_ref().unwrap_or(&empty);
    let value = |key: &str| -> Result<Option<String>, SecretProblem> {
        let Some(ByteString(bytes)) = data.get(key) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes).map_err(|_| {
            SecretProblem::Invalid(format!("key {key} of Secret {at} is not UTF-8 text"))
        })?;
        // Files written by editors and `echo` end with a newline that is no part of the value.
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretProblem::Invalid(format!(
                "key {key} of Secret {at} is empty: put the value in it, or remove the key"
            )));
        }
        Ok(Some(text.to_owned()))
    };
    let key = value(SECRET_KEY_ACCESS_KEY)?;
    let username = value(SECRET_KEY_USERNAME)?;
    let password = value(SECRET_KEY_PASSWORD)?;
    match (key, username, password) {
        (Some(_), _, Some(_)) => Err(SecretProblem::Invalid(format!(
            "Secret {at} holds both {SECRET_KEY_ACCESS_KEY} and {SECRET_KEY_PASSWORD}: keep one \
             (an access key, optionally with {SECRET_KEY_USERNAME}; or {SECRET_KEY_USERNAME} and \
             {SECRET_KEY_PASSWORD})"
        ))),
        (Some(key), username, None) => Ok(Credentials::AccessKey {
            username,
            key: SecretString::from(key),
        }),
        (None, Some(username), Some(password)) => Ok(Credentials::Login {
            username,
            password: SecretString::from(password),
        }),
        (None, None, Some(_)) => Err(SecretProblem::Invalid(format!(
            "Secret {at} holds {SECRET_KEY_PASSWORD} without {SECRET_KEY_USERNAME}: add the key \
             {SECRET_KEY_USERNAME}"
        ))),
        (None, _, None) => {
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            let has = if keys.is_empty() {
                "no keys".to_owned()
            } else {
                format!("the keys {}", keys.join(", "))
            };
            Err(SecretProblem::Invalid(format!(
                "Secret {at} has {has}, but no {SECRET_KEY_ACCESS_KEY} (nor {SECRET_KEY_USERNAME} \
                 and {SECRET_KEY_PASSWORD}): put the access key under the key {SECRET_KEY_ACCESS_KEY}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn invalid(s: &Secret) -> String {
        match credentials(Some(s), "igz-system", "prod") {
            Err(SecretProblem::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn an_access_key_is_trimmed_and_may_carry_a_username() {
        let Credentials::AccessKey { username, key } =
            credentials(Some(&secret(&[("access-key", b"k-123\n")])), "ns", "s").unwrap()
        else {
            panic!("an access key")
        };
        assert_eq!((username, key.expose_secret()), (None, "k-123"));
        let Credentials::AccessKey { username, .. } = credentials(
            Some(&secret(&[("access-key", b"k"), ("username", b"admin")])),
            "ns",
            "s",
        )
        .unwrap() else {
            panic!("an access key")
        };
        assert_eq!(username.as_deref(), Some("admin"));
    }

    #[test]
    fn username_and_password_log_in() {
        let creds = credentials(
            Some(&secret(&[("username", b"admin"), ("password", b"pw\n")])),
            "ns",
            "s",
        )
        .unwrap();
        let Credentials::Login { username, password } = creds else {
            panic!("a login")
        };
        assert_eq!(
            (username.as_str(), password.expose_secret()),
            ("admin", "pw")
        );
    }

    #[test]
    fn a_missing_secret_says_how_to_create_it() {
        let Err(SecretProblem::Missing(m)) = credentials(None, "igz-system", "prod") else {
            panic!("missing")
        };
        assert!(m.contains("igz-system/prod does not exist"), "{m}");
        assert!(
            m.contains("kubectl create secret generic prod -n igz-system"),
            "{m}"
        );
    }

    #[test]
    fn a_wrong_key_name_lists_the_keys_found_and_the_one_wanted() {
        let m = invalid(&secret(&[("accessKey", b"sekrit")]));
        assert!(m.contains("has the keys accessKey"), "{m}");
        assert!(m.contains("under the key access-key"), "{m}");
        assert!(!m.contains("sekrit"), "never a value: {m}");
        let m = invalid(&secret(&[]));
        assert!(m.contains("has no keys"), "{m}");
    }

    #[test]
    fn empty_values_and_ambiguous_secrets_are_refused() {
        assert!(
            invalid(&secret(&[("access-key", b" \n")]))
                .contains("key access-key of Secret igz-system/prod is empty")
        );
        assert!(
            invalid(&secret(&[("access-key", b"k"), ("username", b"")])).contains("key username")
        );
        assert!(invalid(&secret(&[("access-key", b"k"), ("password", b"p")])).contains("both"));
        assert!(invalid(&secret(&[("password", b"p")])).contains("without username"));
        assert!(invalid(&secret(&[("access-key", &[0xff, 0xfe])])).contains("not UTF-8"));
    }
}
