//! Reconcile failures, each mapped to a condition reason and a sentence a platform admin can act on.

use crate::crd::Reason;
use igz_mgmt::{ErrorKind, MgmtError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A management API call failed while doing `doing` (e.g. "add member alice").
    #[error("could not {doing}: {source}")]
    Platform { doing: String, source: MgmtError },

    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API request failed while {doing}: {source}")]
    Kube { doing: String, source: kube::Error },
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
            Error::Kube { .. } => Reason::ReconcileError,
        }
    }

    /// The condition/Event message: what failed plus what the admin can do about it.
    pub fn message(&self) -> String {
        let hint = match self.reason() {
            Reason::CredentialsInvalid => {
                " Check the operator's access key (the Secret behind --access-key-file) and username."
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
        }
    }

    /// Kubernetes refused a write because the resource changed since it was read (409): our
    /// cache lagged behind; not a failure worth reporting.
    pub fn is_stale_resource(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
    }

    /// The platform's answer says our cached picture of it was wrong (something vanished).
    pub fn invalidates_snapshot(&self) -> bool {
        matches!(self, Error::Platform { source, .. } if matches!(source.kind(), ErrorKind::NotFound | ErrorKind::Conflict))
    }
}
