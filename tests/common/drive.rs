//! What the tests and benchmarks that drive a live stack share (the benches include this
//! file by path): a child process stopped cleanly when dropped, and a speaker of tagged
//! commands to the SIMULATED stack.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use vla_perf::msg::audio_common_msgs::AudioStamped;
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::std_msgs::Header;
use vla_perf::transport::{wall_clock, Publisher};

/// A child process that gets SIGINT (its clean shutdown) when dropped, and SIGKILL if it
/// has not exited 5 s later.
pub struct Stopping(pub Child);

impl Drop for Stopping {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Speaks `[<prefix>cN] pick up the red cup` (a command the simulated planner knows) every
/// `period`, N counting from 0, until the task is aborted.
pub async fn speak_commands(speak: Publisher<AudioStamped>, period: Duration, prefix: &str) {
    let mut tick = tokio::time::interval(period);
    for n in 0u64.. {
        tick.tick().await;
        let header = Header {
            stamp: Time::from(wall_clock()),
            frame_id: "mic".into(),
        };
        let text = format!("[{prefix}c{n}] pick up the red cup");
        if let Err(e) = speak.publish(&vla_perf::sim::speech::utterance(&text, header)) {
            eprintln!("speaking {text:?}: {e}");
        }
    }
}
