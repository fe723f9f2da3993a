//! The bytes of the local store's tables: the record `entries` holds for a key, a namespace's
//! summary in `namespaces`, entry and expiry keys, and list cursors. Each decoder refuses bytes
//! it did not encode (a checksum or a version byte), so a damaged file gives an error, never a
//! wrong key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::ReadableTable;

use super::Bytes;
use crate::content::limits::KEY_BYTES_MAX;
use crate::kv::refusal::Refusal;
use crate::kv::{Error, ListedMetadata, PutPair};

/// The first byte of every decoded cursor. It makes a random string that happens to be valid
/// base64 far less likely to pass for a cursor, and leaves room to change the format.
const CURSOR_VERSION: u8 = 1;

/// What `entries` holds for one key: its absolute expiration, its metadata as JSON text, and
/// the checksum of its value.
///
/// Encoded as the entry's checksum (8 big-endian bytes: [`checksum`] of the entry key and
/// everything after these 8 bytes), the value's checksum (8 bytes), one tag byte (0: never
/// expires, 1: expires), then for tag 1 the expiration as 8 big-endian bytes, then the metadata
/// text (empty when the key has none; JSON text is never empty, so the two cannot be confused).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record<'a> {
    pub(super) expiration: Option<i64>,
    pub(super) metadata: Option<std::borrow::Cow<'a, str>>,
    pub(super) value_sum: u64,
}

impl Record<'static> {
    /// What to store for a pair the refusals accepted, expiring at `expiration`.
    pub(super) fn of(pair: &PutPair, expiration: Option<i64>) -> Self {
        // A JSON null is what "no metadata" looks like in a `PutPair`; a listing then omits it.
        let metadata =
            (!pair.metadata.is_null()).then(|| std::borrow::Cow::Owned(pair.metadata.to_string()));
        Record { expiration, metadata, value_sum: checksum(&[&pair.value]) }
    }
}

impl<'a> Record<'a> {
    pub(super) fn encode(&self, entry_key: &[u8]) -> Vec<u8> {
        let metadata = self.metadata.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(25 + metadata.len());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.value_sum.to_be_bytes());
        match self.expiration {
            None => out.push(0),
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.to_be_bytes());
            }
        }
        out.extend_from_slice(metadata.as_bytes());
        let sum = checksum(&[entry_key, &out[8..]]);
        out[..8].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// The record of `entry_key`, when `bytes` are one and their checksum matches.
    pub(super) fn decode(entry_key: &[u8], bytes: &'a [u8]) -> Option<Record<'a>> {
        let (sum, body) = bytes.split_first_chunk::<8>()?;
        if u64::from_be_bytes(*sum) != checksum(&[entry_key, body]) {
            return None;
        }
        let (value_sum, bytes) = body.split_first_chunk::<8>()?;
        let value_sum = u64::from_be_bytes(*value_sum);
        let (expiration, rest) = match bytes.split_first()? {
            (0, rest) => (None, rest),
            (1, rest) => {
                let (at, rest) = rest.split_first_chunk::<8>()?;
                (Some(i64::from_be_bytes(*at)), rest)
            }
            _ => return None,
        };
        let metadata = match std::str::from_utf8(rest).ok()? {
            "" => None,
            text => Some(std::borrow::Cow::Borrowed(text)),
        };
        Some(Record { expiration, metadata, value_sum })
    }

    /// KV hides a key from the second its expiration is reached.
    pub(super) fn is_expired(&self, now: i64) -> bool {
        self.expiration.is_some_and(|at| at <= now)
    }

    /// The metadata in the compact form a listing holds.
    pub(super) fn metadata(&self) -> Result<ListedMetadata, serde_json::Error> {
        self.metadata.as_deref().map_or(Ok(ListedMetadata::none()), ListedMetadata::from_json_text)
    }
}

/// The checksum of an encoded record (its first 8 bytes; 0 for bytes too short to hold one,
/// which [`Record::decode`] refuses anyway).
pub(super) fn entry_sum(encoded: &[u8]) -> u64 {
    encoded.first_chunk::<8>().map_or(0, |sum| u64::from_be_bytes(*sum))
}

/// FNV-1a (64 bits) over `parts`, each preceded by its length so that moving bytes from one
/// part to the next changes the sum. Not a defence against an attacker (who can write the file
/// anyway): a fixed function that any changed byte changes, stable across Rust versions, cheap
/// enough for every key of a listing.
pub(super) fn checksum(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in (part.len() as u64).to_be_bytes().iter().chain(part.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// What `namespaces` holds for a namespace: how many entries it has and the sum (wrapping) of
/// their checksums, so that an entry missing, added or changed behind the store's back shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Summary {
    pub(super) count: u64,
    pub(super) sum: u64,
}

impl Summary {
    pub(super) fn add(&mut self, entry_sum: u64) {
        self.count = self.count.wrapping_add(1);
        self.sum = self.sum.wrapping_add(entry_sum);
    }

    pub(super) fn remove(&mut self, entry_sum: u64) {
        self.count = self.count.wrapping_sub(1);
        self.sum = self.sum.wrapping_sub(entry_sum);
    }

    /// The count, the sum, and a checksum of both (8 big-endian bytes each).
    pub(super) fn encode(self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..8].copy_from_slice(&self.count.to_be_bytes());
        out[8..16].copy_from_slice(&self.sum.to_be_bytes());
        let sum = checksum(&[&out[..16]]);
        out[16..].copy_from_slice(&sum.to_be_bytes());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Summary> {
        let bytes: &[u8; 24] = bytes.try_into().ok()?;
        if checksum(&[&bytes[..16]]).to_be_bytes() != bytes[16..] {
            return None;
        }
        let count = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let sum = u64::from_be_bytes(bytes[8..16].try_into().ok()?);
        Some(Summary { count, sum })
    }
}

/// A namespace's summary: the empty one when it has none (it never held a key), `None` when
/// the bytes there are not a summary.
pub(super) fn read_summary(
    namespaces: &impl ReadableTable<Bytes, Bytes>,
    namespace_id: &str,
) -> Result<Option<Summary>, redb::StorageError> {
    Ok(match namespaces.get(namespace_id.as_bytes())? {
        None => Some(Summary::default()),
        Some(guard) => Summary::decode(guard.value()),
    })
}

/// The namespace an entry key belongs to (the part before its first NUL byte).
pub(super) fn namespace_of(entry_key: &[u8]) -> Option<&str> {
    let end = entry_key.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&entry_key[..end]).ok()
}

pub(super) fn entry_key(namespace_id: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace_id.len() + 1 + key.len());
    out.extend_from_slice(namespace_id.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

/// Expirations as 8 bytes that sort like the numbers: big-endian with the sign bit flipped,
/// so that even a negative clock (a test's) orders correctly.
pub(super) fn sortable(at: i64) -> [u8; 8] {
    ((at as u64) ^ (1 << 63)).to_be_bytes()
}

pub(super) fn expiry_key(at: i64, entry_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + entry_key.len());
    out.extend_from_slice(&sortable(at));
    out.extend_from_slice(entry_key);
    out
}

/// The first index key of an expiration after `now`: everything below it has expired.
pub(super) fn expiry_bound(now: i64) -> Vec<u8> {
    match now.checked_add(1) {
        Some(next) => sortable(next).to_vec(),
        // Nothing sorts after i64::MAX's keys but longer keys with the same 8 bytes; a 9-byte
        // bound of 0xff covers them all.
        None => vec![0xff; 9],
    }
}

pub(super) fn encode_cursor(last_key: &str) -> String {
    let mut payload = Vec::with_capacity(1 + last_key.len());
    payload.push(CURSOR_VERSION);
    payload.extend_from_slice(last_key.as_bytes());
    URL_SAFE_NO_PAD.encode(payload)
}

/// The key a cursor continues after. Anything this store did not produce is refused.
pub(super) fn decode_cursor(cursor: &str) -> Result<String, Error> {
    let garbage = || Error::from(Refusal::UnknownCursor { cursor: cursor.to_owned() });
    let payload = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| garbage())?;
    let (&version, key) = payload.split_first().ok_or_else(garbage)?;
    if version != CURSOR_VERSION || key.is_empty() || key.len() > KEY_BYTES_MAX {
        return Err(garbage());
    }
    String::from_utf8(key.to_vec()).map_err(|_| garbage())
}
