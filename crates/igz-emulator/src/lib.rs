//! `igz-emulator`: the Iguazio management API as the vendor's SDK sees it, in memory, with fault
//! injection and request accounting for tests.
//!
//! Start it in-process with [`spawn`] (tests bind `127.0.0.1:0`) or run the `igz-emulator`
//! binary. Admin routes live under `/__emulator/` (faults, stats, reset, state, access keys,
//! login sessions, platform version) and are never subject to faults or authentication.

mod auth;
mod faults;
mod jsonapi;
mod keys;
pub mod model;
mod query;
mod render;
mod routes;
mod seed;
mod server;
mod settings;
mod state;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

pub use faults::{Fault, Faults, FaultsPatch, ScriptedFault};
pub use keys::{AccessKeyInfo, DEFAULT_TTL_SECONDS, IssueAccessKey};
pub use seed::{Seed, SeedGroup, SeedProject, SeedUser};
pub use server::RunningEmulator;
pub use settings::{PlatformVersion, RevokeAccessKey, SessionSettings, SessionsExpired};
pub use state::StateReport;
pub use stats::{FaultCounts, StatsReport};

use faults::FaultControl;
use keys::KeyStore;
use model::Model;
use stats::Stats;

/// Default version reported by the version probe.
pub const DEFAULT_VERSION: &str = "3.6.0";

/// How the emulator starts.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Access keys accepted in the `session` cookie or Basic auth, owned by `admin`, valid for
    /// the SDK's default ttl (ten years). More are issued, and any revoked, through the admin
    /// routes.
    pub access_keys: Vec<String>,
    /// Reported by session verification.
    pub tenant_id: String,
    /// How long jobs stay `in_progress` before they complete (0: complete at once).
    pub job_delay: Duration,
    /// Faults active from the start (and restored by `POST /__emulator/reset`).
    pub faults: Faults,
    /// Content created at start-up and after every reset.
    pub seed: Option<Seed>,
    /// Reported by the version probe (`data.attributes.external`); empty: the version route
    /// answers 404, as on platforms that do not tell their version.
    pub version: String,
    /// How long a login session lasts (none: until the next reset). A request on an ended
    /// session gets 401, and the client logs in again.
    pub session_ttl: Option<Duration>,
    /// Refuse (400) async transactions naming more than one project: how a platform that only
    /// takes the vendor SDK's one-project transactions would answer. Off by default.
    pub single_project_transactions: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            access_keys: Vec::new(),
            tenant_id: "b7c663b1-a8ee-49a9-ad62-ceae7e751ec8".to_owned(),
            job_delay: Duration::ZERO,
            faults: Faults::default(),
            seed: None,
            version: DEFAULT_VERSION.to_owned(),
            session_ttl: None,
            single_project_transactions: false,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field(
                "access_keys",
                &format_args!("<{} redacted>", self.access_keys.len()),
            )
            .field("tenant_id", &self.tenant_id)
            .field("job_delay", &self.job_delay)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("version", &self.version)
            .field("session_ttl", &self.session_ttl)
            .field(
                "single_project_transactions",
                &self.single_project_transactions,
            )
            .finish()
    }
}

/// Binds, spawns the server on the current tokio runtime, returns once it accepts connections.
pub async fn spawn(config: EmulatorConfig, listen: SocketAddr) -> anyhow::Result<RunningEmulator> {
    let app = App::new(config)?;
    server::spawn(app, listen).await
}

/// Shared state of one emulator: the model behind its single lock, plus the knobs.
#[derive(Clone)]
pub(crate) struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    model: Mutex<Model>,
    config: EmulatorConfig,
    /// Apart from the model: checked on every request, changed rarely.
    keys: RwLock<KeyStore>,
    /// What the version route reports; none: it answers 404.
    version: RwLock<Option<String>>,
    faults: FaultControl,
    stats: Stats,
}

impl App {
    fn new(config: EmulatorConfig) -> anyhow::Result<Self> {
        config.faults.validate().map_err(anyhow::Error::msg)?;
        let model = fresh_model(&config)?;
        Ok(Self {
            inner: Arc::new(AppInner {
                model: Mutex::new(model),
                keys: RwLock::new(start_up_keys(&config)),
                version: RwLock::new(start_up_version(&config)),
                faults: FaultControl::new(config.faults.clone()),
                stats: Stats::default(),
                config,
            }),
        })
    }

    /// Runs `f` on the model under its lock, after completing the jobs that are due.
    pub(crate) fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        let mut model = self.inner.model.lock();
        model.advance(Instant::now());
        f(&mut model)
    }

    pub(crate) fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The owner of this access key when it may be used now (known, not expired).
    pub(crate) fn access_key_owner(&self, secret: &str) -> Option<String> {
        let now = jiff::Timestamp::now();
        self.inner
            .keys
            .read()
            .usable(secret, now)
            .map(|k| k.owner.clone())
    }

    /// Runs `f` on the access keys under their lock (never held across an await).
    pub(crate) fn with_keys<R>(&self, f: impl FnOnce(&mut KeyStore) -> R) -> R {
        f(&mut self.inner.keys.write())
    }

    /// What the version route reports now; none: 404.
    pub(crate) fn version(&self) -> Option<String> {
        self.inner.version.read().clone()
    }

    pub(crate) fn set_version(&self, version: Option<String>) {
        *self.inner.version.write() = version.filter(|v| !v.is_empty());
    }

    pub(crate) fn faults(&self) -> &FaultControl {
        &self.inner.faults
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Back to the start-up state: seed content, start-up access keys, version and faults, no
    /// login sessions, zero counters.
    pub(crate) fn reset(&self) -> anyhow::Result<()> {
        let model = fresh_model(&self.inner.config)?;
        *self.inner.model.lock() = model;
        *self.inner.keys.write() = start_up_keys(&self.inner.config);
        self.set_version(start_up_version(&self.inner.config));
        self.inner.faults.set(self.inner.config.faults.clone());
        self.inner.stats.reset();
        Ok(())
    }
}

fn start_up_keys(config: &EmulatorConfig) -> KeyStore {
    KeyStore::with_keys(&config.access_keys, auth::ACCESS_KEY_USERNAME)
}

fn start_up_version(config: &EmulatorConfig) -> Option<String> {
    Some(config.version.clone()).filter(|v| !v.is_empty())
}

fn fresh_model(config: &EmulatorConfig) -> anyhow::Result<Model> {
    let mut model = Model::new(config.job_delay);
    model.set_session_ttl(config.session_ttl);
    if let Some(seed) = &config.seed {
        seed.apply(&mut model)?;
        // Seeded projects are ready from the start, whatever the job delay.
        model.advance(Instant::now() + config.job_delay);
    }
    Ok(model)
}
