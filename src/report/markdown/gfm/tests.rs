//! The Markdown reports as GitHub shows them: rendered by a GFM renderer (comrak, with GitHub's
//! tables, alerts and raw HTML), then checked for structure, not for text: which groups are
//! collapsed and with which counts, which diffs show without a click, which alerts appear.

use comrak::{Options, markdown_to_html};

use super::*;
use crate::plan::DeleteReason;
use crate::report::cost::{SoFar, estimate};
use crate::report::values::ValueViews;
use crate::testing::plans::{change, desired, ours, scope, text};

/// GitHub's flavour: tables, strikethrough, autolinks, alerts, and the HTML it lets through.
fn gfm(markdown: &str) -> String {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.alerts = true;
    options.render.r#unsafe = true;
    markdown_to_html(markdown, &options)
}

fn markdown(plan: &Plan, views: &ValueViews) -> String {
    let so_far = SoFar { list_requests: 5, read_requests: 0, billed_lists: 5, billed_reads: 0 };
    let cost = estimate(plan, so_far);
    let options = MarkdownOptions { title: "kvsync plan: web".into(), budget: DEFAULT_BUDGET };
    render_plan(&PlanReport::new(plan, views, &cost.metered(true)), &options)
}

/// `updates` updated keys with a one-line diff each, then `deletes` deleted keys.
fn plan(updates: usize, deletes: usize) -> (Plan, ValueViews) {
    let mut views = ValueViews::new();
    let mut changes = Vec::new();
    for i in 0..updates {
        let key = format!("r/path-{i:05}");
        views.insert(0, key.clone(), text(Some(&format!("old {i}")), &format!("new {i}")));
        changes.push(change(&key, Action::Update, Some(desired(1)), Some(ours(2))));
    }
    for i in 0..deletes {
        let key = format!("r/gone-{i:05}");
        let delete = Action::Delete { reason: DeleteReason::NotDesired };
        changes.push(change(&key, delete, None, Some(ours(2))));
    }
    let scopes = vec![scope("routes", "r/", changes)];
    (Plan { scopes, only: Vec::new(), refusals: Vec::new() }, views)
}

/// Each collapsible group (a `<details>` that is not a value diff): its summary, whether it is
/// open, how many `<li>` it holds (its keys and the `… and N more` line) and that N.
fn groups(html: &str) -> Vec<(String, bool, usize, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<details") {
        let block = &rest[at..];
        let summary = block
            .split("<summary>")
            .nth(1)
            .and_then(|s| s.split("</summary>").next())
            .unwrap_or_default()
            .to_owned();
        // The matching `</details>`, past any nested ones.
        let (mut depth, mut end) = (0usize, block.len());
        for (index, _) in block.match_indices("details") {
            if block[..index].ends_with("</") {
                depth -= 1;
                if depth == 0 {
                    end = index;
                    break;
                }
            } else if block[..index].ends_with('<') {
                depth += 1;
            }
        }
        let body = &block[..end];
        if summary == "Value diff" {
            rest = &block[end..];
            continue;
        }
        let items = body.matches("<li>").count();
        let more =
            body.split("… and ").nth(1).and_then(|s| s.split(" more").next()).map(str::to_owned);
        out.push((summary, block.starts_with("<details open>"), items, more));
        rest = &block[end..];
    }
    out
}

#[test]
fn a_5000_change_plan_is_collapsed_groups_with_counts() {
    let (plan, views) = plan(2_000, 3_000);
    let md = markdown(&plan, &views);
    assert!(md.len() <= DEFAULT_BUDGET);
    let html = gfm(&md);
    assert_eq!(
        groups(&html),
        [
            (
                "<code>~</code> update: 2000 keys".to_owned(),
                false,
                GROUP_KEYS + 1,
                Some("1950".into())
            ),
            (
                "<code>-</code> delete: 3000 keys".to_owned(),
                false,
                GROUP_KEYS + 1,
                Some("2950".into())
            ),
        ]
    );
    // Each listed update carries its diff, collapsed; nothing is left out for size.
    assert_eq!(html.matches("<summary>Value diff</summary>").count(), GROUP_KEYS);
    assert_eq!(html.matches(r#"<code class="language-diff">"#).count(), GROUP_KEYS);
    assert!(!md.contains("left out to fit"), "{md}");
    // The summary table is still a table.
    assert!(html.contains("<table>"), "{html}");
    assert!(md.lines().count() < 800, "{}", md.lines().count());
}

#[test]
fn a_4_change_plan_shows_its_diffs_without_a_click() {
    let (plan, views) = plan(3, 1);
    let html = gfm(&markdown(&plan, &views));
    assert_eq!(
        groups(&html),
        [
            ("<code>~</code> update: 3 keys".to_owned(), true, 3, None),
            ("<code>-</code> delete: 1 key".to_owned(), true, 1, None),
        ]
    );
    assert_eq!(html.matches(r#"<code class="language-diff">"#).count(), 3);
    assert!(!html.contains("<summary>Value diff</summary>"), "{html}");
    // Each diff is inside its key's list item.
    for i in 0..3 {
        let item = html.split(&format!("<code>r/path-0000{i}</code>")).nth(1).expect("the key");
        let item = item.split("</li>").next().expect("its item");
        assert!(item.contains(&format!("+new {i}")), "{item}");
    }
}

#[test]
fn a_refused_plan_is_a_caution_alert_and_promises_no_writes() {
    let (mut plan, views) = plan(1, 0);
    plan.scopes[0].changes.push(change(
        "r/theirs",
        Action::Conflict { reason: ConflictReason::Owner("other".into()) },
        Some(desired(1)),
        None,
    ));
    plan.refusals = crate::plan::guards::check(&plan, &Default::default());
    let md = markdown(&plan, &views);
    let html = gfm(&md);
    let alert = html
        .split(r#"<div class="markdown-alert markdown-alert-caution">"#)
        .nth(1)
        .expect("a caution alert")
        .split("</div>")
        .next()
        .expect("its end");
    assert!(alert.contains("Apply would refuse this plan"), "{alert}");
    assert!(alert.contains("<code>r/theirs</code>"), "{alert}");
    assert!(!md.contains("apply will send"), "{md}");
    assert!(md.contains("once the refusals are resolved, apply would send 1 bulk write"), "{md}");
}

#[test]
fn a_schema_failure_is_one_caution_alert_and_one_list() {
    use crate::config::{Diagnostic, SchemaBreak, Violation};
    let violation = |pointer: &str, message: &str| Violation {
        instance_path: pointer.to_owned(),
        message: message.to_owned(),
        schema_location: "schemas/flag.json#/properties/rollout".to_owned(),
    };
    let broken = |key: &str, line: usize, violations: Vec<Violation>| Diagnostic {
        path: "kvsync.yaml".into(),
        line,
        column: 7,
        message: format!("the value of `{key}` breaks its schema"),
        hint: Some("fix the value, or the schema if the value is right".into()),
        schema: Some(SchemaBreak { key: key.to_owned(), violations }),
    };
    let diagnostics = [
        broken(
            "flags/a",
            10,
            vec![violation("/rollout", "150 is greater than the maximum of 100")],
        ),
        broken(
            "flags/b`<x>",
            11,
            vec![
                violation("/rollout", "\"50%\" is not of type \"integer\""),
                violation("", "\"on\" is required"),
            ],
        ),
    ];
    let md = render_config_problems("kvsync plan", &diagnostics, DEFAULT_BUDGET);
    assert!(md.starts_with("## kvsync plan: 2 values break their schemas\n"), "{md}");
    let html = gfm(&md);
    let alert = html
        .split(r#"<div class="markdown-alert markdown-alert-caution">"#)
        .nth(1)
        .expect("a caution alert");
    assert!(alert.contains("2 values break their schemas; nothing was planned."), "{alert}");
    // One list, one item per violation: key, place, pointer, what was expected; each once.
    assert_eq!(html.matches("<ul>").count(), 1, "{html}");
    assert_eq!(html.matches("<li>").count(), 3, "{html}");
    assert!(html.contains("<li><code>flags/a</code> · <code>kvsync.yaml:10</code> · <code>/rollout</code>: 150 is greater than the maximum of 100"), "{html}");
    assert!(html.contains("<code>flags/b`&lt;x&gt;</code>"), "{html}");
    assert!(html.contains("the whole value: &quot;on&quot; is required"), "{html}");
    assert_eq!(md.matches("150 is greater").count(), 1, "each problem once: {md}");
}

#[test]
fn drift_shows_value_diffs_like_the_plan() {
    let report = crate::testing::plans::drift_report();
    let mut views = ValueViews::new();
    // `flags/f`: the config says `on`, someone wrote `off` in the dashboard.
    views.insert(0, "flags/f", text(Some("off"), "on"));
    let md = Report::drift_with_values(&report, &views, "kvsync drift: web")
        .render(DEFAULT_BUDGET, None);
    let html = gfm(&md);
    assert_eq!(html.matches("<summary>Value diff</summary>").count(), 1, "{md}");
    let item = html.split("<code>flags/f</code>").nth(1).expect("the key").split("</li>").next();
    let item = item.expect("its item");
    // As in the plan: from live to the config, what apply would write back.
    assert!(item.contains("-off\n+on"), "{item}");
    // Without values (a fast check), no diff.
    let plain = Report::drift(&report, "kvsync drift: web").render(DEFAULT_BUDGET, None);
    assert!(!plain.contains("Value diff"), "{plain}");
}
