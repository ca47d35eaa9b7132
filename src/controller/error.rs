//! Reconcile failures, each mapped to a condition reason and a sentence a platform admin can act on.

use crate::connection::UnavailableReason;
use crate::crd::{ConnectionReason, Reason};
use crate::plan::Conflict;
use igz_mgmt::{ErrorKind, MgmtError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A management API call failed while doing `doing` (e.g. "add member alice").
    #[error("could not {doing}: {source}")]
    Platform { doing: String, source: MgmtError },

    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API request failed while {doing}: {source}")]
    Kube { doing: String, source: kube::Error },

    /// A create was refused because a group with the name exists (it is not ours, or not
    /// provably ours): the resource must leave it alone.
    #[error("{0}")]
    AlreadyExists(Conflict),

    /// The Group's PlatformConnection cannot be used now (missing, its Secret missing or
    /// unusable, its credentials refused): nothing is read or written on the platform.
    #[error("{0}")]
    Connection(crate::connection::ConnectionUnavailable),

    /// The shared picture of the platform missed something that exists; the next reconcile
    /// re-reads it. Not a failure to report.
    #[error("the picture of the platform was out of date")]
    StalePicture,
}

impl Error {
    pub fn platform(doing: impl Into<String>, source: MgmtError) -> Self {
        Error::Platform {
            doing: doing.into(),
            source,
        }
    }

    pub fn kube(doing: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            doing: doing.into(),
            source,
        }
    }

    /// The condition reason this failure is reported under.
    pub fn reason(&self) -> Reason {
        match self {
            Error::Platform { source, .. } => match (source.kind(), source.status()) {
                (ErrorKind::Unauthorized, Some(403)) => Reason::PermissionDenied,
                (ErrorKind::Unauthorized, _) => Reason::CredentialsInvalid,
                (ErrorKind::Unavailable | ErrorKind::Timeout, _) => Reason::ApiUnavailable,
                _ => Reason::ReconcileError,
            },
            Error::Connection(unavailable) => match unavailable.reason {
                UnavailableReason::NotReady(ConnectionReason::CredentialsInvalid) => {
                    Reason::CredentialsInvalid
                }
                UnavailableReason::NotReady(ConnectionReason::PermissionDenied) => {
                    Reason::PermissionDenied
                }
                _ => Reason::ConnectionUnavailable,
            },
            Error::Kube { .. } | Error::StalePicture => Reason::ReconcileError,
            Error::AlreadyExists(conflict) => conflict.reason(),
        }
    }

    /// The condition/Event message: what failed plus what the admin can do about it.
    pub fn message(&self) -> String {
        match self {
            Error::AlreadyExists(conflict) => return conflict.message(),
            Error::Connection(unavailable) => {
                return format!(
                    "Cannot use the Group's platform connection: {}. Nothing is read or written \
                     on the platform until it is fixed; the Group is retried as soon as it is.",
                    unavailable.message.trim_end_matches('.')
                );
            }
            _ => {}
        }
        let hint = match self.reason() {
            Reason::CredentialsInvalid => {
                " Check the credentials of the Group's PlatformConnection (the Secret its \
                 spec.secretRef names; for the connection default from the operator's flags, \
                 --access-key-file or --password-file)."
            }
            Reason::PermissionDenied => {
                " Grant the operator's platform user a tenant-management role that allows it (e.g. IT Admin)."
            }
            Reason::ApiUnavailable => " The operator retries with backoff.",
            _ => " The operator retries with backoff.",
        };
        format!("Could not {}.{hint}", self.detail())
    }

    fn detail(&self) -> String {
        match self {
            Error::Platform { doing, source } => format!("{doing}: {source}"),
            Error::Kube { doing, source } => format!("{doing} (Kubernetes API: {source})"),
            Error::AlreadyExists(conflict) => conflict.message(),
            Error::Connection(_) | Error::StalePicture => self.to_string(),
        }
    }

    /// Kubernetes refused a write because the resource changed since it was read (409): our
    /// copy lagged behind; not a failure worth reporting.
    pub fn is_stale_resource(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
            || matches!(self, Error::StalePicture)
    }

    /// The platform's answer says our cached picture of it was wrong (something vanished or
    /// already exists).
    pub fn invalidates_picture(&self) -> bool {
        matches!(self, Error::Platform { source, .. } if matches!(source.kind(), ErrorKind::NotFound | ErrorKind::Conflict))
            || matches!(self, Error::StalePicture)
    }

    /// For a failed create: the failure is definite (the request certainly created nothing),
    /// so its create record can go.
    pub fn create_definitely_failed(&self) -> bool {
        match self {
            Error::Platform { source, .. } => !source.outcome_unknown(),
            Error::StalePicture => true,
            _ => false,
        }
    }

    /// For a failed create: the platform refused because the name is taken. `outcome_unknown`
    /// when an earlier attempt's answer was lost and the group found differs from what it sent.
    pub fn create_name_taken(&self, name: &str) -> Option<Conflict> {
        let Error::Platform { source, .. } = self else {
            return None;
        };
        (source.kind() == ErrorKind::Conflict).then(|| Conflict::AlreadyExists {
            name: name.to_owned(),
            id: None,
            create_outcome_unknown: source.outcome_unknown(),
        })
    }
}
