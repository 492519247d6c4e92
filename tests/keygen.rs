//! The key tool, run as an operator runs it: its output is a JWKS the worker accepts.

use std::io::Write;
use std::process::{Command, Stdio};

use edge_logout::keys::KeySet;

fn run(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-logout-keys"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

fn kids(jwks: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(jwks).unwrap();
    v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

#[test]
fn new_rotate_public_retire() {
    let (ok, jwks) = run(&["new"], "");
    assert!(ok);
    let keys = KeySet::parse(&jwks, None).unwrap();
    assert_eq!(keys.signing_algs().len(), 3);
    let first = kids(&jwks);

    std::thread::sleep(std::time::Duration::from_millis(1100)); // kids carry the second
    let (ok, rotated) = run(&["rotate"], &jwks);
    assert!(ok);
    let all = kids(&rotated);
    assert_eq!(all.len(), 6);
    assert_eq!(all[..3], first[..]);
    let keys = KeySet::parse(&rotated, None).unwrap();
    // Published at once, signing two days later (relying parties' JWKS caches have it by then).
    let now = chrono::Utc::now().timestamp();
    let rs256 = edge_logout::keys::Alg::RS256;
    assert_eq!(keys.signer_at(rs256, now).unwrap().kid, all[0], "the old key signs until then");
    assert_eq!(keys.signer_at(rs256, now + 2 * 86_400 + 60).unwrap().kid, all[3], "then the newest signs");
    assert!(!run(&["public"], &rotated).1.contains("sign_from"));
    let (ok, soon) = run(&["rotate", "0"], &jwks);
    assert!(ok);
    let soon_kids = kids(&soon);
    let soon = KeySet::parse(&soon, None).unwrap();
    assert_eq!(soon.signer_at(rs256, chrono::Utc::now().timestamp()).unwrap().kid, soon_kids[3], "rotate 0: at once");
    assert!(!run(&["rotate", "soon"], "").0, "a delay that is not seconds");

    let (ok, public) = run(&["public"], &rotated);
    assert!(ok);
    assert!(!public.contains("\"d\""));
    assert_eq!(kids(&public), all);

    let (ok, retired) = run(&["retire", &first[0]], &rotated);
    assert!(ok);
    assert_eq!(kids(&retired).len(), 5);
    let (ok, _) = run(&["retire", "no-such-kid"], &rotated);
    assert!(!ok);
    let (ok, _) = run(&["rotate"], "not json");
    assert!(!ok);
}
