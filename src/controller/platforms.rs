//! The platforms the driver works on: one per PlatformConnection, each its management client and
//! its platform picture. `connection::Registry` keeps them in line with the connections (a new
//! client, and so a new picture, when the endpoint, trust or rate limit changes; new credentials
//! in the client in use).

use std::time::Duration;

use igz_mgmt::MgmtClient;
use tokio::sync::broadcast;

use super::picture::SharedPicture;
use crate::connection::{Connection, Registry};

/// One platform: a connection's client and its picture.
pub type Platform = Connection<SharedPicture>;
/// Every platform, by connection name.
pub type Platforms = Registry<SharedPicture>;

/// Names of the connections whose platform answers again after an outage (its client's circuit
/// breaker closed): the Groups that failed on it are retried at once, not when their grown backoff
/// ends.
#[derive(Clone, Debug)]
pub struct Recoveries(broadcast::Sender<String>);

impl Default for Recoveries {
    fn default() -> Self {
        Self(broadcast::channel(64).0)
    }
}

impl Recoveries {
    /// What the registry makes for each client as it is built: the platform's picture (readers
    /// waiting for missing users or projects accept one `fresh_age` old), and a task that passes
    /// the client's recoveries on under the connection's name. The task ends with the client.
    pub fn picture_factory(
        &self,
        fresh_age: Duration,
    ) -> impl Fn(&str, &MgmtClient) -> SharedPicture + Send + Sync + 'static {
        let sender = self.0.clone();
        move |name: &str, client: &MgmtClient| {
            let (sender, name) = (sender.clone(), name.to_owned());
            let mut recoveries = client.recoveries();
            tokio::spawn(async move {
                while recoveries.changed().await.is_ok() {
                    let _ = sender.send(name.clone());
                }
            });
            SharedPicture::new(client.clone(), fresh_age)
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.0.subscribe()
    }
}
