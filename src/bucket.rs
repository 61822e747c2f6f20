//! A token bucket: on average `rate` takes a second, at most `burst` at
//! once. Client rates (`client_rate`) and fleet store writes
//! (`publish_rate`) are limited with it.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens at `now`.
    pub fn full(burst: u32, now: Instant) -> Bucket {
        Bucket { tokens: f64::from(burst), at: now }
    }

    /// Tops the bucket up for the time since it was last used and takes
    /// one token; false when there is none.
    pub fn take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_a_second_and_burst_at_once() {
        let mut bucket = Bucket::full(100, Instant::now());
        let taken = |bucket: &mut Bucket| (0..1_000).filter(|_| bucket.take(Instant::now(), 50, 100)).count();
        assert_eq!(taken(&mut bucket), 100);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(taken(&mut bucket), 25);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(taken(&mut bucket), 100, "never more than the burst at once");
    }
}
