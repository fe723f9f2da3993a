//! `kvsync plan`: show what apply would change, in the format asked for, and optionally save it.

use crate::cli::args::{PlanArgs, PlanFormat};
use crate::cli::engine::{self, Access, Planned};
use crate::cli::exit::ExitStatus;
use crate::cli::markdown_out::{self, Noun};
use crate::cli::output::Printer;
use crate::error::Error;
use crate::report::{cost, json, markdown};
use crate::saved::{self, PlanFileOut};

pub async fn run(args: &PlanArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let context = &engine::Context::new(&args.target)?;
    let baseline = args.baseline.as_deref();
    // Reads follow the largest rendering that shows diffs: Markdown lists the first keys of each
    // group, a human plan or JSON every change (`--markdown-out` files are Markdown too).
    let reads = match args.format {
        PlanFormat::Markdown => engine::DiffReads::Markdown,
        PlanFormat::Human => engine::DiffReads::Human,
        PlanFormat::Json => engine::DiffReads::All,
    };
    let planned = engine::plan_with_baseline(
        &args.config,
        &args.planning,
        baseline,
        reads,
        context,
        Access::Read,
        printer,
    )
    .await;
    // A config that does not load still gets its Markdown report on stdout (a pull request's
    // comment then lists the problems once, as data), and the run still fails.
    if args.format == PlanFormat::Markdown
        && let Err(Error::Config(crate::config::Error::Invalid(diagnostics))) = &planned
    {
        printer.data(&markdown::render_config_problems(
            "kvsync plan",
            diagnostics,
            args.markdown.max_chars,
        ));
    }
    let mut planned = planned?;
    let markdown_wanted =
        args.format == PlanFormat::Markdown || !args.markdown.markdown_out.is_empty();
    let title = markdown_title("kvsync plan", &planned);
    // A rendering larger than a comment lists every key it can: the values of its diffs are
    // read now, while they fit.
    if markdown_wanted && !args.planning.no_value_diff {
        let budget = markdown_out::reads_budget(&args.markdown);
        markdown_out::read_diffs(&mut planned, budget, &title, printer).await?;
    }
    let cost = planned.cost();
    let environment = planned.desired.environment.as_deref();
    // Markdown renderings (stdout's and every `--markdown-out`) share one layout.
    let largest = markdown_out::largest_budget(&args.markdown);
    let markdown = markdown_wanted
        .then(|| markdown::Report::plan(&planned.report(&cost), &title, largest))
        .map(|report| {
            let stdout = args.format == PlanFormat::Markdown;
            markdown_out::render(&report, &args.markdown, Noun::Plan, stdout)
        })
        .transpose()?
        .flatten();
    let output = match (args.format, markdown) {
        (PlanFormat::Markdown, Some(markdown)) => markdown,
        (PlanFormat::Json, _) => json::render_plan(&json::plan_document(
            &planned.report(&cost),
            environment,
            !args.planning.no_value_diff,
        )),
        _ => planned.render_human(&args.planning, printer, &cost),
    };
    printer.data(&output);
    if let Some(path) = &args.out {
        save(&planned, &cost, args, context, path)?;
        if planned.plan.refusals.is_empty() {
            printer.info(&format!(
                "Saved the plan to `{}`; apply it with `kvsync apply {}`.",
                path.display(),
                path.display()
            ));
        } else {
            printer.info(&format!(
                "Saved the plan to `{}`; apply would refuse it as it stands.",
                path.display()
            ));
        }
    }
    if let Some(summary) = planned.store.request_summary() {
        printer.verbose(&summary);
    }
    let changes = planned.plan.has_changes();
    let refusals = std::mem::take(&mut planned.plan.refusals);
    planned.finish()?;
    // A plan that apply would refuse fails here, whatever `--detailed-exitcode` says: the pull
    // request's check must go red before the merge, not after.
    if !refusals.is_empty() {
        return Err(Error::PlanRefused(refusals));
    }
    if args.detailed_exitcode && changes {
        Ok(ExitStatus::Changes)
    } else {
        Ok(ExitStatus::Success)
    }
}

/// `kvsync plan: web-flags (staging)`.
pub fn markdown_title(command: &str, planned: &Planned) -> String {
    match &planned.desired.environment {
        Some(environment) => format!("{command}: {} ({environment})", planned.desired.owner),
        None => format!("{command}: {}", planned.desired.owner),
    }
}

fn save(
    planned: &Planned,
    cost: &cost::Cost,
    args: &PlanArgs,
    context: &engine::Context,
    path: &std::path::Path,
) -> Result<(), Error> {
    let environment = planned.desired.environment.as_deref();
    let file = PlanFileOut {
        kind: saved::KIND,
        format_version: saved::FORMAT_VERSION,
        kvsync_version: env!("CARGO_PKG_VERSION"),
        config: args.config.path(),
        environment,
        preview: args.config.preview,
        target: context.target(planned.desired.target),
        only: &args.planning.only,
        take_over: args.planning.take_over.as_deref(),
        max_deletes: args.planning.max_deletes,
        allow_empty: args.planning.allow_empty,
        no_snapshot: args.planning.no_snapshot,
        config_digest: saved::config_digest(&planned.desired),
        stale_check: saved::stale_check(&planned.desired, &planned.live),
        plan: json::plan_document(&planned.report(cost), environment, false),
    };
    Ok(file.write(path)?)
}
