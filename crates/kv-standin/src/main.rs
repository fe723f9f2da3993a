//! `kv-standin`: run the stand-in by hand, to try kvsync's Cloudflare target without an account
//! or to point a benchmark at it. It listens on 127.0.0.1 until it is stopped (Ctrl-C).

use std::time::Duration;

use clap::Parser;
use kv_standin::{Options, Standin};

/// A local stand-in of Cloudflare's Workers KV REST API (for trying kvsync; not for production).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The port on 127.0.0.1
    #[arg(long, default_value_t = 8787)]
    port: u16,

    /// A namespace id to create (repeatable); requests for any other id get code 10013
    #[arg(long = "namespace", value_name = "ID")]
    namespaces: Vec<String>,

    /// How long each list page takes, in milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    list_latency_ms: u64,
}

fn main() {
    let args = Args::parse();
    let options = Options {
        port: args.port,
        list_latency: Duration::from_millis(args.list_latency_ms),
        ..Options::default()
    };
    let standin = Standin::start(options);
    for namespace in &args.namespaces {
        standin.create_namespace(namespace);
    }
    println!("kv-standin is listening; point kvsync at it with:");
    println!("  export CLOUDFLARE_API_BASE_URL={}", standin.base_url());
    println!("  export CLOUDFLARE_API_TOKEN={}", standin.token());
    println!("  export CLOUDFLARE_ACCOUNT_ID={}", standin.account_id());
    println!("namespaces: {}", args.namespaces.join(", "));
    loop {
        std::thread::park();
    }
}
