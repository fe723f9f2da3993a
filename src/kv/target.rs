//! The targets kvsync can talk to, as one [`KvStore`]: the command layer picks one and the rest
//! of the run never asks which.

use super::cloudflare::CloudflareStore;
use super::local::LocalStore;
use super::{BulkOutcome, Error, KvStore, ListPage, LiveValue, PendingPage, PutPair, ReadHint};

/// Every target kvsync can talk to, behind the one trait.
pub enum Store {
    Local(LocalStore),
    Cloudflare(Box<CloudflareStore>),
}

/// Calls the same method on whichever store this is.
macro_rules! each_store {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            Store::Local($inner) => $call,
            Store::Cloudflare($inner) => $call,
        }
    };
}

impl KvStore for Store {
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
}

impl Store {
    /// For `-v`: what this run cost in API requests (the local store makes none).
    pub fn request_summary(&self) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::Cloudflare(store) => Some(format!("Cloudflare API: {}", store.stats())),
        }
    }

    /// Closes the store; a local store that fails to close (a damaged file) is an error, so the
    /// command exits 1 instead of reporting success.
    pub fn close(self) -> Result<(), Error> {
        match self {
            Self::Local(store) => store.close(),
            Self::Cloudflare(_) => Ok(()),
        }
    }
}
