//! The OpenAPI document: valid OpenAPI 3.1 (checked against the official
//! schema, vendored in tests/data), its parameters where the router takes
//! them, and security declared exactly on the routes that check tokens;
//! then a property-based fuzzing run generated from the document against a
//! real `crowdtwin serve` on 127.0.0.1 port 0: no 5xx, no crash, every 4xx
//! a problem+json body (or the JSON the document declares for that status).

use crate::orders::Random;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CUSTOMER: &str = "fuzz-customer-token-0123456789";
const OPERATOR: &str = "fuzz-operator-token-0123456789";

fn document() -> Value {
    serde_json::to_value(crowdtwin_service::openapi()).unwrap()
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `(method, path, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    all
}

#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    let doc = document();
    let schema: Value = serde_json::from_str(include_str!("../data/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "the document breaks the OpenAPI 3.1 schema: {errors:#?}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    // The schema cannot say these: path parameters match the template, and
    // no query parameter hides as a path one.
    for (method, path, operation) in operations(&doc) {
        let template: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let in_path: BTreeSet<&str> =
            parameters.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(in_path, template, "{method} {path}: path parameters");
        for parameter in &parameters {
            assert!(["path", "query", "header", "cookie"].contains(&parameter["in"].as_str().unwrap()));
            if parameter["in"] == "path" {
                assert_eq!(parameter["required"], true, "{method} {path}");
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
}

/// Security is declared on exactly the operations that refuse a request
/// without a token (asked of the router itself, tokens on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_is_declared_on_every_protected_route_and_only_there() {
    let tokens =
        crowdtwin_service::auth::Tokens::parse(&format!("customer {CUSTOMER}\noperator {OPERATOR}\n")).unwrap();
    let (service, state, _) = crate::orders::service_with_orders("openapi-security", tokens).await;
    for (method, path, operation) in operations(&document()) {
        let uri = path.replace("{id}", "food-court-central");
        let body = if method == "POST" { Some("{}".to_string()) } else { None };
        let (status, _) = crate::orders::call(&state, &method, &uri, None, body).await;
        let declared = operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(status == 401, declared, "{method} {path}: {status} without a token; security declared: {declared}");
    }
    service.stop();
}

/// A `crowdtwin serve` child on 127.0.0.1 port 0 with orders and tokens.
struct Server {
    child: std::process::Child,
    host: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &std::path::Path) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("customer {CUSTOMER} fuzzer\noperator {OPERATOR} ops\n")).unwrap();
    let scenario = dir.join("morning.toml");
    let text = include_str!("../../../../scenarios/gangneung-2018.toml")
        .replace("end = \"25:00\"", "end = \"11:00\"")
        .replace("count = 60000", "count = 2000");
    std::fs::write(&scenario, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(["serve", "--listen", "127.0.0.1:0", "--members", "2", "--forecast-every-s", "600"])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--tokens")
        .arg(&tokens)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("serve prints its address").unwrap();
    let host = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_string();
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, host }
}

/// One request on its own connection: (status, content type, body).
async fn send(
    host: &str,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some(body) = body {
        stream.write_all(body).await.unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map_or(String::new(), |(_, v)| v.trim().to_string());
    let mut body = answer[split + 4..].to_vec();
    if head.lines().any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked")) {
        body = dechunk(&body);
    }
    (status, content_type, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

/// Values the generator mixes in: names the scenario knows, and trouble.
const WORDS: [&str; 14] = [
    "food-court-central",
    "gate-west",
    "bibimbap",
    "hot-coffee",
    "07:30",
    "25:99",
    "",
    "0",
    "-1",
    "99999999999999999999",
    "null",
    "%00",
    "é",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

fn word(random: &mut Random) -> String {
    WORDS[random.below(WORDS.len() as u64) as usize].to_string()
}

/// A value for `schema` (resolving `$ref` in `doc`), sometimes a wrong one.
fn value(doc: &Value, schema: &Value, random: &mut Random, depth: u32) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return value(doc, &doc["components"]["schemas"][name], random, depth);
    }
    if depth > 4 || random.below(12) == 0 {
        // A wrong type now and then.
        return [Value::Null, Value::from(-7), Value::from("x"), Value::Bool(true), serde_json::json!([])]
            [random.below(5) as usize]
            .clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(choices) = schema[key].as_array() {
            return value(doc, &choices[random.below(choices.len() as u64) as usize], random, depth + 1);
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for part in all {
            if let Value::Object(fields) = value(doc, part, random, depth + 1) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(choices) = schema["enum"].as_array() {
        return choices[random.below(choices.len() as u64) as usize].clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds[random.below(kinds.len() as u64) as usize].as_str().unwrap_or("null").to_string(),
        Value::String(kind) => kind.clone(),
        _ => {
            if schema["properties"].is_object() {
                "object".into()
            } else {
                "string".into()
            }
        }
    };
    match kind.as_str() {
        "object" => {
            let mut fields = serde_json::Map::new();
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .map_or(BTreeSet::new(), |r| r.iter().filter_map(|v| v.as_str()).collect());
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    if required.contains(name.as_str()) || random.below(2) == 0 {
                        fields.insert(name.clone(), value(doc, property, random, depth + 1));
                    }
                }
            }
            Value::Object(fields)
        }
        "array" => {
            Value::Array((0..random.below(4)).map(|_| value(doc, &schema["items"], random, depth + 1)).collect())
        }
        "integer" => Value::from([0i64, 1, 2, 5, 30, 10_000, 10_001, -3, i64::MAX][random.below(9) as usize]),
        "number" => Value::from([0.0, 0.5, 1.0, -2.5, 1e300][random.below(5) as usize]),
        "boolean" => Value::Bool(random.below(2) == 0),
        "null" => Value::Null,
        _ => Value::from(word(random)),
    }
}

fn query_value(schema: &Value, random: &mut Random) -> String {
    let text =
        if schema["type"] == "integer" || schema["type"].as_array().is_some_and(|t| t.contains(&"integer".into())) {
            ["1", "5", "0", "-1", "abc", "4294967296"][random.below(6) as usize].to_string()
        } else if let Some(choices) = schema["enum"].as_array() {
            choices[random.below(choices.len() as u64) as usize].as_str().unwrap_or("x").to_string()
        } else {
            word(random)
        };
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Fuzzing from the document: bounded in requests and time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_generated_from_the_openapi_document_never_get_a_5xx_or_a_non_problem_4xx() {
    const REQUESTS: usize = 600;
    const TIME_S: u64 = 60;
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("crowdtwin-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = start_server(&dir);
    let host = server.host.clone();
    let mut ready = false;
    for _ in 0..200 {
        if send(&host, "GET", "/readyz", None, None).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the service never became ready");
    // The document as the service serves it.
    let (status, _, body) = send(&host, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let operations = operations(&doc);
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut sent = 0;
    while sent < REQUESTS && started.elapsed() < Duration::from_secs(TIME_S) {
        let (method, path, operation) = &operations[random.below(operations.len() as u64) as usize];
        let mut target = path.clone();
        let mut query = Vec::new();
        for parameter in operation["parameters"].as_array().cloned().unwrap_or_default() {
            let name = parameter["name"].as_str().unwrap();
            match parameter["in"].as_str().unwrap() {
                "path" => {
                    let text = query_value(&parameter["schema"], &mut random);
                    let text = if text.is_empty() { "x".into() } else { text };
                    target = target.replace(&format!("{{{name}}}"), &text);
                }
                "query" if parameter["required"] == true || random.below(3) != 0 => {
                    query.push(format!("{name}={}", query_value(&parameter["schema"], &mut random)));
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            target = format!("{target}?{}", query.join("&"));
        }
        let body = operation["requestBody"]["content"]["application/json"]["schema"].as_object().map(|schema| {
            let value = value(&doc, &Value::Object(schema.clone()), &mut random, 0);
            let mut bytes = serde_json::to_vec(&value).unwrap();
            if random.below(10) == 0 {
                bytes.truncate(bytes.len() / 2); // not JSON at all
            }
            bytes
        });
        let token = [None, Some(CUSTOMER), Some(OPERATOR), Some("not-a-known-token-at-all")][random.below(4) as usize];
        let (status, content_type, answer) = send(&host, method, &target, token, body.as_deref()).await;
        sent += 1;
        *statuses.entry(status).or_default() += 1;
        let what = format!("{method} {target}: {status} {content_type} {}", String::from_utf8_lossy(&answer));
        assert!((200..500).contains(&status), "{what}");
        if status >= 400 {
            let declared = &operation["responses"][status.to_string()]["content"]["application/json"]["schema"]["$ref"];
            let documented_json = declared.as_str().is_some_and(|r| !r.ends_with("/Problem"));
            if content_type == "application/problem+json" {
                let problem: Value = serde_json::from_slice(&answer).unwrap_or_else(|_| panic!("{what}"));
                assert_eq!(problem["status"], status, "{what}");
                assert!(problem["detail"].is_string(), "{what}");
            } else {
                assert!(documented_json && content_type == "application/json", "{what}");
                serde_json::from_slice::<Value>(&answer).unwrap_or_else(|_| panic!("{what}"));
            }
        }
    }
    assert_eq!(send(&host, "GET", "/healthz", None, None).await.0, 200, "still alive");
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("fuzz: {sent} requests from the OpenAPI document in {elapsed:.1} s, statuses {statuses:?}");
    assert!(sent >= 200, "only {sent} requests in {TIME_S} s");
    assert!(statuses.keys().any(|s| (200..300).contains(s)) && statuses.keys().any(|s| (400..500).contains(s)));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
