//! Worker nodes as separate processes on 127.0.0.1: `crowdtwin node`,
//! `crowdtwin stress --cluster`, `crowdtwin run --cluster` and the live
//! twin's members on nodes (`crowdtwin forecast-eval --cluster`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest wait for a node to print its address, or for a run.
const WAIT_S: u64 = 60;

/// A `crowdtwin node` child process, killed when dropped.
struct Node {
    child: Child,
    address: String,
}

impl Node {
    fn start(cookie_file: &Path) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
            .args(["node", "--listen", "127.0.0.1:0", "--cookie-file", cookie_file.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("crowdtwin node starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(Duration::from_secs(WAIT_S)).expect("the node prints its address");
        let address = line.trim().strip_prefix("crowdtwin node listening on ").expect("address line").to_string();
        assert!(address.starts_with("127.0.0.1:") && !address.ends_with(":0"), "{address}");
        Node { child, address }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-cluster-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Gangneung day cut to the morning: a few tenths of a second a point.
fn morning(dir: &Path) -> PathBuf {
    gangneung_until(dir, "12:00")
}

fn gangneung_until(dir: &Path, end: &str) -> PathBuf {
    cut(dir, "gangneung-2018.toml", end)
}

/// A bundled scenario (path under `scenarios/`) cut to end at `end`, written into `dir`.
fn cut(dir: &Path, scenario: &str, end: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(scenario);
    let text = std::fs::read_to_string(source).unwrap().replace("end = \"25:00\"", &format!("end = \"{end}\""));
    assert!(text.contains(&format!("end = \"{end}\"")), "{scenario} ends at 25:00");
    let name = Path::new(scenario).file_stem().unwrap().to_str().unwrap();
    let path = dir.join(format!("{name}-until-{}.toml", end.replace(':', "")));
    std::fs::write(&path, text).unwrap();
    path
}

fn nodes_file(dir: &Path, name: &str, cookie_file: &str, nodes: &[&Node]) -> PathBuf {
    let mut text = format!("cookie_file = \"{cookie_file}\"\nconnect_timeout_s = 20\n");
    for node in nodes {
        text.push_str(&format!("[[nodes]]\naddress = \"{}\"\n", node.address));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stress_args<'a>(scenario: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["stress", scenario, "--vary", "arrivals.scale=0.5..1.5", "--steps", "9", "--out", out]
}

/// Runs `crowdtwin` with a time limit; returns (success, stdout, stderr).
fn crowdtwin(args: &[&str]) -> (bool, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crowdtwin runs");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = receiver.recv_timeout(Duration::from_secs(WAIT_S)).expect("the run ends in time").unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Every file `crowdtwin run` writes.
fn run_files(out: &Path) -> Vec<Vec<u8>> {
    ["places.parquet", "kpis.json", "report.html", "scenario.toml"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect()
}

/// Starts `crowdtwin` with its stderr lines sent to the returned channel
/// and its stdout collected by the returned thread.
fn spawn_logged(args: &[&str]) -> (Child, mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crowdtwin runs");
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if sender.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let collected = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    (child, receiver, collected)
}

/// Collects the rest of a spawned run's stderr after `log`, waits for it,
/// checks it succeeded and returns the whole log.
fn finish(child: &mut Child, receiver: &mpsc::Receiver<String>, mut log: Vec<String>) -> String {
    while let Ok(line) = receiver.recv_timeout(Duration::from_secs(WAIT_S)) {
        log.push(line);
    }
    let status = child.wait().unwrap();
    let log = log.join("\n");
    assert!(status.success(), "{log}");
    log
}

fn files(out: &Path) -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(out.join("stress.json")).unwrap(), std::fs::read(out.join("stress.html")).unwrap())
}

#[test]
fn three_nodes_give_the_single_process_files_and_a_wrong_cookie_is_refused() {
    let dir = folder("three");
    let scenario = morning(&dir);
    let scenario = scenario.to_str().unwrap();
    std::fs::write(dir.join("cookie"), "olympic-park-7f3a\n").unwrap();
    std::fs::write(dir.join("other-cookie"), "not-the-same\n").unwrap();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&dir.join("cookie"))).collect();

    let local = dir.join("local");
    let (ok, _, stderr) = crowdtwin(&stress_args(scenario, local.to_str().unwrap()));
    assert!(ok, "{stderr}");
    let remote = dir.join("remote");
    let cluster = nodes_file(&dir, "nodes.toml", "cookie", &nodes.iter().collect::<Vec<_>>());
    let mut args = stress_args(scenario, remote.to_str().unwrap());
    args.extend(["--cluster", cluster.to_str().unwrap()]);
    let (ok, stdout, stderr) = crowdtwin(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("wrote"), "{stdout}");
    for node in &nodes {
        assert!(stderr.contains(&format!("on {}", node.address)), "every node ran points: {stderr}");
    }
    assert!(files(&local) == files(&remote), "the cluster's files differ from the single process's");

    // A node with another cookie is refused, and nothing is written.
    let stranger = Node::start(&dir.join("other-cookie"));
    let refused = dir.join("refused");
    let mixed = nodes_file(&dir, "mixed.toml", "cookie", &[&nodes[0], &stranger]);
    let mut args = stress_args(scenario, refused.to_str().unwrap());
    args.extend(["--cluster", mixed.to_str().unwrap()]);
    let (ok, _, stderr) = crowdtwin(&args);
    assert!(!ok, "a node with a wrong cookie was accepted");
    assert!(stderr.contains(&format!("node {}: refused the connection", stranger.address)), "{stderr}");
    assert!(!refused.join("stress.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_node_killed_mid_run_changes_nothing() {
    let dir = folder("kill");
    let scenario = morning(&dir);
    let scenario = scenario.to_str().unwrap();
    std::fs::write(dir.join("cookie"), "olympic-park-7f3a\n").unwrap();
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&dir.join("cookie"))).collect();
    let cluster = nodes_file(&dir, "nodes.toml", "cookie", &nodes.iter().collect::<Vec<_>>());

    let local = dir.join("local");
    let (ok, _, stderr) = crowdtwin(&stress_args(scenario, local.to_str().unwrap()));
    assert!(ok, "{stderr}");

    let remote = dir.join("remote");
    let mut args = stress_args(scenario, remote.to_str().unwrap());
    args.extend(["--cluster", cluster.to_str().unwrap()]);
    let (mut coordinator, receiver, _) = spawn_logged(&args);
    // When the first point is done, kill the node that ran it: it has
    // taken its next point by then, or is about to.
    let mut log = Vec::new();
    let victim = loop {
        let line = receiver.recv_timeout(Duration::from_secs(WAIT_S)).expect("progress before the end");
        log.push(line.clone());
        if line.contains("points done") {
            break nodes.iter().position(|n| line.ends_with(&format!("on {}", n.address))).expect("names its node");
        }
    };
    let victim_address = nodes[victim].address.clone();
    nodes[victim].kill();
    let log = finish(&mut coordinator, &receiver, log);
    assert!(log.contains(&format!("node {victim_address} lost")), "the loss is reported: {log}");
    let after_loss = log.split(&format!("node {victim_address} lost")).nth(1).unwrap();
    assert!(!after_loss.contains(&format!("on {victim_address}")), "nothing ran on the dead node: {log}");
    assert!(files(&local) == files(&remote), "a lost node changed the result");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_nodes_and_cookie_files_are_refused_before_any_connection() {
    let dir = folder("files");
    let scenario = morning(&dir);
    std::fs::write(dir.join("empty-cookie"), "  \n").unwrap();
    std::fs::write(dir.join("cookie"), "c").unwrap();
    for (name, text, expected) in [
        (
            "twice.toml",
            "cookie_file = \"cookie\"\n[[nodes]]\naddress = \"127.0.0.1:9\"\n[[nodes]]\naddress = \"127.0.0.1:9\"\n",
            "named twice",
        ),
        ("none.toml", "cookie_file = \"cookie\"\nnodes = []\n", "name between 1 and"),
        ("missing.toml", "cookie_file = \"nope\"\n[[nodes]]\naddress = \"127.0.0.1:9\"\n", "cookie file"),
        ("empty.toml", "cookie_file = \"empty-cookie\"\n[[nodes]]\naddress = \"127.0.0.1:9\"\n", "empty"),
        ("typo.toml", "cookie_file = \"cookie\"\n[[nodes]]\nadress = \"127.0.0.1:9\"\n", "unknown field"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
        let out = dir.join("out");
        let mut args = stress_args(scenario.to_str().unwrap(), out.to_str().unwrap());
        let path = dir.join(name);
        args.extend(["--cluster", path.to_str().unwrap()]);
        let (ok, _, stderr) = crowdtwin(&args);
        assert!(!ok, "{name} was accepted");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!out.join("stress.json").exists());
    }
    let mut args = vec!["node", "--cookie-file"];
    let empty = dir.join("empty-cookie");
    args.push(empty.to_str().unwrap());
    let (ok, _, stderr) = crowdtwin(&args);
    assert!(!ok && stderr.contains("empty"), "a node refuses an empty cookie: {stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn one_run_split_over_three_nodes_is_byte_identical_and_survives_a_killed_node() {
    let dir = folder("run");
    let scenario = gangneung_until(&dir, "10:30");
    let scenario = scenario.to_str().unwrap();
    std::fs::write(dir.join("cookie"), "olympic-park-7f3a\n").unwrap();
    std::fs::write(dir.join("other-cookie"), "not-the-same\n").unwrap();
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&dir.join("cookie"))).collect();
    let cluster = nodes_file(&dir, "nodes.toml", "cookie", &nodes.iter().collect::<Vec<_>>());
    let cluster = cluster.to_str().unwrap();

    let local = dir.join("local");
    let (ok, _, stderr) = crowdtwin(&["run", scenario, "--out", local.to_str().unwrap(), "--quiet"]);
    assert!(ok, "{stderr}");

    // Three shards, one per node.
    let remote = dir.join("remote");
    let (ok, _, stderr) = crowdtwin(&["run", scenario, "--out", remote.to_str().unwrap(), "--cluster", cluster]);
    assert!(ok, "{stderr}");
    for (shard, node) in nodes.iter().enumerate() {
        assert!(stderr.contains(&format!("run: shards [{shard}] on {}", node.address)), "{stderr}");
    }
    assert!(stderr.contains("messages between shards"), "{stderr}");
    assert!(run_files(&local) == run_files(&remote), "the cluster's files differ from the single process's");

    // Six shards on three nodes, checkpointed every 10 minutes; the node
    // holding shards 1 and 4 is killed after the second checkpoint.
    let killed = dir.join("killed");
    let args = ["run", scenario, "--out", killed.to_str().unwrap(), "--cluster", cluster, "--shards", "6"];
    let (mut coordinator, receiver, _) = spawn_logged(&[&args[..], &["--checkpoint-every-min", "10"]].concat());
    let mut log = Vec::new();
    let mut victim = None;
    let mut checkpoints = 0;
    while checkpoints < 2 {
        let line = receiver.recv_timeout(Duration::from_secs(WAIT_S)).expect("progress before the end");
        log.push(line.clone());
        if line.starts_with("run: shards [1, 4] on ") {
            victim = nodes.iter().position(|n| line.ends_with(&format!("on {}", n.address)));
        }
        checkpoints += usize::from(line.starts_with("run: checkpoint at"));
    }
    let victim = victim.expect("shards 1 and 4 are placed on a node");
    let victim_address = nodes[victim].address.clone();
    nodes[victim].kill();
    let log = finish(&mut coordinator, &receiver, log);
    assert!(log.contains(&format!("node {victim_address} lost")), "the loss is reported: {log}");
    let (before_loss, after_loss) = log.split_once(&format!("node {victim_address} lost")).unwrap();
    // It restarts from a checkpoint that was complete before the loss.
    let from = after_loss.split("restarts from the checkpoint at ").nth(1).expect("names the checkpoint");
    let from = from.lines().next().unwrap();
    assert!(before_loss.contains(&format!("run: checkpoint at {from} (")), "{log}");
    assert!(!after_loss.contains(&format!("on {victim_address}")), "nothing was placed on the dead node: {log}");
    assert!(run_files(&local) == run_files(&killed), "a lost node changed the result");

    // A node with another cookie is refused, and nothing is written.
    let stranger = Node::start(&dir.join("other-cookie"));
    let mixed = nodes_file(&dir, "mixed.toml", "cookie", &[&nodes[(victim + 1) % 3], &stranger]);
    let refused = dir.join("refused");
    let (ok, _, stderr) =
        crowdtwin(&["run", scenario, "--out", refused.to_str().unwrap(), "--cluster", mixed.to_str().unwrap()]);
    assert!(!ok, "a node with a wrong cookie was accepted");
    assert!(stderr.contains(&format!("node {}: refused the connection", stranger.address)), "{stderr}");
    assert!(!refused.join("places.parquet").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn forecast_members_on_nodes_give_the_same_scores_and_survive_a_killed_node() {
    let dir = folder("members");
    let nominal = gangneung_until(&dir, "10:30");
    let truth = cut(&dir, "truths/gangneung-more-arrivals.toml", "10:30");
    std::fs::write(dir.join("cookie"), "olympic-park-7f3a\n").unwrap();
    let mut nodes: Vec<Node> = (0..2).map(|_| Node::start(&dir.join("cookie"))).collect();
    let cluster = nodes_file(&dir, "nodes.toml", "cookie", &nodes.iter().collect::<Vec<_>>());
    let args = ["forecast-eval", "--scenario", nominal.to_str().unwrap(), "--truth", truth.to_str().unwrap()];
    let args = [&args[..], &["--members", "6", "--seed", "4"]].concat();
    // The report without its wall time.
    let scores = |stdout: &str| {
        let mut report: serde_json::Value = serde_json::from_str(stdout).expect("a JSON report");
        assert!(report["forecasts"].as_u64().unwrap() >= 5, "{report}");
        report.as_object_mut().unwrap().remove("wall_s");
        report
    };

    let (ok, local, stderr) = crowdtwin(&args);
    assert!(ok, "{stderr}");
    let with_cluster = [&args[..], &["--cluster", cluster.to_str().unwrap()]].concat();
    let (ok, remote, stderr) = crowdtwin(&with_cluster);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("forecast members run on"), "{stderr}");
    assert_eq!(scores(&remote), scores(&local), "members on nodes forecast differently");

    // One node dies once the evaluation has connected: its members move to the other.
    let (mut child, receiver, stdout) = spawn_logged(&with_cluster);
    let line = receiver.recv_timeout(Duration::from_secs(WAIT_S)).expect("the evaluation connects");
    assert!(line.contains("forecast members run on"), "{line}");
    let victim = nodes[1].address.clone();
    nodes[1].kill();
    let log = vec![line];
    let log = finish(&mut child, &receiver, log);
    assert!(log.contains(&format!("node {victim} lost")), "{log}");
    assert!(!log.contains("running the members here"), "the surviving node ran them: {log}");
    assert_eq!(scores(&stdout.join().unwrap()), scores(&local), "a lost node changed the forecasts");
    std::fs::remove_dir_all(&dir).ok();
}
