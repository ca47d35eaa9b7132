//! The shared platform picture: every group (with members), user and project (with its
//! roles), read in bulk with paged list requests and shared by all reconciles.
//!
//! Why: observing each Group with its own GETs costs several requests per group per resync; one
//! bulk read serves thousands of reconciles. Each reader says how old a picture it can work with
//! (see `observe::picture_max_age`): a resync needs one no older than half the resync interval
//! to find drift, a Group waiting for a missing user a recent one, a spec change any picture at
//! all. Only readers that need a newer picture wait for a refresh (single-flight); the others
//! go on with the current one meanwhile, so a refresh never delays a change.
//!
//! Between refreshes the picture is kept current by recording our own successful writes; a
//! write that completes while a refresh is in flight is recorded again on the new picture, which
//! may have been read before it. Staleness is safe: it can only make a plan do too much or too
//! little until the next picture, and every write is idempotent (membership and role writes
//! re-read what they change).

mod contents;

pub use contents::{Picture, Recorded};

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use igz_mgmt::{MgmtClient, MgmtError};

/// The current picture and what is known about its age.
#[derive(Default)]
struct State {
    picture: Option<Picture>,
    /// When the reading of `picture` started (anything written before is in it).
    read_at: Option<Instant>,
    /// A write failed in a way that shows the picture is wrong: a picture whose reading started
    /// before then serves no one. (A time, not a flag: a read already in flight when the write
    /// failed may not show what the write found.)
    wrong_before: Option<Instant>,
    /// A refresh is in flight; writes recorded meanwhile are kept to replay onto its picture.
    refreshing: bool,
    journal: Vec<Recorded>,
}

impl State {
    /// Whether the picture may serve a reader who needs one read from `oldest` on (`None`: any).
    fn usable(&self, oldest: Option<Instant>) -> bool {
        let Some(read_at) = self.read_at.filter(|_| self.picture.is_some()) else {
            return false;
        };
        self.wrong_before.is_none_or(|wrong| read_at >= wrong)
            && oldest.is_none_or(|oldest| read_at >= oldest)
    }
}

/// The oldest start of a read that still serves a reader asking now for `max_age` (`None`: any
/// picture). Fixed when the reader asks, not when it is served: a reader that waited for the
/// flight is served by a read that started after it asked, instead of reading again (`ZERO`
/// readers queued behind one refresh share the next one).
fn oldest_acceptable(max_age: Option<Duration>) -> Option<Instant> {
    max_age.and_then(|max| Instant::now().checked_sub(max))
}

/// The shared [`Picture`]: refreshed on demand (single-flight), read without waiting by anyone
/// the current picture satisfies.
pub struct SharedPicture {
    mgmt: MgmtClient,
    /// How old a picture may be for a reconcile waiting for missing users or projects.
    fresh_age: Duration,
    state: RwLock<State>,
    /// Held by the one task refreshing the picture.
    refresh: tokio::sync::Mutex<()>,
    /// How long the last refresh took, in milliseconds.
    last_refresh_ms: std::sync::atomic::AtomicU64,
}

impl SharedPicture {
    pub fn new(mgmt: MgmtClient, fresh_age: Duration) -> Self {
        Self {
            mgmt,
            fresh_age,
            state: RwLock::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
            last_refresh_ms: Default::default(),
        }
    }

    /// Whether a task is reading a new picture right now.
    pub fn refreshing(&self) -> bool {
        self.state().refreshing
    }

    /// How long the last refresh took (zero before the first).
    pub fn last_refresh_took(&self) -> Duration {
        Duration::from_millis(
            self.last_refresh_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Like [`read`](Self::read), except that when the picture is too old for `max_age` and
    /// another task is already reading a new one, it does not wait: `Ok(None)`. A resync then
    /// holds no controller slot for the seconds a large platform takes to read (at 5,000 groups,
    /// the resyncs waiting for one refresh took every slot, and a changed Group waited ~5 s
    /// for one); it comes back once the new picture is there.
    pub async fn read_unless_refreshing<T>(
        &self,
        max_age: Option<Duration>,
        f: impl FnOnce(&Picture) -> T,
    ) -> Result<Option<T>, MgmtError> {
        let oldest = oldest_acceptable(max_age);
        let f = match self.serve_if_usable(oldest, f) {
            Ok(served) => return Ok(Some(served)),
            Err(f) => f,
        };
        let Ok(_flight) = self.refresh.try_lock() else {
            return Ok(None);
        };
        self.serve_fresh(oldest, f).await.map(Some)
    }

    /// How old a picture may be for a reconcile waiting for missing users or projects.
    pub fn fresh_age(&self) -> Duration {
        self.fresh_age
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a picture no older than `max_age` (`None`: any picture), refreshing it first when
    /// needed. `f` runs under a lock that writers wait for: keep it short.
    pub async fn read<T>(
        &self,
        max_age: Option<Duration>,
        f: impl FnOnce(&Picture) -> T,
    ) -> Result<T, MgmtError> {
        let oldest = oldest_acceptable(max_age);
        let f = match self.serve_if_usable(oldest, f) {
            Ok(served) => return Ok(served),
            Err(f) => f,
        };
        let _flight = self.refresh.lock().await;
        self.serve_fresh(oldest, f).await
    }

    /// `f` on the picture when its reading started at `oldest` or later; `f` back otherwise.
    fn serve_if_usable<T, F: FnOnce(&Picture) -> T>(
        &self,
        oldest: Option<Instant>,
        f: F,
    ) -> Result<T, F> {
        let state = self.state();
        match state.picture.as_ref() {
            Some(picture) if state.usable(oldest) => Ok(f(picture)),
            _ => Err(f),
        }
    }

    /// With the refresh flight held: reads a new picture unless whoever held the flight before
    /// already did, then runs `f` on it.
    async fn serve_fresh<T>(
        &self,
        oldest: Option<Instant>,
        f: impl FnOnce(&Picture) -> T,
    ) -> Result<T, MgmtError> {
        if !self.state().usable(oldest) {
            self.refresh_now().await?;
        }
        let state = self.state();
        Ok(f(state
            .picture
            .as_ref()
            .expect("a usable or just-read picture")))
    }

    /// Runs `f` on the picture without refreshing it; `None` when nothing is cached.
    pub async fn peek<T>(&self, f: impl FnOnce(&Picture) -> T) -> Option<T> {
        self.state().picture.as_ref().map(f)
    }

    /// Records a successful write in the picture (and for the refresh in flight, if any).
    pub async fn record(&self, recorded: Recorded) {
        let mut state = self.state_mut();
        if let Some(picture) = state.picture.as_mut() {
            picture.apply(&recorded);
        }
        if state.refreshing {
            state.journal.push(recorded);
        }
    }

    /// Marks the picture wrong: the next reader, whatever age it accepts, reads a new one (after a
    /// write failed in a way that says the picture was wrong, e.g. a 404 on a group it listed).
    /// A read already in flight does not count: it may have passed what the write found.
    pub async fn invalidate(&self) {
        self.state_mut().wrong_before = Some(Instant::now());
    }

    /// Reads a new picture (the caller holds the flight). The old one serves other readers
    /// meanwhile; writes recorded during the read are replayed onto the new one.
    async fn refresh_now(&self) -> Result<(), MgmtError> {
        let started = Instant::now();
        {
            let mut state = self.state_mut();
            state.refreshing = true;
            state.journal.clear();
        }
        let fetched = self.fetch().await;
        let mut state = self.state_mut();
        state.refreshing = false;
        let journal = std::mem::take(&mut state.journal);
        let mut picture = fetched?;
        for recorded in &journal {
            picture.apply(recorded);
        }
        state.picture = Some(picture);
        state.read_at = Some(started);
        self.last_refresh_ms.store(
            started.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    async fn fetch(&self) -> Result<Picture, MgmtError> {
        let started = Instant::now();
        let (groups, users, projects) = tokio::try_join!(
            self.mgmt.list_groups(),
            self.mgmt.list_users(),
            self.mgmt.list_projects()
        )?;
        tracing::debug!(
            groups = groups.len(),
            users = users.len(),
            projects = projects.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "read the platform"
        );
        Ok(Picture::new(groups, users, projects))
    }
}
