//! What the Cloudflare client refuses to send: requests the API would refuse or could misread,
//! caught before they cost a request. The caller (`apply::batch`) keeps within these limits, so
//! each of them is a bug upstream or a key no request can carry.

use super::{BULK_WRITE_BYTES_MAX, BULK_WRITE_MAX};
use crate::content::limits::NAMESPACE_ID_RULE;

/// A request the Cloudflare client did not send, with the facts that make it unsendable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    /// A namespace id that cannot be Cloudflare's, so it is not put in a URL.
    #[error("namespace id `{namespace_id}` is not a Cloudflare namespace id ({rule})", rule = NAMESPACE_ID_RULE)]
    NotANamespaceId { namespace_id: String },
    /// A bulk write of more than [`BULK_WRITE_MAX`] pairs.
    #[error("a bulk write of {count} pairs is over the limit of {max}", max = BULK_WRITE_MAX)]
    BulkWriteTooMany { count: usize },
    /// A bulk write whose body is [`BULK_WRITE_BYTES_MAX`] bytes or more.
    #[error(
        "a bulk write of {bytes} bytes is over the limit: it must be under {max} bytes",
        max = BULK_WRITE_BYTES_MAX
    )]
    BulkWriteTooLarge { bytes: usize },
    /// A bulk write that names a key twice (the API leaves which value wins unspecified).
    #[error("key `{key}` appears twice in one bulk write")]
    DuplicateKey { key: String },
    /// A value too large for a bulk-write item, in a batch with other pairs.
    #[error("key `{key}` holds a value too large for a bulk write and must be written alone")]
    NotAlone { key: String },
    /// A value too large for a bulk-write item whose key the single-key PUT cannot put in its
    /// URL.
    #[error(
        "key `{key}` holds a value too large for a bulk write, and the single-key PUT cannot \
         name it in a URL"
    )]
    KeyNotInUrl { key: String },
    /// A bulk delete of more than [`BULK_WRITE_MAX`] keys.
    #[error("a bulk delete of {count} keys is over the limit of {max}", max = BULK_WRITE_MAX)]
    BulkDeleteTooMany { count: usize },
}

/// What of a request could not be encoded as JSON ([`Error::Encode`](crate::kv::Error::Encode)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Body {
    #[error("bulk get")]
    BulkGet,
    #[error("bulk write")]
    BulkWrite,
    #[error("bulk delete")]
    BulkDelete,
    /// The metadata of a value the single-key PUT writes.
    #[error("the metadata of `{key}`")]
    Metadata { key: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Error;

    /// Each refusal to send, and each encoding failure, with its facts in its words.
    #[test]
    fn each_reads_with_its_facts() {
        let key = || "k".to_owned();
        let cases = [
            (
                Unsendable::NotANamespaceId { namespace_id: "x".into() },
                "namespace id `x` is not a Cloudflare namespace id (32 lowercase hex digits)",
            ),
            (
                Unsendable::BulkWriteTooMany { count: 10_001 },
                "a bulk write of 10001 pairs is over the limit of 10000",
            ),
            (
                Unsendable::BulkWriteTooLarge { bytes: 100_000_000 },
                "a bulk write of 100000000 bytes is over the limit: it must be under 100000000 \
                 bytes",
            ),
            (Unsendable::DuplicateKey { key: key() }, "key `k` appears twice in one bulk write"),
            (
                Unsendable::NotAlone { key: key() },
                "key `k` holds a value too large for a bulk write and must be written alone",
            ),
            (
                Unsendable::KeyNotInUrl { key: key() },
                "key `k` holds a value too large for a bulk write, and the single-key PUT cannot \
                 name it in a URL",
            ),
            (
                Unsendable::BulkDeleteTooMany { count: 10_001 },
                "a bulk delete of 10001 keys is over the limit of 10000",
            ),
        ];
        for (unsendable, words) in cases {
            assert_eq!(Error::from(unsendable).to_string(), words);
        }
        let source = serde_json::from_str::<u8>("x").expect_err("not JSON");
        let detail = source.to_string();
        let error = Error::Encode { what: Body::Metadata { key: key() }, source };
        assert_eq!(error.to_string(), format!("cannot encode the metadata of `k`: {detail}"));
    }
}
