//! The Kubernetes manifests (`deploy/kubernetes/`), validated offline: each kustomization
//! of the example is rendered with `kubectl kustomize` and checked by `kubernetes-validate
//! --strict` (unknown fields fail) against a current Kubernetes version; the rendered
//! generators Job keeps what a sharded run needs (Indexed, N everywhere the same, no
//! retry, no replacement beside a terminating pod, the late-start exit code failing the
//! Job) and the merge lists every shard. Skipped when the tools are absent, unless
//! `MAILQUAKE_REQUIRE_K8S_TOOLS=1` (`.ci/run` installs them and sets it). The example's
//! scenario files must be valid scenarios.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::binary::mailquake;
use crate::support::root;

/// The Kubernetes version the manifests are validated against.
const KUBERNETES: &str = "1.34.0";
/// N of the example overlay.
const SHARDS: u64 = 3;
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `program args` to its end (killed and failed past [`LIMIT`]).
fn tool(program: &str, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let deadline = Instant::now() + LIMIT;
    // The outputs are small (a few KiB): the pipes do not fill before the exit.
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{program} {args:?}: not done within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Whether `program` can be run here.
fn present(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `kubectl kustomize DIR`, validated strictly; the rendered objects.
fn render_and_validate(dir: &Path, scratch: &Path) -> Vec<Value> {
    let dir_arg = dir.to_str().unwrap();
    let o = tool("kubectl", &["kustomize", dir_arg]);
    let rendered = String::from_utf8(o.stdout).unwrap();
    assert!(
        o.status.success(),
        "kubectl kustomize {dir_arg}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file = scratch.join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let o = tool(
        "kubernetes-validate",
        &[
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES,
            file.to_str().unwrap(),
        ],
    );
    assert!(
        o.status.success(),
        "kubernetes-validate --strict {dir_arg}:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&rendered)
        .expect("the rendered YAML reads")
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_example_manifests_render_and_pass_strict_validation() {
    let required = std::env::var("MAILQUAKE_REQUIRE_K8S_TOOLS").is_ok_and(|v| v == "1");
    let tools = present("kubectl", &["version", "--client"])
        && present("kubernetes-validate", &["--version"]);
    if !tools {
        assert!(
            !required,
            "kubectl or kubernetes-validate is missing and MAILQUAKE_REQUIRE_K8S_TOOLS=1"
        );
        eprintln!("SKIPPED: kubectl or kubernetes-validate is not installed (pip install kubernetes-validate)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let example = root().join("deploy/kubernetes/overlays/example");
    let objects = render_and_validate(&example, scratch.path());

    let job = find(&objects, "Job", "mailquake-generators");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], SHARDS);
    assert_eq!(spec["parallelism"], SHARDS);
    assert_eq!(spec["backoffLimitPerIndex"], 0);
    assert_eq!(spec["podReplacementPolicy"], "Failed");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let rule = &spec["podFailurePolicy"]["rules"][0];
    assert_eq!(rule["action"], "FailJob");
    assert_eq!(rule["onExitCodes"]["operator"], "In");
    assert_eq!(rule["onExitCodes"]["values"], serde_json::json!([4]));
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let shard = format!("/{SHARDS}");
    assert_eq!(
        args,
        [
            "run",
            "/scenario/scenario.yaml",
            "--shard",
            shard.as_str(),
            "--t0",
            "$(T0)",
            "--run-id",
            "$(RUN_ID)",
            "--out",
            "/shards/$(JOB_COMPLETION_INDEX)"
        ]
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);

    let remotes = find(&objects, "Deployment", "mailquake-remotes");
    assert_eq!(remotes["spec"]["replicas"], 1);
    let env = &remotes["spec"]["template"]["spec"]["containers"][0]["env"][0];
    assert_eq!(env["name"], "MAILQUAKE_REMOTES_TOKEN");
    assert!(env["valueFrom"]["secretKeyRef"]["name"]
        .as_str()
        .unwrap()
        .starts_with("mailquake-remotes-token"));
    let pvc = find(&objects, "PersistentVolumeClaim", "mailquake-shards");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );

    let merge = render_and_validate(&example.join("merge"), scratch.path());
    let job = find(&merge, "Job", "mailquake-merge");
    let args = &job["spec"]["template"]["spec"]["containers"][0]["args"];
    let shards: Vec<String> = (0..SHARDS).map(|i| format!("/shards/{i}")).collect();
    let mut want = vec!["merge".to_string()];
    want.extend(shards);
    want.extend(["--out".to_string(), "/shards/merged".to_string()]);
    assert_eq!(args, &serde_json::json!(want));
}

#[test]
fn the_example_scenarios_are_valid() {
    let example = root().join("deploy/kubernetes/overlays/example");
    for file in ["scenario.yaml", "remotes.yaml"] {
        let path = example.join(file);
        let o = mailquake(&["validate", path.to_str().unwrap()]).run(LIMIT);
        assert_eq!(o.code, Some(0), "{file}: {}", o.stderr);
    }
}
