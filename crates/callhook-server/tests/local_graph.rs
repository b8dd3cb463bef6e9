//! The simulator playing Graph too: a bot must answer an incoming call through the local Graph
//! within the window, naming a callbackUri, and the call's later notifications go there. Each way a
//! bot can get it wrong fails the scenario.
#![cfg(feature = "dev-tools")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use callhook_model::CommsNotifications;
use callhook_server::devtools::demo::{DEMO_APP_ID, DEMO_TENANT};
use callhook_server::devtools::graph::{self, GraphRecorder};
use callhook_server::devtools::simulate::{
    Audience, ScenarioReport, ScenarioSet, Simulator, Verdict,
};
use serde_json::{Value, json};

/// How a test bot answers.
#[derive(Clone)]
struct Behaviour {
    /// Waits this long after the notification before answering.
    delay: Duration,
    /// The answer's body, with `{callback}` standing for the bot's own `/owner` URL; `None`: never
    /// answers.
    answer: Option<Value>,
}

struct Bot {
    url: String,
    handle: ServerHandle,
    /// The paths of every POST the bot received.
    received: Arc<Mutex<Vec<String>>>,
}

/// A bot that takes every POST with 202 and answers each incoming call through the local Graph
/// as `behaviour` says, with raw HTTP (so that it can send what callhook-graph never would).
async fn start_bot(graph_url: String, behaviour: Behaviour) -> Bot {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let shared = (graph_url, behaviour, url.clone(), Arc::clone(&received));
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let (graph_url, behaviour, own_url, received) = shared.clone();
            async move {
                received.lock().unwrap().push(request.path().to_owned());
                let notifications: CommsNotifications = serde_json::from_slice(&body).unwrap();
                let notification = &notifications.value[0];
                if let (true, Some(answer)) =
                    (notification.is_new_incoming_call(), behaviour.answer)
                {
                    let call_id = notification.call_id().unwrap().to_owned();
                    let answer = serde_json::to_string(&answer)
                        .unwrap()
                        .replace("{callback}", &format!("{own_url}/owner"));
                    actix_web::rt::spawn(async move {
                        tokio::time::sleep(behaviour.delay).await;
                        send_answer(&graph_url, &call_id, answer).await;
                    });
                }
                HttpResponse::Accepted().finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Bot {
        url,
        handle,
        received,
    }
}

async fn send_answer(graph_url: &str, call_id: &str, answer: String) {
    let client = http_client();
    let token = client
        .post(format!("{graph_url}/{DEMO_TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=bot&scope=x&client_secret=s")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: Value = serde_json::from_slice(&token).unwrap();
    let status = client
        .post(format!(
            "{graph_url}/v1.0/communications/calls/{call_id}/answer"
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("content-type", "application/json")
        .body(answer)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}

fn http_client() -> reqwest::Client {
    callhook_http::client_builder().unwrap().build().unwrap()
}

async fn start_graph() -> (String, GraphRecorder, ServerHandle) {
    let graph = graph::start(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let handle = graph.server.handle();
    actix_web::rt::spawn(graph.server);
    (graph.url, graph.recorder, handle)
}

/// Plays the `answered-call` scenario against a bot that behaves so.
async fn play(behaviour: Behaviour) -> (ScenarioReport, Vec<String>, GraphRecorder) {
    let (graph_url, recorder, graph_handle) = start_graph().await;
    let bot = start_bot(graph_url, behaviour).await;
    let simulator = Simulator::new(
        &format!("{}/api/calls", bot.url),
        Audience {
            app_id: DEMO_APP_ID.to_owned(),
            tenant: DEMO_TENANT.to_owned(),
        },
    )
    .unwrap()
    .with_graph(recorder.clone())
    .with_answer_window(Duration::from_millis(800));
    let set = ScenarioSet::builtin().unwrap();
    let scenario = set.select(&["answered-call".to_owned()]).unwrap()[0];
    let report = simulator.run(&set, scenario).await;
    bot.handle.stop(false).await;
    graph_handle.stop(false).await;
    let received = bot.received.lock().unwrap().clone();
    (report, received, recorder)
}

fn failure(report: &ScenarioReport, step: usize) -> String {
    match &report.steps[step].verdict {
        Verdict::Fail(reason) => reason.clone(),
        Verdict::Pass => panic!("step {step} passed: {report:?}"),
    }
}

fn answer_with(callback: Option<&str>) -> Option<Value> {
    let mut answer = json!({
        "acceptedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    });
    if let Some(callback) = callback {
        answer["callbackUri"] = Value::from(callback);
    }
    Some(answer)
}

#[actix_web::test]
async fn a_bot_that_answers_in_time_gets_the_calls_later_notifications_at_its_callback() {
    let (report, received, recorder) = play(Behaviour {
        delay: Duration::ZERO,
        answer: answer_with(Some("{callback}")),
    })
    .await;
    assert_eq!(report.failures(), 0, "{report:?}");
    let graph = report.steps[0].graph.as_ref().unwrap();
    assert_eq!(graph.action, "answer");
    assert!(graph.after.is_some());
    assert!(graph.callback_uri.as_deref().unwrap().ends_with("/owner"));
    // The incoming call at the webhook, the five later notifications at the callbackUri.
    assert_eq!(
        received,
        [
            "/api/calls",
            "/owner",
            "/owner",
            "/owner",
            "/owner",
            "/owner"
        ]
    );
    let answers = recorder.requests();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0].client_request_id.is_none(),
        "the test bot sends none"
    );
    assert_eq!(recorder.tokens_issued(), 1);
}

#[actix_web::test]
async fn an_answer_without_a_callback_uri_fails_and_nothing_is_sent_to_a_callback() {
    let (report, received, _) = play(Behaviour {
        delay: Duration::ZERO,
        answer: answer_with(None),
    })
    .await;
    assert!(
        failure(&report, 0).contains("names no callbackUri"),
        "{report:?}"
    );
    assert!(failure(&report, 1).contains("never answered"), "{report:?}");
    assert_eq!(report.failures(), 6);
    assert_eq!(received, ["/api/calls"]);
}

#[actix_web::test]
async fn a_late_or_missing_answer_fails_the_scenario() {
    let (late, _, _) = play(Behaviour {
        delay: Duration::from_millis(1_500),
        answer: answer_with(Some("{callback}")),
    })
    .await;
    assert!(
        failure(&late, 0).contains("sent no answer through Graph within 0.8 s"),
        "{late:?}"
    );
    assert!(late.steps[0].graph.as_ref().unwrap().after.is_none());

    let (missing, _, _) = play(Behaviour {
        delay: Duration::ZERO,
        answer: None,
    })
    .await;
    assert!(
        failure(&missing, 0).contains("sent no answer"),
        "{missing:?}"
    );
}

#[actix_web::test]
async fn a_callback_uri_the_platform_would_refuse_fails() {
    let (report, received, _) = play(Behaviour {
        delay: Duration::ZERO,
        answer: answer_with(Some("http://bot.example.com/api/calls/0")),
    })
    .await;
    assert!(
        failure(&report, 0).contains("not an https URL"),
        "{report:?}"
    );
    assert_eq!(
        received,
        ["/api/calls"],
        "never posted to a non-loopback http URL"
    );
}

#[actix_web::test]
async fn the_local_graph_refuses_requests_without_its_token_like_graph() {
    let (graph_url, recorder, handle) = start_graph().await;
    let client = http_client();
    for authorization in [None, Some("Bearer forged-token")] {
        let mut request = client.post(format!(
            "{graph_url}/v1.0/communications/calls/2f1f4a00/answer"
        ));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.body("{}").send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("request-id"));
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    }
    let refused = client
        .post(format!("{graph_url}/{DEMO_TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=bot&scope=x")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "no credential, no token");
    assert!(recorder.requests().is_empty());
    assert_eq!(recorder.tokens_issued(), 0);
    handle.stop(false).await;
}
