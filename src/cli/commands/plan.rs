//! `kvsync plan`: show what apply would change.

use crate::cli::args::{GlobalArgs, PlanArgs};
use crate::cli::engine;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::error::Error;
use crate::report::human::{HumanOptions, render_plan};

pub async fn run(
    args: &PlanArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let planned = engine::plan(&args.config, &args.planning, global, printer).await?;
    let options = HumanOptions {
        color: printer.stdout_color,
        value_diffs: !args.planning.no_value_diff,
        environment: planned.desired.environment.clone(),
    };
    printer.data(&render_plan(&planned.plan, &planned.views, &options));
    if args.detailed_exitcode && planned.plan.has_changes() {
        Ok(ExitStatus::Changes)
    } else {
        Ok(ExitStatus::Success)
    }
}
