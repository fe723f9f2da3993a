//! `schemas:` end to end through the loader: every instance kind, `$ref`s between files, and
//! every problem a schema itself can have, each at its exact place.

use crate::config::tests::{Fixture, HEAD, check, check_hint, keys, loads};
use crate::config::{Error, Reads};

const FLAG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["enabled"],
  "properties": {
    "enabled": {"type": "boolean"},
    "rollout": {"$ref": "common.yaml#/$defs/percent"}
  },
  "additionalProperties": false
}"#;

const COMMON_SCHEMA: &str = "$defs:\n  percent: {type: integer, minimum: 0, maximum: 100}\n";

fn schema_files() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("schemas/flag.json", FLAG_SCHEMA.as_bytes()),
        ("schemas/common.yaml", COMMON_SCHEMA.as_bytes()),
    ]
}

/// `HEAD` with `schemas:` (line 8 on) and then `keys:`.
fn typed(schemas: &str, body: &str) -> String {
    format!("{HEAD}    schemas:\n{schemas}    keys:\n{body}")
}

const FLAGS: &str = "      \"f/**\": schemas/flag.json\n";

#[test]
fn a_mapping_value_that_breaks_a_schema_in_another_file_is_refused_at_the_value() {
    let config = typed(FLAGS, "      f/a: {value: {enabled: true, rollout: 150}}\n");
    check(
        &config,
        &schema_files(),
        &["kvsync.yaml:10:20: the value of `f/a` breaks its schema at `/rollout`: 150 is greater \
           than the maximum of 100 (schema `schemas/common.yaml#/$defs/percent/maximum`)"],
    );
    // The same config with a good value loads.
    let good = typed(FLAGS, "      f/a: {value: {enabled: true, rollout: 50}}\n");
    let loaded = loads(&good, &schema_files());
    let schemas = &loaded.desired.scopes[0].schemas;
    assert_eq!(schemas.for_key("f/a").count(), 1);
    assert!(schemas.check("f/a", br#"{"enabled":true,"rollout":101}"#, false).len() == 1);
}

#[test]
fn every_failing_value_is_reported_at_once_with_every_violation() {
    let config = typed(
        FLAGS,
        "      f/a:\n        value:\n          enabled: \"yes\"\n          extra: 1\n      f/b: 7\n",
    );
    let diagnostics = check(
        &config,
        &schema_files(),
        &[
            "kvsync.yaml:12:11: the value of `f/a` breaks its schema in 2 places: at `/enabled`: \
             \"yes\" is not of type \"boolean\" (schema \
             `schemas/flag.json#/properties/enabled/type`); Additional properties are not \
             allowed ('extra' was unexpected) (schema `schemas/flag.json#/additionalProperties`)",
            "kvsync.yaml:14:12: the value of `f/b` breaks its schema: 7 is not of type \"object\" \
             (schema `schemas/flag.json#/type`)",
        ],
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("fix the value, or the schema if the value is right")
    );
}

#[test]
fn a_string_is_checked_as_text_only_by_a_schema_of_strings() {
    let schemas =
        "      \"f/n/*\": {type: integer}\n      \"f/s/*\": {type: string, enum: [on, off]}\n";
    // A YAML string is stored as its text: `"50"` stores 50, which a number schema accepts.
    let loaded = loads(&typed(schemas, "      f/n/a: \"50\"\n      f/s/a: \"on\"\n"), &[]);
    let bindings = loaded.desired.scopes[0].schemas.bindings();
    assert_eq!(bindings[0].schema.reads, Reads::Json);
    assert_eq!(bindings[1].schema.reads, Reads::Text);
    check(
        &typed(schemas, "      f/n/a: 50%\n      f/s/a: 1\n"),
        &[],
        &[
            "kvsync.yaml:11:14: the value of `f/n/a` breaks its schema: the stored text `50%` is \
             not JSON, and the schema admits no strings (a YAML string is stored as its raw text) \
             (schema `kvsync.yaml:8:16#`)",
            "kvsync.yaml:12:14: the value of `f/s/a` breaks its schema: \"1\" is not one of \"on\" \
             or \"off\" (schema `kvsync.yaml:9:16#/enum`)",
        ],
    );
}

#[test]
fn a_sensitive_value_is_checked_and_never_shown() {
    let config = typed(FLAGS, "      f/a: {value: {enabled: \"hunter2\"}, sensitive: true}\n");
    let fixture = Fixture::new(&config);
    for (path, contents) in schema_files() {
        fixture.write(path, contents);
    }
    let Err(Error::Invalid(diagnostics)) = fixture.load() else { panic!("expected problems") };
    let shown = format!("{diagnostics:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("is not of type"), "{shown}");
    assert!(diagnostics[0].hint.as_deref().is_some_and(|h| h.contains("sensitive")));
}

#[test]
fn file_and_files_values_are_checked_at_their_key() {
    let mut files = schema_files();
    files.push(("values/a.json", br#"{"enabled": 3}"#));
    files.push(("tree/b.json", br#"{"enabled": true, "rollout": -1}"#));
    let config = format!(
        "{}    files:\n      - path: tree/*.json\n        key: \"f/{{path}}\"\n",
        typed(FLAGS, "      f/a: {file: values/a.json}\n")
    );
    check(
        &config,
        &files,
        &[
            "kvsync.yaml:10:7: the value of `f/a` breaks its schema at `/enabled`: 3 is not of \
             type \"boolean\" (schema `schemas/flag.json#/properties/enabled/type`)",
            "kvsync.yaml:13:14: the value of `f/b.json` breaks its schema at `/rollout`: -1 is less \
             than the minimum of 0 (schema `schemas/common.yaml#/$defs/percent/minimum`)",
        ],
    );
}

#[test]
fn an_included_file_s_schemas_apply_to_its_own_keys() {
    let mut files = schema_files();
    files.push((
        "more/keys.yaml",
        b"schemas:\n  \"f/**\": {type: integer}\nkeys:\n  f/inc: \"7\"\n  f/bad: \"seven\"\n",
    ));
    // `f/root` is not an integer, but only the included file's keys are under its schema.
    let config = format!(
        "{}      f/root: hello\n    include: [more/*.yaml]\n",
        typed("      \"f/root\": {type: string}\n", "")
    );
    check(
        &config,
        &files,
        &["more/keys.yaml:5:10: the value of `f/bad` breaks its schema: the stored text `seven` \
           is not JSON, and the schema admits no strings (a YAML string is stored as its raw \
           text) (schema `more/keys.yaml:2:11#`)"],
    );
    files.pop();
    files.push((
        "more/keys.yaml",
        b"schemas:\n  \"f/**\": {type: integer}\nkeys:\n  f/inc: \"7\"\n",
    ));
    let loaded = loads(&config, &files);
    let schemas = &loaded.desired.scopes[0].schemas;
    assert_eq!(schemas.for_key("f/inc").count(), 1);
    assert_eq!(schemas.for_key("f/root").count(), 1, "only the scope's own string schema");
}

#[test]
fn an_overlay_replaces_the_schema_of_a_glob_and_checks_its_own_keys() {
    let config = format!(
        "{}environments:\n  dev: {{}}\n  prod:\n    namespaces:\n      flags:\n        schemas:\n          \
         \"f/*\": {{type: integer, maximum: 5}}\n        keys:\n          f/b: 9\n",
        typed("      \"f/*\": {type: integer, maximum: 100}\n", "      f/a: 50\n      f/b: 6\n")
    );
    let fixture = Fixture::new(&config);
    if let Err(error) = fixture.load_with(Some("dev"), &[]) {
        panic!("without the overlay, 50 and 6 are fine: {:?}", fixture.errors(Err(error)));
    }
    let errors = fixture.errors(fixture.load_with(Some("prod"), &[]));
    assert_eq!(
        errors,
        [
            "kvsync.yaml:10:12: the value of `f/a` breaks its schema: 50 is greater than the \
             maximum of 5 (schema `kvsync.yaml:18:18#/maximum`)",
            "kvsync.yaml:20:16: the value of `f/b` breaks its schema: 9 is greater than the \
             maximum of 5 (schema `kvsync.yaml:18:18#/maximum`)",
        ]
    );
}

#[test]
fn a_key_several_globs_match_must_satisfy_each_schema() {
    let schemas = "      \"f/**\": {type: integer, minimum: 0}\n      \"f/x/*\": {type: integer, maximum: 10}\n";
    check(
        &typed(schemas, "      f/x/a: 11\n      f/y: -1\n"),
        &[],
        &[
            "kvsync.yaml:11:14: the value of `f/x/a` breaks its schema: 11 is greater than the \
             maximum of 10 (schema `kvsync.yaml:9:16#/maximum`)",
            "kvsync.yaml:12:12: the value of `f/y` breaks its schema: -1 is less than the minimum \
             of 0 (schema `kvsync.yaml:8:15#/minimum`)",
        ],
    );
}

#[test]
fn a_schema_that_admits_strings_and_other_types_is_a_problem() {
    check_hint(
        &typed("      \"f/*\": {properties: {a: {type: integer}}}\n", "      f/a: 1\n"),
        &[],
        "kvsync.yaml:8:14: this schema admits both strings and other types, so kvsync cannot tell \
         whether to check a value's stored text or its JSON",
        "add `type: string`",
    );
}

#[test]
fn a_network_ref_an_invalid_schema_and_a_schema_outside_the_folder_are_problems() {
    let schemas = "      \"f/a\": {$ref: \"https://example.com/s.json\"}\n      \"f/b\": {type: 12}\n      \"f/c\": ../outside.json\n      \"f/d\": {$ref: \"missing.json\"}\n";
    check(
        &typed(schemas, "      f/a: 1\n"),
        &[],
        &[
            "kvsync.yaml:8:14: this schema refers to `https://example.com/s.json`: kvsync does \
             not fetch schemas over the network",
            "kvsync.yaml:9:14: this schema is not a valid JSON Schema at `/type`: value is not \
             valid under any of the schemas listed in the 'anyOf' keyword",
            "kvsync.yaml:10:14: file `../outside.json` is outside the config folder",
            "kvsync.yaml:11:14: this schema has a `$ref` kvsync cannot follow: `missing.json`: no such file",
        ],
    );
}

#[test]
fn a_glob_that_matches_no_key_is_a_warning() {
    let loaded = loads(&typed("      \"f/nothing/*\": {type: integer}\n", "      f/a: 1\n"), &[]);
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].line, 8);
    assert_eq!(
        loaded.warnings[0].message,
        "schema glob `f/nothing/*` matches no key of namespace `flags`"
    );
    // Without schemas nothing is checked or kept.
    assert!(loads(&keys("      f/a: 1\n"), &[]).desired.scopes[0].schemas.is_empty());
}
