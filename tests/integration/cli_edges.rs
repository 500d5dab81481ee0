//! The CLI as a newcomer meets it: commands that read stored data refuse a
//! missing database instead of creating an empty one, an error names its
//! cause once, and a command's output is not mixed with the server's log.

use std::process::Output;

fn reprise(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run reprise")
}

#[test]
fn replay_and_compare_refuse_a_missing_database_and_create_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("missing.db");
    let db = db.to_str().expect("path");
    for args in [
        vec!["compare", "--db", db, "01JAAAAAAAAAAAAAAAAAAAAAAA"],
        vec![
            "replay",
            "--db",
            db,
            "--target-url",
            "http://127.0.0.1:9/v1",
            "--target-model",
            "m",
        ],
    ] {
        let output = reprise(&args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no database at"), "{args:?}: {stderr}");
        assert!(
            !std::path::Path::new(db).exists(),
            "{args:?} created the database file"
        );
    }
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let output = reprise(&[
        "import",
        "--db",
        db.to_str().expect("path"),
        dir.path()
            .join("no-such-file.jsonl")
            .to_str()
            .expect("path"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

#[test]
fn a_command_prints_its_output_without_log_lines_or_colour_codes() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let db = db.to_str().expect("path");
    let created = reprise(&[
        "keys", "create", "--db", db, "--name", "ci", "--scope", "read",
    ]);
    assert!(created.status.success());
    let listed = reprise(&["keys", "list", "--db", db]);
    assert!(listed.status.success());
    for output in [&created, &listed] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains(" INFO "), "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "{stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains('\u{1b}'), "{stdout}");
    }
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ci"));
}
