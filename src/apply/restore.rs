//! `kvsync restore`'s decisions: for each key of a snapshot, what putting it back means, given
//! the key as it is live now. Pure: the command lists and reads, this decides.
//!
//! Per key: live equals the snapshot's before-state → nothing to do; live is what the apply
//! wrote (our owner's marker with the hash the snapshot recorded, or absent after a delete) →
//! restore it (a created key is deleted); anything else → a conflict, refused unless
//! `--overwrite-changed`. A value the snapshot left out (sensitive) cannot be put back, and an
//! expiration already past or under 60 s away cannot be written: both are reported.

use crate::content::Marker;
use crate::content::limits::EXPIRATION_MIN_SECS;
use crate::kv::{ListedKey, LiveValue};

use super::snapshot::KeyLine;

/// What restore does with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Live already equals the snapshot's before-state.
    Nothing,
    /// Write the snapshot's bytes, metadata and expiration back.
    Put,
    /// The apply created the key: delete it.
    Delete,
    /// Live is neither the before-state nor what the apply wrote: someone changed it since.
    /// `taken`: `--overwrite-changed` was given, so it is restored anyway (put or delete).
    Changed { taken: bool, delete: bool },
    /// The snapshot left the value out (sensitive): it cannot be put back.
    LeftOut,
    /// The key's expiration is past or under 60 s away: it cannot be written.
    Expiring { at: i64 },
}

impl Decision {
    /// Whether restore writes or deletes the key.
    pub fn writes(&self) -> bool {
        matches!(self, Self::Put | Self::Delete | Self::Changed { taken: true, .. })
    }

    /// Whether the write is a delete.
    pub fn deletes(&self) -> bool {
        matches!(self, Self::Delete | Self::Changed { taken: true, delete: true })
    }

    /// A conflict that refuses the restore.
    pub fn refuses(&self) -> bool {
        matches!(self, Self::Changed { taken: false, .. })
    }
}

/// The key live now: its listing and, when it was read, its exact value.
pub struct Live<'a> {
    pub listed: &'a ListedKey,
    pub value: Option<&'a LiveValue>,
}

/// Decides what restoring `line` means. `owner` is the snapshot's; `before` is the line's
/// value bytes (`None` when left out or absent); `now` is unix seconds.
pub fn decide(
    line: &KeyLine,
    before: Option<&[u8]>,
    live: Option<Live<'_>>,
    owner: &str,
    now: i64,
    overwrite_changed: bool,
) -> Decision {
    if equals_before(line, before, live.as_ref()) {
        return Decision::Nothing;
    }
    let as_applied = match (&live, &line.writes) {
        // The apply deleted the key (or never got to create it: then it equals the before-state,
        // handled above).
        (None, None) => true,
        (Some(live), Some(writes)) => match live.listed.metadata.marker() {
            Marker::V1 { owner: found, sha256, .. } => found == owner && sha256.to_hex() == *writes,
            _ => false,
        },
        _ => false,
    };
    if line.left_out.is_some() {
        return Decision::LeftOut;
    }
    if !line.existed {
        return match (as_applied, overwrite_changed) {
            (true, _) => Decision::Delete,
            (false, taken) => Decision::Changed { taken, delete: true },
        };
    }
    if let Some(at) = line.expiration
        && at < now + EXPIRATION_MIN_SECS
    {
        return Decision::Expiring { at };
    }
    match (as_applied, overwrite_changed) {
        (true, _) => Decision::Put,
        (false, taken) => Decision::Changed { taken, delete: false },
    }
}

/// Whether live is exactly the snapshot's before-state: absent when the key did not exist, or
/// the same bytes (read exactly), metadata and expiration.
fn equals_before(line: &KeyLine, before: Option<&[u8]>, live: Option<&Live<'_>>) -> bool {
    match live {
        None => !line.existed,
        Some(live) => {
            let bytes = match live.value {
                Some(LiveValue::Text(text)) => text.as_bytes(),
                Some(LiveValue::Binary(bytes)) => bytes.as_slice(),
                _ => return false,
            };
            line.existed
                && before == Some(bytes)
                && live.listed.expiration == line.expiration
                && live.listed.metadata.to_json() == line.metadata
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{ContentHash, Expiration, written_metadata_with};
    use crate::kv::ListedMetadata;
    use crate::kv::name::KeyName;

    const OWNER: &str = "web";
    const NOW: i64 = 1_900_000_000;

    fn hash(n: u8) -> ContentHash {
        ContentHash([n; 32])
    }

    fn listed(metadata: Option<serde_json::Value>, expiration: Option<i64>) -> ListedKey {
        ListedKey {
            name: KeyName::shared(&["k"]).remove(0),
            expiration,
            metadata: ListedMetadata::from_json(metadata.as_ref()),
        }
    }

    fn ours(n: u8) -> serde_json::Value {
        written_metadata_with(None, OWNER, hash(n), None, false)
    }

    fn line(existed: bool, writes: Option<u8>) -> KeyLine {
        KeyLine {
            scope: "flags".into(),
            namespace: "ns".into(),
            key: "k".into(),
            action: if existed { "update" } else { "create" }.into(),
            existed,
            value: existed.then(|| "old".into()),
            encoding: None,
            left_out: None,
            metadata: existed.then(|| ours(1)),
            expiration: None,
            sha256: None,
            writes: writes.map(|n| hash(n).to_hex()),
        }
    }

    fn decide_with(line: &KeyLine, live: Option<(&ListedKey, &LiveValue)>, take: bool) -> Decision {
        let before = line.value.as_deref().map(str::as_bytes);
        let live = live.map(|(listed, value)| Live { listed, value: Some(value) });
        decide(line, before, live, OWNER, NOW, take)
    }

    #[test]
    fn an_update_is_put_back_unless_changed_since_or_already_restored() {
        let line = line(true, Some(2));
        let applied = listed(Some(ours(2)), None);
        let new = LiveValue::Text("new".into());
        assert_eq!(decide_with(&line, Some((&applied, &new)), false), Decision::Put);
        // Already restored: the bytes, metadata and expiration of before.
        let restored = listed(Some(ours(1)), None);
        let old = LiveValue::Text("old".into());
        assert_eq!(decide_with(&line, Some((&restored, &old)), false), Decision::Nothing);
        // Someone wrote since: another hash, no marker, or gone.
        let other = listed(Some(ours(3)), None);
        let changed = Decision::Changed { taken: false, delete: false };
        assert_eq!(decide_with(&line, Some((&other, &new)), false), changed);
        let bare = listed(None, None);
        assert_eq!(decide_with(&line, Some((&bare, &new)), false), changed);
        assert_eq!(decide_with(&line, None, false), changed);
        assert!(changed.refuses() && !changed.writes());
        let taken = decide_with(&line, Some((&other, &new)), true);
        assert_eq!(taken, Decision::Changed { taken: true, delete: false });
        assert!(taken.writes() && !taken.deletes());
    }

    #[test]
    fn a_created_key_is_deleted_and_a_deleted_one_put_back() {
        let created = line(false, Some(2));
        let applied = listed(Some(ours(2)), None);
        let new = LiveValue::Text("new".into());
        assert_eq!(decide_with(&created, Some((&applied, &new)), false), Decision::Delete);
        assert_eq!(decide_with(&created, None, false), Decision::Nothing);
        let mut deleted = line(true, None);
        deleted.action = "delete".into();
        assert_eq!(decide_with(&deleted, None, false), Decision::Put);
    }

    #[test]
    fn an_expiration_too_close_and_a_left_out_value_are_reported() {
        let mut expiring = line(true, Some(2));
        expiring.expiration = Some(NOW + 59);
        let applied = listed(Some(ours(2)), Some(NOW + 59));
        let new = LiveValue::Text("new".into());
        let decision = decide_with(&expiring, Some((&applied, &new)), false);
        assert_eq!(decision, Decision::Expiring { at: NOW + 59 });
        expiring.expiration = Some(NOW + 60);
        assert_eq!(decide_with(&expiring, Some((&applied, &new)), false), Decision::Put);

        let mut secret = line(true, None);
        secret.value = None;
        secret.left_out = Some(super::super::snapshot::LeftOut::Sensitive);
        let _ = Expiration::Never;
        assert_eq!(decide_with(&secret, Some((&applied, &new)), false), Decision::LeftOut);
    }
}
