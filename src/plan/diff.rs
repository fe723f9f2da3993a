//! The engine (being built).
use super::{LiveScope, Options, Plan};
use crate::config::Desired;

pub fn plan(_desired: &Desired, _live: &[LiveScope], _options: &Options) -> Plan {
    Plan { scopes: Vec::new() }
}
