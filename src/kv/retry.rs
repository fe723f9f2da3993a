//! When to send a request to the Cloudflare API, and when to send it again.
//!
//! This module owns the retry policy ([`decide`], a pure function of what happened so far), the
//! client-side rate budget ([`RateBudget`], a sliding window plus the API's own `Ratelimit`
//! header), the concurrency bound, and the knobs for all three ([`Timings`]). The client in
//! `cloudflare.rs` asks [`Gate::enter`] before every attempt and [`decide`] after every failed
//! one. Nothing here knows about HTTP libraries, endpoints or envelopes: an attempt arrives as
//! an [`Outcome`], and headers arrive as their text.
//!
//! Background (`cloudflare-kv-api.md` §4): the API allows 1,200 requests per 5 minutes per
//! token, and going over blocks *every* call of that token for 5 minutes. So the budget keeps
//! well-behaved runs under the limit, and a 429 without `Retry-After` waits out the block.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::Error;
pub use crate::env_vars::{
    KVSYNC_HTTP_CONCURRENCY, KVSYNC_HTTP_TIMEOUT_MS, KVSYNC_RATE_LIMIT, KVSYNC_RATE_WINDOW_MS,
    KVSYNC_RETRY_BASE_MS, KVSYNC_RETRY_BUDGET_MS, KVSYNC_RETRY_MAX_ATTEMPTS, KVSYNC_RETRY_MAX_MS,
};

/// How patient the Cloudflare client is. `Default` holds the production values; tests shrink
/// them, and [`Timings::from_env`] reads overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// How long one attempt may take, from connecting until the last byte of the answer
    /// (60 s; `KVSYNC_HTTP_TIMEOUT_MS`). A stalled answer fails the attempt, which is retried.
    pub request_timeout: Duration,
    /// Most attempts per request, the first included (6; `KVSYNC_RETRY_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry; it doubles for every further retry, and the
    /// actual wait is drawn uniformly below it (full jitter) (1 s; `KVSYNC_RETRY_BASE_MS`).
    pub backoff_base: Duration,
    /// The backoff ceiling never grows past this (60 s; `KVSYNC_RETRY_MAX_MS`).
    pub backoff_max: Duration,
    /// Total time one request may spend waiting between its attempts, `Retry-After` included
    /// (5 min; `KVSYNC_RETRY_BUDGET_MS`). A retry that would wait past it is not made.
    pub retry_budget: Duration,
    /// Most requests started within any `rate_window` (1,200, the API's limit per token;
    /// `KVSYNC_RATE_LIMIT`).
    pub rate_limit: u32,
    /// The sliding window `rate_limit` counts in; also how long a 429 without `Retry-After`
    /// waits, since that is how long the API blocks a token (300 s; `KVSYNC_RATE_WINDOW_MS`).
    pub rate_window: Duration,
    /// Most requests in flight at once (4; `KVSYNC_HTTP_CONCURRENCY`).
    pub concurrency: usize,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            request_timeout: Duration::from_secs(60),
            max_attempts: 6,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            retry_budget: Duration::from_secs(5 * 60),
            rate_limit: 1200,
            rate_window: Duration::from_secs(300),
            concurrency: 4,
        }
    }
}

impl Timings {
    /// The defaults with the `KVSYNC_*` overrides `lookup` finds (an empty value counts as
    /// unset). A value that is not a whole number in range is an error naming the variable.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Timings, Error> {
        let mut timings = Timings::default();
        if let Some(ms) = setting::<u64>(lookup, KVSYNC_HTTP_TIMEOUT_MS, 1)? {
            timings.request_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = setting::<u32>(lookup, KVSYNC_RETRY_MAX_ATTEMPTS, 1)? {
            timings.max_attempts = n;
        }
        if let Some(ms) = setting::<u64>(lookup, KVSYNC_RETRY_BASE_MS, 0)? {
            timings.backoff_base = Duration::from_millis(ms);
        }
        if let Some(ms) = setting::<u64>(lookup, KVSYNC_RETRY_MAX_MS, 0)? {
            timings.backoff_max = Duration::from_millis(ms);
        }
        if let Some(ms) = setting::<u64>(lookup, KVSYNC_RETRY_BUDGET_MS, 0)? {
            timings.retry_budget = Duration::from_millis(ms);
        }
        if let Some(n) = setting::<u32>(lookup, KVSYNC_RATE_LIMIT, 1)? {
            timings.rate_limit = n;
        }
        if let Some(ms) = setting::<u64>(lookup, KVSYNC_RATE_WINDOW_MS, 1)? {
            timings.rate_window = Duration::from_millis(ms);
        }
        if let Some(n) = setting::<usize>(lookup, KVSYNC_HTTP_CONCURRENCY, 1)? {
            timings.concurrency = n;
        }
        Ok(timings)
    }
}

/// One numeric override: `None` when unset or empty, an error when not a whole number ≥ `min`.
fn setting<T: FromStr + PartialOrd + From<u8>>(
    lookup: &dyn Fn(&str) -> Option<String>,
    variable: &'static str,
    min: u8,
) -> Result<Option<T>, Error> {
    let Some(value) = lookup(variable) else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<T>() {
        Ok(n) if n >= T::from(min) => Ok(Some(n)),
        _ => Err(Error::BadSetting {
            variable,
            value,
            expected: if min == 0 { "a whole number" } else { "a whole number of at least 1" },
        }),
    }
}

/// What one attempt came to, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer that retrying cannot change: a success, a 4xx other than 429, an answer that
    /// does not decode.
    Final,
    /// HTTP 429, with the wait the server asked for (`Retry-After`), if it said.
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 500, 502, 503 or 504.
    ServerError,
    /// No complete answer within [`Timings::request_timeout`].
    Timeout,
    /// The connection failed or broke before a complete answer arrived.
    Connection,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait exactly this long (what the server asked for, or the API's block), then retry.
    Wait(Duration),
    /// Wait a random time between zero and `ceiling` (full jitter), then retry.
    Backoff { ceiling: Duration },
    /// Do not retry; report this attempt's outcome.
    Stop,
}

impl Decision {
    /// The wait before the next attempt, `None` for [`Decision::Stop`]; `random` is a uniformly
    /// random number ([`random_u64`]), which picks the point in a backoff's window.
    pub fn delay(self, random: u64) -> Option<Duration> {
        match self {
            Decision::Wait(wait) => Some(wait),
            Decision::Backoff { ceiling } => {
                let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
                Some(Duration::from_nanos(random % nanos.saturating_add(1)))
            }
            Decision::Stop => None,
        }
    }
}

/// A random number, different at each call: enough to spread retries (jitter) and to name a
/// multipart boundary, nothing that needs a secret. The standard library seeds each
/// `RandomState` from the operating system's randomness, so no crate is needed for it.
pub fn random_u64() -> u64 {
    use std::hash::BuildHasher as _;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

/// Whether and how long to wait before attempt `attempts + 1`, after `attempts` attempts of one
/// request that ended in `outcome`, having already waited `waited` in total between them.
///
/// Retried: 429, 500/502/503/504, timeouts and broken connections. Retrying a bulk write or
/// delete whose answer was lost is safe: both are idempotent (writing the same pairs again, or
/// deleting keys that are already gone, leaves the same state), which is why a write is retried
/// like a read. A retry is made only while fewer than `max_attempts` attempts were made and the
/// wait fits in what is left of `retry_budget`.
pub fn decide(attempts: u32, outcome: Outcome, waited: Duration, timings: &Timings) -> Decision {
    if outcome == Outcome::Final || attempts >= timings.max_attempts {
        return Decision::Stop;
    }
    let left = timings.retry_budget.saturating_sub(waited);
    if left.is_zero() {
        return Decision::Stop;
    }
    match outcome {
        // The server said how long; waiting less is pointless and waiting past the budget is
        // not allowed, so stop at once when it does not fit.
        Outcome::RateLimited { retry_after: Some(wait) } => {
            if wait <= left {
                Decision::Wait(wait)
            } else {
                Decision::Stop
            }
        }
        // Without `Retry-After`, the documented block is the whole window (5 minutes): wait it
        // out, or as much of it as the budget allows, then let the next 429 end the request.
        Outcome::RateLimited { retry_after: None } => Decision::Wait(timings.rate_window.min(left)),
        Outcome::ServerError | Outcome::Timeout | Outcome::Connection => {
            let doublings = attempts.saturating_sub(1).min(31);
            let ceiling = timings
                .backoff_base
                .saturating_mul(1u32 << doublings)
                .min(timings.backoff_max)
                .min(left);
            Decision::Backoff { ceiling }
        }
        Outcome::Final => Decision::Stop,
    }
}

/// The wait a `Retry-After` header asks for: delta-seconds or an HTTP date (a date in the past
/// means now). `None` when the value is neither, which counts as no header.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What a `Ratelimit` header says: requests left and the time until the quota resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub remaining: u64,
    pub reset: Duration,
}

/// Reads `Ratelimit: "default";r=<remaining>;t=<seconds to reset>` (`cloudflare-kv-api.md`
/// §4). Several comma-separated items may appear; the one with the fewest requests left wins.
/// Anything that does not parse is ignored: the header is advice, not a contract.
pub fn parse_ratelimit(value: &str) -> Option<RateLimitStatus> {
    value
        .split(',')
        .filter_map(|item| {
            let (mut remaining, mut reset) = (None, None);
            for param in item.split(';').skip(1) {
                let Some((name, number)) = param.split_once('=') else { continue };
                let number = number.trim().trim_matches('"').parse::<u64>().ok();
                match name.trim() {
                    "r" => remaining = number,
                    "t" => reset = number.map(Duration::from_secs),
                    _ => {}
                }
            }
            Some(RateLimitStatus { remaining: remaining?, reset: reset? })
        })
        .min_by_key(|status| status.remaining)
}

/// The client-side rate budget: at most `limit` requests start within any `window` (a sliding
/// window, so bursts are fine: a 100-page listing goes out at full speed), plus whatever
/// slowing down the API's `Ratelimit` header asks for.
#[derive(Debug)]
pub struct RateBudget {
    limit: usize,
    window: Duration,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// When each request of the last `window` started, oldest first.
    started: VecDeque<Instant>,
    /// No request starts before this.
    not_before: Option<Instant>,
    /// Until the instant given, space requests at least this far apart.
    pace: Option<(Duration, Instant)>,
}

impl RateBudget {
    pub fn new(limit: u32, window: Duration) -> RateBudget {
        RateBudget {
            limit: usize::try_from(limit.max(1)).unwrap_or(usize::MAX),
            window,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// Waits until a request may start and counts it. Returns whether it had to wait.
    pub async fn acquire(&self) -> bool {
        let mut waited = false;
        loop {
            let until = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while state.started.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    state.started.pop_front();
                }
                let mut until = state.not_before.filter(|t| *t > now);
                if state.started.len() >= self.limit
                    && let Some(oldest) = state.started.front()
                {
                    until = until.max(Some(*oldest + self.window));
                }
                match until {
                    Some(until) => until,
                    None => {
                        state.started.push_back(now);
                        state.not_before = match state.pace {
                            Some((interval, end)) if now < end => Some(now + interval),
                            _ => None,
                        };
                        return waited;
                    }
                }
            };
            waited = true;
            tokio::time::sleep_until(until).await;
        }
    }

    /// Takes in what an answer's `Ratelimit` header said. With nothing left, nothing starts
    /// until the reset; with little left (a twentieth of `limit` or less), the rest is spread
    /// evenly until the reset. The reset is capped at `window`, so a wild header cannot stall
    /// a run for longer than the API's own block.
    pub fn observe(&self, status: RateLimitStatus) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let reset = status.reset.min(self.window);
        let low = u64::try_from(self.limit / 20).unwrap_or(u64::MAX).max(1);
        if status.remaining == 0 {
            state.not_before = state.not_before.max(Some(now + reset));
        } else if status.remaining <= low {
            let interval = reset.div_f64(status.remaining as f64);
            state.pace = Some((interval, now + reset));
        } else {
            state.pace = None;
        }
    }
}

/// Everything a request passes before it is sent: a concurrency permit, then the rate budget.
#[derive(Debug)]
pub struct Gate {
    permits: Semaphore,
    budget: RateBudget,
}

impl Gate {
    pub fn new(timings: &Timings) -> Gate {
        Gate {
            permits: Semaphore::new(timings.concurrency.max(1)),
            budget: RateBudget::new(timings.rate_limit, timings.rate_window),
        }
    }

    /// Waits for a permit (held until the returned guard drops) and for the rate budget.
    /// The flag says whether the rate budget made it wait. `None` only if the gate is closed,
    /// which never happens: the semaphore is never closed.
    pub async fn enter(&self) -> Option<(SemaphorePermit<'_>, bool)> {
        let permit = self.permits.acquire().await.ok()?;
        let throttled = self.budget.acquire().await;
        Some((permit, throttled))
    }

    /// Passes an answer's `Ratelimit` header on to the rate budget.
    pub fn observe(&self, ratelimit_header: Option<&str>) {
        if let Some(status) = ratelimit_header.and_then(parse_ratelimit) {
            self.budget.observe(status);
        }
    }
}

/// How the client waits between attempts. Tests that run against a real socket cannot pause
/// tokio's clock (it would jump past the request timeout while the socket is waited on), so
/// they record the waits instead of sleeping through them.
#[derive(Debug, Clone, Default)]
pub(crate) enum Sleeper {
    #[default]
    Tokio,
    #[cfg(test)]
    Record(std::sync::Arc<Mutex<Vec<Duration>>>),
}

impl Sleeper {
    pub(crate) async fn sleep(&self, wait: Duration) {
        match self {
            Sleeper::Tokio => tokio::time::sleep(wait).await,
            #[cfg(test)]
            Sleeper::Record(waits) => {
                waits.lock().unwrap_or_else(PoisonError::into_inner).push(wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> Timings {
        Timings::default()
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn final_outcomes_are_not_retried() {
        assert_eq!(decide(1, Outcome::Final, Duration::ZERO, &timings()), Decision::Stop);
    }

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let t = timings();
        let ceilings: Vec<Decision> =
            (1..=5).map(|n| decide(n, Outcome::ServerError, Duration::ZERO, &t)).collect();
        assert_eq!(
            ceilings,
            [1, 2, 4, 8, 16].map(|s| Decision::Backoff { ceiling: S(s) }).to_vec()
        );
        let t = Timings { max_attempts: 100, ..timings() };
        assert_eq!(
            decide(7, Outcome::Timeout, Duration::ZERO, &t),
            Decision::Backoff { ceiling: S(60) }
        );
        assert_eq!(
            decide(90, Outcome::Connection, Duration::ZERO, &t),
            Decision::Backoff { ceiling: S(60) }
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let t = timings();
        assert_ne!(decide(5, Outcome::ServerError, Duration::ZERO, &t), Decision::Stop);
        assert_eq!(decide(6, Outcome::ServerError, Duration::ZERO, &t), Decision::Stop);
        let once = Timings { max_attempts: 1, ..timings() };
        let limited = Outcome::RateLimited { retry_after: Some(S(1)) };
        assert_eq!(decide(1, limited, Duration::ZERO, &once), Decision::Stop);
    }

    #[test]
    fn the_budget_bounds_every_wait() {
        let t = timings();
        // 4 s left: the backoff ceiling shrinks to fit.
        assert_eq!(
            decide(5, Outcome::ServerError, S(296), &t),
            Decision::Backoff { ceiling: S(4) }
        );
        assert_eq!(decide(2, Outcome::Timeout, S(300), &t), Decision::Stop);
        assert_eq!(decide(2, Outcome::Timeout, S(301), &t), Decision::Stop);
    }

    #[test]
    fn retry_after_is_honoured_exactly_when_it_fits() {
        let t = timings();
        let asked = |s| Outcome::RateLimited { retry_after: Some(S(s)) };
        assert_eq!(decide(1, asked(7), Duration::ZERO, &t), Decision::Wait(S(7)));
        // A wait longer than the backoff max is still honoured: the server knows best.
        assert_eq!(decide(1, asked(120), Duration::ZERO, &t), Decision::Wait(S(120)));
        assert_eq!(decide(1, asked(0), Duration::ZERO, &t), Decision::Wait(S(0)));
        // It does not fit in what is left of the budget: fail now rather than wait in vain.
        assert_eq!(decide(1, asked(301), Duration::ZERO, &t), Decision::Stop);
        assert_eq!(decide(2, asked(60), S(250), &t), Decision::Stop);
    }

    #[test]
    fn a_429_without_retry_after_waits_out_the_block_within_the_budget() {
        let t = timings();
        let bare = Outcome::RateLimited { retry_after: None };
        assert_eq!(decide(1, bare, Duration::ZERO, &t), Decision::Wait(S(300)));
        assert_eq!(decide(2, bare, S(290), &t), Decision::Wait(S(10)));
        assert_eq!(decide(2, bare, S(300), &t), Decision::Stop);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling() {
        let mut delays = std::collections::HashSet::new();
        for _ in 0..1000 {
            let delay = Decision::Backoff { ceiling: S(4) }.delay(random_u64()).expect("a delay");
            assert!(delay <= S(4), "{delay:?}");
            delays.insert(delay);
        }
        assert!(delays.len() > 900, "the delays are spread: {} distinct", delays.len());
        let top = Decision::Backoff { ceiling: S(4) }.delay(u64::MAX).expect("a delay");
        assert!(top <= S(4));
        assert_eq!(Decision::Backoff { ceiling: S(4) }.delay(0), Some(Duration::ZERO));
        assert_eq!(Decision::Wait(S(3)).delay(random_u64()), Some(S(3)));
        assert_eq!(Decision::Stop.delay(random_u64()), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + S(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(S(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        let in_90_s = httpdate::fmt_http_date(now + S(90));
        assert_eq!(parse_retry_after(&in_90_s, now), Some(S(90)));
        let past = httpdate::fmt_http_date(now - S(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        for junk in ["", "-5", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn ratelimit_header() {
        assert_eq!(
            parse_ratelimit(r#""default";r=50;t=30"#),
            Some(RateLimitStatus { remaining: 50, reset: S(30) })
        );
        assert_eq!(
            parse_ratelimit(r#""burst";r=9;t=3, "default";r=0;t=120"#),
            Some(RateLimitStatus { remaining: 0, reset: S(120) })
        );
        for junk in ["", "default", r#""default";r=x;t=1"#, r#""default";t=1"#, "r=1;t=2"] {
            assert_eq!(parse_ratelimit(junk), None, "{junk:?}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn timings_from_env() {
        assert_eq!(Timings::from_env(&env(&[])).expect("defaults"), Timings::default());
        let lookup = env(&[
            (KVSYNC_HTTP_TIMEOUT_MS, "1500"),
            (KVSYNC_RETRY_MAX_ATTEMPTS, " 3 "),
            (KVSYNC_RETRY_BASE_MS, "0"),
            (KVSYNC_RETRY_MAX_MS, "250"),
            (KVSYNC_RETRY_BUDGET_MS, "10000"),
            (KVSYNC_RATE_LIMIT, "100"),
            (KVSYNC_RATE_WINDOW_MS, "60000"),
            (KVSYNC_HTTP_CONCURRENCY, ""),
        ]);
        assert_eq!(
            Timings::from_env(&lookup).expect("overrides"),
            Timings {
                request_timeout: Duration::from_millis(1500),
                max_attempts: 3,
                backoff_base: Duration::ZERO,
                backoff_max: Duration::from_millis(250),
                retry_budget: S(10),
                rate_limit: 100,
                rate_window: S(60),
                concurrency: 4,
            }
        );
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        for (variable, value) in [
            (KVSYNC_RETRY_MAX_ATTEMPTS, "0"),
            (KVSYNC_RETRY_MAX_ATTEMPTS, "three"),
            (KVSYNC_HTTP_TIMEOUT_MS, "-1"),
            (KVSYNC_RETRY_BASE_MS, "1.5"),
            (KVSYNC_RATE_LIMIT, "99999999999"),
            (KVSYNC_HTTP_CONCURRENCY, "0"),
        ] {
            let error = Timings::from_env(&env(&[(variable, value)])).expect_err("refused");
            let message = error.to_string();
            assert!(message.starts_with(&format!("`{variable}` must be a whole number")));
            assert!(message.ends_with(&format!("not `{value}`")), "{message}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_under_the_limit_is_not_paced() {
        let budget = RateBudget::new(1200, S(300));
        let start = Instant::now();
        for _ in 0..100 {
            assert!(!budget.acquire().await);
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_never_holds_more_than_the_limit() {
        let budget = RateBudget::new(3, S(10));
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..7 {
            budget.acquire().await;
            starts.push(start.elapsed());
            tokio::time::advance(S(1)).await;
        }
        // Three at once-a-second, then each waits for the oldest to leave the window.
        assert_eq!(starts, [0, 1, 2, 10, 11, 12, 20].map(S).to_vec());
        for (i, t) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().filter(|u| **u < *t + S(10)).count();
            assert!(in_window <= 3, "{starts:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_left_waits_for_the_reset() {
        let budget = RateBudget::new(1200, S(300));
        budget.observe(RateLimitStatus { remaining: 0, reset: S(40) });
        let start = Instant::now();
        assert!(budget.acquire().await);
        assert_eq!(start.elapsed(), S(40));
        // A reset past the window is capped at the window.
        budget.observe(RateLimitStatus { remaining: 0, reset: S(86_400) });
        let start = Instant::now();
        budget.acquire().await;
        assert_eq!(start.elapsed(), S(300));
    }

    #[tokio::test(start_paused = true)]
    async fn little_left_spreads_the_rest_until_the_reset() {
        let budget = RateBudget::new(1200, S(300));
        budget.observe(RateLimitStatus { remaining: 10, reset: S(20) });
        let start = Instant::now();
        for _ in 0..4 {
            budget.acquire().await;
        }
        assert_eq!(start.elapsed(), S(6));
        // Plenty left again: no more pacing once the current spacing has passed.
        budget.observe(RateLimitStatus { remaining: 900, reset: S(20) });
        budget.acquire().await;
        let before = Instant::now();
        budget.acquire().await;
        budget.acquire().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_bounds_concurrency() {
        let gate = Gate::new(&Timings { concurrency: 2, ..timings() });
        let a = gate.enter().await.expect("permit");
        let _b = gate.enter().await.expect("permit");
        assert!(gate.permits.try_acquire().is_err());
        drop(a);
        assert!(gate.enter().await.is_some());
    }
}
