//! Orders: the endpoints through the router, auth, no oversell under
//! concurrency (a test with many tasks and a seeded randomized property
//! test against a model), and a crash test that SIGKILLs the real
//! `crowdtwin serve` under load and checks that nothing acknowledged is lost.

use crate::live::morning;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use crowdtwin_client::http_client::Client;
use crowdtwin_live::TwinConfig;
use crowdtwin_live::clock::{Clock, ManualClock};
use crowdtwin_orders::shop::{Catalogue, CatalogueItem, CatalogueShop};
use crowdtwin_orders::{
    OrderBook, OrderBookConfig, OrderLine, OrderReceipt, OrderRequest, OrderStatus, RejectCode, Viewer,
};
use crowdtwin_service::auth::{Role, Tokens};
use crowdtwin_service::{AppState, Service, router};
use crowdtwin_sim::{SimDuration, SimTime};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crowdtwin-orders-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) async fn service_with_orders(name: &str, tokens: Tokens) -> (Service, AppState, Arc<OrderBook>) {
    let scenario = morning(5_000);
    let catalogue = Catalogue::from_scenario(&scenario);
    let config = TwinConfig { members: 2, threads: 1, horizon_min: 10, ..Default::default() };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = Service::start(scenario, config, clock, SimDuration::from_secs(60)).await.unwrap();
    let book = Arc::new(OrderBook::open(&OrderBookConfig { data_dir: data_dir(name) }, catalogue).unwrap());
    let state = service.state.clone().with_orders(book.clone()).with_tokens(tokens);
    (service, state, book)
}

pub(crate) async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(body.map_or(Body::empty(), Body::from)).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

const CUSTOMER: &str = "customer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";

/// A customer ([`CUSTOMER`]) and an operator ([`OPERATOR`]) token.
fn role_tokens() -> Tokens {
    Tokens::parse(&format!("customer {CUSTOMER}\noperator {OPERATOR}\n")).unwrap()
}

fn order(key: &str, shop: &str, lines: &[(&str, u32)]) -> String {
    let items: Vec<_> =
        lines.iter().map(|(item, quantity)| serde_json::json!({"item": item, "quantity": quantity})).collect();
    serde_json::json!({"idempotency_key": key, "shop": shop, "items": items}).to_string()
}

fn stock_of(stock: &serde_json::Value, item: &str) -> u64 {
    stock["items"].as_array().unwrap().iter().find(|i| i["item"] == item).unwrap()["stock"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_endpoints_confirm_reject_replay_cancel_and_restock() {
    let (service, state, book) = service_with_orders("endpoints", Tokens::disabled()).await;
    let shop = "food-court-central";
    let (status, stock) = call(&state, "GET", &format!("/v1/shops/{shop}/stock"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stock_of(&stock, "bibimbap"), 5_000, "the scenario's stock");

    // Confirmed (201), retried (200, same id), key reused for another body (409).
    let body = order("k1", shop, &[("bibimbap", 2), ("hot-coffee", 1)]);
    let (status, first) = call(&state, "POST", "/v1/orders", None, Some(body.clone())).await;
    assert_eq!((status, first["status"].as_str()), (StatusCode::CREATED, Some("confirmed")));
    let (status, again) = call(&state, "POST", "/v1/orders", None, Some(body)).await;
    assert_eq!((status, &again["id"], again["replayed"].as_bool()), (StatusCode::OK, &first["id"], Some(true)));
    let (status, conflict) =
        call(&state, "POST", "/v1/orders", None, Some(order("k1", shop, &[("bibimbap", 3)]))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(conflict["detail"].as_str().unwrap().contains("`k1` was used for another order"), "{conflict}");
    // The same key at a shop of another shard is the same key.
    let (status, _) =
        call(&state, "POST", "/v1/orders", None, Some(order("k1", "food-court-north", &[("hot-coffee", 1)]))).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Rejections with their reasons (422).
    for (body, code, words) in [
        (order("k2", shop, &[("bibimbap", 4_999)]), "out_of_stock", "4998 left, 4999 asked"),
        (order("k3", "atlantis", &[("bibimbap", 1)]), "unknown_shop", "atlantis"),
        (order("k4", shop, &[("sushi", 1)]), "unknown_item", "sushi"),
        (order("k5", shop, &[("bibimbap", 0)]), "bad_quantity", "between 1 and 10000"),
        (order("k6", shop, &[("bibimbap", 1), ("bibimbap", 1)]), "bad_quantity", "listed twice"),
        (order("k7", shop, &[]), "bad_order", "1 to 32 lines"),
        (order("", shop, &[("bibimbap", 1)]), "bad_order", "idempotency_key"),
    ] {
        let (status, receipt) = call(&state, "POST", "/v1/orders", None, Some(body)).await;
        assert_eq!((status, receipt["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{receipt}");
        assert!(receipt["reason"].as_str().unwrap().contains(words), "{receipt}");
    }
    let bad_pickup = serde_json::json!({"idempotency_key": "k8", "shop": shop, "items": [{"item": "gimbap", "quantity": 1}], "pickup_at": "25:99"});
    assert_eq!(
        call(&state, "POST", "/v1/orders", None, Some(bad_pickup.to_string())).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(call(&state, "POST", "/v1/orders", None, Some("{\"shop\":1}".into())).await.0, StatusCode::BAD_REQUEST);

    // The stored order, then a cancel that restocks (twice: no change).
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "{first}");
    let (status, stored) = call(&state, "GET", &format!("/v1/orders/{id}"), None, None).await;
    assert_eq!(
        (status, stored["status"].as_str(), stored["shop"].as_str()),
        (StatusCode::OK, Some("confirmed"), Some(shop))
    );
    assert_eq!(stored["items"][0], serde_json::json!({"item": "bibimbap", "quantity": 2}));
    assert_eq!(
        stock_of(&call(&state, "GET", &format!("/v1/shops/{shop}/stock"), None, None).await.1, "bibimbap"),
        4_998
    );
    for _ in 0..2 {
        let (status, cancelled) = call(&state, "POST", &format!("/v1/orders/{id}/cancel"), None, None).await;
        assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    }
    let (_, stock) = call(&state, "GET", &format!("/v1/shops/{shop}/stock"), None, None).await;
    assert_eq!((stock_of(&stock, "bibimbap"), stock_of(&stock, "hot-coffee")), (5_000, 8_000));
    assert_eq!(call(&state, "GET", "/v1/orders/999999", None, None).await.0, StatusCode::NOT_FOUND);
    let rejected = call(&state, "POST", "/v1/orders", None, Some(order("k2", shop, &[("bibimbap", 4_999)]))).await.1;
    let rejected_id = rejected["id"].as_str().unwrap();
    assert_eq!(
        call(&state, "POST", &format!("/v1/orders/{rejected_id}/cancel"), None, None).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejected order cannot be cancelled"
    );

    // Restock, then the once-rejected size fits; the retry of k2 still gets its recorded answer.
    let restock = serde_json::json!({"items": [{"item": "bibimbap", "quantity": 100}]}).to_string();
    let (status, stock) = call(&state, "POST", &format!("/v1/shops/{shop}/restock"), None, Some(restock)).await;
    assert_eq!((status, stock_of(&stock, "bibimbap")), (StatusCode::OK, 5_100));
    let (_, retry) = call(&state, "POST", "/v1/orders", None, Some(order("k2", shop, &[("bibimbap", 4_999)]))).await;
    assert_eq!((retry["status"].as_str(), retry["replayed"].as_bool()), (Some("rejected"), Some(true)));

    // A batch: receipts in order; too large a batch is refused whole (413).
    let orders: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::from_str(&order(&format!("b{i}"), shop, &[("tteokbokki", 1_500)])).unwrap())
        .collect();
    let (status, batch) =
        call(&state, "POST", "/v1/orders/batch", None, Some(serde_json::json!({"orders": orders}).to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (batch["confirmed"].as_u64(), batch["rejected"].as_u64()),
        (Some(2), Some(1)),
        "4,000 tteokbokki: two of three"
    );
    assert_eq!(batch["receipts"][2]["code"], "out_of_stock");
    let many: Vec<serde_json::Value> =
        (0..10_001).map(|i| serde_json::from_str(&order(&format!("m{i}"), shop, &[("gimbap", 1)])).unwrap()).collect();
    let (status, problem) =
        call(&state, "POST", "/v1/orders/batch", None, Some(serde_json::json!({"orders": many}).to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(problem["detail"].as_str().unwrap().contains("at most 10000"), "{problem}");

    // Confirmed orders reach the twin as order observations.
    let before: Vec<_> = book.confirmed_units().into_iter().map(|(s, i, _)| (s, i, 0)).collect();
    let observations = crowdtwin_orders::feed::observations(&book, &before, &book.confirmed_units(), "07:05", 0);
    let units: u64 = observations
        .iter()
        .map(|o| match o {
            crowdtwin_live::Observation::Order { quantity, .. } => u64::from(*quantity),
            _ => panic!("only order observations"),
        })
        .sum();
    assert_eq!(units, 2 + 1 + 3_000, "k1's lines and the two confirmed tteokbokki orders");
    let report = crowdtwin_service::ingest(&state, observations.clone()).await.unwrap();
    assert_eq!(report.accepted, observations.len());
    // An order with a pickup time reaches the twin at that time.
    let pickup = serde_json::json!({"idempotency_key": "p1", "shop": shop, "items": [{"item": "hot-coffee", "quantity": 4}], "pickup_at": "07:03"});
    assert_eq!(call(&state, "POST", "/v1/orders", None, Some(pickup.to_string())).await.0, StatusCode::CREATED);
    assert!(book.take_pickups_due(7 * 3600 + 2 * 60).is_empty(), "not due at 07:02");
    let due = book.take_pickups_due(7 * 3600 + 3 * 60);
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].0, due[0].3), (7 * 3600 + 3 * 60, 4));
    assert!(book.take_pickups_due(u32::MAX).is_empty(), "taken once");
    let observations = crowdtwin_orders::feed::pickup_observations(&book, &due, 0);
    assert!(matches!(&observations[0], crowdtwin_live::Observation::Order { at, quantity: 4, .. } if at == "07:03"));
    let report = crowdtwin_service::ingest(&state, observations).await.unwrap();
    assert_eq!(report.accepted, 1);

    // The OpenAPI document lists the order endpoints; /metrics counts them.
    let (_, openapi) = call(&state, "GET", "/openapi.json", None, None).await;
    for path in
        ["/v1/orders", "/v1/orders/batch", "/v1/orders/{id}", "/v1/orders/{id}/cancel", "/v1/shops/{id}/restock"]
    {
        assert!(openapi["paths"][path].is_object(), "openapi lacks {path}");
    }
    assert_eq!(openapi["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let request = Request::builder().uri("/metrics").body(Body::empty()).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let metrics = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains("crowdtwin_orders_confirmed_total 4\n"), "k1, b0, b1, p1: {metrics}");
    assert!(metrics.contains("crowdtwin_orders_cancelled_total 1\n"), "{metrics}");

    // A service started without --data says how to enable orders.
    let (status, problem) =
        call(&service.state, "POST", "/v1/orders", None, Some(order("k9", shop, &[("gimbap", 1)]))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(problem["detail"].as_str().unwrap().contains("--data"), "{problem}");
    service.stop();
    drop(state);
    if let Some(book) = Arc::into_inner(book) {
        book.close();
    }
    let _ = std::fs::remove_dir_all(data_dir("endpoints"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_and_operator_endpoints_need_tokens_of_their_role() {
    let (customer, operator) = (CUSTOMER, OPERATOR);
    let (service, state, _) = service_with_orders("auth", role_tokens()).await;
    let body = order("a1", "food-court-central", &[("bibimbap", 1)]);
    assert_eq!(call(&state, "POST", "/v1/orders", None, Some(body.clone())).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&state, "POST", "/v1/orders", Some("wrong-token-0123456789"), Some(body.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, receipt) = call(&state, "POST", "/v1/orders", Some(customer), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        call(&state, "GET", &format!("/v1/orders/{}", receipt["id"].as_str().unwrap()), Some(operator), None).await.0,
        StatusCode::OK,
        "operators may do what customers may"
    );
    let restock = serde_json::json!({"items": [{"item": "bibimbap", "quantity": 1}]}).to_string();
    let uri = "/v1/shops/food-court-central/restock";
    let (status, problem) = call(&state, "POST", uri, Some(customer), Some(restock.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(problem["detail"].as_str().unwrap().contains("operator role"), "{problem}");
    assert_eq!(call(&state, "POST", uri, Some(operator), Some(restock)).await.0, StatusCode::OK);
    let observation = r#"{"type":"place_count","id":"o1","at":"07:00","place":"gate-west","count":3}"#.to_string();
    assert_eq!(
        call(&state, "POST", "/v1/observations", Some(customer), Some(observation.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&state, "POST", "/v1/observations", None, Some(observation.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&state, "POST", "/v1/observations", Some(operator), Some(observation)).await.0, StatusCode::OK);
    assert_eq!(call(&state, "GET", "/v1/forecast", None, None).await.0, StatusCode::OK, "reads stay open");
    service.stop();
    let _ = std::fs::remove_dir_all(data_dir("auth"));
}

const ALICE: &str = "alice-token-0123456789";
const ALICE_PHONE: &str = "alice-phone-token-0123456789";
const BOB: &str = "bob-token-0123456789";

/// Customers alice (two tokens) and bob, and an operator.
fn principal_tokens() -> Tokens {
    Tokens::parse(&format!(
        "customer {ALICE} alice\ncustomer {ALICE_PHONE} alice\ncustomer {BOB} bob\noperator {OPERATOR} ops\n"
    ))
    .unwrap()
}

/// Ownership: customers read and cancel only their principal's orders (404
/// for others', as for an id that names none), operators all; keys are
/// scoped per principal; ids are not guessable (changing one digit names no
/// order, even for the owner); all of it holds after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_belong_to_the_principal_that_placed_them() {
    let name = "ownership";
    let (service, state, book) = service_with_orders(name, principal_tokens()).await;
    let shop = "food-court-central";
    let body = order("same-key", shop, &[("bibimbap", 1)]);
    let (status, alices) = call(&state, "POST", "/v1/orders", Some(ALICE), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{alices}");
    let alice_id = alices["id"].as_str().unwrap().to_string();
    let uri = format!("/v1/orders/{alice_id}");

    // Another customer neither reads nor cancels it.
    let (status, problem) = call(&state, "GET", &uri, Some(BOB), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["status"], 404);
    let (status, _) = call(&state, "POST", &format!("{uri}/cancel"), Some(BOB), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Its owner does, from either of its tokens; so does an operator.
    let (status, stored) = call(&state, "GET", &uri, Some(ALICE_PHONE), None).await;
    assert_eq!((status, stored["principal"].as_str()), (StatusCode::OK, Some("alice")), "{stored}");
    assert_eq!(call(&state, "GET", &uri, Some(OPERATOR), None).await.0, StatusCode::OK);

    // Keys are scoped per principal: bob's `same-key` is a new order, not alice's replayed.
    let (status, bobs) = call(&state, "POST", "/v1/orders", Some(BOB), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{bobs}");
    assert_ne!(bobs["id"], alices["id"]);
    assert_eq!(bobs["replayed"], serde_json::Value::Null);
    let (status, replay) = call(&state, "POST", "/v1/orders", Some(ALICE_PHONE), Some(body.clone())).await;
    assert_eq!((status, &replay["id"]), (StatusCode::OK, &alices["id"]), "alice's retry from her other token");

    // Ids are 32 hex digits whose random half cannot be walked.
    let bob_id = bobs["id"].as_str().unwrap();
    assert!(alice_id.len() == 32 && alice_id.bytes().all(|b| b.is_ascii_hexdigit()), "{alice_id}");
    assert_ne!(alice_id[..16], bob_id[..16], "random halves differ");
    let flipped: String =
        alice_id.char_indices().map(|(i, c)| if i == 3 { if c == '0' { '1' } else { '0' } } else { c }).collect();
    assert_eq!(call(&state, "GET", &format!("/v1/orders/{flipped}"), Some(ALICE), None).await.0, StatusCode::NOT_FOUND);
    for bad in ["0", "abc", "ffffffffffffffffffffffffffffffffff"] {
        let (status, problem) = call(&state, "GET", &format!("/v1/orders/{bad}"), Some(OPERATOR), None).await;
        assert_eq!((status, &problem["status"]), (StatusCode::NOT_FOUND, &serde_json::json!(404)), "{bad}: {problem}");
    }

    // The operator cancels anyone's order.
    let (status, cancelled) = call(&state, "POST", &format!("/v1/orders/{bob_id}/cancel"), Some(OPERATOR), None).await;
    assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")));

    // After a restart: the same ids, owners and scoped keys.
    service.stop();
    drop(state);
    Arc::into_inner(book).unwrap().close();
    let scenario = morning(5_000);
    let catalogue = Catalogue::from_scenario(&scenario);
    let config = TwinConfig { members: 2, threads: 1, horizon_min: 10, ..Default::default() };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(SimTime::ZERO));
    let service = Service::start(scenario, config, clock, SimDuration::from_secs(60)).await.unwrap();
    let dir = std::env::temp_dir().join(format!("crowdtwin-orders-{}-{name}", std::process::id()));
    let book = Arc::new(OrderBook::open(&OrderBookConfig { data_dir: dir.clone() }, catalogue).unwrap());
    let state = service.state.clone().with_orders(book.clone()).with_tokens(principal_tokens());
    assert_eq!(call(&state, "GET", &uri, Some(BOB), None).await.0, StatusCode::NOT_FOUND);
    let (status, stored) = call(&state, "GET", &uri, Some(ALICE), None).await;
    assert_eq!(
        (status, stored["principal"].as_str(), stored["id"].as_str()),
        (StatusCode::OK, Some("alice"), Some(alice_id.as_str()))
    );
    let (status, replay) = call(&state, "POST", "/v1/orders", Some(BOB), Some(body)).await;
    assert_eq!((status, replay["id"].as_str()), (StatusCode::OK, Some(bob_id)), "bob's key is still his");
    service.stop();
    drop(state);
    Arc::into_inner(book).unwrap().close();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_export_the_orders_of_the_running_service_as_parquet() {
    let (customer, operator) = (CUSTOMER, OPERATOR);
    let (service, state, _) = service_with_orders("export", role_tokens()).await;
    let shop = "food-court-central";
    let (_, stock) = call(&state, "GET", &format!("/v1/shops/{shop}/stock"), Some(customer), None).await;
    // e3 asks for one more than is left after e1 and e2: recorded as rejected.
    let short = stock_of(&stock, "bibimbap") as u32 - 3 + 1;
    assert!(short <= 10_000, "{stock}");
    let placed = [
        ("e1", 2, StatusCode::CREATED),
        ("e2", 1, StatusCode::CREATED),
        ("e3", short, StatusCode::UNPROCESSABLE_ENTITY),
    ];
    let mut ids = HashMap::new();
    for (key, quantity, expected) in placed {
        let (status, receipt) =
            call(&state, "POST", "/v1/orders", Some(customer), Some(order(key, shop, &[("bibimbap", quantity)]))).await;
        assert_eq!(status, expected, "{receipt}");
        ids.insert(key, receipt["id"].as_str().unwrap().to_string());
    }
    let cancel = format!("/v1/orders/{}/cancel", ids["e2"]);
    assert_eq!(call(&state, "POST", &cancel, Some(customer), None).await.0, StatusCode::OK);

    let export = |token: &'static str| {
        let request = Request::builder()
            .uri("/v1/orders/export")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        router(state.clone()).oneshot(request)
    };
    assert_eq!(export(customer).await.unwrap().status(), StatusCode::FORBIDDEN);
    let response = export(operator).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/vnd.apache.parquet");
    assert_eq!(response.headers()["x-orders"], "3");
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
    let mut statuses = BTreeMap::new();
    let customer_principal =
        role_tokens().check(Some(&format!("Bearer {customer}")), Role::Customer).unwrap().principal;
    for batch in reader {
        let batch = batch.unwrap();
        let text = |name: &str| {
            batch.column_by_name(name).unwrap().as_any().downcast_ref::<arrow_array::StringArray>().unwrap().clone()
        };
        let (id, principal, key, status) =
            (text("order_id"), text("principal"), text("idempotency_key"), text("status"));
        let quantity =
            batch.column_by_name("quantity").unwrap().as_any().downcast_ref::<arrow_array::UInt32Array>().unwrap();
        for row in 0..batch.num_rows() {
            assert_eq!(principal.value(row), &*customer_principal, "the export says who ordered");
            assert_eq!(id.value(row), ids[key.value(row)], "the export carries the public id");
            statuses.insert(key.value(row).to_string(), (quantity.value(row), status.value(row).to_string()));
        }
    }
    let expected: BTreeMap<String, (u32, String)> =
        [("e1", (2, "confirmed")), ("e2", (1, "cancelled")), ("e3", (short, "rejected"))]
            .into_iter()
            .map(|(k, (q, s))| (k.to_string(), (q, s.to_string())))
            .collect();
    assert_eq!(statuses, expected);
    service.stop();
    let _ = std::fs::remove_dir_all(data_dir("export"));
}

/// One shop, one item with `stock` units.
fn tiny_catalogue(stock: u32) -> Catalogue {
    Catalogue {
        shops: vec![CatalogueShop {
            id: "kiosk".into(),
            items: vec![
                CatalogueItem { id: "pin".into(), initial_stock: stock, price: 1.0 },
                CatalogueItem { id: "cap".into(), initial_stock: stock, price: 1.0 },
            ],
        }],
    }
}

fn request(key: String, lines: &[(&str, u32)]) -> OrderRequest {
    OrderRequest {
        idempotency_key: key,
        shop: "kiosk".into(),
        items: lines.iter().map(|(item, quantity)| OrderLine { item: item.to_string(), quantity: *quantity }).collect(),
        pickup_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_for_the_last_units_never_confirm_more_than_the_stock() {
    let dir = data_dir("last-units");
    let config = OrderBookConfig { data_dir: dir.clone() };
    let book = Arc::new(OrderBook::open(&config, tiny_catalogue(100)).unwrap());
    let mut tasks = Vec::new();
    for task in 0..64 {
        let book = book.clone();
        tasks.push(tokio::spawn(async move {
            let mut taken = 0;
            for n in 0..8 {
                let quantity = 1 + (task + n) % 3;
                let receipts =
                    book.place("tester", vec![request(format!("t{task}-{n}"), &[("pin", quantity)])]).await.unwrap();
                match receipts[0].status {
                    OrderStatus::Confirmed => taken += quantity,
                    OrderStatus::Rejected => assert_eq!(receipts[0].code, Some(RejectCode::OutOfStock)),
                    OrderStatus::Cancelled => unreachable!(),
                }
            }
            taken
        }));
    }
    let mut confirmed = 0;
    for task in tasks {
        confirmed += task.await.unwrap();
    }
    // 512 orders of 1 to 3 units ask for about 1,000 units of 100.
    let left = book.stock("kiosk").unwrap().items[0].stock;
    assert!(confirmed <= 100, "confirmed {confirmed} units of 100");
    assert_eq!(left, 100 - confirmed, "stock = initial - confirmed");
    assert!(left < 3, "the last units went: {left} left");
    Arc::into_inner(book).unwrap().close();
    let reopened = OrderBook::open(&config, tiny_catalogue(100)).unwrap();
    assert_eq!(reopened.stock("kiosk").unwrap().items[0].stock, left, "the same after a restart");
    reopened.close();
    let _ = std::fs::remove_dir_all(dir);
}

/// xorshift64*: a seeded generator for the randomized test.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Property: for any interleaving of concurrent orders (new keys and
/// retries), cancels and restocks, the stock equals initial - confirmed +
/// cancelled + restocked, is never negative, a key names one order, and a
/// restarted book agrees with the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_mix_of_orders_retries_cancels_and_restocks_keeps_the_stock_arithmetic() {
    for case in 0..24u64 {
        let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ (case + 1).wrapping_mul(0x1000_0000_01b3));
        let dir = data_dir(&format!("property-{case}"));
        let config = OrderBookConfig { data_dir: dir.clone() };
        let initial = 5 + random.below(30) as u32;
        let book = Arc::new(OrderBook::open(&config, tiny_catalogue(initial)).unwrap());
        let mut sent: HashMap<String, OrderRequest> = HashMap::new();
        let mut receipts: HashMap<String, OrderReceipt> = HashMap::new();
        let mut restocked = [0u64; 2];
        for _round in 0..4 {
            // Concurrent batches, some keys retried.
            let mut tasks = Vec::new();
            for _ in 0..1 + random.below(6) {
                let mut batch = Vec::new();
                for _ in 0..1 + random.below(5) {
                    let key = format!("key-{}", random.below(40));
                    let body = sent.entry(key.clone()).or_insert_with(|| {
                        let mut lines = vec![("pin", 1 + random.below(4) as u32)];
                        if random.below(2) == 0 {
                            lines.push(("cap", 1 + random.below(4) as u32));
                        }
                        request(key.clone(), &lines)
                    });
                    batch.push(body.clone());
                }
                let book = book.clone();
                tasks.push(tokio::spawn(async move { book.place("tester", batch).await.unwrap() }));
            }
            for task in tasks {
                for receipt in task.await.unwrap() {
                    assert_ne!(receipt.code, Some(RejectCode::KeyConflict), "same key, same body");
                    if let Some(earlier) = receipts.get(&receipt.idempotency_key) {
                        assert_eq!(earlier.id, receipt.id, "a key names one order");
                    }
                    receipts.insert(receipt.idempotency_key.clone(), receipt);
                }
            }
            // A cancel and a restock now and then.
            let mut confirmed: Vec<&str> = receipts
                .values()
                .filter(|r| r.status == OrderStatus::Confirmed)
                .filter_map(|r| r.id.as_deref())
                .collect();
            confirmed.sort_unstable();
            if !confirmed.is_empty() && random.below(2) == 0 {
                let id = confirmed[random.below(confirmed.len() as u64) as usize];
                assert_eq!(book.cancel(id, Viewer::Everyone).await.unwrap().status, OrderStatus::Cancelled);
            }
            if random.below(3) == 0 {
                let item = random.below(2) as usize;
                let units = 1 + random.below(5) as u32;
                book.restock("kiosk", &[OrderLine { item: ["pin", "cap"][item].into(), quantity: units }])
                    .await
                    .unwrap();
                restocked[item] += u64::from(units);
            }
        }
        // The model: what confirmed orders still hold.
        let mut held: BTreeMap<&str, u64> = BTreeMap::new();
        for (key, body) in &sent {
            let receipt = &receipts[key];
            let stored = book.get(receipt.id.as_deref().unwrap(), Viewer::Everyone).await.unwrap();
            assert_eq!(stored.idempotency_key, *key);
            if stored.status == OrderStatus::Confirmed {
                for line in &body.items {
                    *held.entry(if line.item == "pin" { "pin" } else { "cap" }).or_default() +=
                        u64::from(line.quantity);
                }
            }
        }
        let stock = book.stock("kiosk").unwrap();
        for (index, item) in ["pin", "cap"].iter().enumerate() {
            let expected = u64::from(initial) + restocked[index] - held.get(item).copied().unwrap_or(0);
            assert_eq!(u64::from(stock.items[index].stock), expected, "case {case}: {item}");
        }
        Arc::into_inner(book).unwrap().close();
        let reopened = OrderBook::open(&config, tiny_catalogue(initial)).unwrap();
        assert_eq!(reopened.stock("kiosk").unwrap(), stock, "case {case}: the same after a restart");
        reopened.close();
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_store_made_for_other_shops_is_refused() {
    let dir = data_dir("other-catalogue");
    let config = OrderBookConfig { data_dir: dir.clone() };
    OrderBook::open(&config, tiny_catalogue(5)).unwrap().close();
    let mut other = tiny_catalogue(5);
    other.shops[0].items[1].id = "hat".into();
    let error = OrderBook::open(&config, other).err().unwrap().to_string();
    assert!(error.contains("other shops or items"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A `crowdtwin serve` child process with orders, on 127.0.0.1 port 0.
struct Server {
    child: std::process::Child,
    host: String,
}

impl Server {
    fn start(scenario: &std::path::Path, data: &std::path::Path) -> Server {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
            .args(["serve", "--listen", "127.0.0.1:0", "--members", "1", "--forecast-every-s", "3600"])
            .arg("--scenario")
            .arg(scenario)
            .arg("--data")
            .arg(data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("serve prints its address").unwrap();
        let host = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        // Keep reading so the child never writes to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, host }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

/// What the crash test's clients know.
#[derive(Default)]
struct Ledger {
    /// Every order sent: key -> (shop, item, quantity).
    sent: HashMap<String, (String, String, u32)>,
    /// Acknowledged orders: key -> (id, status).
    acknowledged: HashMap<String, (String, OrderStatus)>,
    /// Acknowledged cancels.
    cancelled: std::collections::HashSet<String>,
    /// Cancels sent without an answer.
    cancels_pending: Vec<String>,
}

fn order_body(key: &str, shop: &str, item: &str, quantity: u32) -> serde_json::Value {
    serde_json::json!({"idempotency_key": key, "shop": shop, "items": [{"item": item, "quantity": quantity}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_order_and_retries_never_double_one() {
    const KILLS: usize = 4;
    const CLIENTS: usize = 6;
    let started = std::time::Instant::now();
    let dir = data_dir("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario_path = dir.join("morning.toml");
    let text = include_str!("../../../../scenarios/gangneung-2018.toml")
        .replace("end = \"25:00\"", "end = \"11:00\"")
        .replace("count = 60000", "count = 2000");
    std::fs::write(&scenario_path, text).unwrap();
    let data = dir.join("data");
    let catalogue = Catalogue::from_scenario(&morning(2_000));
    // Small quantities on few items so that some run out during the test.
    let pairs: Arc<Vec<(String, String, u32)>> = Arc::new(
        catalogue
            .shops
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s.id.clone(), i.id.clone(), i.initial_stock)))
            .take(6)
            .collect(),
    );
    let mut server = Server::start(&scenario_path, &data);
    let host = Arc::new(std::sync::RwLock::new(server.host.clone()));
    let ledger = Arc::new(std::sync::Mutex::new(Ledger::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for client_index in 0..CLIENTS {
        let (host, ledger, stop, pairs) = (host.clone(), ledger.clone(), stop.clone(), pairs.clone());
        clients.push(tokio::spawn(async move {
            let mut random = Random(0x517c_c1b7_2722_0a95 ^ (client_index as u64 + 1));
            let mut client: Option<Client> = None;
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if client.is_none() {
                    let target = host.read().unwrap().clone();
                    match Client::connect(&target).await {
                        Ok(c) => client = Some(c),
                        Err(_) => {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            continue;
                        }
                    }
                }
                let connection = client.as_mut().unwrap();
                let roll = random.below(100);
                let cancel = if roll < 10 {
                    let ledger = ledger.lock().unwrap();
                    let mut confirmed: Vec<&String> = ledger
                        .acknowledged
                        .values()
                        .filter(|(_, s)| *s == OrderStatus::Confirmed)
                        .map(|(id, _)| id)
                        .collect();
                    confirmed.sort_unstable();
                    (!confirmed.is_empty()).then(|| confirmed[random.below(confirmed.len() as u64) as usize].clone())
                } else {
                    None
                };
                if let Some(id) = cancel {
                    ledger.lock().unwrap().cancels_pending.push(id.clone());
                    match connection.request("POST", &format!("/v1/orders/{id}/cancel"), None).await {
                        Ok((200, _)) => {
                            let mut ledger = ledger.lock().unwrap();
                            ledger.cancels_pending.retain(|p| *p != id);
                            ledger.cancelled.insert(id);
                        }
                        Ok((status, body)) => panic!("cancel {id}: {status} {}", String::from_utf8_lossy(&body)),
                        Err(_) => client = None,
                    }
                    continue;
                }
                // New orders, one by one or five in a batch.
                let count = if roll < 30 { 5 } else { 1 };
                let mut bodies = Vec::new();
                {
                    let mut ledger = ledger.lock().unwrap();
                    for _ in 0..count {
                        let key = format!("c{client_index}-{n}");
                        n += 1;
                        let (shop, item, _) = &pairs[random.below(pairs.len() as u64) as usize];
                        let quantity = 1 + random.below(8) as u32;
                        ledger.sent.insert(key.clone(), (shop.clone(), item.clone(), quantity));
                        bodies.push(order_body(&key, shop, item, quantity));
                    }
                }
                let answer = if count == 1 {
                    connection.request("POST", "/v1/orders", Some(bodies[0].to_string().as_bytes())).await.map(
                        |(status, body)| {
                            assert!([200, 201, 422].contains(&status), "{status} {}", String::from_utf8_lossy(&body));
                            vec![serde_json::from_slice::<OrderReceipt>(&body).unwrap()]
                        },
                    )
                } else {
                    let batch = serde_json::json!({"orders": bodies}).to_string();
                    connection.request("POST", "/v1/orders/batch", Some(batch.as_bytes())).await.map(
                        |(status, body)| {
                            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                            serde_json::from_slice::<crowdtwin_wire::BatchReceipt>(&body).unwrap().receipts
                        },
                    )
                };
                match answer {
                    Ok(receipts) => {
                        let mut ledger = ledger.lock().unwrap();
                        for receipt in receipts {
                            let id = receipt.id.expect("every order here reaches the book");
                            ledger.acknowledged.insert(receipt.idempotency_key, (id, receipt.status));
                        }
                    }
                    Err(_) => client = None,
                }
            }
        }));
    }
    for _ in 0..KILLS {
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        server.kill();
        server = Server::start(&scenario_path, &data);
        *host.write().unwrap() = server.host.clone();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    // After the last restart: retry what got no answer (same key and body), then check.
    let mut ledger = Arc::into_inner(ledger).unwrap().into_inner().unwrap();
    let mut client = Client::connect(&server.host).await.unwrap();
    let unanswered: Vec<String> =
        ledger.sent.keys().filter(|k| !ledger.acknowledged.contains_key(*k)).cloned().collect();
    for key in &unanswered {
        let (shop, item, quantity) = &ledger.sent[key];
        let body = order_body(key, shop, item, *quantity).to_string();
        let (status, body) = client.request("POST", "/v1/orders", Some(body.as_bytes())).await.unwrap();
        assert!([200, 201, 422].contains(&status), "retry of {key}: {status} {}", String::from_utf8_lossy(&body));
        let receipt: OrderReceipt = serde_json::from_slice(&body).unwrap();
        ledger.acknowledged.insert(key.clone(), (receipt.id.unwrap(), receipt.status));
    }
    for id in std::mem::take(&mut ledger.cancels_pending) {
        let (status, _) = client.request("POST", &format!("/v1/orders/{id}/cancel"), None).await.unwrap();
        assert_eq!(status, 200);
        ledger.cancelled.insert(id);
    }
    let acknowledged_before_retries = ledger.acknowledged.len() - unanswered.len();
    assert!(acknowledged_before_retries > 200, "the load placed only {acknowledged_before_retries} orders");
    let mut held: HashMap<(String, String), u64> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for (key, (id, status)) in &ledger.acknowledged {
        let (id, status) = (id.clone(), *status);
        assert!(ids.insert(id.clone()), "two keys share order {id}");
        let (status_now, body) = client.request("GET", &format!("/v1/orders/{id}"), None).await.unwrap();
        assert_eq!(status_now, 200, "acknowledged order {id} ({key}) is lost");
        let stored: crowdtwin_orders::Order = serde_json::from_slice(&body).unwrap();
        assert_eq!(&stored.idempotency_key, key);
        let expected = if ledger.cancelled.contains(&id) { OrderStatus::Cancelled } else { status };
        assert_eq!(stored.status, expected, "order {id}");
        if expected == OrderStatus::Confirmed {
            let (shop, item, quantity) = &ledger.sent[key];
            *held.entry((shop.clone(), item.clone())).or_default() += u64::from(*quantity);
        }
        // An idempotent retry answers the same order.
        let (shop, item, quantity) = &ledger.sent[key];
        let retry = order_body(key, shop, item, *quantity).to_string();
        let (_, body) = client.request("POST", "/v1/orders", Some(retry.as_bytes())).await.unwrap();
        let receipt: OrderReceipt = serde_json::from_slice(&body).unwrap();
        assert_eq!((receipt.id, receipt.replayed), (Some(id), true), "retry of {key}");
    }
    let rejected = ledger.acknowledged.values().filter(|(_, s)| *s == OrderStatus::Rejected).count();
    for (shop, item, initial) in pairs.iter() {
        let (_, body) = client.request("GET", &format!("/v1/shops/{shop}/stock"), None).await.unwrap();
        let stock: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let held = held.get(&(shop.clone(), item.clone())).copied().unwrap_or(0);
        assert_eq!(
            stock_of(&stock, item),
            u64::from(*initial) - held,
            "{shop}/{item}: initial - confirmed + cancelled"
        );
    }
    server.kill();

    // The export holds each order once.
    let out = dir.join("orders.parquet");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(["orders", "export", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let mut exported = HashMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let id = batch.column_by_name("order_id").unwrap().as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let key = batch
            .column_by_name("idempotency_key")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        for row in 0..batch.num_rows() {
            assert!(
                exported.insert(key.value(row).to_string(), id.value(row).to_string()).is_none(),
                "key exported twice"
            );
        }
    }
    let known: HashMap<String, String> =
        ledger.acknowledged.iter().map(|(k, (id, _))| (k.clone(), id.clone())).collect();
    assert_eq!(exported, known, "the store holds exactly the orders the clients know, once each");
    eprintln!(
        "crash test: {} orders ({} rejected, {} cancelled, {} retried after a kill), {KILLS} kills, {:.1} s",
        known.len(),
        rejected,
        ledger.cancelled.len(),
        unanswered.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the crash test stays under a minute");
    let _ = std::fs::remove_dir_all(dir);
}
