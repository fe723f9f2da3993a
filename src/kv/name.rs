//! A listed key's name, sharing one buffer with the other names of its page.
//!
//! A plan holds every listed key at once. As a `String` each name is its own allocation: at
//! the bench's 27-byte names, 24 bytes of `String` and a 48-byte heap block, 72 bytes a key.
//! A [`KeyName`] is 16 bytes and points into one buffer per page of up to 1,000 names, so the
//! bytes cost what they are.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A key name: a slice of a buffer shared with other names. Reads as a `str` (`Deref`), and
/// compares, orders and hashes as its text.
#[derive(Clone)]
pub struct KeyName {
    /// A thin pointer (`Arc<Box<str>>`, not `Arc<str>`) keeps the name at 16 bytes.
    buffer: Arc<Box<str>>,
    start: u32,
    /// [`WHOLE`] for a name that has its buffer to itself.
    len: u32,
}

/// The `len` of a name that is all of its buffer, however long.
const WHOLE: u32 = u32::MAX;

impl KeyName {
    /// Names that share one buffer, in the order given. Names that would not fit one buffer
    /// indexed by `u32` (4 GiB together, which no listing page comes near) get buffers of
    /// their own.
    pub fn shared<S: AsRef<str>>(names: &[S]) -> Vec<KeyName> {
        let total = names.iter().map(|n| n.as_ref().len()).sum::<usize>();
        if u32::try_from(total).is_err() || total == WHOLE as usize {
            return names.iter().map(|n| Self::from(n.as_ref())).collect();
        }
        let mut buffer = String::with_capacity(total);
        let mut spans = Vec::with_capacity(names.len());
        for name in names {
            // Both fit: every end is at most `total`, which fits a `u32`.
            let start = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
            let len = u32::try_from(name.as_ref().len()).unwrap_or(u32::MAX);
            buffer.push_str(name.as_ref());
            spans.push((start, len));
        }
        let buffer = Arc::new(buffer.into_boxed_str());
        spans
            .into_iter()
            .map(|(start, len)| KeyName { buffer: Arc::clone(&buffer), start, len })
            .collect()
    }

    /// Whether two names share a buffer.
    #[cfg(test)]
    pub(crate) fn shares_buffer_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer)
    }

    pub fn as_str(&self) -> &str {
        if self.len == WHOLE {
            return &self.buffer;
        }
        let start = self.start as usize;
        // The span was cut at name boundaries of this very buffer.
        self.buffer.get(start..start + self.len as usize).unwrap_or_default()
    }
}

impl From<&str> for KeyName {
    /// A name with a buffer of its own.
    fn from(name: &str) -> Self {
        KeyName { buffer: Arc::new(name.into()), start: 0, len: WHOLE }
    }
}

impl From<String> for KeyName {
    fn from(name: String) -> Self {
        Self::from(name.as_str())
    }
}

impl From<&KeyName> for String {
    fn from(name: &KeyName) -> Self {
        name.as_str().to_owned()
    }
}

impl Deref for KeyName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for KeyName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for KeyName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for KeyName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for KeyName {}

impl PartialEq<str> for KeyName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for KeyName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for KeyName {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialOrd for KeyName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyName {
    /// Byte order, as `str` orders.
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for KeyName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_share_one_buffer_and_read_back() {
        let names = ["flags/a", "", "flags/é😀", "x"];
        let shared = KeyName::shared(&names);
        assert_eq!(shared.iter().map(KeyName::as_str).collect::<Vec<_>>(), names);
        assert!(shared.windows(2).all(|w| Arc::ptr_eq(&w[0].buffer, &w[1].buffer)));
        assert_eq!(shared[0].buffer.len(), names.concat().len());
        assert!(KeyName::shared::<&str>(&[]).is_empty());
    }

    #[test]
    fn compares_orders_and_prints_as_text() {
        let [a, b] = <[KeyName; 2]>::try_from(KeyName::shared(&["b", "a"])).expect("two");
        let own = KeyName::from("b");
        assert_eq!(a, own);
        assert!(b < a);
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Greater);
        assert_eq!(a, "b");
        assert_eq!(a, *"b");
        assert_eq!(a, "b".to_owned());
        assert_eq!(format!("{a} {a:?}"), "b \"b\"");
        assert_eq!(String::from(&a), "b");
        let hash = |name: &dyn Fn(&mut std::collections::hash_map::DefaultHasher)| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            name(&mut h);
            h.finish()
        };
        assert_eq!(hash(&|h| a.hash(h)), hash(&|h| "b".hash(h)));
        assert!(a.starts_with('b'));
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn stays_small() {
        assert_eq!(size_of::<KeyName>(), 16);
    }
}
