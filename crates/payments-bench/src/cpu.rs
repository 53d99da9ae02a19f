//! Where the CPU of a throughput run went (Linux `/proc`): the server process, the database
//! server's processes (PostgreSQL; SQLite runs inside the server), this benchmark (the client),
//! and how busy the machine was as a whole.
//!
//! Each thread's time on a CPU comes from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds), so
//! the figures are exact rather than in clock ticks. A thread or process that ends between the two
//! samples is not counted (the server's threads and its pooled connections last the whole run).

use std::collections::HashMap;

/// CPU nanoseconds per thread (keyed by thread id) of each party, and the machine's counters.
#[derive(Debug, Default)]
pub struct CpuSample {
    server: HashMap<u32, u64>,
    database: HashMap<u32, u64>,
    client: HashMap<u32, u64>,
    /// (busy, total) jiffies of all CPUs, from `/proc/stat`.
    machine: Option<(u64, u64)>,
}

/// What each party spent between two samples.
#[derive(Debug, Clone, Copy)]
pub struct CpuSpent {
    pub server_ns: u64,
    pub database_ns: u64,
    pub client_ns: u64,
    /// Percent of all CPUs busy (anything running, not only this run).
    pub machine_busy_percent: Option<u64>,
}

impl CpuSample {
    /// Reads the server's threads, every process named `postgres`, this process's threads and
    /// the machine's counters.
    pub fn take(server_pid: u32) -> CpuSample {
        let mut database = HashMap::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "postgres" {
                    database.extend(threads(&pid.to_string()));
                }
            }
        }
        CpuSample {
            server: threads(&server_pid.to_string()),
            database,
            client: threads("self"),
            machine: machine(),
        }
    }

    /// What was spent from `self` to `later`.
    pub fn spent_until(&self, later: &CpuSample) -> CpuSpent {
        let delta = |before: &HashMap<u32, u64>, after: &HashMap<u32, u64>| -> u64 {
            after
                .iter()
                .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
                .sum()
        };
        let machine_busy_percent = match (self.machine, later.machine) {
            (Some((b0, t0)), Some((b1, t1))) => {
                (b1.saturating_sub(b0) * 100).checked_div(t1.saturating_sub(t0))
            }
            _ => None,
        };
        CpuSpent {
            server_ns: delta(&self.server, &later.server),
            database_ns: delta(&self.database, &later.database),
            client_ns: delta(&self.client, &later.client),
            machine_busy_percent,
        }
    }
}

impl CpuSpent {
    /// One line: microseconds of CPU per delivery for each party, and the machine's load.
    pub fn per_delivery_line(&self, deliveries: u64, with_database: bool) -> String {
        let us = |ns: u64| (ns / 1_000).checked_div(deliveries).unwrap_or(0);
        let database = if with_database {
            format!(", PostgreSQL {} µs", us(self.database_ns))
        } else {
            String::new()
        };
        let total = self.server_ns + if with_database { self.database_ns } else { 0 } + self.client_ns;
        let busy = match self.machine_busy_percent {
            Some(p) => format!("; the machine's {} CPUs {p}% busy", cpus()),
            None => String::new(),
        };
        format!(
            "CPU per delivery: server {} µs{database}, this client {} µs, together {} µs{busy}",
            us(self.server_ns),
            us(self.client_ns),
            us(total)
        )
    }
}

/// The CPU time of each thread of process `pid` ("self" for this one).
fn threads(pid: &str) -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.insert(tid, ns);
        }
    }
    out
}

/// (busy, total) jiffies over all CPUs: the first line of `/proc/stat`, idle and iowait not busy.
fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    let idle = fields[3] + fields[4];
    Some((total - idle, total))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_of_this_process_is_counted_as_the_client() {
        let before = CpuSample::take(std::process::id());
        let began = std::time::Instant::now();
        let mut x = 0u64;
        while began.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = CpuSample::take(std::process::id());
        let spent = before.spent_until(&after);
        if std::path::Path::new("/proc/self/task").exists() {
            // 50 ms of spinning is at least 10 ms on a CPU even on a busy machine.
            assert!(spent.client_ns >= 10_000_000, "{spent:?}");
            assert!(spent.per_delivery_line(10, false).contains("this client"));
        }
    }
}
