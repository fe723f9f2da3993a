//! Every environment variable kvsync reads, in one place, each with what it does.
//!
//! The list is written once, here: [`ALL`] feeds the section at the end of `kvsync --help`, and
//! a test checks that the README's table names the same variables. `NO_COLOR`, `CLICOLOR` and
//! `CLICOLOR_FORCE` are read by `anstream` when `--color auto`; they are listed all the same.

/// Declares each variable as a constant whose value is its name, documented with its
/// description, and collects them into [`ALL`] in the order written.
macro_rules! env_vars {
    ($($name:ident: $what:literal;)*) => {
        $(
            #[doc = $what]
            pub const $name: &str = stringify!($name);
        )*

        /// Every variable kvsync reads and what it does, in the order `--help` lists them.
        pub const ALL: &[(&str, &str)] = &[$(($name, $what)),*];
    };
}

env_vars! {
    CLOUDFLARE_API_TOKEN: "The API token (wrangler's name); read only from the environment, never a flag.";
    CF_API_TOKEN: "The legacy name of `CLOUDFLARE_API_TOKEN`, read only when that one is unset or empty.";
    CLOUDFLARE_ACCOUNT_ID: "The account id (wrangler's name), when the config has no `account_id:`; else the wrangler config's `account_id` is used.";
    CF_ACCOUNT_ID: "The legacy name of `CLOUDFLARE_ACCOUNT_ID`, read only when that one is unset or empty.";
    CLOUDFLARE_API_BASE_URL: "The API base URL (wrangler's name); `--api-url` wins over it.";
    CF_API_BASE_URL: "The legacy name of `CLOUDFLARE_API_BASE_URL`, read only when that one is unset or empty.";
    KVSYNC_WRANGLER_DEV_URL: "The address of `wrangler dev` for `--target wrangler-dev`; `--dev-url` wins over it (default http://127.0.0.1:8787).";
    GITHUB_SHA: "The commit being applied on GitHub Actions; the default `--revision`.";
    KVSYNC_NOW: "The clock in unix seconds, for tests and reproducible runs; the system clock otherwise.";
    KVSYNC_PROGRESS_EVERY_MS: "How often, in milliseconds, progress is printed when stderr is not a terminal (default 5000).";
    KVSYNC_HTTP_TIMEOUT_MS: "Per-request timeout in milliseconds: connect, send and the whole answer (default 60000).";
    KVSYNC_RETRY_MAX_ATTEMPTS: "Most attempts per request, the first included, at least 1 (default 6).";
    KVSYNC_RETRY_BASE_MS: "Backoff before the first retry, in milliseconds; it doubles per retry (default 1000).";
    KVSYNC_RETRY_MAX_MS: "Longest single backoff, in milliseconds (default 60000).";
    KVSYNC_RETRY_BUDGET_MS: "Total time one request may spend waiting between its attempts, in milliseconds (default 300000).";
    KVSYNC_RATE_LIMIT: "Most requests kvsync starts within one rate window (default 1200).";
    KVSYNC_RATE_WINDOW_MS: "The rate window, in milliseconds (default 300000).";
    KVSYNC_HTTP_CONCURRENCY: "Most requests in flight at once (default 4).";
    KVSYNC_VERIFY_WINDOW_MS: "How long `apply --verify` reads back what it changed, in milliseconds (default 60000, KV's propagation delay); it checks at once and then six times within it.";
    NO_COLOR: "Set and not empty: no colour with `--color auto`.";
    CLICOLOR: "`0`: no colour with `--color auto`.";
    CLICOLOR_FORCE: "Set and not `0`: colour with `--color auto` even when not writing to a terminal.";
}

/// The section `kvsync --help` ends with: every variable of [`ALL`] and what it does, wrapped
/// to the help's width of 100 columns with the descriptions aligned.
pub fn help_section() -> String {
    const WIDTH: usize = 100;
    let name_width = ALL.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let indent = 2 + name_width + 2;
    let mut text = String::from("Environment variables:");
    for (name, what) in ALL {
        let what = what.strip_suffix('.').unwrap_or(what).replace('`', "");
        let mut line = format!("  {name:<name_width$} ");
        for word in what.split(' ') {
            if line.len() + 1 + word.len() > WIDTH {
                text.push('\n');
                text.push_str(line.trim_end());
                line = " ".repeat(indent - 1);
            }
            line.push(' ');
            line.push_str(word);
        }
        text.push('\n');
        text.push_str(&line);
    }
    text
}

/// The account id from `CLOUDFLARE_ACCOUNT_ID`, else `CF_ACCOUNT_ID`; an empty value counts as
/// unset. A config's `account_id` takes precedence over both; that choice is the caller's.
pub fn account_id_from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [CLOUDFLARE_ACCOUNT_ID, CF_ACCOUNT_ID]
        .into_iter()
        .filter_map(lookup)
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README has one table of the environment variables; it must name exactly these.
    #[test]
    fn the_readme_table_lists_every_variable() {
        let readme = include_str!("../README.md");
        let start = readme.find("| variable |").expect("the README has a variable table");
        let table: Vec<&str> =
            readme[start..].lines().take_while(|line| line.starts_with('|')).skip(2).collect();
        let mut in_readme: Vec<&str> =
            table.iter().filter_map(|row| row.split('`').nth(1)).collect();
        let mut here: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
        in_readme.sort_unstable();
        here.sort_unstable();
        assert_eq!(in_readme, here, "one README row per variable, its name first");
        assert_eq!(readme.matches("| variable |").count(), 1, "one table");
    }

    #[test]
    fn the_help_section_names_every_variable_once() {
        let help = help_section();
        for (name, _) in ALL {
            assert_eq!(help.matches(&format!("  {name} ")).count(), 1, "{name}:\n{help}");
        }
        assert!(!help.contains("--token"), "the token is never a flag");
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn account_id_prefers_the_current_name_and_skips_empty() {
        let lookup = env(&[(CLOUDFLARE_ACCOUNT_ID, "a1"), (CF_ACCOUNT_ID, "a2")]);
        assert_eq!(account_id_from_env(&lookup).as_deref(), Some("a1"));
        let lookup = env(&[(CLOUDFLARE_ACCOUNT_ID, ""), (CF_ACCOUNT_ID, "a2")]);
        assert_eq!(account_id_from_env(&lookup).as_deref(), Some("a2"));
        assert_eq!(account_id_from_env(&env(&[(CF_ACCOUNT_ID, " ")])), None);
        assert_eq!(account_id_from_env(&env(&[])), None);
    }
}
