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
    assert!(shown.contains("breaks `type`"), "{shown}");
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

/// Issue #23: a sensitive value that breaks any keyword that reports instance data shows no
/// part of itself: no pointer into it (its object keys), no quoted value or property name.
#[test]
fn a_sensitive_value_breaking_any_keyword_shows_no_part_of_itself() {
    let secret = r#"{"tok_live_9f8e": 1, "known": "tok_live_9f8e_v", "arr": ["tok_live_9f8e", "tok_live_9f8e"]}"#;
    let schemas = [
        r#"{"type": "object", "additionalProperties": false}"#,
        r#"{"type": "object", "propertyNames": {"pattern": "^x"}}"#,
        r#"{"type": "object", "propertyNames": {"maxLength": 3}}"#,
        r#"{"type": "object", "properties": {"known": {"type": "integer"}}}"#,
        r#"{"type": "object", "properties": {"known": {"enum": [1]}}}"#,
        r#"{"type": "object", "properties": {"known": {"const": 1}}}"#,
        r#"{"type": "object", "properties": {"known": {"maxLength": 2}}}"#,
        r#"{"type": "object", "properties": {"known": {"pattern": "^x"}}}"#,
        r#"{"type": "object", "properties": {"known": {"format": "email"}}}"#,
        r#"{"type": "object", "properties": {"arr": {"uniqueItems": true}}}"#,
        r#"{"type": "object", "properties": {"arr": {"contains": {"const": 1}}}}"#,
        r#"{"type": "object", "properties": {"arr": {"maxItems": 1}}}"#,
        r#"{"type": "object", "properties": {"arr": {"items": {"type": "integer"}}}}"#,
        r#"{"type": "object", "maxProperties": 1}"#,
        r#"{"type": "object", "dependentRequired": {"known": ["zz"]}}"#,
        r#"{"type": "object", "not": {"required": ["known"]}}"#,
        r#"{"type": "object", "unevaluatedProperties": false, "properties": {"arr": true}}"#,
        r#"{"type": "object", "oneOf": [{"required": ["known"]}, {"required": ["arr"]}]}"#,
        r#"{"type": "object", "properties": {"known": {"not": {"type": "string"}}}}"#,
        r#"{"type": "object", "patternProperties": {"^t": {"type": "string"}}}"#,
    ];
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut schema_lines = String::new();
    let mut key_lines = String::new();
    for (index, schema) in schemas.iter().enumerate() {
        files.push((format!("s{index}.json"), schema.as_bytes().to_vec()));
        schema_lines.push_str(&format!("      f/k{index}: s{index}.json\n"));
        key_lines.push_str(&format!("      f/k{index}: {{value: '${{SECRET}}'}}\n"));
    }
    let config = typed(&schema_lines, &key_lines);
    let fixture = Fixture::new(&config);
    for (path, contents) in &files {
        fixture.write(path, contents);
    }
    let Err(Error::Invalid(diagnostics)) = fixture.load_with(None, &[("SECRET", secret)]) else {
        panic!("expected problems")
    };
    assert_eq!(diagnostics.len(), schemas.len(), "every schema is broken: {diagnostics:#?}");
    let shown = format!("{diagnostics:?}");
    assert!(!shown.contains("tok_live"), "{shown}");
    assert!(!shown.contains("9f8e"), "{shown}");
    assert!(diagnostics[0].message.contains("breaks `additionalProperties`"), "{diagnostics:#?}");
}

/// Issue #23: bundled schemas, whose parts have `$id` URLs of their own, resolve inside the
/// document; only a `$ref` that leaves it for the network is refused.
#[test]
fn refs_follow_ids_and_anchors_inside_the_document() {
    let bundled = r##"{
      "$id": "https://example.com/root.json",
      "type": "object",
      "properties": {
        "a": {"$ref": "item.json"},
        "b": {"$ref": "#/$defs/local"},
        "c": {"$ref": "#named"},
        "d": {"$ref": "https://example.com/nested/deep.json"},
        "e": {"$ref": "nested/deep.json#/$defs/leaf"}
      },
      "$defs": {
        "item": {"$id": "item.json", "type": "integer", "maximum": 5},
        "local": {"type": "boolean"},
        "anchored": {"$anchor": "named", "type": "null"},
        "deep": {"$id": "nested/deep.json", "type": "object",
                 "properties": {"x": {"$ref": "#/$defs/leaf"}},
                 "$defs": {"leaf": {"type": "string", "maxLength": 2}}}
      }
    }"##;
    let draft7 = r##"{"$schema": "http://json-schema.org/draft-07/schema#",
      "type": "object", "properties": {"v": {"$ref": "#num"}},
      "definitions": {"n": {"$id": "#num", "type": "number"}}}"##;
    let schemas = "      \"f/a\": bundled.json\n      \"f/b\": draft7.json\n";
    let good = "      f/a: {value: {a: 3, b: true, c: null, d: {x: \"ab\"}, e: \"zz\"}}\n      f/b: {value: {v: 1}}\n";
    let files: [(&str, &[u8]); 2] =
        [("bundled.json", bundled.as_bytes()), ("draft7.json", draft7.as_bytes())];
    let loaded = loads(&typed(schemas, good), &files);
    let scope = &loaded.desired.scopes[0];
    let bad = br#"{"a": 9, "b": 1, "c": 0, "d": {"x": "abc"}, "e": "abc"}"#;
    let violations = scope.schemas.check("f/a", bad, false);
    assert_eq!(violations.len(), 5, "{violations:#?}");
    assert_eq!(scope.schemas.check("f/b", br#"{"v": "x"}"#, false).len(), 1);
    // The same parts, as kvsync's own reading of the schema finds them.
    let schema = &scope.schemas.bindings()[0].schema;
    let base = "https://example.com/root.json";
    for (reference, expected) in [
        ("item.json", "integer"),
        ("#/$defs/local", "boolean"),
        ("#named", "null"),
        ("https://example.com/nested/deep.json", "object"),
        ("nested/deep.json#/$defs/leaf", "string"),
    ] {
        let (_, found) = schema.resolve(base, reference).expect(reference);
        assert_eq!(found["type"], expected, "{reference}");
    }
    // Leaving the document for the network is refused, without fetching.
    let remote = "      \"f/a\": {type: object, properties: {x: {$ref: \"https://example.com/other.json\"}}}\n";
    check(
        &typed(remote, "      f/a: {value: {x: 1}}\n"),
        &[],
        &["kvsync.yaml:8:14: this schema refers to `https://example.com/other.json`: kvsync does \
           not fetch schemas over the network"],
    );
}

/// Issue #23: `not` and `if`/`then`/`else` count in the strings-or-JSON decision.
#[test]
fn not_and_if_then_else_decide_what_a_schema_reads() {
    let loaded = loads(
        &typed(
            "      \"f/a\": {not: {type: string}}\n      \"f/b\": {if: {type: string}, then: false}\n",
            "      f/a: 1\n      f/b: {value: {x: 1}}\n",
        ),
        &[],
    );
    let bindings = loaded.desired.scopes[0].schemas.bindings();
    assert_eq!(bindings[0].schema.reads, Reads::Json);
    assert_eq!(bindings[1].schema.reads, Reads::Json);
    // `f/c` admits numbers and strings: refused, as before, with its own hint.
    check_hint(
        &typed(
            "      \"f/c\": {if: {type: number}, then: {minimum: 0}, else: {type: string}}\n",
            "      f/c: 3\n",
        ),
        &[],
        "kvsync.yaml:8:14: this schema admits both strings and other types, so kvsync cannot tell \
         whether to check a value's stored text or its JSON",
        "add `type: string`",
    );
}

/// Issue #23: a `$ref` error names paths relative to the config folder, never the machine's.
#[test]
fn a_ref_outside_the_folder_is_named_relative_to_it() {
    let fixture = Fixture::new(&typed(
        "      \"f/a\": s.json\n      \"f/b\": t.json\n",
        "      f/a: 1\n      f/b: 1\n",
    ));
    fixture.write("s.json", br#"{"$ref": "../outside.json"}"#);
    fixture.write("t.json", br#"{"type": "number", "$ref": "sub/u.json#/nowhere"}"#);
    fixture.write("sub/u.json", br#"{"type": "number"}"#);
    let Err(Error::Invalid(diagnostics)) = fixture.load() else { panic!("expected problems") };
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let message = &diagnostics[0].message;
    assert!(message.contains("`../outside.json` is outside the config folder"), "{message}");
    let config = diagnostics[0].path.canonicalize().expect("the config");
    let folder = config.parent().expect("folder");
    let parent = folder.parent().expect("parent").display().to_string();
    for diagnostic in &diagnostics {
        assert!(!diagnostic.message.contains(&parent), "{}", diagnostic.message);
        assert!(!diagnostic.message.contains("file://"), "{}", diagnostic.message);
    }
    assert!(diagnostics[1].message.contains("/nowhere"), "{}", diagnostics[1].message);
}
