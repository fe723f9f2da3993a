//! What a command works from besides its config, resolved once from the flags and the
//! environment: the clock, the target flags, and the store they open. The commands build one
//! [`Context`] and hand it down; nothing below asks `TargetArgs` or `KVSYNC_NOW` again.

use std::path::PathBuf;

use super::args::TargetArgs;
use super::output::Printer;
use crate::config::Heads;
use crate::env_vars;
use crate::error::Error;
use crate::kv::cloudflare::{CloudflareConfig, CloudflareStore};
use crate::kv::local::LocalStore;
use crate::kv::wrangler_dev::{WranglerDevConfig, WranglerDevStore};
use crate::kv::{self, Store, TargetKind};

/// The default local store, relative to the current directory.
pub const DEFAULT_LOCAL_PATH: &str = ".kvsync/local.db";

/// What a command does with the store. Only `apply` writes: `plan`, `drift` and `export` leave
/// a local store exactly as they found it (not created, not grown), and work on a read-only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The flags and environment of one run, resolved.
#[derive(Debug, Clone)]
pub struct Context {
    /// The clock, unix seconds: `KVSYNC_NOW` when set, else the system clock.
    pub now: i64,
    /// What the environment holds: the config's `${VAR}`s, the token and the account are
    /// looked up here (the process environment; a test can give another).
    pub vars: fn(&str) -> Option<String>,
    /// `--target`, when given; else the config's `target:` decides ([`Context::target`]).
    target: Option<TargetKind>,
    /// `--local-path`.
    local_path: Option<PathBuf>,
    /// `--api-url`.
    api_url: Option<String>,
    /// `--dev-url`.
    dev_url: Option<String>,
}

impl Context {
    pub fn new(args: &TargetArgs) -> Result<Self, Error> {
        Ok(Self {
            now: now()?,
            vars: process_var,
            target: args.target,
            local_path: args.local_path.clone(),
            api_url: args.api_url.clone(),
            dev_url: args.dev_url.clone(),
        })
    }

    /// This context on `target`, whatever the flags said (a saved plan applies where it was
    /// made; `apply PLAN` has already refused a `--target` that differs).
    pub fn on(self, target: TargetKind) -> Self {
        Self { target: Some(target), ..self }
    }

    /// The revision a write records in its marker: `flag` (`--revision`), else `$GITHUB_SHA`;
    /// none when empty.
    pub fn revision(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_owned)
            .or_else(|| (self.vars)(env_vars::GITHUB_SHA))
            .filter(|r| !r.is_empty())
    }

    /// `--target` as given, if it was.
    pub fn target_flag(&self) -> Option<TargetKind> {
        self.target
    }

    /// The target a run uses: `--target`, else the config's `target:`, else Cloudflare.
    pub fn target(&self, config_target: Option<TargetKind>) -> TargetKind {
        self.target.or(config_target).unwrap_or_default()
    }

    /// The Cloudflare account id: the config's (`config`), else the environment's.
    pub fn account_id(&self, config: Option<&str>) -> Option<String> {
        let lookup = |name: &str| (self.vars)(name);
        config.map(str::to_owned).or_else(|| env_vars::account_id_from_env(&lookup))
    }

    /// Where the local store is: `--local-path`, else the config's `local_path:`, else the
    /// default.
    pub fn local_path(&self, heads: &Heads) -> PathBuf {
        self.local_path
            .clone()
            .or_else(|| heads.local_path.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LOCAL_PATH))
    }

    /// Opens the target ([`Context::target`]) for `access`.
    pub fn open_store(
        &self,
        heads: &Heads,
        access: Access,
        printer: &Printer,
    ) -> Result<Store, Error> {
        match self.target(heads.target) {
            TargetKind::Local => {
                let path = self.local_path(heads);
                printer.verbose(&format!("target: local store `{}`", path.display()));
                let store = match access {
                    Access::Read => LocalStore::open_read_only(&path, self.now)?,
                    Access::Write => LocalStore::open(&path, self.now)?,
                };
                Ok(Store::Local(store))
            }
            TargetKind::Cloudflare => {
                let lookup = |name: &str| (self.vars)(name);
                let token = kv::token::from_env(&lookup)?;
                let account_id = heads
                    .account_id
                    .clone()
                    .or_else(|| env_vars::account_id_from_env(&lookup))
                    .ok_or(Error::MissingAccountId)?;
                let base_url = kv::cloudflare::base_url(self.api_url.as_deref(), &lookup);
                let timings = kv::retry::Timings::from_env(&lookup)?;
                // Credentials written into the URL (`https://user:secret@host`) are never shown.
                let shown = kv::token::without_userinfo(&base_url);
                printer.verbose(&format!("target: Cloudflare API `{shown}`, account {account_id}"));
                let config = CloudflareConfig { base_url, account_id, token, timings };
                let mut store = CloudflareStore::new(config)?;
                // One stderr line per retry, so waiting on an unreachable API is never silent.
                if !printer.quiet {
                    let printer = *printer;
                    store.on_retry(Box::new(move |line| printer.info(line)));
                }
                Ok(Store::Cloudflare(Box::new(store)))
            }
            TargetKind::WranglerDev => {
                let lookup = |name: &str| (self.vars)(name);
                let dev_url = kv::wrangler_dev::dev_url(self.dev_url.as_deref(), &lookup);
                printer.verbose(&format!("target: `wrangler dev` at `{dev_url}`"));
                let timings = kv::wrangler_dev::timings(&lookup)?;
                let config = WranglerDevConfig { dev_url, timings, now: self.now };
                let mut store = WranglerDevStore::new(config)?;
                if !printer.quiet {
                    let printer = *printer;
                    store.on_retry(Box::new(move |line| printer.info(line)));
                }
                Ok(Store::WranglerDev(Box::new(store)))
            }
        }
    }
}

/// A variable of the process environment; unset and not Unicode are the same.
fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The clock: `KVSYNC_NOW` when set, else the system clock.
fn now() -> Result<i64, Error> {
    match std::env::var(env_vars::KVSYNC_NOW) {
        Ok(value) => {
            value.trim().parse().map_err(|_| Error::Clock { variable: env_vars::KVSYNC_NOW, value })
        }
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(target: Option<TargetKind>) -> Context {
        Context { now: 0, vars: |_| None, target, local_path: None, api_url: None, dev_url: None }
    }

    #[test]
    fn the_flag_wins_then_the_config_then_cloudflare() {
        assert_eq!(context(None).target(None), TargetKind::Cloudflare);
        assert_eq!(context(None).target(Some(TargetKind::Local)), TargetKind::Local);
        assert_eq!(context(None).target(Some(TargetKind::Cloudflare)), TargetKind::Cloudflare);
        let local = context(Some(TargetKind::Local));
        assert_eq!(local.target(Some(TargetKind::Cloudflare)), TargetKind::Local);
        let cloudflare = local.on(TargetKind::Cloudflare);
        assert_eq!(cloudflare.target(Some(TargetKind::Local)), TargetKind::Cloudflare);
    }

    #[test]
    fn the_revision_flag_wins_then_github_sha() {
        let sha = Context {
            vars: |name| (name == "GITHUB_SHA").then(|| "abc".to_owned()),
            ..context(None)
        };
        assert_eq!(sha.revision(Some("v1")).as_deref(), Some("v1"));
        assert_eq!(sha.revision(None).as_deref(), Some("abc"));
        assert_eq!(sha.revision(Some("")), None);
        assert_eq!(context(None).revision(None), None);
    }

    #[test]
    fn the_local_path_flag_wins_then_the_config_then_the_default() {
        let heads = |path: Option<&str>| Heads {
            target: None,
            account_id: None,
            local_path: path.map(PathBuf::from),
            scopes: Vec::new(),
        };
        assert_eq!(context(None).local_path(&heads(None)), PathBuf::from(DEFAULT_LOCAL_PATH));
        assert_eq!(context(None).local_path(&heads(Some("a.db"))), PathBuf::from("a.db"));
        let flagged = Context { local_path: Some("b.db".into()), ..context(None) };
        assert_eq!(flagged.local_path(&heads(Some("a.db"))), PathBuf::from("b.db"));
    }
}
