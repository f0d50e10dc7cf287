//! The real `adforge` binary: serve with ADFORGE_API_KEY, accept a job with no worker running,
//! stop on SIGTERM, start again with workers, and the job runs; `models` subcommands exit codes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{send, wait_for};

const KEY: &str = "adf_binary-test-key-0123456789";

fn adforge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_adforge"))
}

/// A models dir with one small model whose only source is a local folder.
fn local_models(root: &Path) -> std::path::PathBuf {
    let source = root.join("mirror");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("w.bin"), b"0123456789").unwrap();
    let models = root.join("models");
    std::fs::create_dir_all(&models).unwrap();
    // sha256("0123456789")
    let manifest = format!(
        "name = \"tiny\"\ntask = \"embed\"\narchitecture = \"bert\"\ndefault = true\n\
         [[files]]\npath = \"w.bin\"\nsha256 = \"84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882\"\nsize = 10\n\
         [[sources]]\nkind = \"local\"\ndir = \"{}\"\n",
        source.display()
    );
    std::fs::write(models.join("tiny.toml"), manifest).unwrap();
    models
}

fn serve(root: &Path, port: u16, workers: u32) -> Child {
    adforge()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            &workers.to_string(),
        ])
        .env("ADFORGE_DATA_DIR", root.join("data"))
        .env("ADFORGE_MODELS_DIR", root.join("models"))
        .env("ADFORGE_API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("adforge did not stop within 10 s of SIGTERM");
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    wait_for(
        Duration::from_secs(30),
        "the server to answer /ready",
        || async {
            let response = client.get(format!("{base}/ready")).send().await.ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_a_restart_of_the_server() {
    let root = tempfile::tempdir().unwrap();
    local_models(root.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = crate::support::test_client();
    let mut server = serve(root.path(), port, 0);
    wait_ready(&client, &base).await;
    let (_, ready) = send(client.get(format!("{base}/ready"))).await;
    assert_eq!(ready["models"][0]["name"], "tiny");
    assert_eq!(ready["models"][0]["installed"], false);
    let pull = json!({"kind": "model.pull", "payload": {"model": "tiny"}});
    let (status, job) = send(
        client
            .post(format!("{base}/api/jobs"))
            .bearer_auth(KEY)
            .json(&pull),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    assert!(
        terminate(&mut server).success(),
        "SIGTERM is a clean shutdown"
    );
    // Started again, now with a worker: the job accepted before the restart runs.
    let mut server = serve(root.path(), port, 1);
    wait_ready(&client, &base).await;
    let done: Value = wait_for(Duration::from_secs(30), "the job to succeed", || async {
        let (_, job) = send(client.get(format!("{base}/api/jobs/{id}")).bearer_auth(KEY)).await;
        (job["state"] == "succeeded").then_some(job)
    })
    .await;
    assert_eq!(done["attempts"], 1);
    let (_, ready) = send(client.get(format!("{base}/ready"))).await;
    assert_eq!(ready["models"][0]["installed"], true);
    assert!(terminate(&mut server).success());
    assert_eq!(
        std::fs::read(root.path().join("data/models/tiny/w.bin")).unwrap(),
        b"0123456789"
    );
}

#[test]
fn models_subcommands_report_and_exit_with_status() {
    let root = tempfile::tempdir().unwrap();
    local_models(root.path());
    let run = |args: &[&str]| {
        adforge()
            .args(args)
            .env("ADFORGE_DATA_DIR", root.path().join("data"))
            .env("ADFORGE_MODELS_DIR", root.path().join("models"))
            .output()
            .unwrap()
    };
    let verify = run(&["models", "verify"]);
    assert!(!verify.status.success(), "missing files make verify fail");
    assert!(String::from_utf8_lossy(&verify.stdout).contains("tiny/w.bin: missing"));
    let pull = run(&["models", "pull"]);
    assert!(
        pull.status.success(),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    assert!(String::from_utf8_lossy(&pull.stdout).contains("tiny: installed from source 1"));
    let again = run(&["models", "pull", "tiny"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("tiny: already installed"));
    assert!(run(&["models", "verify", "tiny"]).status.success());
    let list = String::from_utf8_lossy(&run(&["models", "list"]).stdout).into_owned();
    assert!(
        list.contains("tiny") && list.contains("installed"),
        "{list}"
    );
    let unknown = run(&["models", "pull", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown model \"nope\""));
    let migrate = run(&["migrate"]);
    assert!(migrate.status.success());
}
