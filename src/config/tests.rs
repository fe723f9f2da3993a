//! The loader end to end: one test per bad input of DESIGN.md §10 (each asserting the exact
//! `file:line:column: message`), plus the positive cases of §4. Configs are written to a
//! temporary folder and loaded as the CLI would load them, with a fixed variable map.

use std::path::Path;

use super::*;
use crate::content::Expiration;

/// A temporary config folder.
pub(super) struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub(super) fn new(config: &str) -> Self {
        let fixture = Self { dir: tempfile::tempdir().expect("tempdir") };
        fixture.write("kvsync.yaml", config);
        fixture
    }

    pub(super) fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn load_with(
        &self,
        environment: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Result<Loaded, Error> {
        let lookup =
            |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
        let options = LoadOptions { vars: &lookup, ..LoadOptions::of(environment) };
        load(&self.path().join("kvsync.yaml"), &options)
    }

    pub(super) fn load(&self) -> Result<Loaded, Error> {
        self.load_with(None, &[])
    }

    /// The problems as `file:line:column: message` lines, paths relative to the folder.
    pub(super) fn errors(&self, result: Result<Loaded, Error>) -> Vec<String> {
        match result {
            Ok(_) => panic!("expected problems, the config loaded"),
            Err(Error::Read { path, source }) => panic!("read error {path:?}: {source}"),
            Err(Error::Invalid(diagnostics)) => diagnostics.iter().map(|d| self.line(d)).collect(),
            Err(
                error @ (Error::ExportMismatch { .. }
                | Error::Interrupted { .. }
                | Error::TitlesUnknown),
            ) => {
                panic!("{error}")
            }
        }
    }

    fn line(&self, d: &Diagnostic) -> String {
        let path = d.path.strip_prefix(self.path()).unwrap_or(&d.path);
        format!("{}:{}:{}: {}", path.display(), d.line, d.column, d.message)
    }
}

pub(super) const HEAD: &str = "version: 1
owner: web
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: \"f/\"
";

/// `HEAD` plus a `keys:` mapping whose first line is line 8.
pub(super) fn keys(body: &str) -> String {
    format!("{HEAD}    keys:\n{body}")
}

/// Loads `config` (with `files` beside it) and asserts exactly these problems, in order.
pub(super) fn check(config: &str, files: &[(&str, &[u8])], expected: &[&str]) -> Vec<Diagnostic> {
    let fixture = Fixture::new(config);
    for (path, contents) in files {
        fixture.write(path, contents);
    }
    let result = fixture.load();
    let diagnostics = match &result {
        Err(Error::Invalid(diagnostics)) => diagnostics.clone(),
        _ => Vec::new(),
    };
    assert_eq!(fixture.errors(result), expected);
    diagnostics
}

/// Like [`check`] for one problem, also asserting its hint.
pub(super) fn check_hint(config: &str, files: &[(&str, &[u8])], expected: &str, hint: &str) {
    let diagnostics = check(config, files, &[expected]);
    let actual = diagnostics[0].hint.as_deref().unwrap_or("");
    assert!(actual.contains(hint), "hint {actual:?} lacks {hint:?}");
}

pub(super) fn loads(config: &str, files: &[(&str, &[u8])]) -> Loaded {
    let fixture = Fixture::new(config);
    for (path, contents) in files {
        fixture.write(path, contents);
    }
    match fixture.load() {
        Ok(loaded) => loaded,
        Err(error) => panic!("{:#?}", fixture.errors(Err(error))),
    }
}

pub(super) fn entry<'a>(loaded: &'a Loaded, key: &str) -> &'a DesiredEntry {
    loaded
        .desired
        .scopes
        .iter()
        .find_map(|s| s.entries.get(key))
        .unwrap_or_else(|| panic!("no key {key}"))
}

pub(super) fn inline(entry: &DesiredEntry) -> &str {
    match &entry.value {
        ValueSource::Inline(bytes) => std::str::from_utf8(bytes).expect("utf-8"),
        ValueSource::File(path) => panic!("a file: {path:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// DESIGN.md §10: every bad input, at its exact place.

#[test]
fn malformed_yaml() {
    check(
        &keys("      f/a: [unclosed\n"),
        &[],
        &["kvsync.yaml:8:12: invalid YAML: unclosed bracket '['"],
    );
}

#[test]
fn duplicate_keys() {
    check_hint(
        &keys("      f/a: one\n      f/a: two\n"),
        &[],
        "kvsync.yaml:9:7: duplicate key `f/a`",
        "only once",
    );
}

/// Every kind of mapping refuses a key written twice, at the second one: the parser passes
/// duplicates through, and each mapping's own `Deserialize` refuses them. Also when a merge key
/// (`<<`) makes the file be parsed a second time, with merges expanded.
#[test]
fn every_mapping_refuses_a_key_written_twice() {
    let config = "version: 1
owner: web
max_deletes: 5
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: \"f/\"
    keys:
      f/a: one
      f/b:
        value: two
        metadata:
          team: web
      f/c:
        value:
          nested:
            deep: 1
  other: {namespace_id: 00000000000000000000000000000001, prefix: \"o/\"}
environments:
  staging:
    max_deletes: 7
  prod: {max_deletes: 9}
default_environment: staging
";
    let merge = "      f/m: {<<: {value: m, metadata: {x: 1}}, value: n}\n";
    // (line, key) of one-line entries; duplicating the line puts the same key right below.
    let leaves = [
        (2, "owner"),
        (3, "max_deletes"),
        (6, "namespace_id"),
        (7, "prefix"),
        (9, "f/a"),
        (11, "value"),
        (13, "team"),
        (17, "deep"),
        (18, "other"),
        (21, "max_deletes"),
        (22, "prod"),
    ];
    for with_merge in [false, true] {
        for (line, key) in leaves {
            let mut lines: Vec<String> = config.lines().map(str::to_owned).collect();
            let column = lines[line - 1].len() - lines[line - 1].trim_start().len() + 1;
            lines.insert(line, lines[line - 1].clone());
            if with_merge {
                lines.insert(9, merge.trim_end().to_owned());
            }
            let shift = usize::from(with_merge && line >= 9);
            let text = lines.join("\n") + "\n";
            let expected =
                format!("kvsync.yaml:{}:{column}: duplicate key `{key}`", line + 1 + shift);
            check_hint(&text, &[], &expected, "only once");
        }
    }
    // Both configs are fine without the duplicates; an explicit key beats a merged one.
    loads(config, &[]);
    let merged = config.replacen("      f/a: one\n", &format!("      f/a: one\n{merge}"), 1);
    let loaded = loads(&merged, &[]);
    assert_eq!(inline(entry(&loaded, "f/m")), "n");
    let x = serde_json::json!({"x": 1}).as_object().cloned().map(desired::UserMetadata::from);
    assert_eq!(entry(&loaded, "f/m").metadata, x);
}

/// A repeated field is placed where the parser places its other problems: on a line after a
/// byte-order mark, columns count from after it; line breaks may be CRLF.
#[test]
fn a_repeated_field_is_placed_as_the_parser_places_problems() {
    let text = "\u{feff}{version: 1, owner: a, owner: b, namespaces: {}}\n";
    check(text, &[], &["kvsync.yaml:1:24: duplicate key `owner`"]);
    check(&text.replace("owner: b", "bogus: b"), &[], &["kvsync.yaml:1:24: unknown field `bogus`"]);
    let crlf = "\u{feff}version: 1\r\nowner: a\r\nnamespaces: {}\r\nowner: b\r\n";
    check(crlf, &[], &["kvsync.yaml:4:1: duplicate key `owner`"]);
}

#[test]
fn a_missing_field_is_one_problem() {
    check(
        "version: 1\nnamespaces:\n  f:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n",
        &[],
        &["kvsync.yaml:1:1: missing field `owner`"],
    );
}

#[test]
fn unknown_field_suggests_the_close_one() {
    check_hint(
        &format!("{HEAD}    prnue: true\n"),
        &[],
        "kvsync.yaml:7:5: unknown field `prnue`",
        "did you mean `prune`?",
    );
}

#[test]
fn unknown_entry_field_points_to_value() {
    check_hint(
        &keys("      f/a:\n        enabled: true\n"),
        &[],
        "kvsync.yaml:9:9: unknown field `enabled` in a key entry",
        "a mapping is always an entry with `value`, `file`, `metadata`, `expiration`, \
         `expiration_ttl`, `sensitive`; a JSON object goes under `value:`",
    );
}

#[test]
fn wrong_types() {
    check(
        &HEAD.replace("version: 1", "version: one"),
        &[],
        &["kvsync.yaml:1:10: invalid value for `version`: expected a non-negative integer"],
    );
    check_hint(
        &format!("{HEAD}    prune: yes\n"),
        &[],
        "kvsync.yaml:7:12: invalid value for `prune`: expected `true` or `false`",
        "`yes`, `no`, `on` and `off` are strings",
    );
    check(
        &format!("{HEAD}    ignore: flags/*\n"),
        &[],
        &["kvsync.yaml:7:13: invalid value for `ignore`: expected a list"],
    );
}

#[test]
fn metadata_must_be_an_object() {
    check_hint(
        &keys("      f/a:\n        value: x\n        metadata: [1, 2]\n"),
        &[],
        "kvsync.yaml:10:19: the metadata of key `f/a` must be a JSON object",
        "metadata: {team: growth}",
    );
    check(
        &keys("      f/a:\n        value: x\n        metadata: growth\n"),
        &[],
        &["kvsync.yaml:10:19: the metadata of key `f/a` must be a JSON object"],
    );
}

#[test]
fn marker_field_in_metadata() {
    check(
        &keys("      f/a:\n        value: x\n        metadata: {team: t, __kvsync: 1}\n"),
        &[],
        &["kvsync.yaml:10:29: metadata field `__kvsync` is reserved for kvsync's marker"],
    );
}

#[test]
fn metadata_integers_must_survive_javascript() {
    check(
        &keys(
            "      f/a:\n        value: x\n        metadata: {ok: 9007199254740991, big: 9007199254740993}\n",
        ),
        &[],
        &[
            "kvsync.yaml:10:47: metadata integer `9007199254740993` is beyond ±2^53, which JavaScript's `JSON.parse` cannot represent",
        ],
    );
}

#[test]
fn oversize_key() {
    let key = format!("f/{}", "k".repeat(511));
    check(
        &keys(&format!("      \"{key}\": x\n")),
        &[],
        &[&format!(
            "kvsync.yaml:8:7: key `f/{}…` is 513 bytes; KV's limit is 512 bytes (UTF-8)",
            "k".repeat(46)
        )],
    );
}

#[test]
fn oversize_value_inline_and_file() {
    let big = "a".repeat(25 * 1024 * 1024 + 1);
    check(
        &keys(&format!("      f/inline: {big}\n      f/file:\n        file: big.txt\n")),
        &[("big.txt", big.as_bytes())],
        &[
            "kvsync.yaml:8:17: the value of key `f/inline` is 26214401 bytes; KV's limit is 25 MiB (26214400 bytes)",
            "kvsync.yaml:10:15: file `big.txt` is 26214401 bytes; KV's limit for a value is 25 MiB (26214400 bytes)",
        ],
    );
}

#[test]
fn oversize_metadata() {
    let long = "m".repeat(1000);
    let diagnostics = check(
        &keys(&format!("      f/a:\n        value: x\n        metadata: {{note: {long}}}\n")),
        &[],
        &[
            "kvsync.yaml:10:19: the metadata of key `f/a` is 1186 bytes once kvsync adds its marker; KV's limit is 1024",
        ],
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("the marker takes up to 176 bytes; move large data into the value")
    );
}

#[test]
fn bad_key_names() {
    let config = HEAD.replace("prefix: \"f/\"", "prefix: \"\"");
    check(
        &format!("{config}    keys:\n      \"..\": x\n      .: y\n      \"\": z\n"),
        &[],
        &[
            "kvsync.yaml:8:7: key name `..` is not allowed",
            "kvsync.yaml:9:7: key name `.` is not allowed",
            "kvsync.yaml:10:7: a key name is empty",
        ],
    );
}

#[test]
fn ttl_below_sixty() {
    check_hint(
        &keys("      f/a:\n        value: x\n        expiration_ttl: 30\n"),
        &[],
        "kvsync.yaml:10:25: `expiration_ttl` must be at least 60 seconds, not 30",
        "KV refuses shorter TTLs",
    );
}

#[test]
fn both_expirations() {
    check(
        &keys(
            "      f/a:\n        value: x\n        expiration: 2035-01-01T00:00:00Z\n        expiration_ttl: 300\n",
        ),
        &[],
        &["kvsync.yaml:11:25: key `f/a` sets both `expiration` and `expiration_ttl`"],
    );
}

#[test]
fn fractional_second_expiration() {
    check_hint(
        &keys("      f/a:\n        value: x\n        expiration: 2035-01-01T00:00:00.5Z\n"),
        &[],
        "kvsync.yaml:10:21: `expiration` `2035-01-01T00:00:00.5Z` has fractional seconds",
        "whole seconds",
    );
}

#[test]
fn expiration_beyond_2038_and_bad_text() {
    check(
        &keys(
            "      f/a:\n        value: x\n        expiration: 2038-01-19T03:14:08Z\n      f/b:\n        value: x\n        expiration: 2030-01-01\n",
        ),
        &[],
        &[
            "kvsync.yaml:10:21: `expiration` must be at most 2147483647 (2038-01-19T03:14:07Z), the last second KV can store",
            "kvsync.yaml:13:21: `expiration` `2030-01-01` is not an RFC 3339 time: the 'separator' component could not be parsed",
        ],
    );
}

#[test]
fn missing_environment_variable() {
    check_hint(
        &keys("      f/a: \"token=${KVSYNC_TEST_UNSET}\"\n"),
        &[],
        "kvsync.yaml:8:12: environment variable `KVSYNC_TEST_UNSET` is not set",
        "${KVSYNC_TEST_UNSET:-value}",
    );
}

#[test]
fn missing_file() {
    check(
        &keys("      f/a:\n        file: nowhere.txt\n"),
        &[],
        &["kvsync.yaml:9:15: file `nowhere.txt` not found"],
    );
}

#[test]
fn file_escaping_the_config_folder() {
    check_hint(
        &keys("      f/a:\n        file: ../../etc/passwd\n"),
        &[],
        "kvsync.yaml:9:15: file `../../etc/passwd` is outside the config folder",
        "cannot read other files",
    );
    check(
        &keys("      f/b:\n        file: /etc/passwd\n"),
        &[],
        &["kvsync.yaml:9:15: file `/etc/passwd` is outside the config folder"],
    );
}

#[test]
fn file_escaping_through_a_symlink() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "runner secret").expect("write");
    let fixture = Fixture::new(&keys("      f/a:\n        file: assets/link.txt\n"));
    std::fs::create_dir_all(fixture.path().join("assets")).expect("mkdir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, fixture.path().join("assets/link.txt")).expect("symlink");
    #[cfg(not(unix))]
    return;
    assert_eq!(
        fixture.errors(fixture.load()),
        ["kvsync.yaml:9:15: file `assets/link.txt` is outside the config folder"]
    );
}

#[test]
fn include_cycle() {
    check(
        &format!("{HEAD}    include: [a.yaml]\n"),
        &[
            ("a.yaml", b"keys: {f/a: 1}\ninclude: [b.yaml]\n"),
            ("b.yaml", b"keys: {f/b: 2}\ninclude: [a.yaml]\n"),
        ],
        &["b.yaml:2:11: include cycle: `a.yaml` → `b.yaml` → `a.yaml`"],
    );
}

#[test]
fn include_of_the_root_config_is_a_cycle() {
    check(
        &format!("{HEAD}    include: [\"*.yaml\"]\n"),
        &[],
        &["kvsync.yaml:7:15: include cycle: `kvsync.yaml` → `kvsync.yaml`"],
    );
}

#[test]
fn key_defined_twice() {
    check(
        &format!("{HEAD}    include: [more/*.yaml]\n    keys:\n      f/a: one\n"),
        &[("more/1.yaml", b"keys:\n  f/a: two\n  f/b: x\n"), ("more/2.yaml", b"keys:\n  f/b: y\n")],
        &[
            "more/1.yaml:2:3: key `f/a` is defined twice (first at `kvsync.yaml:9:7`)",
            "more/2.yaml:2:3: key `f/b` is defined twice (first at `more/1.yaml:3:3`)",
        ],
    );
}

#[test]
fn include_glob_matching_nothing() {
    check(
        &format!("{HEAD}    include: [\"flags/*.yaml\"]\n"),
        &[],
        &["kvsync.yaml:7:15: `include` glob `flags/*.yaml` matches no file"],
    );
}

#[test]
fn include_file_problems_point_into_it() {
    check(
        &format!("{HEAD}    include: [more.yaml]\n"),
        &[("more.yaml", b"keys:\n  f/a:\n    valeu: 1\n")],
        &["more.yaml:3:5: unknown field `valeu` in a key entry"],
    );
}

#[test]
fn key_outside_its_prefix() {
    check_hint(
        &keys("      g/a: x\n"),
        &[],
        "kvsync.yaml:8:7: key `g/a` is outside the prefix `f/` of namespace `flags`",
        "start with `f/`",
    );
}

#[test]
fn overlapping_scopes() {
    check(
        &format!(
            "{HEAD}  more:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: f/x/\n  all:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n  other:\n    namespace_id: ffffffffffffffffffffffffffffffff\n"
        ),
        &[],
        &[
            "kvsync.yaml:9:13: namespaces `flags` and `more` overlap: both manage keys of namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` (prefixes `f/` and `f/x/`)",
            "kvsync.yaml:10:3: namespaces `flags` and `all` overlap: both manage keys of namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` (prefixes `f/` and ``)",
        ],
    );
}

/// "Billion laughs": ten levels of ten aliases would be 10^10 strings if expanded.
#[test]
fn alias_bomb_fails_fast_with_a_clear_error() {
    let mut bomb =
        String::from("      f/a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("      f/a{level}: &a{level} [{items}]\n"));
    }
    let started = std::time::Instant::now();
    let diagnostics = check(
        &keys(&bomb),
        &[],
        &["kvsync.yaml:12:53: the YAML exceeds kvsync's parser limits (anchors copy 100001 nodes)"],
    );
    assert!(diagnostics[0].hint.as_deref().is_some_and(|h| h.contains("billion laughs")));
    // Generous for a debug build on a slow machine; an expanding parser would take hours.
    assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
}

/// A bomb of one long string repeated through aliases: few nodes, many bytes.
#[test]
fn alias_bomb_of_long_strings_is_bounded_too() {
    let long = "x".repeat(1024 * 1024);
    let items = vec!["*big"; 100].join(", ");
    let config = keys(&format!("      f/big: &big {long}\n      f/many: [{items}]\n"));
    let fixture = Fixture::new(&config);
    let errors = fixture.errors(fixture.load());
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("YAML aliases expand to more than 16 MiB of text"), "{errors:?}");
}

#[test]
fn environment_required() {
    let config = format!("{HEAD}environments:\n  staging: {{}}\n  production: {{}}\n");
    check_hint(
        &config,
        &[],
        "kvsync.yaml:8:3: this config has environments (`staging`, `production`); pass `--env`",
        "`--env staging`",
    );
}

#[test]
fn environment_unknown_or_unexpected() {
    let fixture =
        Fixture::new(&format!("{HEAD}environments:\n  staging: {{}}\n  production: {{}}\n"));
    let result = fixture.load_with(Some("prod"), &[]);
    let Err(Error::Invalid(diagnostics)) = &result else {
        panic!("expected problems");
    };
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("did you mean `production`? this config has `staging`, `production`")
    );
    assert_eq!(fixture.errors(result), ["kvsync.yaml:8:3: unknown environment `prod`"]);

    let fixture = Fixture::new(HEAD);
    assert_eq!(
        fixture.errors(fixture.load_with(Some("staging"), &[])),
        [
            "kvsync.yaml:1:1: environment `staging` was asked for, but this config has no `environments`"
        ]
    );
}

#[test]
fn null_values_are_errors_with_a_hint() {
    let diagnostics = check(
        &keys("      f/a:\n      f/b: null\n      f/c:\n        value: ~\n"),
        &[],
        &[
            "kvsync.yaml:8:10: key `f/a` has no value",
            "kvsync.yaml:9:12: key `f/b` has no value",
            "kvsync.yaml:11:16: key `f/c` has no value",
        ],
    );
    assert_eq!(diagnostics[0].hint.as_deref(), Some("write `\"\"` for an empty value"));
}

#[test]
fn integers_beyond_64_bits_are_errors() {
    check(
        &keys("      f/a: 123456789012345678901234567890\n      f/b: [-9223372036854775809]\n"),
        &[],
        &[
            "kvsync.yaml:8:12: integer `123456789012345678901234567890` does not fit in 64 bits",
            "kvsync.yaml:9:13: integer `-9223372036854775809` does not fit in 64 bits",
        ],
    );
}

#[test]
fn an_entry_needs_exactly_one_of_value_and_file() {
    check(
        &keys(
            "      f/both:\n        value: x\n        file: v.txt\n      f/none:\n        metadata: {a: 1}\n      f/empty: {}\n",
        ),
        &[("v.txt", b"v")],
        &[
            "kvsync.yaml:10:15: key `f/both` sets both `value` and `file`",
            "kvsync.yaml:12:9: key `f/none` has neither `value` nor `file`",
            "kvsync.yaml:13:16: key `f/empty` has neither `value` nor `file`",
        ],
    );
}

#[test]
fn default_environment_must_name_an_environment() {
    let diagnostics = check(
        &format!("{HEAD}default_environment: prod\nenvironments:\n  production: {{}}\n"),
        &[],
        &["kvsync.yaml:7:22: unknown environment `prod`"],
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("did you mean `production`? this config has `production`")
    );
}

#[test]
fn version_and_owner_are_checked() {
    check(
        &HEAD.replace("version: 1", "version: 2").replace("owner: web", "owner: Web Flags"),
        &[],
        &[
            "kvsync.yaml:1:10: unsupported config version `2`",
            "kvsync.yaml:2:8: owner `Web Flags` is not valid",
        ],
    );
}

#[test]
fn namespace_id_is_required_and_checked() {
    check(
        "version: 1\nowner: web\nnamespaces:\n  a: {prefix: a/}\n  b:\n    namespace_id: \"not an id\"\n",
        &[],
        &[
            "kvsync.yaml:4:3: namespace `a` has no `namespace_id`",
            "kvsync.yaml:6:19: namespace id `not an id` is not valid",
        ],
    );
}

#[test]
fn bad_globs_are_reported_at_the_pattern() {
    check(
        &format!("{HEAD}    ignore: [\"ok/*\", \"bad/[\"]\n"),
        &[],
        &[
            "kvsync.yaml:7:22: `ignore` glob `bad/[` is not valid: unclosed character class; missing ']'",
        ],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let config = keys(concat!(
        "      g/outside: x\n",
        "      f/ttl:\n",
        "        value: x\n",
        "        expiration_ttl: 5\n",
        "      f/meta:\n",
        "        value: ${NOPE}\n",
        "        metadata: {__kvsync: 1}\n",
    ));
    check(
        &config.replace("owner: web", "owner: WEB"),
        &[],
        &[
            "kvsync.yaml:2:8: owner `WEB` is not valid",
            "kvsync.yaml:8:7: key `g/outside` is outside the prefix `f/` of namespace `flags`",
            "kvsync.yaml:11:25: `expiration_ttl` must be at least 60 seconds, not 5",
            "kvsync.yaml:13:16: environment variable `NOPE` is not set",
            "kvsync.yaml:14:20: metadata field `__kvsync` is reserved for kvsync's marker",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// What loads, and what it loads as.

/// The example of DESIGN.md §4, with its include and file.
const DESIGN_EXAMPLE: &str = r#"# yaml-language-server: $schema=https://example.com/schemas/kvsync.schema.json
version: 1
owner: web-flags                     # required; [a-z0-9._-], 1–64 chars; written into every marker
target: cloudflare                   # or local (the embedded store, §8); --target overrides
max_deletes: 50                      # per scope: refuse deleting more than max(this, 10 % of our live keys there)
namespaces:
  flags:                             # the scope's name, used in output
    namespace_id: ${FLAGS_NAMESPACE_ID:-0f1e2d3c4b5a69788796a5b4c3d2e1f0}
    prefix: "flags/"
    prune: true
    ignore: ["flags/runtime/*"]      # written by Workers at run time: never reported or touched
    protect: ["flags/kill-switch"]
    take_over: []                    # globs of keys another owner holds that this config may take
    keys:
      flags/banner: "Welcome!"       # a string is stored as-is
      flags/max-items: 42            # any other scalar or sequence: compact JSON ("42")
      flags/new-checkout:            # a mapping is always an entry; a JSON object goes under value:
        value: {enabled: true, rollout: 25}
        metadata: {team: growth}
      flags/black-friday:
        value: {enabled: true}
        expiration: 2030-01-01T00:00:00Z
      flags/payments-key:
        value: ${PAYMENTS_KEY:-dev-only-key}  # any value with ${…} is sensitive automatically
      flags/logo.png:
        file: assets/logo.png        # bytes, path relative to the YAML file that names it
    include: [flags/*.yaml]          # more key maps; a key defined twice in them is an error
local_path: .kvsync/local.db         # where --target local keeps its store
environments:                        # with environments present, --env is required
  staging:                           # unless default_environment names one
    namespaces: {flags: {namespace_id: 9a8b7c6d5e4f30211203f4e5d6c7b8a9}}
    # an overlay deep-merges into the base: mappings merge, a key entry or a list it names
    # replaces the base's (overriding a key here is not "defined twice")
"#;

#[test]
fn the_design_example_loads() {
    let logo: &[u8] = b"\x89PNG\r\n\x1a\n\x00binary";
    let fixture = Fixture::new(DESIGN_EXAMPLE);
    fixture.write("assets/logo.png", logo);
    fixture.write("flags/more.yaml", "keys:\n  flags/extra: more\n");
    let loaded = fixture
        .load_with(Some("staging"), &[])
        .unwrap_or_else(|e| panic!("{:#?}", fixture.errors(Err(e))));
    let desired = &loaded.desired;
    assert_eq!(desired.owner, "web-flags");
    assert_eq!(desired.environment.as_deref(), Some("staging"));
    assert_eq!(desired.target, Some(crate::kv::TargetKind::Cloudflare));
    assert_eq!(desired.max_deletes, 50);
    assert_eq!(
        desired.local_path.as_deref(),
        Some(fixture.path().join(".kvsync/local.db").as_path())
    );
    let scope = &desired.scopes[0];
    assert_eq!(scope.name, "flags");
    assert_eq!(scope.namespace_id, "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
    assert_eq!(scope.prefix, "flags/");
    assert!(scope.prune);
    assert!(scope.ignore.is_match("flags/runtime/x"));
    assert!(!scope.ignore.is_match("flags/runtime/x/y"));
    assert!(scope.protect.is_match("flags/kill-switch"));
    assert!(scope.take_over.is_empty());
    assert_eq!(
        scope.entries.keys().collect::<Vec<_>>(),
        [
            "flags/banner",
            "flags/black-friday",
            "flags/extra",
            "flags/logo.png",
            "flags/max-items",
            "flags/new-checkout",
            "flags/payments-key"
        ]
    );
    assert_eq!(inline(entry(&loaded, "flags/banner")), "Welcome!");
    assert_eq!(inline(entry(&loaded, "flags/max-items")), "42");
    let checkout = entry(&loaded, "flags/new-checkout");
    assert_eq!(inline(checkout), r#"{"enabled":true,"rollout":25}"#);
    assert_eq!(
        checkout.metadata,
        Some(serde_json::from_str(r#"{"team":"growth"}"#).expect("json"))
    );
    assert_eq!(entry(&loaded, "flags/black-friday").expiration, Expiration::At(1_893_456_000));
    let payments = entry(&loaded, "flags/payments-key");
    assert_eq!(inline(payments), "dev-only-key");
    assert!(payments.sensitive);
    assert!(!checkout.sensitive);
    let logo_entry = entry(&loaded, "flags/logo.png");
    assert_eq!(
        logo_entry.value,
        ValueSource::File(
            std::fs::canonicalize(fixture.path().join("assets/logo.png")).expect("canonical")
        )
    );
    assert_eq!(logo_entry.size, logo.len() as u64);
    assert!(!logo_entry.is_text);
    assert_eq!(logo_entry.hash, crate::content::content_hash(logo, None, Expiration::Never));
    assert!(loaded.warnings.is_empty());

    // Without `--env`, the environments make it an error.
    assert_eq!(
        fixture.errors(fixture.load()),
        ["kvsync.yaml:30:3: this config has environments (`staging`); pass `--env`"]
    );
}

/// hash-vectors.json case 3: `{rollout: 25, enabled: true}` with metadata
/// `{team: growth, owner: web}`.
#[test]
fn json_values_keep_document_order_and_match_the_hash_vector() {
    let loaded = loads(
        &keys(
            "      f/a:\n        value: {rollout: 25, enabled: true}\n        metadata: {team: growth, owner: web}\n",
        ),
        &[],
    );
    let entry = entry(&loaded, "f/a");
    assert_eq!(inline(entry), r#"{"rollout":25,"enabled":true}"#);
    assert_eq!(
        entry.hash.to_hex(),
        "2a73d872efdf31beb0f030642948f28663b641dfe0eefccff3f1f68a24306ee2"
    );
}

#[test]
fn scalars_follow_the_core_schema_with_strict_booleans() {
    let loaded = loads(
        &keys(concat!(
            "      f/yes: yes\n",
            "      f/flag: true\n",
            "      f/float: 1.50\n",
            "      f/zero-led: 012\n",
            "      f/hex: 0x1F\n",
            "      f/octal: 0o17\n",
            "      f/underscore: 1_000\n",
            "      f/exponent: 1e3\n",
            "      f/quoted: \"42\"\n",
            "      f/list: [a, 1, null, {b: no}]\n",
            "      f/big: 18446744073709551615\n",
            "      f/empty: \"\"\n",
            "      f/date: 2030-01-01\n",
            "      f/text:\n        value: |\n          two\n          lines\n",
            "      f/json-text:\n        value: '{\"kept\": 1.50}'\n",
        )),
        &[],
    );
    let cases = [
        ("f/yes", "yes"),
        ("f/flag", "true"),
        ("f/float", "1.5"),
        ("f/zero-led", "12"),
        ("f/hex", "31"),
        ("f/octal", "15"),
        ("f/underscore", "1_000"),
        ("f/exponent", "1000.0"),
        ("f/quoted", "42"),
        ("f/list", r#"["a",1,null,{"b":"no"}]"#),
        ("f/big", "18446744073709551615"),
        ("f/empty", ""),
        ("f/date", "2030-01-01"),
        ("f/text", "two\nlines\n"),
        ("f/json-text", r#"{"kept": 1.50}"#),
    ];
    for (key, value) in cases {
        assert_eq!(inline(entry(&loaded, key)), value, "{key}");
    }
}

#[test]
fn interpolation_with_defaults_and_escapes() {
    let fixture = Fixture::new(&format!(
        "{}    keys:\n      f/a: \"${{SET}}-${{UNSET:-fallback}}\"\n      f/b: \"$${{NOT}} a variable\"\n      f/c:\n        value: {{url: \"https://${{HOST:-example.com}}/\"}}\n      f/d:\n        file: ${{DIR}}/v.txt\n      f/e:\n        value: plain\n        metadata: {{by: \"${{SET}}\"}}\n",
        HEAD.replace("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "${NS:-0f1e2d3c4b5a69788796a5b4c3d2e1f0}")
            .replace("\"f/\"", "\"${PREFIX}\"")
    ));
    fixture.write("values/v.txt", "from a file");
    let loaded = fixture
        .load_with(None, &[("SET", "s3cret"), ("PREFIX", "f/"), ("DIR", "values")])
        .unwrap_or_else(|e| panic!("{:#?}", fixture.errors(Err(e))));
    assert_eq!(loaded.desired.scopes[0].namespace_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    assert_eq!(loaded.desired.scopes[0].prefix, "f/");
    let a = entry(&loaded, "f/a");
    assert_eq!(inline(a), "s3cret-fallback");
    assert!(a.sensitive);
    let b = entry(&loaded, "f/b");
    assert_eq!(inline(b), "${NOT} a variable");
    assert!(!b.sensitive, "an escaped `$${{` is not an interpolation");
    let c = entry(&loaded, "f/c");
    assert_eq!(inline(c), r#"{"url":"https://example.com/"}"#);
    assert!(c.sensitive);
    let d = entry(&loaded, "f/d");
    assert!(d.sensitive);
    assert_eq!(d.size, 11);
    let e = entry(&loaded, "f/e");
    assert!(e.sensitive, "interpolated metadata makes the key sensitive");
    assert_eq!(e.metadata, Some(serde_json::from_str(r#"{"by":"s3cret"}"#).expect("json")));
}

#[test]
fn environment_overlay_merges_deeply() {
    let config = format!(
        "{HEAD}    ignore: [\"f/base/*\"]\n    keys:\n      f/a: base\n      f/b: base\n    include: [base.yaml]\nenvironments:\n  staging:\n    owner: web-staging\n    max_deletes: 5\n    namespaces:\n      flags:\n        prefix: \"f/\"\n        ignore: [\"f/staging/*\"]\n        keys:\n          f/b: staging\n          f/c:\n            value: added\n          f/from-include: replaced\n      extra:\n        namespace_id: eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n        keys:\n          x: 1\n"
    );
    let fixture = Fixture::new(&config);
    fixture.write("base.yaml", "keys:\n  f/from-include: included\n");
    let loaded = fixture
        .load_with(Some("staging"), &[])
        .unwrap_or_else(|e| panic!("{:#?}", fixture.errors(Err(e))));
    let desired = &loaded.desired;
    assert_eq!(desired.owner, "web-staging");
    assert_eq!(desired.max_deletes, 5);
    assert_eq!(desired.environment.as_deref(), Some("staging"));
    let flags = &desired.scopes[0];
    assert_eq!(flags.namespace_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "kept from the base");
    assert!(flags.ignore.is_match("f/staging/x"));
    assert!(!flags.ignore.is_match("f/base/x"), "a list is replaced, not merged");
    let values: Vec<(&str, &str)> =
        flags.entries.iter().map(|(k, e)| (k.as_str(), inline(e))).collect();
    assert_eq!(
        values,
        [("f/a", "base"), ("f/b", "staging"), ("f/c", "added"), ("f/from-include", "replaced")]
    );
    assert_eq!(desired.scopes[1].name, "extra");
    assert_eq!(inline(entry(&loaded, "x")), "1");

    // The base alone, through `default_environment` absent and no `--env`: an error.
    let without = Fixture::new(&config);
    without.write("base.yaml", "keys:\n  f/from-include: included\n");
    assert!(without.load().is_err());
}

#[test]
fn default_environment_is_used_without_env() {
    let loaded = loads(
        &format!("{HEAD}default_environment: dev\nenvironments:\n  dev:\n    owner: web-dev\n"),
        &[],
    );
    assert_eq!(loaded.desired.environment.as_deref(), Some("dev"));
    assert_eq!(loaded.desired.owner, "web-dev");
}

#[test]
fn includes_merge_recursively_relative_to_their_file() {
    let loaded = loads(
        &format!("{HEAD}    include: [\"keys/*.yaml\"]\n    keys:\n      f/root: r\n"),
        &[
            ("keys/a.yaml", b"keys:\n  f/a: a\n  f/file:\n    file: ../values/v.bin\ninclude: [\"nested/*.yaml\"]\n"),
            ("keys/b.yaml", b"# only comments\n"),
            ("keys/nested/c.yaml", b"keys:\n  f/c:\n    file: c.txt\n"),
            ("keys/nested/c.txt", b"nested text"),
            ("values/v.bin", b"\xff\xfe"),
        ],
    );
    let names: Vec<&String> = loaded.desired.scopes[0].entries.keys().collect();
    assert_eq!(names, ["f/a", "f/c", "f/file", "f/root"]);
    assert_eq!(entry(&loaded, "f/c").size, 11);
    assert!(entry(&loaded, "f/c").is_text);
    assert!(!entry(&loaded, "f/file").is_text);
}

/// A file value is hashed in 64 KiB chunks; characters split across chunks are still text.
#[test]
fn file_values_stream_and_detect_text_across_chunks() {
    let text = "aé€😀".repeat(20_000);
    let mut binary = text.clone().into_bytes();
    binary[100_000] = 0xff;
    let loaded = loads(
        &keys(
            "      f/text:\n        file: text.txt\n      f/binary:\n        file: bin.dat\n        expiration_ttl: 600\n",
        ),
        &[("text.txt", text.as_bytes()), ("bin.dat", &binary)],
    );
    let text_entry = entry(&loaded, "f/text");
    assert!(text_entry.is_text);
    assert_eq!(text_entry.size, text.len() as u64);
    assert_eq!(
        text_entry.hash,
        crate::content::content_hash(text.as_bytes(), None, Expiration::Never)
    );
    let binary_entry = entry(&loaded, "f/binary");
    assert!(!binary_entry.is_text);
    assert_eq!(
        binary_entry.hash,
        crate::content::content_hash(&binary, None, Expiration::Ttl(600))
    );
}

#[test]
fn ignored_desired_keys_are_warnings() {
    let loaded = loads(
        &format!("{HEAD}    ignore: [\"f/runtime/*\"]\n    keys:\n      f/runtime/x: 1\n"),
        &[],
    );
    assert_eq!(loaded.warnings.len(), 1);
    let warning = &loaded.warnings[0];
    assert_eq!((warning.line, warning.column), (9, 7));
    assert_eq!(
        warning.message,
        "key `f/runtime/x` matches the `ignore` globs of namespace `flags`, so kvsync skips it"
    );
}

#[test]
fn expirations_normalise_to_unix_seconds() {
    let loaded = loads(
        &keys(concat!(
            "      f/offset:\n        value: x\n        expiration: 2030-01-01T01:00:00+01:00\n",
            "      f/seconds:\n        value: x\n        expiration: 1893456000\n",
            "      f/ttl:\n        value: x\n        expiration_ttl: 60\n",
        )),
        &[],
    );
    assert_eq!(entry(&loaded, "f/offset").expiration, Expiration::At(1_893_456_000));
    assert_eq!(entry(&loaded, "f/seconds").expiration, Expiration::At(1_893_456_000));
    assert_eq!(entry(&loaded, "f/ttl").expiration, Expiration::Ttl(60));
}

#[test]
fn empty_metadata_differs_from_none() {
    let loaded = loads(
        &keys(
            "      f/none:\n        value: x\n        metadata: null\n      f/empty:\n        value: x\n        metadata: {}\n      f/bare: x\n",
        ),
        &[],
    );
    let none = entry(&loaded, "f/none");
    let empty = entry(&loaded, "f/empty");
    assert_eq!(none.metadata, None);
    assert_eq!(empty.metadata.as_ref().map(|m| m.to_map()), Some(serde_json::Map::new()));
    assert_eq!(none.hash, entry(&loaded, "f/bare").hash);
    assert_ne!(none.hash, empty.hash);
}

#[test]
fn a_missing_root_config_is_a_read_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = LoadOptions::of(None);
    let error = load(&dir.path().join("nope.yaml"), &options).expect_err("missing");
    assert!(matches!(error, Error::Read { .. }));
    assert!(error.to_string().contains("nope.yaml"), "{error}");
}

/// `schemas/kvsync.schema.json` is generated; this test rewrites it when the model changed
/// (then fails, so the change is seen and committed). rust-analyzer's `ensure_file_contents`.
#[test]
fn schema_file_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/kvsync.schema.json");
    let generated = schema_json();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != generated {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &generated).expect("write the schema");
        panic!("`{}` was out of date and has been updated; review and commit it", path.display());
    }
}

// ---------------------------------------------------------------------------------------------
// `binding:` through wrangler's config, and `plan_tier:`.

/// A wrangler.jsonc with comments, trailing commas and two environments.
const WRANGLER_JSONC: &str = r#"// the storefront Worker
{
  "name": "storefront",
  "kv_namespaces": [
    { "binding": "FLAGS", "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0" }, // local development
    { "binding": "BOTH", "id": "11111111111111111111111111111111", "preview_id": "22222222222222222222222222222222" },
  ],
  "env": {
    /* each environment declares its own bindings: nothing is inherited */
    "staging": { "kv_namespaces": [{ "binding": "FLAGS", "id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9" },] },
    "production": { "kv_namespaces": [{ "binding": "FLAGS", "id": "5f4e3d2c1b0a99887766554433221100" }] },
  },
}
"#;

const BINDING_CONFIG: &str = "version: 1
owner: web
namespaces:
  flags:
    binding: FLAGS
    prefix: \"f/\"
environments:
  staging:
    namespaces: {flags: {environment: staging}}
  production:
    namespaces: {flags: {environment: production}}
    plan_tier: free
  fixed:
    namespaces: {flags: {namespace_id: abcdefabcdefabcdefabcdefabcdefab}}
";

#[test]
fn bindings_resolve_per_environment_and_say_how() {
    let fixture = Fixture::new(BINDING_CONFIG);
    fixture.write("wrangler.jsonc", WRANGLER_JSONC);
    let scope = |env: &str| {
        let loaded = fixture
            .load_with(Some(env), &[])
            .unwrap_or_else(|e| panic!("{:#?}", fixture.errors(Err(e))));
        let scope = &loaded.desired.scopes[0];
        (scope.namespace_id.clone(), scope.resolved_from.clone(), loaded.desired.plan_tier)
    };
    assert_eq!(
        scope("staging"),
        (
            "9a8b7c6d5e4f30211203f4e5d6c7b8a9".to_owned(),
            Some("binding `FLAGS` in wrangler.jsonc [env.staging]".to_owned()),
            PlanTier::Paid
        )
    );
    assert_eq!(
        scope("production"),
        (
            "5f4e3d2c1b0a99887766554433221100".to_owned(),
            Some("binding `FLAGS` in wrangler.jsonc [env.production]".to_owned()),
            PlanTier::Free
        )
    );
    // An overlay's `namespace_id` replaces the base's `binding` instead of clashing with it.
    assert_eq!(
        scope("fixed"),
        ("abcdefabcdefabcdefabcdefabcdefab".to_owned(), None, PlanTier::Paid)
    );
}

#[test]
fn a_wrangler_config_is_found_in_a_folder_above_and_may_be_toml() {
    let fixture = Fixture::new("");
    fixture.write(
        "wrangler.toml",
        "name = \"shop\"\n[[kv_namespaces]]\nbinding = \"FLAGS\"\nid = \"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n",
    );
    fixture.write(
        "kv/kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags: {binding: FLAGS}\n",
    );
    let options = LoadOptions::of(None);
    let loaded = load(&fixture.path().join("kv/kvsync.yaml"), &options).expect("loads");
    let scope = &loaded.desired.scopes[0];
    assert_eq!(scope.namespace_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    assert_eq!(scope.resolved_from.as_deref(), Some("binding `FLAGS` in ../wrangler.toml"));
    // A wrangler.jsonc beside the config wins over the one above, as wrangler finds it.
    fixture.write("kv/wrangler.jsonc", WRANGLER_JSONC.replace("0f1e2d3c", "0000aaaa"));
    let loaded = load(&fixture.path().join("kv/kvsync.yaml"), &options).expect("loads");
    assert_eq!(loaded.desired.scopes[0].namespace_id, "0000aaaa4b5a69788796a5b4c3d2e1f0");
}

/// Every problem of a binding is a diagnostic at the field of kvsync.yaml it is about.
#[test]
fn binding_problems_point_at_their_field() {
    let config = "version: 1
owner: web
namespaces:
  typo:
    binding: FLAG
  unknown-env:
    binding: FLAGS
    environment: stagin
    prefix: a/
  ambiguous:
    binding: BOTH
    prefix: b/
  no-preview-id:
    binding: FLAGS
    preview: true
    prefix: c/
  missing-file:
    binding: FLAGS
    wrangler: config/wrangler.toml
    prefix: d/
  both:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    binding: FLAGS
    prefix: e/
  stray:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    environment: staging
    prefix: f/
  not-inherited:
    binding: BOTH
    environment: staging
    prefix: g/
";
    let fixture = Fixture::new(config);
    fixture.write("wrangler.jsonc", WRANGLER_JSONC);
    let result = fixture.load();
    let diagnostics = match &result {
        Err(Error::Invalid(diagnostics)) => diagnostics.clone(),
        _ => Vec::new(),
    };
    assert_eq!(
        fixture.errors(result),
        [
            "kvsync.yaml:5:14: binding `FLAG` is not in `kv_namespaces` of `wrangler.jsonc`",
            "kvsync.yaml:8:18: wrangler config `wrangler.jsonc` has no environment `stagin`",
            "kvsync.yaml:11:14: binding `BOTH` in `wrangler.jsonc` has both `id` and `preview_id`; say which with `preview:`",
            "kvsync.yaml:15:14: binding `FLAGS` in `wrangler.jsonc` has no `preview_id`",
            "kvsync.yaml:19:15: wrangler config `config/wrangler.toml` not found",
            "kvsync.yaml:23:14: namespace `both` sets both `namespace_id` and `binding`",
            "kvsync.yaml:27:18: `environment` applies only with `binding:`",
            "kvsync.yaml:30:14: binding `BOTH` is not in `kv_namespaces` of `wrangler.jsonc` [env.staging]",
        ]
    );
    let hints: Vec<&str> = diagnostics.iter().map(|d| d.hint.as_deref().unwrap_or("")).collect();
    assert_eq!(hints[0], "did you mean `FLAGS`?");
    assert_eq!(hints[1], "did you mean `staging`? it has `staging`, `production`");
    assert!(hints[7].contains("do not inherit the top-level `kv_namespaces`"), "{}", hints[7]);
}

/// `namespace_title:` against a fixed namespace listing: one question per load for every title
/// scope, what the question carries, each failure at the title's line naming the candidates.
fn load_titled(
    fixture: &Fixture,
    titles: Option<crate::kv::Titles>,
) -> (Result<Loaded, Error>, Vec<Heads>) {
    let asked = std::cell::RefCell::new(Vec::new());
    let answer = |heads: &Heads| {
        asked.borrow_mut().push(heads.clone());
        titles.clone()
    };
    let options = LoadOptions {
        environment: None,
        preview: None,
        target: None,
        vars: &|name| (name == "TITLE").then(|| "shop-CONFIG".to_owned()),
        titles: Some(&answer),
    };
    let result = load(&fixture.path().join("kvsync.yaml"), &options);
    (result, asked.into_inner())
}

#[test]
fn namespace_titles_are_looked_up_once_per_load() {
    use crate::kv::{Namespace, Titles};
    let fixture = Fixture::new(
        "version: 1\nowner: shop\naccount_id: 023e105f4ecef8ad9ca31a8372d0c353\nnamespaces:\n  \
         flags:\n    namespace_title: shop-FLAGS\n    keys: {a: \"1\"}\n  config:\n    \
         namespace_title: ${TITLE}\n    keys: {}\n  plain:\n    namespace_id: \
         0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: {}\n",
    );
    let namespace =
        |id: &str, title: &str| Namespace { id: id.to_owned(), title: title.to_owned() };
    let listed = Titles::Listed(vec![
        namespace("11111111111111111111111111111111", "shop-FLAGS"),
        namespace("22222222222222222222222222222222", "shop-CONFIG"),
        namespace("33333333333333333333333333333333", "shop-flags-preview"),
    ]);
    let (loaded, asked) = load_titled(&fixture, Some(listed.clone()));
    let desired = loaded.expect("loads").desired;
    let ids: Vec<(&str, Option<&str>)> = desired
        .scopes
        .iter()
        .map(|s| (s.namespace_id.as_str(), s.resolved_from.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            ("11111111111111111111111111111111", Some("namespace title `shop-FLAGS`")),
            ("22222222222222222222222222222222", Some("namespace title `shop-CONFIG`")),
            ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", None),
        ]
    );
    assert_eq!(asked.len(), 1, "one question for both title scopes");
    assert_eq!(asked[0].account_id.as_deref(), Some("023e105f4ecef8ad9ca31a8372d0c353"));
    assert_eq!(asked[0].scopes.len(), 1, "only the scope whose id is known");

    // The target could not be asked: the load says so (the caller reports why).
    let (failed, _) = load_titled(&fixture, None);
    assert!(matches!(failed, Err(Error::TitlesUnknown)), "{failed:?}");

    // A load that reaches no target looks nothing up, and says so.
    let offline = fixture.load_with(None, &[("TITLE", "x")]).expect("loads offline").desired;
    assert_eq!(offline.scopes[0].namespace_id, "");
    assert_eq!(
        offline.scopes[0].resolved_from.as_deref(),
        Some("namespace title `shop-FLAGS` (not looked up)")
    );

    // The local target: a stable id derived from the title.
    let (local, _) = load_titled(&fixture, Some(Titles::Derived));
    let local = local.expect("loads").desired;
    assert_eq!(local.scopes[0].namespace_id, crate::kv::titles::local_id("shop-FLAGS"));

    // A title nobody has, one two namespaces have, and titles that differ in case only.
    fixture.write(
        "kvsync.yaml",
        "version: 1\nowner: shop\nnamespaces:\n  flags:\n    namespace_title: Shop-Flags\n    \
         keys: {}\n  twice:\n    namespace_title: shop-CONFIG\n    keys: {}\n  gone:\n    \
         namespace_title: \"nothing\\u2028here\"\n    keys: {}\n",
    );
    let ambiguous = Titles::Listed(vec![
        namespace("11111111111111111111111111111111", "shop-FLAGS"),
        namespace("22222222222222222222222222222222", "shop-CONFIG"),
        namespace("44444444444444444444444444444444", "shop-CONFIG"),
    ]);
    let (failed, _) = load_titled(&fixture, Some(ambiguous));
    let Err(Error::Invalid(diagnostics)) = failed else { panic!("{failed:?}") };
    let found: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            format!("{}:{}: {} | {}", d.line, d.column, d.message, d.hint.as_deref().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        found,
        [
            "5:22: no namespace has the title `Shop-Flags` | titles are exact; did you mean \
             `shop-FLAGS`?",
            "8:22: 2 namespaces have the title `shop-CONFIG`: `22222222222222222222222222222222`, \
             `44444444444444444444444444444444` | name the one to sync with `namespace_id:`",
            "11:22: no namespace has the title `nothing\\u{2028}here` | the account's 3 namespaces \
             have other titles; `wrangler kv namespace list` shows them",
        ]
    );
}

#[test]
fn a_namespace_title_is_one_way_to_name_the_namespace() {
    let fixture = Fixture::new(
        "version: 1\nowner: shop\nnamespaces:\n  both:\n    namespace_title: t\n    \
         namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: {}\n  bound:\n    \
         namespace_title: t\n    binding: FLAGS\n    keys: {}\n  extras:\n    \
         namespace_title: t\n    preview: true\n    keys: {}\n  empty:\n    namespace_title: \
         \"\"\n    keys: {}\n",
    );
    assert_eq!(
        fixture.errors(fixture.load()),
        [
            "kvsync.yaml:5:22: namespace `both` sets both `namespace_title` and `namespace_id`",
            "kvsync.yaml:9:22: namespace `bound` sets both `namespace_title` and `binding`",
            "kvsync.yaml:14:14: `preview` applies only with `binding:`",
            "kvsync.yaml:17:22: `namespace_title` has 0 characters",
        ]
    );
    // An environment that names its namespace another way replaces the base's title.
    let fixture = Fixture::new(
        "version: 1\nowner: shop\nnamespaces:\n  flags:\n    namespace_title: shop-FLAGS\n    \
         keys: {}\nenvironments:\n  staging:\n    namespaces:\n      flags: {namespace_id: \
         9a8b7c6d5e4f30211203f4e5d6c7b8a9}\n",
    );
    let staging = fixture.load_with(Some("staging"), &[]).expect("loads").desired;
    assert_eq!(staging.scopes[0].namespace_id, "9a8b7c6d5e4f30211203f4e5d6c7b8a9");
    assert_eq!(staging.scopes[0].resolved_from, None);
}

/// The account of a `binding:` config comes from the wrangler environment the binding was
/// found in: its own `account_id`, else the top level's (wrangler inherits it), and never
/// when the config or `CLOUDFLARE_ACCOUNT_ID` names one.
#[test]
fn a_wrangler_environments_own_account_id_is_followed() {
    let fixture = Fixture::new(
        "version: 1\nowner: shop\nnamespaces:\n  flags:\n    binding: FLAGS\n    keys: {}\n",
    );
    fixture.write(
        "wrangler.toml",
        r#"account_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
[[kv_namespaces]]
binding = "FLAGS"
id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

[env.staging]
account_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
[[env.staging.kv_namespaces]]
binding = "FLAGS"
id = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"

[env.qa]
[[env.qa.kv_namespaces]]
binding = "FLAGS"
id = "33333333333333333333333333333333"
"#,
    );
    let account = |environment, vars: &[(&str, &str)]| {
        fixture.load_with(environment, vars).expect("loads").desired.account_id
    };
    assert_eq!(account(None, &[]).as_deref(), Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_eq!(account(Some("staging"), &[]).as_deref(), Some("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
    assert_eq!(account(Some("qa"), &[]).as_deref(), Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    // The environment variable wins (the store reads it), so the loader names none.
    let from_env = [("CLOUDFLARE_ACCOUNT_ID", "cccccccccccccccccccccccccccccccc")];
    assert_eq!(account(Some("staging"), &from_env), None);
}

#[test]
fn a_broken_wrangler_config_says_where() {
    let fixture = Fixture::new("version: 1\nowner: web\nnamespaces:\n  flags: {binding: FLAGS}\n");
    fixture.write(
        "wrangler.json",
        "{\n  \"kv_namespaces\": [\n    {\"binding\": \"FLAGS\" \"id\": \"x\"}\n  ]\n}\n",
    );
    assert_eq!(
        fixture.errors(fixture.load()),
        [
            "kvsync.yaml:4:20: cannot read the wrangler config `wrangler.json`: expected comma at line 3, column 24"
        ]
    );
}

#[test]
fn plan_tier_is_free_or_paid() {
    let loaded = loads(&format!("{HEAD}plan_tier: free\n"), &[]);
    assert_eq!(loaded.desired.plan_tier, PlanTier::Free);
    assert_eq!(loads(HEAD, &[]).desired.plan_tier, PlanTier::Paid);
    check_hint(
        &format!("{HEAD}plan_tier: pro\n"),
        &[],
        "kvsync.yaml:7:12: unknown value `pro` for `plan_tier`",
        "expected one of `free`, or `paid`",
    );
}

/// `load_with` names the namespaces before it reads any key file (so the CLI can list them
/// meanwhile), with the same heads the desired state ends up with; a config whose heads have a
/// problem reports none.
#[test]
fn heads_come_before_the_keys() {
    let fixture = Fixture::new(
        "version: 1\nowner: web\ntarget: local\nnamespaces:\n  flags:\n    namespace_id: \
         ${NS:-0f1e2d3c4b5a69788796a5b4c3d2e1f0}\n    prefix: \"f/\"\n    include: [keys/*.yaml]\n    \
         keys: {f/root: 1}\n  other:\n    namespace_id: 9a8b7c6d5e4f30211203f4e5d6c7b8a9\n",
    );
    fixture.write("keys/a.yaml", "keys: {f/a: 1, f/b: 2}\n");
    fixture.write("keys/b.yaml", "keys: {f/c: 3}\n");
    let events = std::cell::RefCell::new(Vec::new());
    let on_heads = |heads: Heads| events.borrow_mut().push(format!("{heads:?}"));
    let on_keys = |n: u64| events.borrow_mut().push(format!("keys {n}"));
    let hooks = Hooks { on_heads: &on_heads, on_keys: &on_keys };
    let options = LoadOptions::of(None);
    let loaded = load_with(&fixture.path().join("kvsync.yaml"), &options, &hooks).expect("loads");
    let heads = loaded.desired.heads();
    assert_eq!(
        events.into_inner(),
        [format!("{heads:?}"), "keys 1".into(), "keys 2".into(), "keys 1".into()]
    );
    assert_eq!(heads.target, Some(crate::kv::TargetKind::Local));
    let listings: Vec<(&str, Vec<&str>)> =
        heads.scopes.iter().map(|s| (s.namespace_id.as_str(), s.prefixes())).collect();
    assert_eq!(
        listings,
        [
            ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", vec!["f/"]),
            ("9a8b7c6d5e4f30211203f4e5d6c7b8a9", vec![""]),
        ]
    );

    let bad = Fixture::new(&format!("{HEAD}    prefix: \"../\"\n"));
    let called = std::cell::Cell::new(false);
    let hooks = Hooks { on_heads: &|_| called.set(true), on_keys: &|_| {} };
    assert!(load_with(&bad.path().join("kvsync.yaml"), &options, &hooks).is_err());
    assert!(!called.get(), "no heads for a config whose heads have problems");
}

/// A large root file announces its heads before it is parsed, read from its text up to the
/// first `keys:`, so listing overlaps the parse (issue #15). An overlay at the end of the file
/// that changes the namespace makes the guess differ from the loaded heads, which the caller
/// checks.
#[test]
fn a_large_root_file_announces_its_heads_before_it_is_parsed() {
    let mut text = String::from(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: \
         0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n",
    );
    for i in 0..20_000 {
        text.push_str(&format!("      f/key-{i:05}: \"a value long enough to matter {i}\"\n"));
    }
    text.push_str(
        "environments:\n  production: {}\n  staging:\n    namespaces: {flags: {namespace_id: \
         9a8b7c6d5e4f30211203f4e5d6c7b8a9}}\n",
    );
    assert!(text.len() > 512 * 1024);
    let fixture = Fixture::new(&text);
    for (environment, id) in [
        ("production", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        ("staging", "9a8b7c6d5e4f30211203f4e5d6c7b8a9"),
    ] {
        let events = std::cell::RefCell::new(Vec::new());
        let on_heads = |heads: Heads| events.borrow_mut().push(Some(heads));
        let on_keys = |_| events.borrow_mut().push(None);
        let hooks = Hooks { on_heads: &on_heads, on_keys: &on_keys };
        let options = LoadOptions::of(Some(environment));
        let loaded =
            load_with(&fixture.path().join("kvsync.yaml"), &options, &hooks).expect("loads");
        let events = events.into_inner();
        let Some(Some(announced)) = events.first() else { panic!("heads first: {events:?}") };
        assert_eq!(events.iter().filter(|e| e.is_some()).count(), 1, "once");
        assert_eq!(announced.scopes[0].namespace_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        let loaded_heads = loaded.desired.heads();
        assert_eq!(loaded_heads.scopes[0].namespace_id, id);
        assert_eq!(*announced == loaded_heads, environment == "production", "{environment}");
    }
}

/// `list_shards`: sorted, each a longer prefix inside the scope, none inside another, and every
/// desired key in one; the heads carry them so the CLI lists each shard.
#[test]
fn list_shards_are_checked_and_sorted() {
    let loaded = loads(
        &format!("{HEAD}    list_shards: [\"f/b\", \"f/a\"]\n    keys: {{f/a1: 1, f/b2: 2}}\n"),
        &[],
    );
    assert_eq!(loaded.desired.scopes[0].list_shards, ["f/a", "f/b"]);
    assert_eq!(loaded.desired.heads().scopes[0].prefixes(), ["f/a", "f/b"]);
    assert_eq!(loads(&keys("      f/x: 1\n"), &[]).desired.heads().scopes[0].prefixes(), ["f/"]);

    check(
        &format!("{HEAD}    list_shards: [\"f/a\", \"g/\", \"f/\", \"f/ab\"]\n"),
        &[],
        &[
            "kvsync.yaml:7:26: list shard `g/` does not extend the prefix `f/`",
            "kvsync.yaml:7:32: list shard `f/` does not extend the prefix `f/`",
            "kvsync.yaml:7:38: list shard `f/ab` overlaps the shard `f/a`: their keys would be listed twice",
        ],
    );
    check(
        &format!("{HEAD}    list_shards: [\"f/a\"]\n    keys:\n      f/a1: 1\n      f/b1: 2\n"),
        &[],
        &["kvsync.yaml:10:7: key `f/b1` is in none of the `list_shards` of namespace `flags`"],
    );
    check(
        &format!("{HEAD}    list_shards: []\n"),
        &[],
        &["kvsync.yaml:4:3: `list_shards` is empty"],
    );
}

// ---------------------------------------------------------------------------------------------
// `files:` sources: a folder tree → one key per file.

/// `HEAD` plus a `files:` list whose first line is line 8 (`path:` values at column 15).
fn files(body: &str) -> String {
    format!("{HEAD}    files:\n{body}")
}

/// The names of the first scope's keys, in order.
fn key_names(loaded: &Loaded) -> Vec<String> {
    loaded.desired.scopes[0].entries.keys().cloned().collect()
}

#[test]
fn files_map_a_folder_tree_to_keys() {
    let binary: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff";
    let loaded = loads(
        &files(concat!(
            "      - path: content/**/*.json\n",
            "        key: \"f/{path}\"\n",
            "        strip_extension: true\n",
            "        metadata: {type: page}\n",
            "        expiration_ttl: 3600\n",
            "      - path: assets/*\n",
            "        key: \"f/assets/{path}\"\n",
        )),
        &[
            ("content/home.json", b"{\"title\": \"Home\"}"),
            ("content/docs/intro.json", b"{}"),
            ("content/docs/deep/er/x.v2.json", b"[1]"),
            ("content/docs/notes.txt", b"not json"),
            ("assets/logo.png", binary),
            ("assets/sub/not-matched.png", b"*"),
        ],
    );
    assert_eq!(
        key_names(&loaded),
        ["f/assets/logo.png", "f/docs/deep/er/x.v2", "f/docs/intro", "f/home",]
    );
    let home = entry(&loaded, "f/home");
    let metadata: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"type":"page"}"#).expect("json");
    assert_eq!(home.metadata.as_ref().map(|m| m.to_map()), Some(metadata.clone()));
    assert_eq!(home.expiration, Expiration::Ttl(3600));
    assert!(home.is_text && !home.sensitive);
    assert_eq!(home.size, 17);
    assert_eq!(
        home.hash,
        crate::content::content_hash(
            b"{\"title\": \"Home\"}",
            Some(&serde_json::Value::Object(metadata)),
            Expiration::Ttl(3600)
        )
    );
    // The value is the file, read again when it is written, exactly as for `file:`.
    let logo = entry(&loaded, "f/assets/logo.png");
    assert!(matches!(&logo.value, ValueSource::File(path) if path.ends_with("assets/logo.png")));
    assert!(!logo.is_text);
    assert_eq!(logo.metadata, None);
    assert_eq!(logo.hash, crate::content::content_hash(binary, None, Expiration::Never));
}

/// The default template is `{path}`; hidden names below the literal folders are skipped unless
/// the glob writes the dot; a literal dot folder is fine.
#[test]
fn files_default_template_and_hidden_names() {
    let config = "version: 1\nowner: web\nnamespaces:\n  site:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    files:\n      - path: site/**\n      - path: well/.well-known/*\n        key: \".well-known/{path}\"\n      - path: dots/**/.*\n        key: \"dots/{path}\"\n";
    let loaded = loads(
        config,
        &[
            ("site/index.html", b"<h1>hi</h1>"),
            ("site/.DS_Store", b"junk"),
            ("site/.git/config", b"junk"),
            ("site/css/main.css", b"body{}"),
            ("well/.well-known/security.txt", b"Contact: x"),
            ("dots/a/.env", b"A=1"),
            ("dots/a/visible", b"no"),
        ],
    );
    assert_eq!(
        key_names(&loaded),
        [".well-known/security.txt", "css/main.css", "dots/a/.env", "index.html"]
    );
}

#[test]
fn files_keys_defined_twice_name_both_places() {
    check(
        &format!(
            "{HEAD}    keys:\n      f/a: inline\n    files:\n      - path: v/*\n        key: \"f/{{path}}\"\n        strip_extension: true\n      - path: w/*\n        key: \"f/{{path}}\"\n"
        ),
        &[("v/a.txt", b"1"), ("v/b.txt", b"2"), ("v/b.json", b"3"), ("w/b", b"4")],
        &[
            "kvsync.yaml:11:14: files `v/b.json` and `v/b.txt` both become key `f/b`",
            "kvsync.yaml:11:14: key `f/a` is defined twice (first at `kvsync.yaml:8:7`)",
            "kvsync.yaml:14:14: key `f/b` is defined twice (first at `kvsync.yaml:11:14`)",
        ],
    );
}

/// A `files:` key outside every `list_shards` prefix is reported like a `keys:` one.
#[test]
fn files_keys_must_lie_in_a_list_shard() {
    check(
        &format!(
            "{HEAD}    list_shards: [\"f/a\"]\n    files:\n      - path: v/*\n        key: \"f/{{path}}\"\n"
        ),
        &[("v/a1", b"1"), ("v/b1", b"2")],
        &["kvsync.yaml:10:14: key `f/b1` is in none of the `list_shards` of namespace `flags`"],
    );
}

#[test]
fn files_keys_must_stay_inside_the_prefix() {
    check_hint(
        &files("      - path: v/*\n        key: \"g/{path}\"\n"),
        &[("v/a", b"1")],
        "kvsync.yaml:9:14: `key` template `g/{path}` makes keys outside the prefix `f/` of namespace `flags`",
        "key: \"f/{path}\"",
    );
    // The default `{path}` may or may not start with the prefix: each file is checked, and a
    // large folder shows the first five.
    let many: Vec<(String, Vec<u8>)> = (0..8).map(|i| (format!("v/{i}"), b"x".to_vec())).collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    let expected: Vec<String> = (0..5)
        .map(|i| {
            format!("kvsync.yaml:8:15: key `{i}` is outside the prefix `f/` of namespace `flags`")
        })
        .chain(std::iter::once(
            "kvsync.yaml:8:15: 3 more keys of this `files:` source have problems like the 5 above"
                .to_owned(),
        ))
        .collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let diagnostics = check(&files("      - path: v/*\n"), &refs, &expected);
    let hint = diagnostics[0].hint.as_deref().unwrap_or("");
    assert!(hint.contains("key: \"f/{path}\""), "{hint}");
}

#[test]
fn files_keys_are_checked_like_any_key() {
    // File names are at most 255 bytes; the key is long through its folders.
    let long = format!("v/{0}/{0}/{1}", "n".repeat(200), "n".repeat(120));
    check(
        &files(
            "      - path: v/**\n        key: \"f/{path}\"\n        expiration_ttl: 30\n        metadata: [1]\n",
        ),
        &[(long.as_str(), b"x")],
        &[
            "kvsync.yaml:9:14: key `f/nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…` is 524 bytes; KV's limit is 512 bytes (UTF-8)",
            "kvsync.yaml:10:25: `expiration_ttl` must be at least 60 seconds, not 30",
            "kvsync.yaml:11:19: the metadata of key `f/{path}` must be a JSON object",
        ],
    );
}

/// Metadata is checked once per source, with the marker's size counted, not once per file.
#[test]
fn files_oversize_metadata_is_reported_once() {
    let long = "m".repeat(1000);
    let diagnostics = check(
        &files(&format!(
            "      - path: v/*\n        key: \"f/{{path}}\"\n        metadata: {{note: {long}}}\n"
        )),
        &[("v/a", b"1"), ("v/b", b"2")],
        &[
            "kvsync.yaml:10:19: the metadata of key `f/{path}` is 1186 bytes once kvsync adds its marker; KV's limit is 1024",
        ],
    );
    assert!(diagnostics[0].hint.as_deref().is_some_and(|h| h.contains("the marker takes up to")));
}

#[test]
fn files_ignored_keys_are_warnings() {
    let loaded = loads(
        &format!(
            "{HEAD}    ignore: [\"f/runtime/*\"]\n    files:\n      - path: v/*\n        key: \"f/runtime/{{path}}\"\n"
        ),
        &[("v/a", b"1")],
    );
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!((loaded.warnings[0].line, loaded.warnings[0].column), (10, 14));
    assert!(loaded.warnings[0].message.contains("`f/runtime/a` matches the `ignore` globs"));
}

#[test]
fn files_glob_matching_nothing_is_an_error_like_include() {
    check(
        &files("      - path: content/*.json\n        key: \"f/{path}\"\n"),
        &[],
        &["kvsync.yaml:8:15: `files` glob `content/*.json` matches no file"],
    );
    // A folder is not a glob of its files: the hint says how to write one.
    check_hint(
        &files("      - path: content\n        key: \"f/{path}\"\n"),
        &[("content/a", b"1")],
        "kvsync.yaml:8:15: `files` glob `content` matches no file",
        "`content/**` for every file below it",
    );
}

#[test]
fn files_bad_placeholders_and_globs() {
    check(
        &files(concat!(
            "      - path: v/*\n        key: \"f/{name}\"\n",
            "      - path: v/*\n        key: \"f/${HOME}/{path}\"\n",
            "      - path: v/*\n        key: \"f/static\"\n",
            "      - path: \"v/[\"\n        key: \"f/{path}\"\n",
            "      - path: /etc/*\n",
            "      - path: ${DIR}/*\n",
            "      - key: \"f/{path}\"\n",
        )),
        &[("v/a", b"1")],
        &["kvsync.yaml:18:9: missing field `path`"],
    );
    check(
        &files(concat!(
            "      - path: v/*\n        key: \"f/{name}\"\n",
            "      - path: v/*\n        key: \"f/${HOME}/{path}\"\n",
            "      - path: v/*\n        key: \"f/static\"\n",
            "      - path: \"v/[\"\n        key: \"f/{path}\"\n",
            "      - path: /etc/*\n        key: \"f/{path}\"\n",
            "      - path: ${DIR}/*\n        key: \"f/{path}\"\n",
        )),
        &[("v/a", b"1")],
        &[
            "kvsync.yaml:9:14: unknown placeholder `{name}` in `key` template `f/{name}`",
            "kvsync.yaml:11:14: unknown placeholder `{HOME}` in `key` template `f/${HOME}/{path}`",
            "kvsync.yaml:13:14: `key` template `f/static` does not use `{path}`",
            "kvsync.yaml:14:15: `files` glob `v/[` is not valid: unclosed character class; missing ']'",
            "kvsync.yaml:16:15: `files` glob `/etc/*` is absolute",
            "kvsync.yaml:18:15: `files` glob `${DIR}/*` uses `${…}`",
        ],
    );
    // The misspelt field is cut out and the rest loads, so the source's other problem (no `key`
    // template, so its keys miss the prefix) shows in the same run.
    let found = check(
        &files("      - path: v/*\n        strip_extensions: true\n"),
        &[("v/a", b"1")],
        &[
            "kvsync.yaml:8:15: key `a` is outside the prefix `f/` of namespace `flags`",
            "kvsync.yaml:9:9: unknown field `strip_extensions`",
        ],
    );
    assert_eq!(found[1].hint.as_deref(), Some("did you mean `strip_extension`?"));
}

/// Issue 15 item 10: a glob that leaves the folder is one problem at the glob, and names none
/// of the files outside (`../**` once listed every file of the parent tree).
#[test]
fn files_escaping_the_config_folder() {
    let fixture = Fixture::new("");
    fixture.write("outside/secret.txt", "runner secret");
    fixture.write("outside/deep/other-secret.txt", "runner secret");
    fixture.write("inner/keys/a.yaml", "keys: {}\n");
    fixture.write(
        "inner/kvsync.yaml",
        format!(
            "{HEAD}    files:\n      - path: ../outside/*\n        key: \"f/{{path}}\"\n      - path: '../**'\n        key: \"f/{{path}}\"\n    include: [\"../**/*.yaml\", \"keys/../../outside/*\"]\n"
        ),
    );
    let options = LoadOptions::of(None);
    let result = load(&fixture.path().join("inner/kvsync.yaml"), &options);
    let errors = fixture.errors(result);
    assert_eq!(
        errors,
        [
            "inner/kvsync.yaml:8:15: `files` glob `../outside/*` leaves the config folder",
            "inner/kvsync.yaml:10:15: `files` glob `../**` leaves the config folder",
            "inner/kvsync.yaml:12:15: `include` glob `../**/*.yaml` leaves the config folder",
            "inner/kvsync.yaml:12:31: `include` glob `keys/../../outside/*` leaves the config folder",
        ]
    );
    assert!(!errors.concat().contains("secret"), "{errors:?}");
}

#[cfg(unix)]
#[test]
fn files_escaping_through_symlinks() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), "runner secret").expect("write");
    let fixture = Fixture::new(&files("      - path: v/**\n        key: \"f/{path}\"\n"));
    fixture.write("v/fine.txt", "fine");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        fixture.path().join("v/link.txt"),
    )
    .expect("symlink");
    // A symlinked folder is not entered, wherever it points.
    std::os::unix::fs::symlink(outside.path(), fixture.path().join("v/linked-dir"))
        .expect("symlink");
    std::fs::create_dir_all(fixture.path().join("w")).expect("mkdir");
    std::os::unix::fs::symlink(fixture.path().join("v"), fixture.path().join("w/loop"))
        .expect("symlink");
    let diagnostics = match fixture.load() {
        Err(Error::Invalid(diagnostics)) => diagnostics,
        other => panic!("expected problems: {other:?}"),
    };
    let lines: Vec<String> = diagnostics.iter().map(|d| fixture.line(d)).collect();
    assert_eq!(lines, ["kvsync.yaml:8:15: file `v/link.txt` is outside the config folder"]);
    assert!(diagnostics[0].hint.as_deref().is_some_and(|h| h.contains("cannot read other files")));
}

/// A symlink to a file inside the config folder is fine: its value is the target's bytes.
#[cfg(unix)]
#[test]
fn files_symlink_inside_the_folder_is_followed() {
    let fixture = Fixture::new(&files("      - path: v/*\n        key: \"f/{path}\"\n"));
    fixture.write("data/real.txt", "real");
    std::fs::create_dir_all(fixture.path().join("v")).expect("mkdir");
    std::os::unix::fs::symlink(
        fixture.path().join("data/real.txt"),
        fixture.path().join("v/alias"),
    )
    .expect("symlink");
    let loaded = fixture.load().unwrap_or_else(|e| panic!("{:#?}", fixture.errors(Err(e))));
    let alias = entry(&loaded, "f/alias");
    assert_eq!(alias.size, 4);
    let real = std::fs::canonicalize(fixture.path().join("data/real.txt")).expect("canonical");
    assert_eq!(alias.value, ValueSource::File(real));
}

/// `files:` in an included file is relative to that file, and its keys count as that file's.
#[test]
fn files_in_an_included_file() {
    let loaded = loads(
        &format!("{HEAD}    include: [more/keys.yaml]\n"),
        &[
            (
                "more/keys.yaml",
                b"keys:\n  f/x: 1\nfiles:\n  - path: values/*.txt\n    key: \"f/{path}\"\n",
            ),
            ("more/values/a.txt", b"a"),
        ],
    );
    assert_eq!(key_names(&loaded), ["f/a.txt", "f/x"]);
    check(
        &format!("{HEAD}    include: [more/keys.yaml]\n    keys:\n      f/a.txt: inline\n"),
        &[
            ("more/keys.yaml", b"files:\n  - path: values/*.txt\n    key: \"f/{path}\"\n"),
            ("more/values/a.txt", b"a"),
        ],
        &["more/keys.yaml:3:10: key `f/a.txt` is defined twice (first at `kvsync.yaml:9:7`)"],
    );
}

/// An overlay's `files:` list replaces the base's; its `keys:` replace keys a `files:` source
/// made (which is not "defined twice").
#[test]
fn files_follow_the_overlay_rules() {
    let config = format!(
        "{HEAD}    files:\n      - path: base/*\n        key: \"f/{{path}}\"\nenvironments:\n  staging:\n    namespaces:\n      flags:\n        files:\n          - path: staging/*\n            key: \"f/{{path}}\"\n        keys:\n          f/b: from-keys\n  prod:\n    namespaces:\n      flags:\n        keys:\n          f/a: from-keys\n"
    );
    let fixture = Fixture::new(&config);
    for (path, contents) in [("base/a", "base a"), ("staging/a", "staging a"), ("staging/b", "b")] {
        fixture.write(path, contents);
    }
    let staging = fixture.load_with(Some("staging"), &[]).expect("staging loads");
    let staging_a = entry(&staging, "f/a");
    assert!(matches!(&staging_a.value, ValueSource::File(p) if p.ends_with("staging/a")));
    assert_eq!(inline(entry(&staging, "f/b")), "from-keys");
    let prod = fixture.load_with(Some("prod"), &[]).expect("prod loads");
    assert_eq!(inline(entry(&prod, "f/a")), "from-keys");
    assert_eq!(key_names(&prod), ["f/a"]);
}

/// Metadata that uses `${…}` makes the source's values sensitive, as for entries.
#[test]
fn files_sensitive_by_flag_or_interpolated_metadata() {
    let fixture = Fixture::new(&files(concat!(
        "      - path: v/*\n        key: \"f/v/{path}\"\n        metadata: {by: \"${WHO:-ci}\"}\n",
        "      - path: w/*\n        key: \"f/w/{path}\"\n        sensitive: true\n",
        "      - path: x/*\n        key: \"f/x/{path}\"\n",
    )));
    for path in ["v/a", "w/a", "x/a"] {
        fixture.write(path, "1");
    }
    let loaded = fixture.load_with(None, &[("WHO", "me")]).expect("loads");
    assert!(entry(&loaded, "f/v/a").sensitive);
    assert!(entry(&loaded, "f/w/a").sensitive);
    assert!(!entry(&loaded, "f/x/a").sensitive);
}

// ---------------------------------------------------------------------------------------------
// Reading ahead on worker threads changes nothing but the time it takes.

/// Loads `path` with `workers` threads: every key's name and hash, or every problem.
fn load_with_workers(path: &Path, workers: usize) -> (Vec<(String, String)>, Vec<String>) {
    let options = LoadOptions::of(None);
    let hooks = Hooks { on_heads: &|_| {}, on_keys: &|_| {} };
    let workers = super::parallel::Workers::new(workers);
    let show =
        |d: &Diagnostic| format!("{}:{}:{}: {}", d.path.display(), d.line, d.column, d.message);
    match super::load::load_using(path, &options, &hooks, &workers) {
        Ok(loaded) => {
            let keys = loaded
                .desired
                .scopes
                .iter()
                .flat_map(|s| s.entries.iter().map(|(k, e)| (k.clone(), e.hash.to_hex())))
                .collect();
            (keys, loaded.warnings.iter().map(show).collect())
        }
        Err(Error::Invalid(diagnostics)) => (Vec::new(), diagnostics.iter().map(show).collect()),
        Err(error) => panic!("{error}"),
    }
}

/// Many include files, nested, with `files:` sources, keys defined twice across files, a cycle,
/// a parse error and a file outside the folder: with any number of workers, the same keys and
/// the same problems in the same order as one file after another.
#[test]
fn parallel_loading_matches_sequential_loading() {
    let fixture = Fixture::new(&format!(
        "{HEAD}    include: [\"keys/*.yaml\", \"more/**/*.yaml\"]\n    files:\n      - path: values/**\n        key: \"f/v/{{path}}\"\n"
    ));
    for i in 0..30 {
        let mut text = String::from("keys:\n");
        for k in 0..50 {
            // Every tenth file repeats a key of the file before it.
            let n = if i % 10 == 9 && k == 0 { (i - 1) * 50 } else { i * 50 + k };
            text.push_str(&format!("  f/k{n}: value {i} {k}\n"));
        }
        if i % 7 == 3 {
            text.push_str(&format!("include: [\"nested/n{i}*.yaml\"]\n"));
            fixture.write(
                &format!("keys/nested/n{i}a.yaml"),
                format!("keys:\n  f/nested{i}: x\nfiles:\n  - path: ../../values/*.txt\n    key: \"f/n{i}/{{path}}\"\n"),
            );
            fixture.write(&format!("keys/nested/n{i}b.yaml"), "keys: [not a mapping\n");
        }
        if i == 20 {
            // Itself: a cycle.
            text.push_str("include: [\"../keys/k20.yaml\"]\n");
        }
        fixture.write(&format!("keys/k{i:02}.yaml"), text);
    }
    fixture.write("more/deep/x.yaml", "keys:\n  f/k5: again\n  g/out: 1\n");
    for i in 0..40 {
        fixture.write(&format!("values/{i:02}.txt"), format!("value {i}"));
    }
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("o.yaml"), "keys: {f/o: 1}\n").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("o.yaml"), fixture.path().join("more/o.yaml"))
        .expect("symlink");
    let path = fixture.path().join("kvsync.yaml");
    let sequential = load_with_workers(&path, 0);
    assert!(sequential.1.len() >= 5, "{:#?}", sequential.1);
    assert!(sequential.1.iter().any(|p| p.contains("include cycle")), "{:#?}", sequential.1);
    assert!(sequential.1.iter().any(|p| p.contains("defined twice")), "{:#?}", sequential.1);
    #[cfg(unix)]
    assert!(sequential.1.iter().any(|p| p.contains("outside the config")), "{:#?}", sequential.1);
    for workers in [1, 2, 5] {
        assert_eq!(load_with_workers(&path, workers), sequential, "{workers} workers");
    }

    // Without the problems, the keys themselves.
    let clean = Fixture::new(&format!(
        "{HEAD}    include: [\"keys/*.yaml\"]\n    files:\n      - path: values/**\n        key: \"f/v/{{path}}\"\n"
    ));
    for i in 0..20 {
        let keys: String = (0..40).map(|k| format!("  f/k{i}-{k}: {k}\n")).collect();
        clean.write(&format!("keys/k{i:02}.yaml"), format!("keys:\n{keys}"));
        clean.write(&format!("values/{i}/v.bin"), vec![i as u8; 70_000]);
    }
    let path = clean.path().join("kvsync.yaml");
    let sequential = load_with_workers(&path, 0);
    assert_eq!(sequential.0.len(), 20 * 40 + 20);
    assert!(sequential.1.is_empty());
    for workers in [1, 3] {
        assert_eq!(load_with_workers(&path, workers), sequential, "{workers} workers");
    }
}

/// Issue #11: problems of shape no longer come one per run. A misspelt top-level field, a
/// misspelt scope field, `yes` for a boolean and an owner with a space: all four at once, and
/// what the misspelt `namespace_id` leaves (a scope without one) is not reported again.
#[test]
fn problems_of_shape_are_reported_together() {
    check(
        "version: 1\nowner: Web Team\nnamespaces:\n  flags:\n    namespace_idd: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prune: yes\n    prefix: \"f/\"\n    keys:\n      f/a: x\n      g/b: outside\nnamspaces: {}\n",
        &[],
        &[
            "kvsync.yaml:2:8: owner `Web Team` is not valid",
            "kvsync.yaml:5:5: unknown field `namespace_idd`",
            "kvsync.yaml:6:12: invalid value for `prune`: expected `true` or `false`",
            "kvsync.yaml:10:7: key `g/b` is outside the prefix `f/` of namespace `flags`",
            "kvsync.yaml:11:1: unknown field `namspaces`",
        ],
    );
    // In flow style the entries cannot be cut out, so the rest is not loaded, but every
    // problem of shape is still reported.
    check(
        &format!(
            "{HEAD}    keys: {{f/a: {{valeu: 1}}, f/b: {{value: 1, sensitive: yes}}}}\nplan_tier: pro\n"
        ),
        &[],
        &[
            "kvsync.yaml:7:18: unknown field `valeu` in a key entry",
            "kvsync.yaml:7:56: invalid value for `sensitive`: expected `true` or `false`",
            "kvsync.yaml:8:12: unknown value `pro` for `plan_tier`",
        ],
    );
}

/// What the parser reads leniently (a number where a string is wanted, a quoted count) is no
/// problem of shape: next to a real one, only the real one is reported.
#[test]
fn lenient_scalars_are_not_problems_of_shape() {
    check(
        "version: \"1\"\nowner: web\nmax_deletes: \"5\"\nnamespaces:\n  flags:\n    namespace_id: 11111111111111111111111111111111\n    prefix: 42\n    prnue: true\n    take_over: [1, true]\n",
        &[],
        &["kvsync.yaml:8:5: unknown field `prnue`"],
    );
}

/// Issue #11: one `.inf` used to stop the parse and hide every other problem in the file.
#[test]
fn a_non_finite_number_hides_nothing() {
    check(
        &keys(
            "      f/a: .inf\n      f/b: ${KVSYNC_TEST_UNSET}\n      g/c: outside\n      f/d:\n        value: x\n        expiration_ttl: 5\n      f/e:\n        value: -.inf\n",
        ),
        &[],
        &[
            "kvsync.yaml:8:12: `.inf` is not a number JSON can hold",
            "kvsync.yaml:9:12: environment variable `KVSYNC_TEST_UNSET` is not set",
            "kvsync.yaml:10:7: key `g/c` is outside the prefix `f/` of namespace `flags`",
            "kvsync.yaml:13:25: `expiration_ttl` must be at least 60 seconds, not 5",
            "kvsync.yaml:15:16: `-.inf` is not a number JSON can hold",
        ],
    );
}

/// Issue #11: an included file reports its problems of shape together too, and the rest of
/// it is still checked.
#[test]
fn include_files_report_every_problem_of_shape() {
    check(
        &format!("{HEAD}    include: [more.yaml]\n"),
        &[(
            "more.yaml",
            b"keys:\n  f/a:\n    valeu: 1\n  f/b:\n    value: 1\n    sensitive: yes\n  g/c: outside\nfiles: [{path: v/*, key: \"f/{path}\"}]\nincldue: []\n",
        )],
        &[
            "more.yaml:3:5: unknown field `valeu` in a key entry",
            "more.yaml:6:16: invalid value for `sensitive`: expected `true` or `false`",
            "more.yaml:7:3: key `g/c` is outside the prefix `f/` of namespace `flags`",
            "more.yaml:8:16: `files` glob `v/*` matches no file",
            "more.yaml:9:1: unknown field `incldue`",
        ],
    );
}

/// Issue 15 item 9: a `file:` path with `${VAR}` is sensitive: its problems name the path as
/// written, never the variable's value.
#[test]
fn interpolated_file_paths_name_the_variable_not_its_value() {
    let fixture = Fixture::new(&keys(
        "      f/missing:\n        file: ${DIR}/nope.txt\n      f/outside:\n        file: ${DIR}/../../x.txt\n      f/folder:\n        file: ${DIR}\n      f/plain:\n        file: plain/nope.txt\n",
    ));
    fixture.write("hunter2-dir/v.txt", "x");
    let errors = fixture.errors(fixture.load_with(None, &[("DIR", "hunter2-dir")]));
    assert_eq!(
        errors,
        [
            "kvsync.yaml:9:15: file `${DIR}/nope.txt` not found",
            "kvsync.yaml:11:15: file `${DIR}/../../x.txt` is outside the config folder",
            "kvsync.yaml:13:15: `${DIR}` is not a file",
            "kvsync.yaml:15:15: file `plain/nope.txt` not found",
        ]
    );
    let all = format!("{:?}", fixture.load_with(None, &[("DIR", "hunter2-dir")]).err());
    assert!(!all.contains("hunter2"), "{all}");
}
