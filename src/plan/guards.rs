//! Apply's guards, evaluated on the plan: what would make apply refuse it as it stands.
//!
//! `plan` and `apply` evaluate the same guards with the same numbers, so a pull request whose
//! plan apply would refuse fails its check before the merge, not after. The result is data in
//! the [`Plan`] ([`Plan::refusals`]); every renderer shows it and apply refuses on it. Pure, like
//! the rest of `plan`.

use super::{Action, ConflictReason, Plan};

/// The settings that decide the guards: the config's and the command line's, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    /// `--allow-empty`: allow an empty desired state over any scope that holds our keys (a
    /// scope's `allow_empty: true` allows it for that scope).
    pub allow_empty: bool,
    /// `--max-deletes N`: the per-scope delete ceiling, replacing the computed one.
    pub max_deletes_override: Option<usize>,
    /// `max_deletes:` from the config, the floor of the computed ceiling.
    pub max_deletes: usize,
}

impl Default for Guards {
    /// The guards of a config that sets no `max_deletes:` (50), with no flag given.
    fn default() -> Self {
        Self { allow_empty: false, max_deletes_override: None, max_deletes: 50 }
    }
}

/// Why apply would refuse a plan. Every refusal is collected; none stops the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The scope would lose every key we own because nothing is desired there any more.
    EmptyDesired { scope: String, ours: usize },
    /// More deletes than the ceiling.
    TooManyDeletes { scope: String, deletes: usize, limit: usize },
    /// Keys another owner (or a newer kvsync) holds.
    Conflicts { scope: String, keys: Vec<(String, ConflictReason)> },
}

/// How many conflicting keys a refusal's message names; the rest are counted.
pub const CONFLICTS_NAMED: usize = 20;

impl Refusal {
    /// The refusals' headlines on one line; the plan lists them in full.
    pub fn headlines(refusals: &[Refusal]) -> String {
        refusals.iter().map(Refusal::headline).collect::<Vec<_>>().join("; ")
    }

    /// The scope the refusal is about.
    pub fn scope(&self) -> &str {
        match self {
            Self::EmptyDesired { scope, .. }
            | Self::TooManyDeletes { scope, .. }
            | Self::Conflicts { scope, .. } => scope,
        }
    }

    /// The guard's name in machine formats.
    pub fn guard(&self) -> &'static str {
        match self {
            Self::EmptyDesired { .. } => "empty_desired",
            Self::TooManyDeletes { .. } => "delete_ceiling",
            Self::Conflicts { .. } => "conflicts",
        }
    }

    /// One line: what the guard found.
    pub fn headline(&self) -> String {
        match self {
            Self::EmptyDesired { scope, ours } => format!(
                "scope `{scope}` desires no keys but holds {ours} of ours: applying would delete them all"
            ),
            Self::TooManyDeletes { scope, deletes, limit } => {
                format!(
                    "scope `{scope}` would delete {deletes} keys, more than the limit of {limit}"
                )
            }
            Self::Conflicts { scope, keys } => {
                let n = keys.len();
                let noun = crate::text::plural(n, "key", "keys");
                format!("scope `{scope}` has {n} conflicting {noun}")
            }
        }
    }

    /// The keys a refusal names, each with why (conflicts only), at most [`CONFLICTS_NAMED`].
    pub fn named_keys(&self) -> Vec<String> {
        let Self::Conflicts { keys, .. } = self else { return Vec::new() };
        keys.iter()
            .take(CONFLICTS_NAMED)
            .map(|(key, reason)| match reason {
                ConflictReason::Owner(owner) => format!("`{key}` (owned by `{owner}`)"),
                ConflictReason::NewerVersion(v) => {
                    format!("`{key}` (written by a newer kvsync, marker v{v})")
                }
                ConflictReason::Unreadable(detail) => {
                    format!("`{key}` (its marker cannot be read: {detail})")
                }
                ConflictReason::DamagedListing(detail) => {
                    format!("`{key}` (listed damaged: {detail})")
                }
            })
            .collect()
    }

    /// Keys beyond [`CONFLICTS_NAMED`], counted but not named.
    pub fn unnamed_keys(&self) -> usize {
        match self {
            Self::Conflicts { keys, .. } => keys.len().saturating_sub(CONFLICTS_NAMED),
            _ => 0,
        }
    }

    /// What the user can do about it: the config field first (it can be reviewed in the pull
    /// request), the command-line flag second.
    pub fn hint(&self) -> String {
        match self {
            Self::EmptyDesired { scope, .. } => format!(
                "if that is intended, set `allow_empty: true` on scope `{scope}` (or pass `--allow-empty`); otherwise check `keys:` and `include:`"
            ),
            Self::TooManyDeletes { deletes, .. } => format!(
                "if that is intended, set `max_deletes: {deletes}` in the config (or pass `--max-deletes {deletes}`); the limit is max(`max_deletes`, 10 % of our keys in the scope)"
            ),
            Self::Conflicts { keys, .. } => {
                let mut owners: Vec<&str> = keys
                    .iter()
                    .filter_map(|(_, reason)| match reason {
                        ConflictReason::Owner(owner) => Some(owner.as_str()),
                        ConflictReason::NewerVersion(_)
                        | ConflictReason::Unreadable(_)
                        | ConflictReason::DamagedListing(_) => None,
                    })
                    .collect();
                owners.sort_unstable();
                owners.dedup();
                let newer = keys.iter().any(|(_, r)| {
                    matches!(r, ConflictReason::NewerVersion(_) | ConflictReason::Unreadable(_))
                });
                // A live marker can name any owner; only a name a config could have is echoed
                // into a command to copy.
                let flag = match owners.as_slice() {
                    [owner] if crate::config::is_valid_owner(owner) => {
                        format!("`--take-over {owner}`")
                    }
                    _ => "`--take-over OWNER`".to_owned(),
                };
                let mut hint = String::new();
                if !owners.is_empty() {
                    hint = format!(
                        "add the keys to the scope's `take_over:` globs (or pass {flag}), or remove them from the config"
                    );
                }
                if newer {
                    if !hint.is_empty() {
                        hint.push_str("; ");
                    }
                    hint.push_str("keys written by a newer kvsync need a newer kvsync: upgrade it");
                }
                if keys.iter().any(|(_, r)| matches!(r, ConflictReason::DamagedListing(_))) {
                    if !hint.is_empty() {
                        hint.push_str("; ");
                    }
                    hint.push_str(
                        "a key Cloudflare lists damaged is left alone: fix or delete it in the dashboard, then plan again",
                    );
                }
                hint
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    /// The headline, then the named keys one per line, then how many more there are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.headline())?;
        let named = self.named_keys();
        if !named.is_empty() {
            f.write_str(":")?;
        }
        for key in named {
            write!(f, "\n  {key}")?;
        }
        if self.unnamed_keys() > 0 {
            write!(f, "\n  … and {} more", self.unnamed_keys())?;
        }
        Ok(())
    }
}

/// Checks every guard of every scope; an empty result means apply may write.
pub fn check(plan: &Plan, guards: &Guards) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for scope in &plan.scopes {
        let deletes = scope.changes.iter().filter(|c| c.action.is_delete()).count();
        let allow_empty = guards.allow_empty || scope.allow_empty;
        if scope.desired == 0 && scope.ours_live > 0 && deletes > 0 && !allow_empty {
            refusals
                .push(Refusal::EmptyDesired { scope: scope.name.clone(), ours: scope.ours_live });
        }
        let limit = guards
            .max_deletes_override
            .unwrap_or_else(|| guards.max_deletes.max(scope.ours_live / 10));
        if deletes > limit {
            refusals.push(Refusal::TooManyDeletes { scope: scope.name.clone(), deletes, limit });
        }
        let conflicts: Vec<_> = scope
            .changes
            .iter()
            .filter_map(|c| match &c.action {
                Action::Conflict { reason } => Some((c.key.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        if !conflicts.is_empty() {
            refusals.push(Refusal::Conflicts { scope: scope.name.clone(), keys: conflicts });
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, DeleteReason, ScopePlan};

    fn scope(deletes: usize, ours_live: usize, desired: usize, allow_empty: bool) -> ScopePlan {
        let changes = (0..deletes)
            .map(|i| Change {
                key: format!("k{i:03}"),
                action: Action::Delete { reason: DeleteReason::NotDesired },
                desired: None,
                live: None,
                origin: None,
            })
            .collect();
        ScopePlan {
            resolved_from: None,
            name: "flags".into(),
            namespace_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            prefix: String::new(),
            prune: true,
            allow_empty,
            changes,
            unchanged: 0,
            unmanaged: Vec::new(),
            ours_live,
            desired,
            warnings: Vec::new(),
        }
    }

    fn plan(scope: ScopePlan) -> Plan {
        Plan { scopes: vec![scope], ..Plan::default() }
    }

    const GUARDS: Guards =
        Guards { allow_empty: false, max_deletes_override: None, max_deletes: 50 };

    #[test]
    fn the_delete_ceiling_is_the_larger_of_the_floor_and_a_tenth() {
        assert_eq!(check(&plan(scope(50, 100, 50, false)), &GUARDS), vec![]);
        assert_eq!(
            check(&plan(scope(51, 100, 49, false)), &GUARDS),
            vec![Refusal::TooManyDeletes { scope: "flags".into(), deletes: 51, limit: 50 }]
        );
        // 10 % of 2,000 is 200: the ceiling of examples/redirects.
        let refusals = check(&plan(scope(1000, 2000, 1000, false)), &GUARDS);
        assert_eq!(
            refusals,
            vec![Refusal::TooManyDeletes { scope: "flags".into(), deletes: 1000, limit: 200 }]
        );
        assert_eq!(
            refusals[0].hint(),
            "if that is intended, set `max_deletes: 1000` in the config (or pass `--max-deletes 1000`); the limit is max(`max_deletes`, 10 % of our keys in the scope)"
        );
        let raised = Guards { max_deletes_override: Some(1000), ..GUARDS };
        assert_eq!(check(&plan(scope(1000, 2000, 1000, false)), &raised), vec![]);
    }

    #[test]
    fn an_empty_desired_state_is_allowed_by_the_flag_or_the_scope() {
        let refused = check(&plan(scope(3, 3, 0, false)), &GUARDS);
        assert_eq!(refused, vec![Refusal::EmptyDesired { scope: "flags".into(), ours: 3 }]);
        assert!(refused[0].hint().starts_with("if that is intended, set `allow_empty: true`"));
        assert_eq!(check(&plan(scope(3, 3, 0, true)), &GUARDS), vec![]);
        let flag = Guards { allow_empty: true, ..GUARDS };
        assert_eq!(check(&plan(scope(3, 3, 0, false)), &flag), vec![]);
    }

    #[test]
    fn conflicts_name_twenty_keys_and_the_owner_to_take_over() {
        let mut conflicted = scope(0, 0, 25, false);
        conflicted.changes = (0..25)
            .map(|i| Change {
                key: format!("k{i:02}"),
                action: Action::Conflict { reason: ConflictReason::Owner("ops".into()) },
                desired: None,
                live: None,
                origin: None,
            })
            .collect();
        let refusals = check(&plan(conflicted), &GUARDS);
        assert_eq!(refusals.len(), 1);
        let text = refusals[0].to_string();
        assert!(
            text.starts_with("scope `flags` has 25 conflicting keys:\n  `k00` (owned by `ops`)")
        );
        assert!(text.ends_with("`k19` (owned by `ops`)\n  … and 5 more"), "{text}");
        assert_eq!(
            refusals[0].hint(),
            "add the keys to the scope's `take_over:` globs (or pass `--take-over ops`), or remove them from the config"
        );
    }
}
