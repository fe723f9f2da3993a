//! A local stand-in of Cloudflare's Workers KV REST API (being built).
