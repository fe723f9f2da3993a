use crate::support::Test;

const CONFIG: &str = r#"version: 1
owner: web
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: "flags/"
    keys:
      flags/banner: "Welcome!"
      flags/checkout:
        value: {enabled: true, rollout: 25, regions: [eu, us]}
        metadata: {team: growth}
      flags/limit: 10
"#;

const LOCAL: &[&str] = &["--target", "local"];

fn args<'a>(command: &[&'a str]) -> Vec<&'a str> {
    command.iter().chain(LOCAL).copied().collect()
}

/// The README tour and the "done means" of issue #2, step by step.
#[test]
fn plan_apply_edit_plan_apply() {
    let test = Test::new().file("kvsync.yaml", CONFIG);

    let plan = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    insta::assert_snapshot!("tour_1_first_plan", plan.snapshot());

    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    insta::assert_snapshot!("tour_2_apply", apply.snapshot());

    let again = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // One edited field of a JSON value: exactly one update, whose diff shows that field.
    test.write("kvsync.yaml", CONFIG.replace("rollout: 25", "rollout: 50"));
    let edited = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(edited.code, 2);
    insta::assert_snapshot!("tour_3_one_update", edited.snapshot());
    assert!(edited.stdout.contains("Plan: 1 to update, 2 unchanged."), "{}", edited.stdout);

    // A removed key: exactly one delete.
    test.write("kvsync.yaml", CONFIG.replace("      flags/limit: 10\n", ""));
    let removed = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(removed.code, 2);
    assert!(removed.stdout.contains("Plan: 1 to delete, 2 unchanged."), "{}", removed.stdout);
    assert!(removed.stdout.contains("- flags/limit"), "{}", removed.stdout);

    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 0 written, 1 deleted."), "{}", apply.stdout);
    let settled = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!((settled.code, settled.stdout.trim()), (0, "No changes. 2 unchanged."));
}

/// A second config with another owner writes into the same namespace and prefix; the first
/// reports those keys as unmanaged and never deletes them, even with `prune: true`.
#[test]
fn keys_of_another_owner_are_unmanaged_and_never_deleted() {
    let other = CONFIG
        .replace("owner: web", "owner: mobile")
        .replace("flags/banner", "flags/mobile-banner")
        .replace("flags/checkout", "flags/mobile-checkout")
        .replace("flags/limit", "flags/mobile-limit");
    let test = Test::new().file("web.yaml", CONFIG).file("mobile.yaml", other);

    assert_eq!(test.run(&args(&["apply", "-c", "web.yaml", "--auto-approve"])).code, 0);
    assert_eq!(test.run(&args(&["apply", "-c", "mobile.yaml", "--auto-approve"])).code, 0);

    let plan = test.run(&args(&["plan", "-c", "web.yaml", "--detailed-exitcode"]));
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert_eq!(plan.stdout.trim(), "No changes. 3 unchanged; 3 unmanaged keys left alone.");

    // Emptying most of the web config deletes only web's keys.
    test.write("web.yaml", CONFIG.replace("      flags/limit: 10\n", ""));
    let apply = test.run(&args(&["apply", "-c", "web.yaml", "--auto-approve"]));
    assert!(apply.stdout.contains("Apply complete: 0 written, 1 deleted."), "{}", apply.snapshot());
    let mobile = test.run(&args(&["plan", "-c", "mobile.yaml", "--detailed-exitcode"]));
    assert_eq!(mobile.code, 0, "{}", mobile.snapshot());
    assert!(mobile.stdout.starts_with("No changes. 3 unchanged;"), "{}", mobile.stdout);
}
