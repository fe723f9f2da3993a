//! The command-line layer (being built).
pub fn run() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
