//! Emulator benchmark: simple-GET throughput against a trivial axum "hello" handler measured in
//! the same process and run (so the ratio cancels out machine load and client cost), and the
//! resident memory with 10,000 users and 5,000 groups.
//!
//! Targets: >= 5,000 simple GETs/s, <= 100 MiB at that size. Exits 1 when a target
//! is missed. Knobs: BENCH_SECONDS (default 3), BENCH_CONCURRENCY (default 32).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use igz_emulator::{self as emulator, EmulatorConfig};
use serde_json::json;

const KEY: &str = "bench-key";
const USERS: usize = 10_000;
const GROUPS: usize = 5_000;
const MIN_GETS_PER_SECOND: f64 = 5_000.0;
const MAX_RSS_MIB: f64 = 100.0;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of this process, from /proc (Linux).
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// GETs per second that `concurrency` tasks get out of `url` in `duration`.
async fn throughput(
    http: &reqwest::Client,
    url: &str,
    concurrency: u64,
    duration: Duration,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, done) = (http.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let ok = match http.get(&url).send().await {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    assert!(ok, "benchmark request to {url} failed");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("benchmark task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn hello_server() -> std::net::SocketAddr {
    let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let cookie = format!("session=j:{{\"sid\": \"{KEY}\"}}");
    headers.insert("cookie", cookie.parse().expect("cookie header"));
    reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .build()
        .expect("client")
}

async fn post(http: &reqwest::Client, url: String, body: serde_json::Value) -> String {
    let response = http.post(url).json(&body).send().await.expect("post");
    assert!(
        response.status().is_success(),
        "populate failed: {}",
        response.status()
    );
    let doc: serde_json::Value = response.json().await.expect("json");
    doc["data"]["id"].as_str().expect("id").to_owned()
}

/// Creates the users and groups (each group with two members) over HTTP, 16 at a time.
async fn populate(http: &reqwest::Client, base: &str) {
    use futures::StreamExt;
    let users: Vec<String> = futures::stream::iter(0..USERS)
        .map(|i| {
            let body = json!({"data": {"type": "user", "attributes": {"username": format!("user{i}"),
                "first_name": "Bench", "last_name": "User", "email": format!("user{i}@example.com"),
                "assigned_policies": ["Developer"]}}});
            post(http, format!("{base}/api/users"), body)
        })
        .buffered(16)
        .collect()
        .await;
    futures::stream::iter(0..GROUPS)
        .map(|i| {
            let members = [&users[i % USERS], &users[(i * 7 + 1) % USERS]];
            let data: Vec<_> = members.iter().map(|id| json!({"type": "user", "id": id})).collect();
            let body = json!({"data": {"type": "user_group",
                "attributes": {"name": format!("group{i}"), "gid": null, "assigned_policies": ["Data"]},
                "relationships": {"users": {"data": data}}}});
            post(http, format!("{base}/api/user_groups"), body)
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::main]
async fn main() {
    let seconds = env_or("BENCH_SECONDS", 3);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let duration = Duration::from_secs(seconds);
    let http = client();

    let hello = hello_server().await;
    let config = EmulatorConfig {
        access_keys: vec![KEY.to_owned()],
        ..EmulatorConfig::default()
    };
    let emu = emulator::spawn(config.clone(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("spawn");
    let group = post(
        &http,
        format!("{}/api/user_groups", emu.base_url()),
        json!({"data": {"attributes": {"name": "bench"}}}),
    )
    .await;

    // Warm both servers up, then alternate so drifting machine load hits both alike.
    throughput(
        &http,
        &format!("http://{hello}/hello"),
        concurrency,
        Duration::from_millis(500),
    )
    .await;
    let emu_url = format!("{}/api/user_groups/{group}", emu.base_url());
    let (mut hello_rps, mut emu_rps) = (0.0, 0.0);
    for _ in 0..2 {
        hello_rps += throughput(
            &http,
            &format!("http://{hello}/hello"),
            concurrency,
            duration / 2,
        )
        .await
            / 2.0;
        emu_rps += throughput(&http, &emu_url, concurrency, duration / 2).await / 2.0;
    }
    emu.shutdown().await;

    let rss_before = rss_mib();
    let emu = emulator::spawn(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("spawn");
    let populate_started = Instant::now();
    populate(&http, &emu.base_url()).await;
    let populate_secs = populate_started.elapsed().as_secs_f64();
    let rss_after = rss_mib();
    let list_started = Instant::now();
    let response = http
        .get(format!(
            "{}/api/user_groups?filter[name]=group4999&include=users",
            emu.base_url()
        ))
        .send()
        .await
        .expect("list");
    assert!(response.status().is_success());
    let filtered_get_ms = list_started.elapsed().as_secs_f64() * 1000.0;
    emu.shutdown().await;

    println!("concurrency                      {concurrency}");
    println!("baseline axum hello GET/s        {hello_rps:.0}");
    println!("emulator GET user_group/{{id}}/s   {emu_rps:.0}");
    println!(
        "ratio emulator/baseline          {:.2}",
        emu_rps / hello_rps
    );
    println!(
        "populate {USERS} users + {GROUPS} groups  {populate_secs:.1} s ({:.0} writes/s)",
        (USERS + GROUPS) as f64 / populate_secs
    );
    println!("filtered list after populate     {filtered_get_ms:.1} ms");
    println!(
        "process RSS before / after       {rss_before:.1} / {rss_after:.1} MiB (whole process, client included)"
    );
    let throughput_ok = emu_rps >= MIN_GETS_PER_SECOND;
    let memory_ok = rss_after <= MAX_RSS_MIB;
    println!(
        "target >= {MIN_GETS_PER_SECOND:.0} GET/s: {}",
        if throughput_ok { "PASS" } else { "FAIL" }
    );
    println!(
        "target <= {MAX_RSS_MIB:.0} MiB RSS: {}",
        if memory_ok { "PASS" } else { "FAIL" }
    );
    if !(throughput_ok && memory_ok) {
        std::process::exit(1);
    }
}
