//! Exit statuses, Terraform's, which users already script against: 0 success or nothing to do,
//! 1 any error (usage errors included, which clap would otherwise exit with 2), 2 changes
//! present (`plan --detailed-exitcode`) or drift found.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Changes,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Changes => Self::from(2),
        }
    }
}
