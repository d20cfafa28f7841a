//! A reflection-driven fuzz pass over the real `shop-api` binary's gRPC port: the services and
//! their message types come from server reflection (nothing here is compiled from the protos),
//! and EVERY method of `shop.v1` gets generated requests, valid and not (see `generate.rs`),
//! anonymously, with a wrong token, as a customer and as an administrator. Whatever it is sent,
//! the server must never answer INTERNAL or UNKNOWN, must answer only the codes the method's
//! proto comment documents (its `Errors:` line and its service's), and what it answers OK must
//! decode as the method's response type.
//!
//! Deterministic: one seeded generator (`SEED`); a few hundred calls in all.

#[path = "../common/mod.rs"]
mod common;
mod generate;
mod wire;

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use prost_reflect::{DynamicMessage, MethodDescriptor};
use rand::{SeedableRng as _, rngs::StdRng};
use shop_api::grpc::pb::{
    self, cart_service_client::CartServiceClient, order_service_client::OrderServiceClient,
    product_service_client::ProductServiceClient, user_service_client::UserServiceClient,
};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

use crate::{
    common::{Server, run, shop_api},
    generate::{KnownIds, Style},
};

const SEED: u64 = 0x5140_0014;
/// Generated messages per method and caller.
const MESSAGES_PER_CALLER: usize = 6;
/// The whole pass must stay quick; one call that hangs is a failure of its own.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const ADMIN_EMAIL: &str = "fuzz-admin@example.com";
const PASSWORD: &str = "fuzzing is fun and long enough";

/// Who makes a call.
#[derive(Debug, Clone)]
enum Caller {
    Anonymous,
    /// A bearer token that no session has.
    WrongToken,
    Customer(String),
    Admin(String),
}

impl Caller {
    fn name(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::WrongToken => "wrong token",
            Self::Customer(_) => "customer",
            Self::Admin(_) => "admin",
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::WrongToken => Some("not-a-session-token"),
            Self::Customer(token) | Self::Admin(token) => Some(token),
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(CALL_TIMEOUT);
        if let Some(token) = self.token() {
            request.metadata_mut().insert(
                "authorization",
                MetadataValue::try_from(format!("Bearer {token}")).expect("a metadata value"),
            );
        }
        request
    }
}

/// Every answer, for the tally and the assertions.
#[derive(Default)]
struct Tally {
    /// Per method, per code: how many calls.
    codes: BTreeMap<String, BTreeMap<&'static str, usize>>,
    failures: Vec<String>,
}

impl Tally {
    /// Counts `outcome`; `allowed` holds the answers the call may get (OK among them when the
    /// call may succeed).
    fn record(
        &mut self,
        method: &MethodDescriptor,
        allowed: &HashSet<Code>,
        what: &str,
        outcome: wire::Outcome,
    ) {
        let code = outcome.code;
        *self
            .codes
            .entry(method.full_name().to_owned())
            .or_default()
            .entry(shop_api::grpc::error::code_name(code))
            .or_default() += 1;
        let problem = if matches!(code, Code::Internal | Code::Unknown) {
            Some("a server failure")
        } else if !allowed.contains(&code) {
            Some("an answer this call may not get (see the proto comments)")
        } else if code == Code::Ok
            && let Some(body) = &outcome.body
            && DynamicMessage::decode(method.output(), body.as_slice()).is_err()
        {
            Some("an answer that is not the response type")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.failures.push(format!(
                "{} ({what}): {problem}: {code:?} {:?}",
                method.full_name(),
                outcome.message
            ));
        }
    }
}

#[tokio::test]
async fn every_method_survives_generated_requests() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // The first administrator, made with the operator's tool before the server starts.
    let created = run(
        shop_api(
            dir.path(),
            &[],
            &["user", "create", "--email", ADMIN_EMAIL, "--admin"],
        ),
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert_eq!(created.code, Some(0), "{}", created.transcript());
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
            ("SHOP_GRPC_ADDR", "127.0.0.1:0"),
            // Hundreds of calls from one address: the rate limit would answer most of them.
            ("SHOP_RATE_LIMIT_PER_MINUTE", "0"),
        ],
        &["serve"],
    ))
    .await;
    let address = server
        .banner_value("grpc listening on ")
        .expect("the gRPC address is announced")
        .to_owned();
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connect to the gRPC port");

    let pool = wire::descriptors(channel.clone()).await;
    let services: Vec<_> = pool
        .services()
        .filter(|service| service.package_name() == "shop.v1")
        .collect();
    assert_eq!(
        services.len(),
        4,
        "reflection lists the shop's four services"
    );

    let (callers, known) = fixtures(channel.clone()).await;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut tally = Tally::default();
    let mut methods = 0;
    for service in &services {
        let service_codes =
            wire::documented_codes(service.parent_file_descriptor_proto(), service.path());
        for method in service.methods() {
            methods += 1;
            let mut allowed =
                wire::documented_codes(service.parent_file_descriptor_proto(), method.path());
            assert!(
                !allowed.is_empty(),
                "{}: its proto comment documents no `Errors:`",
                method.full_name()
            );
            allowed.extend(&service_codes);
            allowed.insert(Code::Ok);
            for caller in &callers {
                for round in 0..MESSAGES_PER_CALLER {
                    let style = if round % 2 == 0 {
                        Style::Plausible
                    } else {
                        Style::Hostile
                    };
                    let body = generate::message(&mut rng, &method.input(), &known, style);
                    let outcome = wire::call(&channel, &method, caller.request(vec![body])).await;
                    tally.record(&method, &allowed, caller.name(), outcome);
                }
            }
            // Malformed bodies are refused before anyone looks at the caller.
            let customer = &callers[2];
            let invalid_only = HashSet::from([Code::InvalidArgument]);
            for case in generate::malformed(&mut rng, &method.input(), &known) {
                let request = customer.request(vec![case.body]);
                let outcome = wire::call(&channel, &method, request).await;
                let allowed = if case.invalid {
                    &invalid_only
                } else {
                    &allowed
                };
                tally.record(&method, allowed, case.label, outcome);
            }
            // Framing: a unary call with no message, or with two.
            let outcome = wire::call(&channel, &method, customer.request(Vec::new())).await;
            tally.record(&method, &invalid_only, "no message at all", outcome);
            let two = customer.request(vec![Vec::new(), Vec::new()]);
            let outcome = wire::call(&channel, &method, two).await;
            tally.record(&method, &allowed, "two messages", outcome);
        }
    }
    // One message over the 4 MiB limit, once: tonic refuses it by its length prefix.
    let method = services[1].methods().next().expect("a method");
    let huge = vec![b'x'; 5 * 1024 * 1024];
    let mut body = vec![(1 << 3) | 2];
    body.extend(generate::varint(huge.len() as u64));
    body.extend(huge);
    let outcome = wire::call(&channel, &method, callers[2].request(vec![body])).await;
    let allowed = HashSet::from([Code::OutOfRange, Code::ResourceExhausted]);
    tally.record(&method, &allowed, "a message over the size limit", outcome);

    report(&tally, methods);
    assert!(
        tally.failures.is_empty(),
        "{} bad answers:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    let stopped = server.terminate().await;
    assert!(
        !stopped.stderr.contains("panicked"),
        "{}",
        stopped.transcript()
    );
}

/// Counts per method and code, printed for the record (`--no-capture` shows them).
fn report(tally: &Tally, methods: usize) {
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for (method, codes) in &tally.codes {
        let line: Vec<String> = codes
            .iter()
            .map(|(code, count)| {
                *totals.entry(code).or_default() += count;
                format!("{code} {count}")
            })
            .collect();
        println!("{method}: {}", line.join(", "));
    }
    let calls: usize = totals.values().sum();
    println!("{calls} calls to {methods} methods: {totals:?}");
}

/// A customer and an administrator signed in, and ids the server knows: both users, a product,
/// the customer's order.
async fn fixtures(channel: Channel) -> ([Caller; 4], KnownIds) {
    let mut users = UserServiceClient::new(channel.clone());
    let login = |email: &str| pb::LoginRequest {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let admin = users
        .login(login(ADMIN_EMAIL))
        .await
        .expect("the admin signs in")
        .into_inner();
    let email = "fuzz-customer@example.com";
    users
        .create_user(pb::CreateUserRequest {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            full_name: "Fuzz Customer".to_owned(),
            role: pb::Role::Unspecified.into(),
        })
        .await
        .expect("CreateUser");
    let customer = users
        .login(login(email))
        .await
        .expect("the customer signs in")
        .into_inner();
    let callers = [
        Caller::Anonymous,
        Caller::WrongToken,
        Caller::Customer(customer.access_token.clone()),
        Caller::Admin(admin.access_token.clone()),
    ];
    let product = ProductServiceClient::new(channel.clone())
        .create_product(callers[3].request(pb::CreateProductRequest {
            sku: "FUZZ-FIXTURE".to_owned(),
            name: "Fuzz fixture".to_owned(),
            price: Some(pb::Money {
                amount_minor: 1999,
                currency: "USD".to_owned(),
            }),
            stock: Some(1000),
            ..Default::default()
        }))
        .await
        .expect("CreateProduct")
        .into_inner()
        .product
        .expect("the product");
    CartServiceClient::new(channel.clone())
        .add_cart_item(callers[2].request(pb::AddCartItemRequest {
            product_id: product.id.clone(),
            quantity: 1,
        }))
        .await
        .expect("AddCartItem");
    let order = OrderServiceClient::new(channel)
        .create_order(callers[2].request(pb::CreateOrderRequest {
            idempotency_key: "fuzz-fixture".to_owned(),
            ..Default::default()
        }))
        .await
        .expect("CreateOrder")
        .into_inner()
        .order
        .expect("the order");
    let ids = [
        admin.user.map(|user| user.id),
        customer.user.map(|user| user.id),
        Some(product.id),
        Some(order.id),
    ];
    (
        callers,
        KnownIds {
            ids: ids.into_iter().flatten().collect(),
        },
    )
}
