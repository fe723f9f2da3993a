//! Every environment variable kvsync reads, in one place.
