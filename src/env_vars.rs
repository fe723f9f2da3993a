//! Every environment variable kvsync reads, in one place, each with what it does.
//!
//! (`NO_COLOR`, `CLICOLOR` and `CLICOLOR_FORCE` are read by `anstream` when `--color auto`.)

/// The clock in unix seconds, for tests and reproducible runs; the system clock otherwise.
pub const KVSYNC_NOW: &str = "KVSYNC_NOW";

/// How often, in milliseconds, progress is printed when stderr is not a terminal (default 5000).
pub const KVSYNC_PROGRESS_EVERY_MS: &str = "KVSYNC_PROGRESS_EVERY_MS";

/// How long `apply --verify` keeps reading back what it changed, in milliseconds (default 60000,
/// KV's propagation delay); it checks at once and then six times evenly within the window.
pub const KVSYNC_VERIFY_WINDOW_MS: &str = "KVSYNC_VERIFY_WINDOW_MS";

/// The commit being applied on GitHub Actions; the default `--revision`.
pub const GITHUB_SHA: &str = "GITHUB_SHA";

/// The API token variable (wrangler's name).
pub const CLOUDFLARE_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";

/// The legacy name of [`CLOUDFLARE_API_TOKEN`], read only when that one is unset or empty.
pub const CF_API_TOKEN: &str = "CF_API_TOKEN";

/// The account id variable (wrangler's name).
pub const CLOUDFLARE_ACCOUNT_ID: &str = "CLOUDFLARE_ACCOUNT_ID";

/// The legacy name of [`CLOUDFLARE_ACCOUNT_ID`], read only when that one is unset or empty.
pub const CF_ACCOUNT_ID: &str = "CF_ACCOUNT_ID";

/// Per-request timeout in milliseconds (connect, send, and the whole answer).
pub const KVSYNC_HTTP_TIMEOUT_MS: &str = "KVSYNC_HTTP_TIMEOUT_MS";

/// Most attempts per request, the first included (at least 1).
pub const KVSYNC_RETRY_MAX_ATTEMPTS: &str = "KVSYNC_RETRY_MAX_ATTEMPTS";

/// Backoff before the first retry, in milliseconds; it doubles per retry.
pub const KVSYNC_RETRY_BASE_MS: &str = "KVSYNC_RETRY_BASE_MS";

/// Longest single backoff, in milliseconds.
pub const KVSYNC_RETRY_MAX_MS: &str = "KVSYNC_RETRY_MAX_MS";

/// Total time one request may spend waiting between its attempts, in milliseconds.
pub const KVSYNC_RETRY_BUDGET_MS: &str = "KVSYNC_RETRY_BUDGET_MS";

/// Most requests kvsync starts within one rate window.
pub const KVSYNC_RATE_LIMIT: &str = "KVSYNC_RATE_LIMIT";

/// The rate window, in milliseconds.
pub const KVSYNC_RATE_WINDOW_MS: &str = "KVSYNC_RATE_WINDOW_MS";

/// Most requests in flight at once.
pub const KVSYNC_HTTP_CONCURRENCY: &str = "KVSYNC_HTTP_CONCURRENCY";

/// Overrides the API base URL (wrangler's name); `--api-url` wins over it.
pub const CLOUDFLARE_API_BASE_URL: &str = "CLOUDFLARE_API_BASE_URL";

/// The legacy name of [`CLOUDFLARE_API_BASE_URL`], read only when that one is unset or empty.
pub const CF_API_BASE_URL: &str = "CF_API_BASE_URL";
