//! `notification-script` and `client-reconfig-script`: a queue of at most 256 jobs, 16
//! running at once, retried (after 30 s, doubling) when they exit with 1 or die of a signal,
//! killed after 60 s, as Redis runs them. `SENTINEL PENDING-SCRIPTS` lists the queue.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

use super::{now_ms, Addr, InstId, Sentinel};
use crate::logging::Level;

const MAX_QUEUE: usize = 256;
const MAX_RUNNING: usize = 16;
const MAX_RETRY: u32 = 10;

/// One script run, waiting, running or waiting to be retried.
#[derive(Debug)]
pub(crate) struct Job {
    pub argv: Vec<String>,
    pub retry_num: u32,
    /// When it started (running), or not before when it may run again (0: any time).
    pub start_time: i64,
    pub child: Option<Child>,
}

impl Job {
    /// Whether it runs now.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Its process id (0 when not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

/// The script queue.
#[derive(Debug, Default)]
pub(crate) struct Scripts {
    pub queue: Vec<Job>,
}

impl Scripts {
    /// How many run now.
    pub fn running(&self) -> usize {
        self.queue.iter().filter(|j| j.running()).count()
    }
}

impl Sentinel {
    /// Queues `path args...`; when the queue is full the oldest job not running goes.
    pub(crate) fn schedule_script(&mut self, path: String, args: Vec<String>) {
        let mut argv = vec![path];
        argv.extend(args);
        self.scripts.queue.push(Job {
            argv,
            retry_num: 0,
            start_time: 0,
            child: None,
        });
        if self.scripts.queue.len() > MAX_QUEUE {
            if let Some(i) = self.scripts.queue.iter().position(|j| !j.running()) {
                self.scripts.queue.remove(i);
            }
        }
    }

    /// The client reconfiguration script of a master, if it has one:
    /// `<master> <leader|observer> <state> <from-ip> <from-port> <to-ip> <to-port>`.
    pub(crate) fn call_client_reconfig_script(
        &mut self,
        master: InstId,
        role: &str,
        state: &str,
        from: &Addr,
        to: &Addr,
    ) {
        let m = self.inst(master);
        let Some(script) = m.client_reconfig_script.clone() else {
            return;
        };
        let args = vec![
            m.name.clone(),
            role.to_string(),
            state.to_string(),
            self.announce(from).to_string(),
            from.port.to_string(),
            self.announce(to).to_string(),
            to.port.to_string(),
        ];
        self.schedule_script(script, args);
    }

    /// Starts what may run, collects what ended, kills what ran too long.
    pub(crate) fn run_scripts(&mut self, now: i64) {
        if self.scripts.queue.is_empty() {
            return;
        }
        self.start_pending_scripts(now);
        self.collect_terminated_scripts();
        self.kill_timed_out_scripts(now);
    }

    fn start_pending_scripts(&mut self, now: i64) {
        let mut running = self.scripts.running();
        let mut events = Vec::new();
        for job in &mut self.scripts.queue {
            if running >= MAX_RUNNING {
                break;
            }
            if job.running() || (job.start_time != 0 && job.start_time > now) {
                continue;
            }
            job.start_time = now_ms();
            job.retry_num += 1;
            match Command::new(&job.argv[0])
                .args(&job.argv[1..])
                .stdin(Stdio::null())
                .spawn()
            {
                Ok(child) => {
                    events.push((Level::Debug, "+script-child", child.id().to_string()));
                    job.child = Some(child);
                    running += 1;
                }
                // Redis's child exits with 2 when execve fails (no retry); a failed fork is
                // reported as signal 99.
                Err(e) => {
                    let (signal, code) = match e.kind() {
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                            (0, 2)
                        }
                        _ => (99, 0),
                    };
                    job.start_time = -1;
                    events.push((
                        Level::Warning,
                        "-script-error",
                        format!("{} {signal} {code}", job.argv[0]),
                    ));
                }
            }
        }
        // Jobs whose program could not be started are done.
        self.scripts.queue.retain(|j| j.start_time != -1);
        for (level, kind, text) in events {
            self.event(level, kind, None, text);
        }
    }

    fn collect_terminated_scripts(&mut self) {
        let retry_delay = self.periods.script_retry_delay;
        let mut events = Vec::new();
        let mut done = Vec::new();
        for (i, job) in self.scripts.queue.iter_mut().enumerate() {
            let Some(child) = job.child.as_mut() else {
                continue;
            };
            let Ok(Some(status)) = child.try_wait() else {
                continue;
            };
            let pid = child.id();
            let code = status.code().unwrap_or(0);
            let signal = status.signal().unwrap_or(0);
            events.push((
                Level::Debug,
                "-script-child",
                format!("{pid} {code} {signal}"),
            ));
            job.child = None;
            if (signal != 0 || code == 1) && job.retry_num != MAX_RETRY {
                let mut delay = retry_delay;
                for _ in 1..job.retry_num {
                    delay = delay.saturating_mul(2);
                }
                job.start_time = now_ms().saturating_add(delay);
            } else {
                if signal != 0 || code != 0 {
                    events.push((
                        Level::Warning,
                        "-script-error",
                        format!("{} {signal} {code}", job.argv[0]),
                    ));
                }
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            self.scripts.queue.remove(i);
        }
        for (level, kind, text) in events {
            self.event(level, kind, None, text);
        }
    }

    fn kill_timed_out_scripts(&mut self, now: i64) {
        let max = self.periods.script_max_runtime;
        let mut events = Vec::new();
        for job in &mut self.scripts.queue {
            if let Some(child) = job.child.as_mut() {
                if now - job.start_time > max {
                    events.push(format!("{} {}", job.argv[0], child.id()));
                    let _ = child.kill();
                }
            }
        }
        for text in events {
            self.event(Level::Warning, "-script-timeout", None, text);
        }
    }
}
