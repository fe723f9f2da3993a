//! The I/O around the pure engine, shared by the commands: load the config, open the target,
//! list every scope, plan, and fetch what the value diffs need.
//!
//! The plan engine itself (`plan::plan`) sees none of this: it gets the desired state and the
//! listings as data.

use std::path::Path;

use super::args::{ConfigArgs, PlanningArgs};
pub use super::context::{Access, Context};
use super::output::Printer;
use super::progress::Progress;
use crate::config::{self, Desired, DesiredEntry, Globs, Heads};
use crate::error::Error;
use crate::kv::{self, KvStore, LiveValue, ReadHint};
use crate::kv::{Requests, Store};
use crate::plan::{self, Action, LiveScope, Options, Plan, compare};
use crate::report::cost::Cost;
use crate::report::human::{HumanOptions, render_plan};
use crate::report::model::PlanReport;
use crate::report::values::{Blob, TEXT_DIFF_MAX, ValueView, ValueViews, value_view};
use crate::text::printable;

/// Loads and validates the config for `target` (`--target`, when given), printing its
/// warnings.
pub fn load(
    args: &ConfigArgs,
    target: Option<kv::TargetKind>,
    printer: &Printer,
) -> Result<Desired, Error> {
    load_with_titles(args, target, None, printer)
}

/// [`load`], with the target's namespaces by title as a first load found them (a second load
/// of the config must give `namespace_title:` scopes the same ids); without them, title
/// scopes are not looked up.
pub fn load_with_titles(
    args: &ConfigArgs,
    target: Option<kv::TargetKind>,
    titles: Option<&kv::Titles>,
    printer: &Printer,
) -> Result<Desired, Error> {
    let vars = |name: &str| std::env::var(name).ok();
    let known = |_: &Heads| titles.cloned();
    let options = config::LoadOptions {
        environment: args.env.as_deref(),
        preview: args.preview,
        target,
        vars: &vars,
        titles: titles.map(|_| &known as &config::AskTitles<'_>),
    };
    let loaded = config::load(args.path(), &options)?;
    warn(&loaded, printer);
    Ok(loaded.desired)
}

/// Prints the config's warnings on stderr.
pub fn warn(loaded: &config::Loaded, printer: &Printer) {
    if !loaded.warnings.is_empty() && !printer.quiet {
        printer.stderr(&crate::report::diagnostic::render_human_warnings(
            &loaded.warnings,
            printer.stderr_color,
        ));
    }
}

/// How many listings run at once. Each listing is a chain of dependent pages, so scopes (and
/// the `list_shards` of a scope) are the unit of parallelism; the store's own limits
/// (concurrency, rate budget) still hold.
const LISTINGS_AT_ONCE: usize = 4;

/// Lists every scope, several listings at once, in config order, reporting each page's key
/// count to `on_page`. A scope with `list_shards` is listed shard by shard, in parallel; the
/// shards are sorted and none is inside another, so their listings one after the other are in
/// key order.
pub async fn list_live<S: KvStore>(
    store: &S,
    heads: &Heads,
    on_page: &dyn Fn(usize),
) -> Result<Vec<LiveScope>, Error> {
    use futures_util::{StreamExt as _, TryStreamExt as _};
    let listings: Vec<(usize, &str, &str)> = heads
        .scopes
        .iter()
        .enumerate()
        .flat_map(|(index, scope)| {
            let id = scope.namespace_id.as_str();
            scope.prefixes().into_iter().map(move |prefix| (index, id, prefix))
        })
        .collect();
    let pages: Vec<(usize, Vec<kv::ListedKey>)> = futures_util::stream::iter(listings)
        .map(|(index, namespace_id, prefix)| async move {
            let keys = kv::list_all_with(store, namespace_id, prefix, on_page).await?;
            Ok::<_, Error>((index, keys))
        })
        .buffered(LISTINGS_AT_ONCE)
        .try_collect()
        .await?;
    let mut live: Vec<LiveScope> = heads.scopes.iter().map(|_| LiveScope::default()).collect();
    for (index, keys) in pages {
        match &mut live[index].keys {
            all if all.is_empty() => *all = keys,
            all => all.extend(keys),
        }
    }
    Ok(live)
}

/// The engine options from the command line.
pub fn options(desired: &Desired, planning: &PlanningArgs, now: i64) -> Result<Options, Error> {
    let only = only_globs(&planning.only)?;
    Ok(Options {
        owner: desired.owner.clone(),
        now,
        take_over_owner: planning.take_over.clone(),
        only,
        guards: plan::guards::Guards {
            allow_empty: planning.allow_empty,
            max_deletes_override: planning.max_deletes,
            max_deletes: desired.max_deletes,
        },
    })
}

/// `--only GLOB`s compiled; `None` when there are none.
pub fn only_globs(patterns: &[String]) -> Result<Option<Globs>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    Globs::new(patterns).map(Some).map_err(|(pattern, error)| {
        Error::Usage(format!("`--only {pattern}` is not a valid glob: {error}"))
    })
}

/// Everything a command needs after planning.
pub struct Planned {
    pub desired: Desired,
    pub store: Store,
    pub live: Vec<LiveScope>,
    pub plan: Plan,
    pub views: ValueViews,
    /// API requests planning made: list, and reads for the value diffs (0 on the local target).
    pub list_requests: u64,
    pub read_requests: u64,
    /// What Cloudflare bills of those: list operations, and keys read for the value diffs.
    pub billed_lists: u64,
    pub billed_reads: u64,
    /// `--no-snapshot`: apply saves no snapshot, so its reads are not in the cost.
    pub no_snapshot: bool,
}

impl Planned {
    /// Ends a command that is about to exit: closes the store, then skips freeing the desired
    /// state, the listing and the plan one allocation at a time, which takes most of a second at
    /// a million keys (docs/benchmarks.md); the process exit returns the memory at once.
    pub fn finish(self) -> Result<(), Error> {
        let Self { store, desired, live, plan, views, .. } = self;
        std::mem::forget((desired, live, plan, views));
        Ok(store.close()?)
    }

    /// What this plan cost so far and what applying it will cost.
    pub fn cost(&self) -> Cost {
        let so_far = crate::report::cost::SoFar {
            list_requests: self.list_requests,
            read_requests: self.read_requests,
            billed_lists: self.billed_lists,
            billed_reads: self.billed_reads,
        };
        // A binary value too long for a bulk item as base64 goes through the single-key PUT.
        // (Text never is too long; text with very many control characters may still need a
        // request of its own, which keeps the count a floor.)
        let single = |index: usize, key: &str| {
            self.desired.scopes.get(index).and_then(|scope| scope.entries.get(key)).is_some_and(
                |entry| {
                    !entry.is_text
                        && entry.size > crate::content::limits::BULK_BASE64_BYTES_MAX as u64
                },
            )
        };
        let (snapshot_keys, unmarked) = if self.no_snapshot {
            (0, 0)
        } else {
            let skip = |index: usize| self.desired.scopes.get(index).is_none_or(|s| !s.snapshot);
            crate::apply::snapshot::keys_to_read(&self.plan, &skip)
        };
        let singles = if self.store.kind().capabilities().exact_text_reads { 0 } else { unmarked };
        crate::report::cost::estimate_with(&self.plan, so_far, single)
            .with_snapshot(snapshot_keys as u64, singles as u64)
            .on_free_plan(self.desired.plan_tier.is_free())
            .metered(self.store.capabilities().metered)
    }

    /// What the reports of this plan say, with `cost` ([`Planned::cost`]).
    pub fn report<'a>(&'a self, cost: &'a Cost) -> PlanReport<'a> {
        PlanReport::new(&self.plan, &self.views, cost)
    }

    /// The human plan, as `plan` and `apply` print it.
    pub fn render_human(&self, planning: &PlanningArgs, printer: &Printer, cost: &Cost) -> String {
        let options = HumanOptions {
            color: printer.stdout_color,
            value_diffs: !planning.no_value_diff,
            environment: self.desired.environment.clone(),
            show_all: planning.show_all,
        };
        render_plan(&self.report(cost), &options)
    }
}

/// Which live values a run reads for its diffs, decided before any value is read: those the
/// largest rendering of the run that shows diffs shows. A billed read of a value no rendering
/// shows is waste (on the Free plan, 100,000 reads a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffReads {
    /// Every put's (JSON shows every diff).
    All,
    /// Only the keys the Markdown report lists: the first keys of each group
    /// ([`crate::report::markdown::listed_keys`]).
    Markdown,
    /// The human plan's: every put's, unless the plan is over its cap without `--show-all`
    /// ([`crate::report::human::capped`]), then the first keys of each group.
    Human,
}

/// Load, open, list, plan, and fetch values for the diffs.
pub async fn plan(
    config: &ConfigArgs,
    planning: &PlanningArgs,
    reads: DiffReads,
    context: &Context,
    access: Access,
    printer: &Printer,
) -> Result<Planned, Error> {
    plan_with_baseline(config, planning, None, reads, context, access, printer).await
}

/// [`plan`], with `plan --baseline FILE`: the changes are tagged before any value is fetched,
/// because the baseline also says which live values are sensitive.
pub async fn plan_with_baseline(
    config: &ConfigArgs,
    planning: &PlanningArgs,
    baseline: Option<&Path>,
    reads: DiffReads,
    context: &Context,
    access: Access,
    printer: &Printer,
) -> Result<Planned, Error> {
    let Listed { desired, store, live, titles, .. } =
        load_and_list(config, context, access, printer).await?;
    let options = options(&desired, planning, context.now)?;
    let mut plan = plan::plan(&desired, &live, &options);
    if let Some(baseline) = baseline {
        let base = Base { path: baseline, titles: titles.as_ref() };
        let target = context.target_flag();
        tag_with_baseline(&mut plan, &desired.owner, &base, config, target, printer)?;
    }
    let Views { views, keys_read, unreadable } = if planning.no_value_diff {
        Views { views: ValueViews::new(), keys_read: 0, unreadable: Vec::new() }
    } else {
        let listed = match reads {
            DiffReads::All => None,
            DiffReads::Markdown => Some(crate::report::markdown::listed_keys(&plan)),
            DiffReads::Human if crate::report::human::capped(&plan, planning.show_all) => {
                Some(crate::report::model::listed_keys(&plan, crate::report::human::GROUP_KEYS))
            }
            DiffReads::Human => None,
        };
        // `reading values n/N`, once the number of values to read is known.
        let progress = std::cell::OnceCell::new();
        let on_read = |read: usize, total: usize| {
            let bar = progress.get_or_init(|| {
                Progress::new(printer, "reading values", "values", Some(total as u64))
            });
            bar.inc(read as u64);
        };
        let views = value_views(&store, &desired, &plan, listed.as_ref(), &on_read).await;
        if let Some(progress) = progress.get() {
            progress.finish();
        }
        views?
    };
    for (key, reason) in &unreadable {
        printer.warn(&format!(
            "the live value of `{}` could not be read, so its diff is not shown: {reason}",
            printable(key)
        ));
    }
    // Real API requests, retries included, and what Cloudflare bills of them: answered lists
    // and keys read, never a refused or retried attempt. The local store makes none.
    let Requests { list: list_requests, read: read_requests, billed_lists, billed_reads } =
        store.requests().unwrap_or(Requests { billed_reads: keys_read, ..Requests::default() });
    Ok(Planned {
        desired,
        store,
        live,
        plan,
        views,
        list_requests,
        read_requests,
        billed_lists,
        billed_reads,
        no_snapshot: planning.no_snapshot,
    })
}

/// The config loaded, the target opened and every scope listed.
pub struct Listed {
    pub desired: Desired,
    pub store: Store,
    pub live: Vec<LiveScope>,
    /// The YAML files the config was read from, root first.
    pub files: Vec<std::path::PathBuf>,
    /// Each scope's included files, as places in `files` (`config::Loaded::included`).
    pub included: std::collections::BTreeMap<String, Vec<usize>>,
    /// The target's namespaces by title, when a `namespace_title:` scope asked for them: a
    /// second load of the config (a baseline, `pull`'s check of its edits) reuses them.
    pub titles: Option<kv::Titles>,
}

/// What the loader thread reports.
enum Stage {
    /// `namespace_title:` scopes need the target's namespaces: where the keys live, and where
    /// to send the answer (`None` when the target could not be asked).
    Titles(Heads, std::sync::mpsc::Sender<Option<kv::Titles>>),
    /// Where the keys live, before they are read.
    Heads(Heads),
    Done(Result<config::Loaded, config::Error>),
}

/// The target's answer to the loader's `namespace_title:` scopes, asked at most once per load:
/// no store at all where titles need none (the local target), else the store opened here (and
/// kept for the listing) asked once.
struct TitleAnswer {
    /// The store opened to ask, reused for the listing.
    store: Option<Store>,
    titles: Option<kv::Titles>,
    /// Why the target could not be asked; reported instead of the loader's `TitlesUnknown`.
    error: Option<Error>,
}

impl TitleAnswer {
    async fn ask(heads: &Heads, context: &Context, access: Access, printer: &Printer) -> Self {
        if let Some(titles) = context.target(heads.target).titles_without_store() {
            return TitleAnswer { store: None, titles: Some(titles), error: None };
        }
        let store = match context.open_store(heads, access, printer) {
            Ok(store) => store,
            Err(error) => return TitleAnswer { store: None, titles: None, error: Some(error) },
        };
        match store.namespace_titles().await {
            Ok(titles) => TitleAnswer { store: Some(store), titles: Some(titles), error: None },
            Err(error) => {
                TitleAnswer { store: Some(store), titles: None, error: Some(error.into()) }
            }
        }
    }

    /// Answers the loader's question, if it asks one before anything else; returns the first
    /// stage that is not a question, and the answer.
    async fn answer(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Stage>,
        context: &Context,
        access: Access,
        printer: &Printer,
    ) -> (Option<Stage>, Self) {
        let mut asked = TitleAnswer { store: None, titles: None, error: None };
        loop {
            match rx.recv().await {
                Some(Stage::Titles(at, reply)) => {
                    asked = TitleAnswer::ask(&at, context, access, printer).await;
                    drop(reply.send(asked.titles.clone()));
                }
                stage => return (stage, asked),
            }
        }
    }

    /// The loader's final answer, with the target's failure in place of `TitlesUnknown`.
    fn done(&mut self, stage: Option<Stage>) -> Result<config::Loaded, Error> {
        match loader_done(stage) {
            Err(Error::Config(config::Error::TitlesUnknown)) if self.error.is_some() => {
                Err(self.error.take().unwrap_or(Error::Config(config::Error::TitlesUnknown)))
            }
            other => other,
        }
    }
}

/// Loads the config on a thread of its own and lists the namespaces it names as soon as they
/// are known, before its keys are read and hashed (DESIGN.md §9: the wall time is near the
/// longer of the two, not their sum). A problem in the config wins over a failure of the
/// target, as it does when the steps run one after the other.
pub async fn load_and_list(
    config: &ConfigArgs,
    context: &Context,
    access: Access,
    printer: &Printer,
) -> Result<Listed, Error> {
    load_and_list_with(config, context, access, printer, OnLoaded::default()).await
}

/// What [`load_and_list_with`] does once the config is loaded, while the listing may still run.
#[derive(Default)]
pub struct OnLoaded {
    /// Keeps of the desired state only what the command needs (on the loader's thread).
    pub keep: Option<fn(&mut config::Desired)>,
    /// Told when the load has ended, however it ended.
    pub done: Option<tokio::sync::oneshot::Sender<()>>,
}

/// [`load_and_list`], with `on_loaded` run as soon as the config is loaded.
pub async fn load_and_list_with(
    config: &ConfigArgs,
    context: &Context,
    access: Access,
    printer: &Printer,
    on_loaded: OnLoaded,
) -> Result<Listed, Error> {
    let loading = Progress::new(printer, "loading", "keys", None);
    let listing = Progress::new(printer, "listing", "keys", None);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (path, environment, preview) =
        (config.path().to_path_buf(), config.env.clone(), config.preview);
    let context_vars = context.vars;
    let target = context.target_flag();
    std::thread::Builder::new()
        .name("kvsync-load".to_owned())
        .spawn(move || {
            let vars = |name: &str| context_vars(name);
            // Asked on the async side, which holds the target; the loader waits for it.
            let titles = |heads: &Heads| {
                let (reply, answer) = std::sync::mpsc::channel();
                tx.send(Stage::Titles(heads.clone(), reply)).ok()?;
                answer.recv().ok().flatten()
            };
            let options = config::LoadOptions {
                environment: environment.as_deref(),
                preview,
                target,
                vars: &vars,
                titles: Some(&titles),
            };
            let hooks = config::Hooks {
                on_heads: &|heads| drop(tx.send(Stage::Heads(heads))),
                on_keys: &|n| loading.inc(n),
            };
            let mut result = config::load_with(&path, &options, &hooks);
            if let (Ok(loaded), Some(keep)) = (&mut result, on_loaded.keep) {
                keep(&mut loaded.desired);
            }
            loading.finish();
            drop(tx.send(Stage::Done(result)));
            if let Some(done) = on_loaded.done {
                let _ = done.send(());
            }
        })
        .map_err(|source| Error::Io { context: "starting the config loader", source })?;
    let (first, mut asked) = TitleAnswer::answer(&mut rx, context, access, printer).await;
    let (heads, mut loaded) = match first {
        Some(Stage::Heads(heads)) => (heads, None),
        stage => {
            let loaded = asked.done(stage)?;
            (loaded.desired.heads(), Some(loaded))
        }
    };
    // A local store that does not exist yet is created when it is opened: only for a config
    // that loads. (It has nothing to list either.)
    let creates_local = access == Access::Write
        && context.target(heads.target).capabilities().created_on_open
        && !context.local_path(&heads).exists();
    if creates_local && loaded.is_none() {
        loaded = Some(asked.done(rx.recv().await)?);
    }
    // From here on, a config problem still wins over a failure of the target.
    let opened = match asked.store.take() {
        Some(store) => Ok(store),
        None => context.open_store(&heads, access, printer),
    };
    let store = match opened {
        Ok(store) => store,
        Err(error) => {
            if loaded.is_none() {
                asked.done(rx.recv().await)?;
            }
            return Err(error);
        }
    };
    let on_page = |n: usize| listing.inc(n as u64);
    let listed = list_live(&store, &heads, &on_page);
    let (loaded, live) = match loaded {
        Some(loaded) => (loaded, listed.await),
        None => {
            let mut listed = std::pin::pin!(listed);
            tokio::select! {
                stage = rx.recv() => (asked.done(stage)?, listed.await),
                live = &mut listed => (asked.done(rx.recv().await)?, live),
            }
        }
    };
    listing.finish();
    warn(&loaded, printer);
    let config::Loaded { desired, files, included, .. } = loaded;
    let mut live = live.map_err(|error| in_scope(error, &desired))?;
    if desired.heads() != heads {
        // Not expected: the loader reports the heads it returns. Correctness first.
        live = list_live(&store, &desired.heads(), &|_| {}).await?;
    }
    Ok(Listed { desired, store, live, files, included, titles: asked.titles })
}

/// A listing the API refused because it does not know the namespace (code 10013) names the
/// scope, and where a `binding:` scope's namespace id came from.
fn in_scope(error: Error, desired: &config::Desired) -> Error {
    let Error::Kv(kv::Error::Api { endpoint, codes, .. }) = &error else { return error };
    if !codes.contains(&10013) {
        return error;
    }
    let Some(scope) = desired
        .scopes
        .iter()
        .find(|s| endpoint.contains(&format!("/namespaces/{}/", s.namespace_id)))
    else {
        return error;
    };
    let Error::Kv(error) = error else { unreachable!("matched above") };
    Error::UnknownNamespace {
        error: Box::new(error),
        scope: scope.name.clone(),
        resolved_from: scope.resolved_from.clone(),
    }
}

/// The loader's final answer.
fn loader_done(stage: Option<Stage>) -> Result<config::Loaded, Error> {
    match stage {
        Some(Stage::Done(result)) => Ok(result?),
        Some(Stage::Heads(_) | Stage::Titles(..)) | None => Err(Error::Io {
            context: "loading the config",
            source: std::io::Error::other("the loader thread stopped without an answer"),
        }),
    }
}

/// `plan --baseline FILE`: loads the config as it is on the target branch (same environment;
/// its relative paths resolve from its own folder) and tags each change `pr` or `drift`.
fn tag_with_baseline(
    plan: &mut Plan,
    owner: &str,
    baseline: &Base<'_>,
    config: &ConfigArgs,
    target: Option<kv::TargetKind>,
    printer: &Printer,
) -> Result<(), Error> {
    let args = ConfigArgs {
        config: Some(baseline.path.to_path_buf()),
        env: config.env.clone(),
        preview: config.preview,
    };
    let base = load_with_titles(&args, target, baseline.titles, printer)?;
    plan::baseline::tag(plan, &base, owner);
    Ok(())
}

/// `plan --baseline FILE`, and the namespaces by title the head config's load found.
struct Base<'a> {
    path: &'a Path,
    titles: Option<&'a kv::Titles>,
}

/// The value side of the puts, for the diffs.
pub struct Views {
    pub views: ValueViews,
    /// Keys whose live values were asked for (a single read after a text read counts again).
    pub keys_read: u64,
    /// Keys whose live values could not be read, each with why: shown without a value diff.
    pub unreadable: Vec<(String, String)>,
}

/// Prepares the value side of every put (DESIGN.md §6 step 4): live values are fetched
/// ([`kv::read`]) only for updates, adopts and take-overs of non-sensitive text of at most
/// 1 MiB. A key is sensitive when its desired entry, its live marker or the baseline says so:
/// a live value written from a secret is never fetched, even when the entry is a literal now.
///
/// A text read drops a leading U+FEFF, so "value unchanged" is never claimed from one. On a
/// target whose text reads are exact every value is read once. On one whose are not, adopts
/// (few) and values whose desired bytes begin with a byte order mark are read as bytes, and a
/// text read that matches the desired value is read again as bytes before it counts as equal:
/// a value edit and a marker-only update look the same in a listing, and reading every update
/// singly would cost a request per key instead of one per 100. A key alone in its bulk get is
/// read singly at once ([`kv::read::exact_when_alone`]): one request, as the bulk get was.
///
/// With `listed`, only the changes it holds (scope index and key) get a view: a rendering that
/// lists no more than those reads no other value.
pub async fn value_views<S: KvStore>(
    store: &S,
    desired: &Desired,
    plan: &Plan,
    listed: Option<&std::collections::HashSet<(usize, &str)>>,
    on_read: &dyn Fn(usize, usize),
) -> Result<Views, Error> {
    let total = diff_reads(desired, plan, listed);
    let mut views = ValueViews::new();
    let mut keys_read = 0u64;
    let mut unreadable = Vec::new();
    for (index, scope_plan) in plan.scopes.iter().enumerate() {
        let Some(scope) = desired.scopes.get(index) else { continue };
        let mut wanted: Vec<String> = Vec::new();
        let mut hints: Vec<ReadHint> = Vec::new();
        // Each put's key, desired bytes and change, in plan order.
        let mut desired_values: Vec<(String, Vec<u8>, &plan::Change)> = Vec::new();
        let shown = |c: &&plan::Change| listed.is_none_or(|l| l.contains(&(index, c.key.as_str())));
        for change in scope_plan.changes.iter().filter(|c| c.action.is_put()).filter(shown) {
            let Some(entry) = scope.entries.get(&change.key) else { continue };
            if change.sensitive() {
                views.insert(index, change.key.clone(), ValueView::Sensitive);
                continue;
            }
            let small_text = entry.is_text && entry.size <= TEXT_DIFF_MAX as u64;
            if !small_text {
                let live = None;
                let desired = Some(Blob::of(&read_value(entry)?));
                views.insert(index, change.key.clone(), ValueView::Opaque { live, desired });
                continue;
            }
            let bytes = read_value(entry)?;
            if let Some(live) = &change.live {
                wanted.push(change.key.clone());
                hints.push(ReadHint {
                    exact: matches!(change.action, Action::Adopt)
                        || crate::content::starts_with_bom(&bytes),
                    listed_expiration: live.expiration,
                });
            }
            desired_values.push((change.key.clone(), bytes, change));
        }
        kv::read::exact_when_alone(store.capabilities(), &mut hints);
        keys_read += wanted.len() as u64;
        let values = kv::read::read_values(store, &scope.namespace_id, &wanted, &hints, &|read| {
            on_read(read, total);
        })
        .await?;
        let mut live_values: std::collections::HashMap<String, (LiveValue, ReadHint)> =
            wanted.into_iter().zip(values.into_iter().zip(hints)).collect();
        // A text read equal to the desired value may still differ by a dropped U+FEFF.
        let exact_reads = store.capabilities().exact_text_reads;
        let (equal_as_text, exact): (Vec<String>, Vec<ReadHint>) = desired_values
            .iter()
            .filter_map(|(key, bytes, _)| match live_values.get(key) {
                Some((LiveValue::Text(text), hint))
                    if !hint.exact && !exact_reads && text.as_bytes() == bytes.as_slice() =>
                {
                    Some((key.clone(), ReadHint { exact: true, ..*hint }))
                }
                _ => None,
            })
            .unzip();
        keys_read += equal_as_text.len() as u64;
        let values =
            kv::read::read_values(store, &scope.namespace_id, &equal_as_text, &exact, &|_| {})
                .await?;
        live_values.extend(equal_as_text.into_iter().zip(values.into_iter().zip(exact)));
        for (key, bytes, change) in desired_values {
            let live = live_values.get(&key).map(|(value, _)| value);
            if let Some(LiveValue::Unreadable(reason)) = live {
                unreadable.push((key, reason.clone()));
                continue;
            }
            let exact = exact_reads || live_values.get(&key).is_some_and(|(_, hint)| hint.exact);
            let entry = scope.entries.get(&key);
            let view = match (live, entry, &change.live) {
                (Some(live), Some(entry), Some(listed))
                    if exact && marker_only(live, &bytes, listed, entry) =>
                {
                    ValueView::MarkerOnly
                }
                _ => value_view(live, Some(&bytes), false),
            };
            views.insert(index, key.clone(), view);
        }
    }
    Ok(Views { views, keys_read, unreadable })
}

/// How many values [`value_views`] reads (text reads; its exact re-reads are not counted), for
/// its progress.
fn diff_reads(
    desired: &Desired,
    plan: &Plan,
    listed: Option<&std::collections::HashSet<(usize, &str)>>,
) -> usize {
    plan.scopes
        .iter()
        .enumerate()
        .filter_map(|(index, scope_plan)| Some((index, scope_plan, desired.scopes.get(index)?)))
        .map(|(index, scope_plan, scope)| {
            scope_plan
                .changes
                .iter()
                .filter(|c| c.action.is_put() && c.live.is_some() && !c.sensitive())
                .filter(|c| listed.is_none_or(|l| l.contains(&(index, c.key.as_str()))))
                .filter(|c| {
                    scope
                        .entries
                        .get(&c.key)
                        .is_some_and(|e| e.is_text && e.size <= TEXT_DIFF_MAX as u64)
                })
                .count()
        })
        .sum()
}

/// Whether a put only rewrites the marker: the live value (read exactly), its user metadata and
/// its expiration are already the desired ones (as after `kvsync pull`).
fn marker_only(
    live: &LiveValue,
    desired: &[u8],
    listed: &plan::LiveKey,
    entry: &DesiredEntry,
) -> bool {
    let desired_metadata = entry.metadata.as_ref().map(|m| m.to_map());
    let live_metadata = listed.metadata.clone().map(serde_json::Value::Object);
    let differences = compare::compare_with(
        desired,
        desired_metadata.as_ref(),
        entry.expiration,
        live,
        live_metadata.as_ref(),
        listed.expiration,
    );
    differences.is_empty() && matches!(live, LiveValue::Text(_) | LiveValue::Binary(_))
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io { context: "reading a `file:` value", source }
}

/// The desired bytes of one key: inline, or the `file:` read again now.
pub fn read_value(entry: &DesiredEntry) -> Result<Vec<u8>, Error> {
    entry.read().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::content::Expiration;
    use crate::kv::{BulkOutcome, Capabilities, ListPage, PutPair, TargetKind};
    use crate::testing;
    use crate::testing::plans;

    fn update_of(key: &str) -> Plan {
        let change =
            plans::change(key, Action::Update, Some(plans::desired(2)), Some(plans::ours(1)));
        Plan { scopes: vec![plans::scope("flags", "", vec![change])], ..Plan::default() }
    }

    /// A store holding one live value, read as Cloudflare's bulk get would (a leading U+FEFF
    /// dropped) unless exact bytes are asked for or the target's text reads are exact.
    struct OneValue {
        kind: TargetKind,
        value: &'static str,
        keys_read: Cell<usize>,
    }

    impl KvStore for OneValue {
        fn capabilities(&self) -> Capabilities {
            self.kind.capabilities()
        }

        async fn list_page(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<ListPage, kv::Error> {
            Ok(ListPage::default())
        }

        async fn bulk_get(&self, ns: &str, keys: &[String]) -> Result<Vec<LiveValue>, kv::Error> {
            self.read_values(ns, keys, &[]).await
        }

        async fn read_values(
            &self,
            _: &str,
            keys: &[String],
            hints: &[ReadHint],
        ) -> Result<Vec<LiveValue>, kv::Error> {
            self.keys_read.set(self.keys_read.get() + keys.len());
            let exact = self.kind.capabilities().exact_text_reads;
            Ok((0..keys.len())
                .map(|i| {
                    let bytes = hints.get(i).is_some_and(|h| h.exact) || exact;
                    let text =
                        if bytes { self.value } else { self.value.trim_start_matches('\u{FEFF}') };
                    LiveValue::Text(text.to_owned())
                })
                .collect())
        }

        async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, kv::Error> {
            Ok(BulkOutcome::default())
        }

        async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, kv::Error> {
            Ok(BulkOutcome::default())
        }
    }

    /// The views of an update of `k` to "hello" when live holds `live`, and the reads it took.
    fn views(kind: TargetKind, live: &'static str) -> (ValueView, u64, usize) {
        let entry = testing::entry("hello", Expiration::Never, false);
        let entries = [("k".to_owned(), entry)].into_iter().collect();
        let desired = testing::desired("web", vec![testing::scope("flags", "ns", "", entries)]);
        let plan = update_of("k");
        let store = OneValue { kind, value: live, keys_read: Cell::new(0) };
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let views = runtime
            .block_on(value_views(&store, &desired, &plan, None, &|_, _| {}))
            .expect("views");
        let view = views.views.get(0, "k").cloned().expect("a view");
        (view, views.keys_read, store.keys_read.get())
    }

    #[test]
    fn a_marker_only_update_is_read_once_where_text_reads_are_exact() {
        let (view, counted, read) = views(TargetKind::Local, "hello");
        assert_eq!(view, ValueView::MarkerOnly);
        assert_eq!((counted, read), (1, 1));
        // Where they are not, a key alone in its bulk get is read singly as bytes at once (the
        // same one request), instead of as text and then, being equal, again as bytes.
        let (view, counted, read) = views(TargetKind::Cloudflare, "hello");
        assert_eq!(view, ValueView::MarkerOnly);
        assert_eq!((counted, read), (1, 1));
    }

    #[test]
    fn a_byte_order_mark_added_by_hand_is_never_marker_only() {
        for kind in TargetKind::ALL {
            let (view, _, _) = views(kind, "\u{FEFF}hello");
            assert_eq!(
                view,
                ValueView::Text {
                    live: Some("\u{FEFF}hello".into()),
                    desired: Some("hello".into())
                },
                "{kind:?}"
            );
        }
    }
}
