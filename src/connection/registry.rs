//! The registry: one client per connection, for the Group driver to ask for by name.
//!
//! Each PlatformConnection gets its own `MgmtClient` (its own rate limit, circuit breaker and
//! login session) built from its spec and Secret. New credentials go into the client in use
//! (`replace_credentials`: requests in flight finish, a request refused with the old ones is
//! retried once with the new); a new endpoint, trust or rate limit builds a new client. Each
//! client comes with a slot of the caller's type `P` (the platform picture of that platform),
//! made by a factory when the client is built and dropped with it.
//!
//! Without a PlatformConnection named `default`, the client the operator's flags describe (if
//! any) serves as the connection `default`: installs from before connections keep working.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt as _};
use igz_mgmt::{Credentials, MgmtClient, MgmtConfig, Observer};
use tokio::sync::{broadcast, watch};

use super::health::Health;
use super::settings::ClientSettings;
use crate::crd::{ConnectionReason, DEFAULT_CONNECTION};

/// One connection's client and what belongs to it.
pub struct Connection<P> {
    name: String,
    client: MgmtClient,
    picture: P,
}

impl<P> Connection<P> {
    /// The connection's name (the PlatformConnection's, or `default`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client of this connection's platform. Clones share its rate limit, breaker and
    /// credentials.
    pub fn client(&self) -> &MgmtClient {
        &self.client
    }

    /// What the caller keeps per client (the platform picture), made when the client was built.
    pub fn picture(&self) -> &P {
        &self.picture
    }
}

impl<P> std::fmt::Debug for Connection<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("endpoint", &self.client.endpoint().as_str())
            .finish_non_exhaustive()
    }
}

/// Why a connection cannot be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnavailableReason {
    /// No PlatformConnection has this name (and it is not the flags' built-in `default`).
    ConnectionNotFound,
    /// The connection exists but cannot be used: its Ready reason.
    NotReady(ConnectionReason),
}

impl UnavailableReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnavailableReason::ConnectionNotFound => "ConnectionNotFound",
            UnavailableReason::NotReady(reason) => reason.as_str(),
        }
    }
}

/// A connection that cannot be used now, with a sentence saying what to fix (it names the
/// connection, and its Secret when that is the problem; never a credential).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectionUnavailable {
    pub reason: UnavailableReason,
    pub message: String,
}

impl ConnectionUnavailable {
    pub fn not_ready(reason: ConnectionReason, message: impl Into<String>) -> Self {
        Self {
            reason: UnavailableReason::NotReady(reason),
            message: message.into(),
        }
    }
}

/// What a connection should be now, as its spec and Secret say.
pub enum Desired {
    Usable {
        settings: ClientSettings,
        credentials: Credentials,
        /// resourceVersion of the Secret the credentials come from.
        secret_version: String,
    },
    Unusable(ConnectionUnavailable),
}

/// What the controller needs to know of one connection.
pub struct EntryView<P> {
    /// Bumped whenever the client or its credentials change: a probe says something only
    /// about the generation it was made with.
    pub generation: u64,
    pub connection: Option<Arc<Connection<P>>>,
    pub problem: Option<ConnectionUnavailable>,
    pub secret_version: Option<String>,
    pub health: Health,
}

impl<P> Clone for EntryView<P> {
    fn clone(&self) -> Self {
        Self {
            generation: self.generation,
            connection: self.connection.clone(),
            problem: self.problem.clone(),
            secret_version: self.secret_version.clone(),
            health: self.health.clone(),
        }
    }
}

struct Entry<P> {
    settings: Option<ClientSettings>,
    credentials: Option<Credentials>,
    view: EntryView<P>,
}

/// Makes the per-client slot (see [`Connection::picture`]).
pub type PictureFactory<P> = Arc<dyn Fn(&str, &MgmtClient) -> P + Send + Sync>;

/// Adjusts every client's configuration before it is built: metrics observer, and in tests
/// faster retries.
pub type ConfigTuner = Arc<dyn Fn(&mut MgmtConfig) + Send + Sync>;

/// The connections by name.
pub struct Registry<P> {
    entries: RwLock<HashMap<String, Entry<P>>>,
    /// The flags' connection, serving as `default` while no PlatformConnection has that name.
    builtin: Option<(Arc<Connection<P>>, RwLock<Health>)>,
    picture: PictureFactory<P>,
    tune: ConfigTuner,
    observer: Observer,
    /// Names of connections that may work again (new credentials or client, or a probe that
    /// succeeded after a failure).
    recovered: broadcast::Sender<String>,
    ready: watch::Sender<bool>,
    generations: std::sync::atomic::AtomicU64,
}

/// The result of bringing one connection in line with what it should be.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Anything a status or a probe depends on changed.
    pub changed: bool,
}

impl<P: Send + Sync + 'static> Registry<P> {
    /// An empty registry. `picture` makes the slot of each client as it is built; `observer`
    /// is told of every request of every client (the metrics).
    pub fn new(
        picture: impl Fn(&str, &MgmtClient) -> P + Send + Sync + 'static,
        observer: Observer,
    ) -> Self {
        Self {
            entries: RwLock::default(),
            builtin: None,
            picture: Arc::new(picture),
            tune: Arc::new(|_| {}),
            observer,
            recovered: broadcast::channel(256).0,
            ready: watch::channel(false).0,
            generations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Serves `client` as the connection `default` while no PlatformConnection has that name.
    pub fn with_builtin_default(mut self, client: MgmtClient) -> Self {
        let picture = (self.picture)(DEFAULT_CONNECTION, &client);
        let connection = Arc::new(Connection {
            name: DEFAULT_CONNECTION.to_owned(),
            client,
            picture,
        });
        self.builtin = Some((connection, RwLock::new(Health::Unknown)));
        self
    }

    /// Every client's configuration goes through `tune` before it is built.
    pub fn with_config_tuner(
        mut self,
        tune: impl Fn(&mut MgmtConfig) + Send + Sync + 'static,
    ) -> Self {
        self.tune = Arc::new(tune);
        self
    }

    /// The connection named `name`, once the connections and their Secrets have been read
    /// (before that it waits: a Group judged from a half-read cache could be sent to the
    /// built-in default by mistake).
    ///
    /// Refused when no such connection exists, when its Secret or spec gives no usable client,
    /// and when the platform refused its current credentials at the last probe (a Group then
    /// writes nothing; the `recoveries` stream names the connection as soon as new credentials
    /// are in).
    pub async fn get(&self, name: &str) -> Result<Arc<Connection<P>>, ConnectionUnavailable> {
        if !self.wait_until_ready().await {
            return Err(ConnectionUnavailable {
                reason: UnavailableReason::ConnectionNotFound,
                message: "the operator cannot read PlatformConnections (it is shutting down?)"
                    .into(),
            });
        }
        self.try_get(name)
    }

    /// Like [`Registry::get`], without waiting for the first read.
    pub fn try_get(&self, name: &str) -> Result<Arc<Connection<P>>, ConnectionUnavailable> {
        let entries = self.entries.read().expect("registry lock");
        if let Some(entry) = entries.get(name) {
            let view = &entry.view;
            if let Some(problem) = &view.problem {
                return Err(ConnectionUnavailable {
                    reason: problem.reason,
                    message: format!("PlatformConnection {name}: {}", problem.message),
                });
            }
            if let Health::Failed { reason, message } = &view.health
                && view.health.rejects_credentials()
            {
                return Err(ConnectionUnavailable::not_ready(
                    *reason,
                    format!("PlatformConnection {name}: {message}"),
                ));
            }
            return view.connection.clone().ok_or_else(|| {
                ConnectionUnavailable::not_ready(
                    ConnectionReason::InvalidSpec,
                    format!("PlatformConnection {name} has no client yet"),
                )
            });
        }
        if name == DEFAULT_CONNECTION
            && let Some((connection, health)) = &self.builtin
        {
            let health = health.read().expect("registry lock");
            if let Health::Failed { reason, message } = &*health
                && health.rejects_credentials()
            {
                return Err(ConnectionUnavailable::not_ready(
                    *reason,
                    format!("the operator's own credentials (its flags): {message}"),
                ));
            }
            return Ok(connection.clone());
        }
        Err(ConnectionUnavailable {
            reason: UnavailableReason::ConnectionNotFound,
            message: format!(
                "there is no PlatformConnection named {name}: create it, or name an existing \
                 one in spec.connection (kubectl get platformconnections)"
            ),
        })
    }

    /// Names of the connections that may work again: each time one gets new credentials or a
    /// new client, or its probe succeeds after a failure. The Group driver retries at once the
    /// Groups that failed on it, rather than at the end of their backoff. A receiver that falls
    /// behind gets every known name.
    pub fn recoveries(self: &Arc<Self>) -> impl Stream<Item = String> + Send + use<P> {
        let registry = self.clone();
        let rx = self.recovered.subscribe();
        futures::stream::unfold((rx, registry), |(mut rx, registry)| async move {
            let names = match rx.recv().await {
                Ok(name) => vec![name],
                Err(broadcast::error::RecvError::Lagged(_)) => registry.names(),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((names, (rx, registry)))
        })
        .flat_map(futures::stream::iter)
    }

    /// Waits until the connections and their Secrets have been read once.
    pub async fn wait_until_ready(&self) -> bool {
        self.ready.subscribe().wait_for(|r| *r).await.is_ok()
    }

    /// Names of every connection (the built-in `default` included while it serves).
    pub fn names(&self) -> Vec<String> {
        let entries = self.entries.read().expect("registry lock");
        let mut names: Vec<String> = entries.keys().cloned().collect();
        if self.builtin.is_some() && !entries.contains_key(DEFAULT_CONNECTION) {
            names.push(DEFAULT_CONNECTION.to_owned());
        }
        names.sort();
        names
    }

    /// The flags' built-in `default`, when there is one.
    pub fn builtin(&self) -> Option<Arc<Connection<P>>> {
        self.builtin.as_ref().map(|(c, _)| c.clone())
    }

    /// Whether the built-in `default` serves now (no PlatformConnection named default).
    pub fn builtin_serves(&self) -> bool {
        self.builtin.is_some()
            && !self
                .entries
                .read()
                .expect("registry lock")
                .contains_key(DEFAULT_CONNECTION)
    }

    pub(crate) fn mark_ready(&self) {
        self.ready.send_replace(true);
    }

    pub(crate) fn view(&self, name: &str) -> Option<EntryView<P>> {
        let entries = self.entries.read().expect("registry lock");
        entries.get(name).map(|e| e.view.clone())
    }

    /// Names of the PlatformConnections known.
    pub(crate) fn resource_names(&self) -> Vec<String> {
        let entries = self.entries.read().expect("registry lock");
        entries.keys().cloned().collect()
    }

    /// Brings connection `name` in line with `desired`.
    pub(crate) fn apply(&self, name: &str, desired: Desired) -> Applied {
        let mut entries = self.entries.write().expect("registry lock");
        let entry = entries.entry(name.to_owned()).or_insert_with(|| Entry {
            settings: None,
            credentials: None,
            view: EntryView {
                generation: 0,
                connection: None,
                problem: None,
                secret_version: None,
                health: Health::Unknown,
            },
        });
        let before = (
            entry.view.generation,
            entry.view.problem.clone(),
            entry.view.secret_version.clone(),
        );
        match desired {
            Desired::Unusable(problem) => {
                // No usable client: the old one goes too (its credentials came from a Secret
                // that is gone or wrong now), and a fixed Secret builds afresh.
                if entry.view.connection.is_some() || entry.settings.is_some() {
                    entry.view.generation = self.next_generation();
                }
                entry.settings = None;
                entry.credentials = None;
                entry.view.connection = None;
                entry.view.secret_version = None;
                entry.view.health = Health::Unknown;
                entry.view.problem = Some(problem);
            }
            Desired::Usable {
                settings,
                credentials,
                secret_version,
            } => {
                entry.view.secret_version = Some(secret_version);
                let same_client =
                    entry.settings.as_ref() == Some(&settings) && entry.view.connection.is_some();
                if same_client {
                    let same_credentials = entry
                        .credentials
                        .as_ref()
                        .is_some_and(|c| c.same_as(&credentials));
                    if same_credentials {
                        // The credentials the client has are the Secret's again.
                        entry.view.problem = None;
                    } else {
                        let connection = entry.view.connection.clone().expect("same client");
                        match connection.client.replace_credentials(credentials.clone()) {
                            Ok(()) => {
                                entry.credentials = Some(credentials);
                                entry.view.problem = None;
                                entry.view.health = Health::Unknown;
                                entry.view.generation = self.next_generation();
                                let _ = self.recovered.send(name.to_owned());
                            }
                            Err(e) => {
                                entry.view.problem = Some(ConnectionUnavailable::not_ready(
                                    ConnectionReason::SecretInvalid,
                                    format!("the credentials in its Secret cannot be used: {e}"),
                                ));
                            }
                        }
                    }
                } else {
                    let mut config = settings.config(name, credentials.clone());
                    config.observer = self.observer.clone();
                    (self.tune)(&mut config);
                    match MgmtClient::new(config) {
                        Ok(client) => {
                            let picture = (self.picture)(name, &client);
                            entry.view.connection = Some(Arc::new(Connection {
                                name: name.to_owned(),
                                client,
                                picture,
                            }));
                            entry.settings = Some(settings);
                            entry.credentials = Some(credentials);
                            entry.view.problem = None;
                            entry.view.health = Health::Unknown;
                            entry.view.generation = self.next_generation();
                            let _ = self.recovered.send(name.to_owned());
                        }
                        Err(e) => {
                            let reason = match super::health::reason_of(e.health()) {
                                ConnectionReason::TlsError => ConnectionReason::TlsError,
                                _ => ConnectionReason::InvalidSpec,
                            };
                            entry.settings = None;
                            entry.credentials = None;
                            entry.view.connection = None;
                            entry.view.health = Health::Unknown;
                            entry.view.generation = self.next_generation();
                            entry.view.problem = Some(ConnectionUnavailable::not_ready(
                                reason,
                                format!("the client cannot be built from the spec: {e}"),
                            ));
                        }
                    }
                }
            }
        }
        let after = (
            entry.view.generation,
            entry.view.problem.clone(),
            entry.view.secret_version.clone(),
        );
        Applied {
            changed: before != after,
        }
    }

    /// Forgets connection `name` (its PlatformConnection is gone). Returns whether it was known.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let removed = self
            .entries
            .write()
            .expect("registry lock")
            .remove(name)
            .is_some();
        if removed && name == DEFAULT_CONNECTION && self.builtin.is_some() {
            // The built-in default serves again.
            let _ = self.recovered.send(name.to_owned());
        }
        removed
    }

    /// Records a probe of `name` made at `generation`; stale probes (the client or credentials
    /// changed meanwhile) are dropped. Returns false for a stale probe.
    pub(crate) fn set_health(&self, name: &str, generation: u64, health: Health) -> bool {
        let mut entries = self.entries.write().expect("registry lock");
        let Some(entry) = entries.get_mut(name) else {
            return false;
        };
        if entry.view.generation != generation {
            return false;
        }
        let was_failing = matches!(entry.view.health, Health::Failed { .. });
        if was_failing && health.is_connected() {
            let _ = self.recovered.send(name.to_owned());
        }
        entry.view.health = health;
        true
    }

    /// Records a probe of the built-in `default`.
    pub(crate) fn set_builtin_health(&self, health: Health) {
        if let Some((_, current)) = &self.builtin {
            let mut current = current.write().expect("registry lock");
            if matches!(*current, Health::Failed { .. }) && health.is_connected() {
                let _ = self.recovered.send(DEFAULT_CONNECTION.to_owned());
            }
            *current = health;
        }
    }

    fn next_generation(&self) -> u64 {
        self.generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::health::Identity;
    use crate::connection::settings::ClientDefaults;
    use crate::crd::{ConnectionSecretRef, PlatformConnectionSpec};
    use futures::StreamExt;

    fn settings(url: &str) -> ClientSettings {
        let spec = PlatformConnectionSpec {
            url: url.into(),
            secret_ref: ConnectionSecretRef {
                name: "s".into(),
                namespace: None,
            },
            ca_bundle: None,
            insecure_skip_tls_verify: false,
            rate_limit: None,
        };
        ClientSettings::of(&spec, &ClientDefaults::default()).unwrap()
    }

    fn key(k: &str) -> Credentials {
        Credentials::AccessKey {
            username: None,
            key: k.to_owned().into(),
        }
    }

    fn usable(url: &str, k: &str, version: &str) -> Desired {
        Desired::Usable {
            settings: settings(url),
            credentials: key(k),
            secret_version: version.into(),
        }
    }

    /// A registry whose pictures count how many clients were built.
    fn registry() -> Arc<Registry<usize>> {
        let built = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Arc::new(Registry::new(
            move |_, _| built.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            Observer::default(),
        ))
    }

    #[tokio::test]
    async fn new_credentials_go_into_the_client_in_use_and_a_new_url_builds_a_new_one() {
        let r = registry();
        let mut recoveries = Box::pin(r.recoveries());
        assert!(
            r.apply("prod", usable("http://127.0.0.1:1", "a", "1"))
                .changed
        );
        let first = r.try_get("prod").unwrap();
        assert_eq!(*first.picture(), 1);
        assert_eq!(recoveries.next().await.as_deref(), Some("prod"));
        let generation = r.view("prod").unwrap().generation;

        // Same Secret content under a new resourceVersion: the status says so, nothing else.
        assert!(
            r.apply("prod", usable("http://127.0.0.1:1", "a", "2"))
                .changed
        );
        assert_eq!(r.view("prod").unwrap().generation, generation);

        // Rotated: same client, new generation (a probe is due), named as recovered.
        assert!(
            r.apply("prod", usable("http://127.0.0.1:1", "b", "3"))
                .changed
        );
        let rotated = r.try_get("prod").unwrap();
        assert!(Arc::ptr_eq(&first, &rotated), "the client in use");
        assert!(r.view("prod").unwrap().generation > generation);
        assert_eq!(recoveries.next().await.as_deref(), Some("prod"));

        // Moved: a new client and a new picture.
        r.apply("prod", usable("http://127.0.0.1:2", "b", "3"));
        let moved = r.try_get("prod").unwrap();
        assert!(!Arc::ptr_eq(&first, &moved));
        assert_eq!(*moved.picture(), 2);
        assert_eq!(moved.client().endpoint().as_str(), "http://127.0.0.1:2/");
    }

    #[tokio::test]
    async fn unusable_connections_and_refused_credentials_are_refused_with_the_reason() {
        let r = registry();
        let missing =
            ConnectionUnavailable::not_ready(ConnectionReason::SecretMissing, "no Secret");
        r.apply("prod", Desired::Unusable(missing));
        let err = r.try_get("prod").unwrap_err();
        assert_eq!(err.reason.as_str(), "SecretMissing");
        assert_eq!(err.message, "PlatformConnection prod: no Secret");

        r.apply("prod", usable("http://127.0.0.1:1", "a", "1"));
        let generation = r.view("prod").unwrap().generation;
        let refused = Health::Failed {
            reason: ConnectionReason::CredentialsInvalid,
            message: "refused".into(),
        };
        assert!(r.set_health("prod", generation, refused));
        let err = r.try_get("prod").unwrap_err();
        assert_eq!(err.reason.as_str(), "CredentialsInvalid");
        assert!(
            err.message.contains("PlatformConnection prod"),
            "{}",
            err.message
        );

        // A stale probe cannot undo newer credentials.
        r.apply("prod", usable("http://127.0.0.1:1", "b", "2"));
        assert!(
            r.try_get("prod").is_ok(),
            "new credentials get their chance"
        );
        let stale = Health::Failed {
            reason: ConnectionReason::CredentialsInvalid,
            message: "old".into(),
        };
        assert!(!r.set_health("prod", generation, stale));
        assert!(r.try_get("prod").is_ok());
    }

    #[tokio::test]
    async fn the_builtin_default_serves_until_a_platform_connection_named_default_exists() {
        let client =
            MgmtClient::new(settings("http://127.0.0.1:9").config("default", key("flag"))).unwrap();
        let r =
            Arc::new(Registry::new(|_, _| (), Observer::default()).with_builtin_default(client));
        assert!(r.builtin_serves());
        assert_eq!(
            r.try_get("default").unwrap().client().endpoint().port(),
            Some(9)
        );
        assert_eq!(
            r.try_get("prod").unwrap_err().reason,
            UnavailableReason::ConnectionNotFound
        );
        r.apply("default", usable("http://127.0.0.1:1", "a", "1"));
        assert!(!r.builtin_serves());
        assert_eq!(
            r.try_get("default").unwrap().client().endpoint().port(),
            Some(1)
        );
        assert!(r.remove("default"));
        assert_eq!(
            r.try_get("default").unwrap().client().endpoint().port(),
            Some(9)
        );
        r.set_builtin_health(Health::Failed {
            reason: ConnectionReason::CredentialsInvalid,
            message: "refused".into(),
        });
        assert!(r.try_get("default").is_err());
        r.set_builtin_health(Health::Connected(Identity {
            user: "u".into(),
            tenant: "t".into(),
            platform_version: None,
            credentials_expire: None,
        }));
        assert!(r.try_get("default").is_ok());
    }

    #[tokio::test]
    async fn get_waits_for_the_first_read() {
        let r = registry();
        r.apply("prod", usable("http://127.0.0.1:1", "a", "1"));
        let waiting = tokio::spawn({
            let r = r.clone();
            async move { r.get("prod").await.map(|c| c.name().to_owned()) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        r.mark_ready();
        assert_eq!(waiting.await.unwrap().unwrap(), "prod");
    }
}
