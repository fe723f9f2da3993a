//! `kvsync plan`: show what apply would change.

use crate::cli::args::{GlobalArgs, PlanArgs};
use crate::cli::engine;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::error::Error;

pub async fn run(
    args: &PlanArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let planned = engine::plan(&args.config, &args.planning, global, printer).await?;
    printer.data(&planned.render_human(&args.planning, printer));
    if let Some(summary) = planned.store.request_summary() {
        printer.verbose(&summary);
    }
    if args.detailed_exitcode && planned.plan.has_changes() {
        Ok(ExitStatus::Changes)
    } else {
        Ok(ExitStatus::Success)
    }
}
