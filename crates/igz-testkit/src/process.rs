//! The operator as a user runs it: the real `igz-operator run` binary as a child process, for the
//! tests and benchmarks that must see the process itself (SIGKILL, peak memory, start-up).

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait;

/// How to start the operator. `args` come after `run`; the process gets only the environment it
/// needs (no inherited IGZ_* variables), with `KUBECONFIG` pointing at `kubeconfig`.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub mgmt_url: String,
    pub access_key: String,
    /// The namespace whose Groups it watches. Its own namespace is always
    /// `envtest::OPERATOR_NAMESPACE` (create it first: `envtest::ensure_operator_namespace`).
    pub namespace: String,
    /// Extra `run` flags (e.g. `--resync-interval 10s`).
    pub args: Vec<String>,
    /// `RUST_LOG` for the child (default: the binary's own default).
    pub log_filter: Option<String>,
    /// stdout and stderr go here.
    pub log_file: PathBuf,
}

/// A running operator process. Dropping it kills the process (SIGKILL) and reaps it.
pub struct OperatorProcess {
    child: Child,
    metrics: SocketAddr,
    http: reqwest::Client,
}

/// Memory figures from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size over the process's life (`VmHWM`).
    pub hwm_kib: u64,
}

/// A loopback port that was free a moment ago (the child binds it; a clash fails its start-up).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl OperatorProcess {
    /// Starts the process; returns at once (see [`OperatorProcess::wait_ready`]).
    pub fn spawn(launch: &Launch) -> Self {
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("loopback address");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&launch.log_file)
            .unwrap_or_else(|e| panic!("open {}: {e}", launch.log_file.display()));
        let mut cmd = Command::new(&launch.binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", &launch.kubeconfig)
            .env("IGZ_ACCESS_KEY", &launch.access_key)
            .arg("run")
            .args(["--mgmt-url", &launch.mgmt_url])
            .args(["--watch-namespace", &launch.namespace])
            // One operator namespace for every process (see `envtest::OPERATOR_NAMESPACE`).
            .args(["--namespace", crate::envtest::OPERATOR_NAMESPACE])
            .args(["--metrics-addr", &metrics.to_string()])
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log);
        if let Some(filter) = &launch.log_filter {
            cmd.env("RUST_LOG", filter);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", launch.binary.display()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        Self {
            child,
            metrics,
            http,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200 (the Group caches are synced).
    pub async fn wait_ready(&mut self, deadline: Duration) {
        let url = format!("http://{}/readyz", self.metrics);
        let http = self.http.clone();
        let child = &mut self.child;
        wait::until("the operator process ready", deadline, || {
            let (http, url) = (http.clone(), url.clone());
            let exited = child.try_wait().ok().flatten();
            async move {
                if let Some(status) = exited {
                    panic!("the operator process exited during start-up: {status}");
                }
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// The process's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.metrics);
        let resp = self.http.get(&url).send().await.expect("GET /metrics");
        resp.text().await.expect("metrics body")
    }

    /// Sum of every sample of counter `name` (all label sets), from `/metrics`.
    pub async fn counter(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        sum_samples(&text, name)
    }

    /// VmRSS and VmHWM of the process now.
    pub fn memory(&self) -> Memory {
        read_memory(self.child.id()).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no cleanup, as when a node dies.
    pub fn sigkill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit (SIGKILL after `grace`).
    pub fn terminate(mut self, grace: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        while waited < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(step);
            waited += step;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Sums the samples of one metric in Prometheus/OpenMetrics text (`name` or `name_total`).
pub fn sum_samples(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name || metric.strip_suffix("_total") == Some(name))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_label_sets() {
        let text = "# HELP x_total X.\n# TYPE x counter\nx_total{a=\"1\"} 2\nx_total{a=\"2\"} 3.5\nxy_total 9\n# EOF\n";
        assert_eq!(sum_samples(text, "x"), 5.5);
        assert_eq!(sum_samples(text, "x_total"), 5.5);
        assert_eq!(sum_samples(text, "nothing"), 0.0);
    }

    #[test]
    fn own_memory_is_readable() {
        let m = read_memory(std::process::id()).expect("/proc is mounted");
        assert!(m.hwm_kib >= m.rss_kib && m.rss_kib > 0, "{m:?}");
    }
}
