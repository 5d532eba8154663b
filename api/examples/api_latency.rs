//! Latency of API requests over the Unix socket, as a client sees it: one kept-alive
//! connection, requests one after another, wall time from writing the request to
//! reading the whole answer.
//!
//! Usage: `api_latency SOCKET [COUNT] [PATH...]` (default 2000 requests each of
//! `/` and `/vm/counters`). Prints one line per path: p50, p90, p99, max in µs.

use std::time::{Duration, Instant};

use api::client::Client;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        eprintln!("usage: api_latency SOCKET [COUNT] [PATH...]");
        std::process::exit(2);
    };
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(2000);
    let mut paths: Vec<String> = args.collect();
    if paths.is_empty() {
        paths = vec!["/".into(), "/vm/counters".into()];
    }
    let mut client = Client::new(&socket);
    println!("| request | n | p50 (µs) | p90 (µs) | p99 (µs) | max (µs) |");
    println!("|---|---|---|---|---|---|");
    for path in &paths {
        // Warm up the connection and the server's paths.
        for _ in 0..50 {
            let _ = client.request("GET", path, None);
        }
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let start = Instant::now();
            match client.request("GET", path, None) {
                Ok(r) if r.status == 200 => samples.push(start.elapsed()),
                Ok(r) => {
                    eprintln!("GET {path}: HTTP {}: {}", r.status, r.text());
                    std::process::exit(1);
                }
                Err(e) => {
                    eprintln!("GET {path}: {e}");
                    std::process::exit(1);
                }
            }
        }
        samples.sort();
        println!(
            "| `GET {path}` | {count} | {:.0} | {:.0} | {:.0} | {:.0} |",
            micros(percentile(&samples, 0.50)),
            micros(percentile(&samples, 0.90)),
            micros(percentile(&samples, 0.99)),
            micros(samples[samples.len() - 1]),
        );
    }
}
