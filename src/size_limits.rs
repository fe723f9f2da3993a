//! ARCHITECTURE.md's size limits, checked: no production file over [`FILE_LINES`] lines and no
//! production function over [`FN_LINES`] lines. Production is everything outside
//! `#[cfg(test)]`: a test module or item is left out of its file's count, and a file declared
//! for tests only (`#[cfg(test)] mod tests;`, whatever its `#[path]`) is not counted at all.
//! The sources are parsed with `syn` (the module tree is followed from `lib.rs` and `main.rs`,
//! as the compiler does), so strings, comments and macros cannot fool the count.

use std::path::{Path, PathBuf};

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// The most lines a production file may have.
const FILE_LINES: usize = 900;
/// The most lines a production function may have, from `fn` to its closing brace (doc comments
/// and attributes not counted). Tables are `const`s and `static`s, which are not functions.
const FN_LINES: usize = 100;

/// One source file of the crate, as the compiler reaches it.
struct Source {
    /// Relative to `src/`.
    relative: PathBuf,
    /// Whether a `#[cfg(test)]` on the file's module or one of its parents makes it a test.
    test_only: bool,
}

/// Whether `attrs` hold `#[cfg(test)]` (or a `cfg(all(test, …))`): the item exists in tests only.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let Ok(meta) = attr.parse_args::<syn::Meta>() else { return false };
        match meta {
            syn::Meta::Path(path) => path.is_ident("test"),
            syn::Meta::List(list) if list.path.is_ident("all") => {
                list.tokens.clone().into_iter().any(|token| token.to_string() == "test")
            }
            _ => false,
        }
    })
}

/// The value of a `#[path = "…"]` attribute.
fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find(|attr| attr.path().is_ident("path")).and_then(|attr| {
        match &attr.meta.require_name_value().ok()?.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) => Some(text.value()),
            _ => None,
        }
    })
}

/// The attributes of an item, for the kinds that can carry `#[cfg(test)]` in this crate.
fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(item) => &item.attrs,
        syn::Item::Enum(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        syn::Item::Macro(item) => &item.attrs,
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Static(item) => &item.attrs,
        syn::Item::Struct(item) => &item.attrs,
        syn::Item::Trait(item) => &item.attrs,
        syn::Item::Type(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        _ => &[],
    }
}

/// Follows `mod NAME;` declarations from the file at `relative` (whose module's files live in
/// `folder`), adding every file reached.
fn reach(src: &Path, relative: &Path, folder: &Path, test_only: bool, out: &mut Vec<Source>) {
    let text = std::fs::read_to_string(src.join(relative)).expect("a source file");
    let file = syn::parse_file(&text).expect("a source file parses");
    out.push(Source { relative: relative.to_path_buf(), test_only });
    walk_items(src, &file.items, relative, folder, test_only, out);
}

fn walk_items(
    src: &Path,
    items: &[syn::Item],
    relative: &Path,
    folder: &Path,
    test_only: bool,
    out: &mut Vec<Source>,
) {
    for item in items {
        let syn::Item::Mod(module) = item else { continue };
        let test_only = test_only || is_test_only(&module.attrs);
        let name = module.ident.to_string();
        if let Some((_, inline)) = &module.content {
            // An inline module's own `mod x;` live in a folder named after it.
            walk_items(src, inline, relative, &folder.join(&name), test_only, out);
            continue;
        }
        if let Some(path) = path_attribute(&module.attrs) {
            // `#[path]` is relative to the declaring file's folder.
            let declaring = relative.parent().unwrap_or(Path::new(""));
            let file = declaring.join(path);
            let sub_folder = file.with_extension("");
            reach(src, &file, &sub_folder, test_only, out);
        } else if src.join(folder).join(format!("{name}.rs")).is_file() {
            let file = folder.join(format!("{name}.rs"));
            reach(src, &file, &folder.join(&name), test_only, out);
        } else {
            let file = folder.join(&name).join("mod.rs");
            reach(src, &file, &folder.join(&name), test_only, out);
        }
    }
}

/// Every source file of the crate, from `lib.rs` and `main.rs`.
fn crate_sources(src: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    reach(src, Path::new("lib.rs"), Path::new(""), false, &mut out);
    reach(src, Path::new("main.rs"), Path::new(""), false, &mut out);
    out
}

/// The lines `span` covers, first and last included.
fn lines(start: Span, end: Span) -> usize {
    end.end().line + 1 - start.start().line
}

/// What one file holds, outside its test items.
#[derive(Default)]
struct Measure {
    /// Lines covered by `#[cfg(test)]` items.
    test_lines: usize,
    /// Each production function over the limit: its name and lines.
    long_functions: Vec<(String, usize)>,
    /// The `impl` or `trait` the visitor is in, to name methods.
    owner: Vec<String>,
}

impl Measure {
    fn function(&mut self, name: &syn::Ident, fn_token: Span, block: &syn::Block) {
        let count = lines(fn_token, block.brace_token.span.close());
        if count > FN_LINES {
            let name = match self.owner.last() {
                Some(owner) => format!("{owner}::{name}"),
                None => name.to_string(),
            };
            self.long_functions.push((name, count));
        }
    }
}

impl<'ast> Visit<'ast> for Measure {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = item_attrs(item);
        if is_test_only(attrs) {
            let start = attrs.first().map_or(item.span(), |attr| attr.pound_token.span);
            self.test_lines += lines(start, item.span());
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.function(&item.sig.ident, item.sig.fn_token.span, &item.block);
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let owner = match &*item.self_ty {
            syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.owner.push(owner.unwrap_or_else(|| "impl".to_owned()));
        syn::visit::visit_item_impl(self, item);
        self.owner.pop();
    }

    fn visit_item_trait(&mut self, item: &'ast syn::ItemTrait) {
        self.owner.push(item.ident.to_string());
        syn::visit::visit_item_trait(self, item);
        self.owner.pop();
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if is_test_only(&item.attrs) {
            return;
        }
        self.function(&item.sig.ident, item.sig.fn_token.span, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.function(&item.sig.ident, item.sig.fn_token.span, block);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }
}

/// The production lines of `text` and its production functions over the limit.
fn measure(text: &str) -> (usize, Vec<(String, usize)>) {
    let file = syn::parse_file(text).expect("a source file parses");
    let mut measure = Measure::default();
    measure.visit_file(&file);
    (text.lines().count() - measure.test_lines, measure.long_functions)
}

#[test]
fn no_production_file_or_function_is_over_the_limits() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = crate_sources(&src);
    assert!(sources.len() > 100, "reached only {} source files", sources.len());
    let mut over = Vec::new();
    for source in sources.iter().filter(|source| !source.test_only) {
        let text = std::fs::read_to_string(src.join(&source.relative)).expect("a source file");
        let (production, functions) = measure(&text);
        let shown = source.relative.display();
        if production > FILE_LINES {
            over.push(format!("{shown}: {production} production lines (at most {FILE_LINES})"));
        }
        for (name, count) in functions {
            over.push(format!("{shown}: `{name}` is {count} lines (at most {FN_LINES})"));
        }
    }
    assert!(over.is_empty(), "over the size limits (split them):\n{}", over.join("\n"));
}

#[test]
fn every_source_file_is_reached() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reached: Vec<PathBuf> =
        crate_sources(&src).into_iter().map(|source| src.join(source.relative)).collect();
    let mut files = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let unreached: Vec<_> = files.iter().filter(|file| !reached.contains(file)).collect();
    assert!(unreached.is_empty(), "files the module tree does not reach: {unreached:?}");
}

#[test]
fn the_check_counts_production_lines_and_long_functions() {
    let body = "    let x = 1;\n".repeat(FN_LINES - 1);
    let long = format!("fn long() {{\n{body}}}\n");
    let short = format!("fn short() {{\n{}}}\n", "    let x = 1;\n".repeat(FN_LINES - 2));
    let tests = format!("#[cfg(test)]\nmod tests {{\n    #[test]\n{long}}}\n");
    let text = format!("//! Doc.\n{short}{tests}");
    // `long` is inside the test module: neither its lines nor its length count.
    assert_eq!(measure(&text), (1 + FN_LINES, Vec::new()));
    let text = format!("struct S;\nimpl S {{\n    /// Doc.\n    pub {long}}}\n");
    assert_eq!(measure(&text).1, [("S::long".to_owned(), FN_LINES + 1)]);
    // A string full of braces and `fn` is one line of a short function.
    let text = "fn f() -> &'static str {\n    \"fn g() { } } {\"\n}\n";
    assert_eq!(measure(text), (3, Vec::new()));
    let attrs: syn::ItemMod = syn::parse_quote!(
        #[cfg(all(test, unix))]
        mod unix_tests {}
    );
    assert!(is_test_only(&attrs.attrs));
    let attrs: syn::ItemMod = syn::parse_quote!(
        #[cfg(not(test))]
        mod real {}
    );
    assert!(!is_test_only(&attrs.attrs));
}
