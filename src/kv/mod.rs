//! Storage behind one trait.
//!
//! This module owns [`KvStore`], the four operations kvsync needs from a Workers KV namespace
//! (list a page, bulk get, bulk put, bulk delete), the plain data those operations exchange, and
//! the limits Cloudflare enforces. The plan engine reads [`ListedKey`] and never sees a store;
//! only the targets ([`local`], [`cloudflare`] and [`wrangler_dev`]) know where the bytes live.

pub mod cloudflare;
pub mod local;
pub mod metadata;
pub mod name;
pub mod read;
pub mod refusal;
pub mod retry;
pub mod target;
pub mod titles;
pub mod token;
pub mod wire;
pub mod wrangler_dev;

use std::future::Future;

use crate::content::Expiration;

pub use metadata::ListedMetadata;
pub use name::KeyName;
pub use target::{Capabilities, Requests, Store, TargetKind};
pub use titles::{Namespace, TitleError, Titles};

/// Keys per list page (Cloudflare's maximum `limit`).
pub const LIST_PAGE_MAX: usize = 1000;
/// Keys per bulk get request.
pub const BULK_GET_MAX: usize = 100;
/// Pairs per bulk write request, and keys per bulk delete request.
pub const BULK_WRITE_MAX: usize = 10_000;
/// Bytes of request JSON one bulk write must stay under (the API says 100 MB; we read it as 10^8).
pub const BULK_WRITE_BYTES_MAX: usize = 100_000_000;
/// One key as a listing returns it: the name, its absolute expiration, and its metadata.
///
/// A plan holds every listed key of every scope at once, so the metadata is held compactly
/// ([`ListedMetadata`]); it still reads back as exactly the JSON the listing held.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    /// The name; the names of one page share a buffer ([`KeyName`]).
    pub name: KeyName,
    /// Absolute unix seconds, present only when the key expires.
    pub expiration: Option<i64>,
    /// The metadata as written; [`ListedMetadata::none`] when the key has none.
    pub metadata: ListedMetadata,
}

/// One page of a listing. `cursor` is `None` when the listing is complete; a page may be empty
/// and still carry a cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub keys: Vec<ListedKey>,
    pub cursor: Option<String>,
}

/// A listed page whose keys may still have to be decoded: a store that has the next cursor
/// before it has decoded the keys returns it at once, so that the next page can be requested
/// while this one is decoded (see [`KvStore::list_page_pending`]).
pub struct PendingPage {
    pub cursor: Option<String>,
    keys: PendingKeys,
}

enum PendingKeys {
    Ready(Vec<ListedKey>),
    Deferred(Box<dyn FnOnce() -> Result<Vec<ListedKey>, Error> + Send>),
}

impl PendingPage {
    /// A page whose keys are already decoded.
    pub fn ready(page: ListPage) -> Self {
        Self { cursor: page.cursor, keys: PendingKeys::Ready(page.keys) }
    }

    /// A page whose keys `decode` will produce (or say why it cannot).
    pub fn deferred(
        cursor: Option<String>,
        decode: impl FnOnce() -> Result<Vec<ListedKey>, Error> + Send + 'static,
    ) -> Self {
        Self { cursor, keys: PendingKeys::Deferred(Box::new(decode)) }
    }

    /// Decodes the keys here and now.
    pub fn decode(self) -> Result<ListPage, Error> {
        let keys = match self.keys {
            PendingKeys::Ready(keys) => keys,
            PendingKeys::Deferred(decode) => decode()?,
        };
        Ok(ListPage { keys, cursor: self.cursor })
    }

    /// Decodes the keys on the async runtime's blocking pool, leaving this thread free to send
    /// the next request; already decoded keys come back at once.
    fn decode_aside(self) -> impl Future<Output = Result<Vec<ListedKey>, Error>> {
        let job = match self.keys {
            PendingKeys::Ready(keys) => Err(keys),
            PendingKeys::Deferred(decode) => Ok(tokio::task::spawn_blocking(decode)),
        };
        async move {
            match job {
                Err(keys) => Ok(keys),
                Ok(handle) => match handle.await {
                    Ok(result) => result,
                    Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                    Err(_) => Err(Error::DecodeCancelled),
                },
            }
        }
    }
}

/// One pair of a bulk write. The metadata is the complete object to store (user metadata plus
/// the marker), because a write replaces whatever metadata the key had.
#[derive(Debug, Clone, PartialEq)]
pub struct PutPair {
    pub key: String,
    pub value: Vec<u8>,
    pub metadata: serde_json::Value,
    pub expiration: Expiration,
}

/// What a bulk get returned for one key.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveValue {
    /// The key holds UTF-8 text.
    Text(String),
    /// The key holds bytes that are not UTF-8 text.
    Binary(Vec<u8>),
    /// The key does not exist (or expired) now.
    Missing,
    /// The key was listed but its value could not be read, for this key alone (say, a single
    /// GET answered 404 for a key the listing just returned and that has not expired): why.
    /// Never a reason to treat the key as gone.
    Unreadable(String),
}

/// What a reader knows about one listed key it asks a value for ([`KvStore::read_values`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadHint {
    /// The exact bytes are needed: a text read may have changed them (it drops a leading
    /// U+FEFF), or the value is known to be binary, which bulk get does not return.
    pub exact: bool,
    /// The key's absolute expiration as the listing gave it: a key that cannot be found once
    /// this has passed is [`LiveValue::Missing`]; before, it is [`LiveValue::Unreadable`].
    pub listed_expiration: Option<i64>,
}

/// The outcome of a bulk write or delete that the server accepted: the keys it asks to retry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkOutcome {
    pub unsuccessful_keys: Vec<String>,
}

/// A Workers KV namespace store. Implementations enforce Cloudflare's limits themselves, so a
/// store never accepts what the real API would refuse.
///
/// The methods return futures without a `Send` bound: kvsync drives them on one thread.
pub trait KvStore {
    /// What this target can and cannot do (its [`TargetKind`]'s, for a real target).
    fn capabilities(&self) -> Capabilities;

    /// Lists up to [`LIST_PAGE_MAX`] keys starting with `prefix`, in UTF-8 byte order, after
    /// `cursor` (an opaque string from the previous page).
    fn list_page(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<ListPage, Error>>;

    /// [`list_page`](Self::list_page), but the keys may be decoded later (see [`PendingPage`]).
    /// The default lists the page and has its keys ready.
    fn list_page_pending(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<PendingPage, Error>> {
        async move { self.list_page(namespace_id, prefix, cursor).await.map(PendingPage::ready) }
    }

    /// Reads up to [`BULK_GET_MAX`] values, one result per requested key, in request order.
    fn bulk_get(
        &self,
        namespace_id: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<LiveValue>, Error>>;

    /// Reads the values of keys a listing just returned, one result per key, in request order;
    /// `hints[i]` goes with `keys[i]` (a missing hint is the default). A problem with one key
    /// is that key's [`LiveValue::Unreadable`] and does not stop the other reads. The default
    /// is [`bulk_get`](Self::bulk_get), right for a store whose reads are always exact.
    fn read_values(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> impl Future<Output = Result<Vec<LiveValue>, Error>> {
        let _ = hints;
        self.bulk_get(namespace_id, keys)
    }

    /// Writes up to [`BULK_WRITE_MAX`] pairs whose request JSON stays under
    /// [`BULK_WRITE_BYTES_MAX`]. Keys must be unique within one call. A pair that fits no
    /// bulk-write item ([`wire::fits_bulk_item`]) must be the only pair of its call: the
    /// Cloudflare target writes it with the single-key PUT.
    fn bulk_put(
        &self,
        namespace_id: &str,
        pairs: &[PutPair],
    ) -> impl Future<Output = Result<BulkOutcome, Error>>;

    /// Deletes up to [`BULK_WRITE_MAX`] keys; deleting a missing key succeeds.
    fn bulk_delete(
        &self,
        namespace_id: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<BulkOutcome, Error>>;

    /// How this target's namespaces are found by title (`namespace_title:` scopes), at most one
    /// listing per call. The default is a target that has no titles: an error that says so.
    fn namespace_titles(&self) -> impl Future<Output = Result<Titles, Error>> {
        async { Err(Error::NoTitles) }
    }
}

/// Lists every key of a scope, following cursors until the listing says it is complete.
/// A repeated cursor is an error rather than an endless loop.
pub async fn list_all<S: KvStore>(
    store: &S,
    namespace_id: &str,
    prefix: &str,
) -> Result<Vec<ListedKey>, Error> {
    list_all_with(store, namespace_id, prefix, &|_| {}).await
}

/// [`list_all`], calling `on_page` with the number of keys of each page as it arrives (for
/// progress displays).
pub async fn list_all_with<S: KvStore>(
    store: &S,
    namespace_id: &str,
    prefix: &str,
    on_page: &dyn Fn(usize),
) -> Result<Vec<ListedKey>, Error> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    // Each page is decoded while the next one is under way: the listing is a chain of
    // requests, and decoding between them would lengthen it.
    let mut decoding = None;
    loop {
        let next = store.list_page_pending(namespace_id, prefix, cursor.as_deref()).await;
        if let Some(previous) = decoding.take() {
            let page: Vec<ListedKey> = previous.await?;
            on_page(page.len());
            keys.extend(page);
        }
        let page = next?;
        let next_cursor = page.cursor.clone().filter(|c| !c.is_empty());
        let page_keys = page.decode_aside();
        match next_cursor {
            None => {
                let page = page_keys.await?;
                on_page(page.len());
                keys.extend(page);
                // The listing is held until the run ends: give back what doubling left over
                // (up to half of it).
                keys.shrink_to_fit();
                return Ok(keys);
            }
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(Error::RepeatedCursor {
                        namespace_id: namespace_id.to_owned(),
                        cursor: next,
                    });
                }
                cursor = Some(next);
                decoding = Some(page_keys);
            }
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused a request as the real API would, in the API's words.
    #[error(transparent)]
    Refused(#[from] refusal::Refusal),
    /// The Cloudflare client will not send a request the API would refuse or could misread.
    #[error(transparent)]
    Unsendable(#[from] cloudflare::Unsendable),
    /// A request body, or the part of one named, could not be encoded as JSON.
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: cloudflare::Body,
        #[source]
        source: serde_json::Error,
    },
    /// Decoding a list page on the blocking pool was cancelled before it finished.
    #[error("decoding a list page was cancelled")]
    DecodeCancelled,
    /// A store answered a read with another number of values than keys it was asked for.
    #[error("a read of {keys} keys returned {values} values")]
    ValueCount { keys: usize, values: usize },
    /// The local store's file could not be opened, read or written, or is not what kvsync
    /// wrote; `problem` says which, and its hint what to do.
    #[error("local store `{path}`: {problem}")]
    Local { path: String, problem: local::Problem },
    /// The local store's file is locked by another process that has it open.
    #[error("the local store `{path}` is in use by another kvsync process")]
    LocalInUse { path: String },
    /// A listing returned a cursor it had already returned.
    #[error("listing namespace `{namespace_id}` returned cursor `{cursor}` twice")]
    RepeatedCursor { namespace_id: String, cursor: String },
    /// A request to the Cloudflare API got no HTTP answer (connection refused or reset, DNS,
    /// TLS, or no complete answer within the timeout), also after the retries.
    #[error("could not reach the Cloudflare API (`{endpoint}`): {detail}")]
    Transport { endpoint: String, detail: String },
    /// The Cloudflare API answered with a failure: `success: false` (even on HTTP 200) or an
    /// error status. `codes[i]` goes with `messages[i]`; a code of 0 means the API gave none.
    #[error(
        "the Cloudflare API refused `{endpoint}` (HTTP {status}): {}",
        cloudflare::describe_api_errors(codes, messages)
    )]
    Api { endpoint: String, status: u16, codes: Vec<u32>, messages: Vec<String> },
    /// The Cloudflare API kept answering 429 until the retry budget ran out.
    #[error(
        "the Cloudflare API rate limit was hit (`{endpoint}`) and retrying did not help{}",
        cloudflare::describe_retry_after(*.retry_after)
    )]
    RateLimited { endpoint: String, retry_after: Option<std::time::Duration> },
    /// The answer was not what the Cloudflare API sends: empty, truncated, malformed JSON, an
    /// unexpected shape, or an HTML page (a firewall challenge or a proxy).
    #[error("unexpected answer from `{endpoint}` (HTTP {status}): {detail}")]
    Decode { endpoint: String, status: u16, detail: String },
    /// Neither `CLOUDFLARE_API_TOKEN` nor `CF_API_TOKEN` is set.
    #[error("no Cloudflare API token: set `CLOUDFLARE_API_TOKEN` (or the legacy `CF_API_TOKEN`)")]
    MissingToken,
    /// The API token holds a character that cannot travel in an HTTP header. The token itself
    /// is never part of the message.
    #[error(
        "{} holds {what} at character {position}, which cannot be sent in an HTTP header",
        token::origin(*.variable)
    )]
    BadToken { variable: Option<&'static str>, position: usize, what: &'static str },
    /// An environment variable that tunes the Cloudflare client does not hold a usable value.
    #[error("`{variable}` must be {expected}, not `{value}`")]
    BadSetting { variable: &'static str, value: String, expected: &'static str },
    /// The API base URL does not parse as a URL.
    #[error("API base URL `{url}` is not a URL ({detail})")]
    BaseUrlNotAUrl { url: String, detail: String },
    /// The API base URL is a URL kvsync will not send the token to (`why` says which rule).
    #[error("API base URL `{url}` {why}")]
    BadBaseUrl { url: String, why: &'static str },
    /// The account id cannot be a Cloudflare account id.
    #[error(
        "account id `{account_id}` is not a Cloudflare account id (1 to {} letters, digits, `-` \
         or `_`)",
        cloudflare::ID_MAX
    )]
    BadAccountId { account_id: String },
    /// The API token cannot travel in an HTTP header (checked before, so not expected).
    #[error("the API token cannot be sent in an HTTP header")]
    TokenNotAHeader,
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {detail}")]
    HttpClient { detail: String },
    /// A request could not be built.
    #[error("cannot build the request `{endpoint}`: {detail}")]
    BadRequest { endpoint: String, detail: String },
    /// The `wrangler-dev` target: the dev server is not there, is not one kvsync can use, does
    /// not bind a namespace, or refused a request; the problem's hint says what to do.
    #[error(transparent)]
    WranglerDev(#[from] wrangler_dev::Problem),
    /// A `namespace_title:` scope on a target that cannot find a namespace by its title.
    #[error(
        "this target cannot find a namespace by its title; set `namespace_id:` (or `binding:`) \
         instead of `namespace_title:`"
    )]
    NoTitles,
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        let mut hints: Vec<String> = cloudflare::hint(self).into_iter().collect();
        match self {
            Error::MissingToken => {
                hints.push("to try kvsync without an account, pass `--target local`".to_owned());
            }
            Error::Local { problem, .. } => hints.extend(problem.hint().map(str::to_owned)),
            Error::WranglerDev(problem) => hints.push(problem.hint()),
            _ => {}
        }
        hints
    }
}

impl Error {
    /// The error on one line, for a place that prints no hint lines (an apply's failed key): a
    /// local store's problem keeps what to do about it after a `; `, since the file stays as it
    /// is until the user acts; any other error is its message alone.
    pub fn on_one_line(&self) -> String {
        match self {
            Error::Local { problem, .. } => match problem.hint() {
                Some(hint) => format!("{self}; {hint}"),
                None => self.to_string(),
            },
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::mpsc;

    use super::*;

    /// Three pages; each page's keys can only be decoded once the next page was requested
    /// (the decode waits for that request), so a listing that decoded a page before asking for
    /// the next would never end.
    struct Chained {
        /// For each page, what tells its decode that the next page was requested.
        requested: RefCell<Vec<mpsc::Sender<()>>>,
        fail_decode_of: Option<usize>,
    }

    impl KvStore for Chained {
        fn capabilities(&self) -> crate::kv::Capabilities {
            crate::kv::TargetKind::Local.capabilities()
        }

        async fn list_page(&self, _: &str, _: &str, _: Option<&str>) -> Result<ListPage, Error> {
            unreachable!("list_all asks for pending pages")
        }

        async fn list_page_pending(
            &self,
            _: &str,
            _: &str,
            cursor: Option<&str>,
        ) -> Result<PendingPage, Error> {
            let index: usize = cursor.map_or(0, |c| c.parse().expect("a page number"));
            if let Some(previous) = self.requested.borrow_mut().get(index.wrapping_sub(1)) {
                let _ = previous.send(());
            }
            let (tx, rx) = mpsc::channel();
            self.requested.borrow_mut().push(tx);
            let last = index == 2;
            let fail = self.fail_decode_of == Some(index);
            let next = (!last).then(|| (index + 1).to_string());
            Ok(PendingPage::deferred(next, move || {
                if !last {
                    rx.recv_timeout(std::time::Duration::from_secs(10))
                        .map_err(|_| Error::DecodeCancelled)?;
                }
                if fail {
                    let cursor = index.to_string();
                    return Err(refusal::Refusal::UnknownCursor { cursor }.into());
                }
                Ok(vec![ListedKey {
                    name: format!("k{index}").into(),
                    expiration: None,
                    metadata: ListedMetadata::none(),
                }])
            }))
        }

        async fn bulk_get(&self, _: &str, _: &[String]) -> Result<Vec<LiveValue>, Error> {
            unreachable!()
        }

        async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, Error> {
            unreachable!()
        }

        async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, Error> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn each_page_is_decoded_while_the_next_is_requested() {
        let store = Chained { requested: RefCell::new(Vec::new()), fail_decode_of: None };
        let seen = RefCell::new(Vec::new());
        let keys =
            list_all_with(&store, "ns", "", &|n| seen.borrow_mut().push(n)).await.expect("listed");
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["k0", "k1", "k2"]);
        assert_eq!(seen.into_inner(), [1, 1, 1]);
    }

    #[tokio::test]
    async fn a_page_that_does_not_decode_fails_the_listing() {
        let store = Chained { requested: RefCell::new(Vec::new()), fail_decode_of: Some(1) };
        let error = list_all(&store, "ns", "").await.expect_err("page 1 is bad");
        assert_eq!(error.to_string(), "Invalid cursor `1`: not a cursor this store returned.");
    }
}
