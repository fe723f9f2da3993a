//! The size-budget layout of a Markdown report: a head that is always written, sections of
//! items whose collapsed blocks are dropped first, then items, each drop counted in a footer, and
//! trailers with a one-line form; and the last-resort cut.

/// One list entry: its line(s), always shown while it fits, and an optional collapsed block,
/// dropped first when the budget is tight.
#[derive(Clone)]
pub(super) struct Item {
    pub(super) lines: String,
    pub(super) details: Option<String>,
}

/// Items under a heading; the heading is written only when at least one item is, and then so is
/// `close` after the last item written (e.g. `</details>` of a collapsible group). `more` items
/// were left out of the section up front (a group capped at so many keys): with those the
/// budget leaves out, they are counted in a last line, `- … and N more`, which says where they
/// are (`more_where`) when it is known.
#[derive(Clone)]
pub(super) struct Section {
    pub(super) heading: String,
    pub(super) items: Vec<Item>,
    pub(super) more: usize,
    pub(super) more_where: Option<String>,
    pub(super) close: String,
}

impl Section {
    /// A section with nothing left out up front and nothing to close.
    pub(super) fn plain(heading: String, items: Vec<Item>) -> Self {
        Self { heading, items, more: 0, more_where: None, close: String::new() }
    }

    /// The `- … and N more` line, when `unshown` items of this section are not written.
    fn more_line(&self, unshown: usize) -> String {
        match (self.more + unshown, &self.more_where) {
            (0, _) => String::new(),
            (n, Some(place)) if self.more > 0 => format!("- … and {n} more ({place})\n"),
            (n, _) => format!("- … and {n} more\n"),
        }
    }
}

/// Something after the items (a collapsed key list), with a one-line form for a tight budget.
#[derive(Clone)]
pub(super) struct Trailer {
    pub(super) full: String,
    pub(super) short: String,
}

impl Trailer {
    pub(super) fn collapsed(summary: &str, entries: &[String]) -> Self {
        let full = format!(
            "\n<details><summary>{summary}</summary>\n\n{}\n</details>\n",
            entries.concat()
        );
        let short = format!("\n{summary}; not listed here to fit the size limit.\n");
        Self { full, short }
    }
}

/// What to write: the head always, then items, then a footer saying what was left out, then
/// trailers.
#[derive(Clone)]
pub(super) struct Layout<'a> {
    pub(super) head: String,
    pub(super) sections: Vec<Section>,
    pub(super) trailers: Vec<Trailer>,
    /// The item noun, singular and plural (`change`, `changes`).
    pub(super) nouns: (&'a str, &'a str),
    /// Where the reader finds what was left out.
    pub(super) where_full: std::borrow::Cow<'a, str>,
}

/// Which parts of a [`Layout`] are written.
pub(super) struct Choice {
    /// Items written, counted in order over all sections.
    shown: usize,
    /// Per item (in order): whether its collapsed block is written.
    details: Vec<bool>,
    /// Per trailer: full (true) or short.
    trailers: Vec<bool>,
    footer: String,
}

impl Layout<'_> {
    fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| &s.items)
    }

    /// The bytes a section adds besides its items: its heading, before its first item, and
    /// after its last one the `… and N more` line (at its longest) and its close.
    fn heading_cost(section: &Section) -> usize {
        1 + section.heading.len()
            + 1
            + section.more_line(section.items.len()).len()
            + 1
            + section.close.len()
    }

    fn footer_cost(footer: &str) -> usize {
        if footer.is_empty() { 0 } else { footer.len() + 2 }
    }

    /// Everything, nothing left out.
    fn whole(&self) -> Choice {
        Choice {
            shown: self.items().count(),
            details: self.items().map(|i| i.details.is_some()).collect(),
            trailers: vec![true; self.trailers.len()],
            footer: String::new(),
        }
    }

    /// The length of the whole report, or a little more (see [`Self::cost`]).
    pub(super) fn whole_cost(&self) -> usize {
        self.cost(&self.whole())
    }

    /// The most complete report that fits `budget`.
    pub(super) fn fit(&self, budget: usize) -> String {
        let total = self.items().count();
        let with_details: Vec<bool> = self.items().map(|i| i.details.is_some()).collect();
        let n_details = with_details.iter().filter(|d| **d).count();
        // 1. Everything.
        let full = self.whole();
        if self.cost(&full) <= budget {
            return self.write(&full, budget);
        }
        // 2. Every item, and as many collapsed blocks as fit, in order (a large diff is skipped,
        // later smaller ones still get in).
        let lines_cost = self.cost(&Choice {
            shown: total,
            details: vec![false; total],
            trailers: vec![false; self.trailers.len()],
            footer: if n_details > 0 { self.diffs_footer(n_details) } else { String::new() },
        });
        if lines_cost <= budget {
            let mut slack = budget - lines_cost;
            let mut details = vec![false; total];
            for (index, item) in self.items().enumerate() {
                if let Some(block) = &item.details
                    && block.len() <= slack
                {
                    slack -= block.len();
                    details[index] = true;
                }
            }
            let trailers = self.upgrade_trailers(&mut slack);
            let dropped = n_details - details.iter().filter(|d| **d).count();
            let footer = if dropped > 0 { self.diffs_footer(dropped) } else { String::new() };
            return self.write(&Choice { shown: total, details, trailers, footer }, budget);
        }
        // 3. As many item lines as fit, no collapsed blocks.
        let reserve = self.head.len()
            + Self::footer_cost(&self.more_footer(total, n_details > 0))
            + self.trailers.iter().map(|t| t.short.len()).sum::<usize>();
        let mut used = reserve;
        let mut shown = 0;
        'sections: for section in &self.sections {
            for (position, item) in section.items.iter().enumerate() {
                let heading = if position == 0 { Self::heading_cost(section) } else { 0 };
                if used + heading + item.lines.len() > budget {
                    break 'sections;
                }
                used += heading + item.lines.len();
                shown += 1;
            }
        }
        let footer = if shown < total || n_details > 0 {
            self.more_footer(total - shown, n_details > 0)
        } else {
            String::new()
        };
        let mut slack = budget.saturating_sub(used);
        let trailers = self.upgrade_trailers(&mut slack);
        self.write(&Choice { shown, details: vec![false; total], trailers, footer }, budget)
    }

    /// Trailers in full while they fit into `slack` (their short forms are already counted).
    fn upgrade_trailers(&self, slack: &mut usize) -> Vec<bool> {
        self.trailers
            .iter()
            .map(|t| {
                let extra = t.full.len().saturating_sub(t.short.len());
                let fits = extra <= *slack;
                if fits {
                    *slack -= extra;
                }
                fits
            })
            .collect()
    }

    fn diffs_footer(&self, dropped: usize) -> String {
        let noun = if dropped == 1 { self.nouns.0 } else { self.nouns.1 };
        format!(
            "Value diffs of {dropped} {noun} are left out to fit the size limit ({}).",
            self.where_full
        )
    }

    /// What phase 3 left out. With nothing but the diffs left out (the item lines fit once the
    /// longer footer of phase 2 was not needed), only the diffs are named; that text is shorter
    /// than the one reserved.
    fn more_footer(&self, left_out: usize, had_details: bool) -> String {
        if left_out == 0 {
            return format!(
                "Value diffs are left out to fit the size limit ({}).",
                self.where_full
            );
        }
        let noun = if left_out == 1 { self.nouns.0 } else { self.nouns.1 };
        let diffs =
            if had_details { "Value diffs are left out to fit the size limit.\n" } else { "" };
        format!("{diffs}… {left_out} more {noun} not shown ({}).", self.where_full)
    }

    /// The length of what [`Self::write`] writes for `choice`, or a little more: `write` leaves
    /// out a separating newline where a collapsed block already ends in a blank line.
    fn cost(&self, choice: &Choice) -> usize {
        let mut cost = self.head.len();
        let mut index = 0;
        for section in &self.sections {
            for (position, item) in section.items.iter().enumerate() {
                if index >= choice.shown {
                    break;
                }
                if position == 0 {
                    cost += Self::heading_cost(section);
                }
                cost += item.lines.len();
                if choice.details[index] {
                    cost += item.details.as_ref().map_or(0, String::len);
                }
                index += 1;
            }
        }
        for (trailer, full) in self.trailers.iter().zip(&choice.trailers) {
            cost += if *full { trailer.full.len() } else { trailer.short.len() };
        }
        cost + Self::footer_cost(&choice.footer)
    }

    fn write(&self, choice: &Choice, budget: usize) -> String {
        let mut out = self.head.clone();
        let mut index = 0;
        for section in &self.sections {
            let mut written = 0;
            for (position, item) in section.items.iter().enumerate() {
                if index >= choice.shown {
                    break;
                }
                if position == 0 {
                    separate(&mut out, "\n");
                    out.push_str(&section.heading);
                    out.push('\n');
                }
                out.push_str(&item.lines);
                if choice.details[index]
                    && let Some(block) = &item.details
                {
                    out.push_str(block);
                }
                index += 1;
                written += 1;
            }
            if written > 0 {
                out.push_str(&section.more_line(section.items.len() - written));
                if !section.close.is_empty() {
                    separate(&mut out, &section.close);
                }
            }
        }
        // What was left out is said right under the list it was left out of.
        if !choice.footer.is_empty() {
            separate(&mut out, "\n");
            out.push_str(&choice.footer);
            out.push('\n');
        }
        for (trailer, full) in self.trailers.iter().zip(&choice.trailers) {
            separate(&mut out, if *full { &trailer.full } else { &trailer.short });
        }
        // A collapsed block ends in a blank line, so that what follows is Markdown again; at the
        // very end that line is not needed.
        if out.ends_with("\n\n") {
            out.pop();
        }
        debug_assert!(out.len() <= self.cost(choice));
        cut(out, budget)
    }
}

/// Appends `piece`, which starts with the newline that makes a blank line, leaving that newline
/// out when `out` already ends in a blank line.
fn separate(out: &mut String, piece: &str) {
    match piece.strip_prefix('\n') {
        Some(rest) if out.ends_with("\n\n") => out.push_str(rest),
        _ => out.push_str(piece),
    }
}

/// The last resort when even the head does not fit (hundreds of scopes, or a tiny budget): cut
/// at a character boundary and say so.
fn cut(mut out: String, budget: usize) -> String {
    if out.len() <= budget {
        return out;
    }
    const CUT: &str = "\n\n… cut to fit the size limit.\n";
    let mut end = budget.saturating_sub(CUT.len());
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    if out.len() + CUT.len() <= budget {
        out.push_str(CUT);
    }
    out
}
