//! The targets kvsync can talk to: [`TargetKind`] names one (the config's `target:`, `--target`
//! and a saved plan all say it with this type), [`Capabilities`] says what sets it apart, and
//! [`Store`] is an opened one behind the one trait. The commands ask capabilities, never
//! variants: a new target is one store module, one variant here and one arm in each `match`
//! of this file (the compiler lists them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cloudflare::CloudflareStore;
use super::local::LocalStore;
use super::wrangler_dev::WranglerDevStore;
use super::{
    BulkOutcome, Error, KvStore, ListPage, LiveValue, PendingPage, PutPair, ReadHint, Titles,
};

/// Where the keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Target")]
pub enum TargetKind {
    /// The Cloudflare API.
    #[default]
    Cloudflare,
    /// The embedded local store.
    Local,
    /// The KV store of a running `wrangler dev`, through its Local Explorer API.
    #[serde(rename = "wrangler-dev")]
    WranglerDev,
}

/// What sets one target apart from another, for the commands that must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Its requests count against an account's plan and quotas: the plan's cost estimate says
    /// what a run will be billed.
    pub metered: bool,
    /// It counts the requests it makes and what of them is billed ([`Store::requests`]);
    /// a target without requests counts keys read as the reads it would bill.
    pub billed_requests: bool,
    /// A read that returns text returns the stored bytes exactly. Cloudflare's bulk get
    /// decodes text and drops a leading U+FEFF, so its text reads are not exact.
    pub exact_text_reads: bool,
    /// Opening it for writing creates it when it does not exist (a file), so a run that may
    /// write must not open it before the config is known to load.
    pub created_on_open: bool,
}

impl TargetKind {
    /// Every target, in `--help` order.
    pub const ALL: [TargetKind; 3] =
        [TargetKind::Cloudflare, TargetKind::Local, TargetKind::WranglerDev];

    /// The name the config, the command line and a saved plan use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cloudflare => "cloudflare",
            Self::Local => "local",
            Self::WranglerDev => "wrangler-dev",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Self::Cloudflare => "Cloudflare's v4 REST API",
            Self::Local => "The embedded store in one local file (no account needed)",
            Self::WranglerDev => {
                "The KV store a running `wrangler dev` reads (`--dev-url`; no account needed)"
            }
        }
    }

    /// How this target finds a namespace by title when that takes no store (the local
    /// target's titles are derived, [`Titles::Derived`]); `None` when the store must be asked
    /// ([`KvStore::namespace_titles`]).
    pub fn titles_without_store(self) -> Option<Titles> {
        match self {
            // `wrangler dev` lists its bindings, not the account's titles: its store refuses
            // `namespace_title:` (the trait's default), naming `binding:` instead.
            Self::Cloudflare | Self::WranglerDev => None,
            Self::Local => Some(Titles::Derived),
        }
    }

    /// What this target can and cannot do.
    pub fn capabilities(self) -> Capabilities {
        match self {
            Self::Cloudflare => Capabilities {
                metered: true,
                billed_requests: true,
                exact_text_reads: false,
                created_on_open: false,
            },
            Self::Local => Capabilities {
                metered: false,
                billed_requests: false,
                exact_text_reads: true,
                created_on_open: true,
            },
            // Its bulk get decodes text as Cloudflare's does; it makes requests but bills none.
            Self::WranglerDev => Capabilities {
                metered: false,
                billed_requests: false,
                exact_text_reads: false,
                created_on_open: false,
            },
        }
    }
}

/// Requests a run made, for the plan's cost line and `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requests {
    /// List requests answered, retries included.
    pub list: u64,
    /// Read requests made (bulk gets and single gets), retries included.
    pub read: u64,
    /// Of those, the list requests Cloudflare bills.
    pub billed_lists: u64,
    /// Of those, the keys read Cloudflare bills.
    pub billed_reads: u64,
}

/// Every target kvsync can talk to, behind the one trait.
pub enum Store {
    Local(LocalStore),
    Cloudflare(Box<CloudflareStore>),
    WranglerDev(Box<WranglerDevStore>),
}

/// Calls the same method on whichever store this is.
macro_rules! each_store {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            Store::Local($inner) => $call,
            Store::Cloudflare($inner) => $call,
            Store::WranglerDev($inner) => $call,
        }
    };
}

impl KvStore for Store {
    fn capabilities(&self) -> Capabilities {
        self.kind().capabilities()
    }

    async fn list_page(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<ListPage, Error> {
        each_store!(self, store => store.list_page(namespace_id, prefix, cursor).await)
    }

    async fn list_page_pending(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<PendingPage, Error> {
        each_store!(self, store => store.list_page_pending(namespace_id, prefix, cursor).await)
    }

    async fn bulk_get(&self, namespace_id: &str, keys: &[String]) -> Result<Vec<LiveValue>, Error> {
        each_store!(self, store => store.bulk_get(namespace_id, keys).await)
    }

    async fn read_values(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, Error> {
        each_store!(self, store => store.read_values(namespace_id, keys, hints).await)
    }

    async fn bulk_put(&self, namespace_id: &str, pairs: &[PutPair]) -> Result<BulkOutcome, Error> {
        each_store!(self, store => store.bulk_put(namespace_id, pairs).await)
    }

    async fn bulk_delete(&self, namespace_id: &str, keys: &[String]) -> Result<BulkOutcome, Error> {
        each_store!(self, store => store.bulk_delete(namespace_id, keys).await)
    }

    async fn namespace_titles(&self) -> Result<Titles, Error> {
        each_store!(self, store => store.namespace_titles().await)
    }
}

impl Store {
    /// Which target this is.
    pub fn kind(&self) -> TargetKind {
        match self {
            Self::Local(_) => TargetKind::Local,
            Self::Cloudflare(_) => TargetKind::Cloudflare,
            Self::WranglerDev(_) => TargetKind::WranglerDev,
        }
    }

    /// The requests this store made so far; `None` for a target that makes none
    /// ([`Capabilities::billed_requests`]).
    pub fn requests(&self) -> Option<Requests> {
        match self {
            Self::Local(_) | Self::WranglerDev(_) => None,
            Self::Cloudflare(store) => {
                let stats = store.stats();
                Some(Requests {
                    list: stats.list,
                    read: stats.bulk_get + stats.get_value,
                    billed_lists: stats.billed_lists,
                    billed_reads: stats.billed_reads,
                })
            }
        }
    }

    /// For `-v`: what this run cost in API requests (the local store makes none).
    pub fn request_summary(&self) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::Cloudflare(store) => Some(format!("Cloudflare API: {}", store.stats())),
            Self::WranglerDev(store) => Some(format!("wrangler dev: {}", store.stats())),
        }
    }

    /// Closes the store; a local store that fails to close (a damaged file) is an error, so the
    /// command exits 1 instead of reporting success.
    pub fn close(self) -> Result<(), Error> {
        match self {
            Self::Local(store) => store.close(),
            Self::Cloudflare(_) | Self::WranglerDev(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_reads_back_by_its_name() {
        for kind in TargetKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<TargetKind>(&json).expect("parses"), kind);
        }
    }

    #[test]
    fn only_a_metered_target_counts_billed_requests() {
        for kind in TargetKind::ALL {
            let can = kind.capabilities();
            assert_eq!(can.metered, can.billed_requests, "{kind:?}");
        }
        assert!(!TargetKind::Cloudflare.capabilities().exact_text_reads);
        assert!(TargetKind::Local.capabilities().created_on_open);
    }
}
