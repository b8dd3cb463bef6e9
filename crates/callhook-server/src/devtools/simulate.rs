//! `callhook simulate`: plays the calling platform against any webhook, callhook's or another bot's.
//!
//! Scenarios and payloads are files (`crates/callhook-server/scenarios/`, built in; or a folder given
//! with `--scenarios`). Each step is posted like the platform does it: a bearer token of the development
//! issuer, the platform's headers, a fresh `X-Microsoft-Skype-Message-ID`; a `302` is followed to its
//! `Location` when the step says so. Every exchange is reported with a verdict.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use callhook_auth::UnixTime;
use callhook_auth::testing::DevIssuer;
use callhook_protocol::headers;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use super::graph::GraphRecorder;
use super::output::Printer;

/// How many redirects one step follows at most, like a careful platform.
const MAXIMUM_REDIRECTS: usize = 3;

/// The built-in scenario definitions.
const BUILTIN_SCENARIOS: &str = include_str!("../../scenarios/scenarios.toml");

/// The built-in payloads, by file name.
const BUILTIN_PAYLOADS: [(&str, &str); 12] = [
    (
        "legacy-conversation.json",
        include_str!("../../scenarios/legacy-conversation.json"),
    ),
    (
        "incoming-call.json",
        include_str!("../../scenarios/incoming-call.json"),
    ),
    (
        "established.json",
        include_str!("../../scenarios/established.json"),
    ),
    ("roster.json", include_str!("../../scenarios/roster.json")),
    ("dtmf.json", include_str!("../../scenarios/dtmf.json")),
    (
        "prompt-completed.json",
        include_str!("../../scenarios/prompt-completed.json"),
    ),
    (
        "terminated.json",
        include_str!("../../scenarios/terminated.json"),
    ),
    (
        "call-establishing.json",
        include_str!("../../scenarios/call-establishing.json"),
    ),
    (
        "call-established.json",
        include_str!("../../scenarios/call-established.json"),
    ),
    (
        "call-dtmf-pound.json",
        include_str!("../../scenarios/call-dtmf-pound.json"),
    ),
    (
        "call-prompt-completed.json",
        include_str!("../../scenarios/call-prompt-completed.json"),
    ),
    (
        "call-terminated.json",
        include_str!("../../scenarios/call-terminated.json"),
    ),
];

/// A file of scenarios.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// A named sequence of steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The name to select it with `--scenario`.
    pub name: String,
    /// One line saying what it shows.
    pub description: String,
    /// Whether `callhook simulate` runs it when no `--scenario` is given (a scenario that needs a
    /// particular configuration of the webhook, such as region routing, says `false`).
    #[serde(default = "default_true")]
    pub run_by_default: bool,
    /// The POSTs, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

fn default_true() -> bool {
    true
}

/// One POST of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The payload's file name.
    pub payload: String,
    /// The status the webhook must answer.
    pub expect: u16,
    /// Which token to send.
    #[serde(default)]
    pub token: TokenKind,
    /// Sent as `X-Microsoft-Skype-Caller-Region`.
    pub caller_region: Option<String>,
    /// When the answer is a redirect, follow it and expect this status there.
    pub follow: Option<u16>,
    /// Appended to the target URL.
    pub path: Option<String>,
    /// What the step shows.
    pub note: Option<String>,
    /// Where the step posts: the target (default), or the `callbackUri` the bot named when it
    /// answered the call in an earlier step.
    #[serde(default)]
    pub to: StepTarget,
    /// A call action (`answer`, `playPrompt`, `hangUp`, ...) the bot must then send through the
    /// local Graph for the payload's call, within the answer window of the POST.
    pub graph: Option<String>,
}

/// Where a step posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepTarget {
    /// The webhook URL the simulator was given (with the step's `path`).
    #[default]
    Target,
    /// The `callbackUri` of the bot's answer.
    Callback,
}

impl Step {
    /// Whether the step needs the local Graph.
    pub fn needs_graph(&self) -> bool {
        self.graph.is_some() || self.to == StepTarget::Callback
    }
}

/// The token a step sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// A token the platform would send.
    #[default]
    Valid,
    /// Signed by a key that was never published, under the published key's id.
    Forged,
    /// Expired an hour ago.
    Expired,
    /// Issued for another bot.
    WrongAudience,
    /// No `Authorization` header at all.
    None,
}

/// Why scenarios could not be loaded or selected.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file or a payload could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The scenario file is not valid.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the key.
        problem: String,
    },
    /// A step names a payload that is not there.
    #[error("scenario `{scenario}`, step {step}: no payload `{payload}`")]
    MissingPayload {
        /// The scenario.
        scenario: String,
        /// The step, from 1.
        step: usize,
        /// The payload's file name.
        payload: String,
    },
    /// `--scenario` named a scenario that does not exist.
    #[error("no scenario `{name}`; known: {known}")]
    UnknownScenario {
        /// The name given.
        name: String,
        /// The names there are.
        known: String,
    },
}

/// Scenarios with their payloads.
#[derive(Debug, Clone)]
pub struct ScenarioSet {
    scenarios: Vec<Scenario>,
    payloads: BTreeMap<String, Vec<u8>>,
}

impl ScenarioSet {
    /// The scenarios shipped with callhook.
    pub fn builtin() -> Result<Self, ScenarioError> {
        let payloads = BUILTIN_PAYLOADS
            .iter()
            .map(|(name, text)| ((*name).to_owned(), text.as_bytes().to_vec()))
            .collect();
        Self::from_parts(BUILTIN_SCENARIOS, "scenarios.toml (built in)", payloads)
    }

    /// The scenarios of `dir/scenarios.toml`, with the payload files of `dir` they name.
    pub fn from_dir(dir: &Path) -> Result<Self, ScenarioError> {
        let file = dir.join("scenarios.toml");
        let text = std::fs::read_to_string(&file).map_err(|error| ScenarioError::Read {
            path: file.display().to_string(),
            error,
        })?;
        let parsed = parse_scenarios(&text, &file.display().to_string())?;
        let mut payloads = BTreeMap::new();
        for scenario in &parsed {
            for step in &scenario.steps {
                if payloads.contains_key(&step.payload) {
                    continue;
                }
                // Payload names are file names inside `dir`, never paths elsewhere.
                if step.payload.contains(['/', '\\']) || step.payload.starts_with('.') {
                    return Err(ScenarioError::Invalid {
                        path: file.display().to_string(),
                        problem: format!(
                            "scenario `{}`: payload `{}` must be a file name in the same folder",
                            scenario.name, step.payload
                        ),
                    });
                }
                let path = dir.join(&step.payload);
                let bytes = std::fs::read(&path).map_err(|error| ScenarioError::Read {
                    path: path.display().to_string(),
                    error,
                })?;
                payloads.insert(step.payload.clone(), bytes);
            }
        }
        Self::checked(parsed, payloads)
    }

    fn from_parts(
        text: &str,
        path: &str,
        payloads: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, ScenarioError> {
        Self::checked(parse_scenarios(text, path)?, payloads)
    }

    fn checked(
        scenarios: Vec<Scenario>,
        payloads: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, ScenarioError> {
        for scenario in &scenarios {
            for (index, step) in scenario.steps.iter().enumerate() {
                if !payloads.contains_key(&step.payload) {
                    return Err(ScenarioError::MissingPayload {
                        scenario: scenario.name.clone(),
                        step: index + 1,
                        payload: step.payload.clone(),
                    });
                }
            }
        }
        Ok(Self {
            scenarios,
            payloads,
        })
    }

    /// Every scenario.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The scenarios named in `names`, in that order; all those run by default when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Scenario>, ScenarioError> {
        if names.is_empty() {
            return Ok(self
                .scenarios
                .iter()
                .filter(|scenario| scenario.run_by_default)
                .collect());
        }
        names
            .iter()
            .map(|name| {
                self.scenarios
                    .iter()
                    .find(|scenario| &scenario.name == name)
                    .ok_or_else(|| ScenarioError::UnknownScenario {
                        name: name.clone(),
                        known: self
                            .scenarios
                            .iter()
                            .map(|scenario| scenario.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }

    fn payload(&self, name: &str) -> &[u8] {
        self.payloads.get(name).map_or(&[], Vec::as_slice)
    }
}

fn parse_scenarios(text: &str, path: &str) -> Result<Vec<Scenario>, ScenarioError> {
    let file: ScenarioFile =
        Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(|error| ScenarioError::Invalid {
                path: path.to_owned(),
                problem: error
                    .into_iter()
                    .map(|error| {
                        let key = error.path.join(".");
                        if key.is_empty() {
                            error.kind.to_string()
                        } else {
                            format!("{key}: {}", error.kind)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
    Ok(file.scenario)
}

/// One HTTP exchange of a step.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The URL posted to.
    pub url: String,
    /// The status, or `None` when no answer came.
    pub status: Option<u16>,
    /// The time from sending to the answer.
    pub elapsed: Duration,
    /// The transport error, when no answer came.
    pub error: Option<String>,
}

/// The verdict of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The webhook answered as the platform expects.
    Pass,
    /// It did not: why.
    Fail(String),
}

/// What happened in one step.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The step's note.
    pub note: String,
    /// The POST and any redirects followed.
    pub exchanges: Vec<Exchange>,
    /// The call action the bot sent through the local Graph, when the step waits for one.
    pub graph: Option<GraphCheck>,
    /// Whether it answered as expected.
    pub verdict: Verdict,
}

/// The call action a step waited for at the local Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCheck {
    /// The action waited for.
    pub action: String,
    /// The call it is about.
    pub call_id: String,
    /// How long after the POST it arrived; `None` when it did not arrive within the window.
    pub after: Option<Duration>,
    /// The `callbackUri` it named.
    pub callback_uri: Option<String>,
}

/// What happened in one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its steps.
    pub steps: Vec<StepReport>,
}

impl ScenarioReport {
    /// How many steps failed.
    pub fn failures(&self) -> usize {
        self.steps
            .iter()
            .filter(|step| step.verdict != Verdict::Pass)
            .count()
    }
}

/// Who the simulated platform claims to call: the bot's app id and the caller's tenant.
#[derive(Debug, Clone)]
pub struct Audience {
    /// The bot's app id (the token's `aud`).
    pub app_id: String,
    /// The tenant (the token's `tid`).
    pub tenant: String,
}

/// Plays the platform against one webhook URL.
#[derive(Debug)]
pub struct Simulator {
    client: reqwest::Client,
    target: String,
    audience: Audience,
    issuer: DevIssuer,
    forger: DevIssuer,
    valid_token: String,
    next_message: AtomicU64,
    graph: Option<GraphRecorder>,
    answer_window: Duration,
}

/// The simulator could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the simulator's HTTP client: {0}")]
pub struct SimulatorError(String);

impl Simulator {
    /// A simulator posting to `target` (the webhook's URL) on behalf of `audience`.
    pub fn new(target: &str, audience: Audience) -> Result<Self, SimulatorError> {
        let client = callhook_http::client_builder()
            .map_err(|error| SimulatorError(error.to_string()))?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|error| SimulatorError(error.to_string()))?;
        let issuer = DevIssuer::new();
        // The forger knows the published key's id but not its private key.
        let forger = DevIssuer::rotated().with_kid(issuer.kid());
        let valid_token = issuer.mint(&DevIssuer::standard_claims(
            &audience.app_id,
            &audience.tenant,
            now(),
        ));
        Ok(Self {
            client,
            target: target.trim_end_matches('/').to_owned(),
            audience,
            issuer,
            forger,
            valid_token,
            next_message: AtomicU64::new(1),
            graph: None,
            answer_window: callhook_graph::ANSWER_WINDOW,
        })
    }

    /// Plays Graph too: the bot's call actions are checked at this local Graph's recorder.
    #[must_use]
    pub fn with_graph(mut self, recorder: GraphRecorder) -> Self {
        self.graph = Some(recorder);
        self
    }

    /// How long after a POST the bot's Graph action may arrive (default the platform's 15 s; 5 s
    /// for a policy-based recording bot).
    #[must_use]
    pub fn with_answer_window(mut self, window: Duration) -> Self {
        self.answer_window = window;
        self
    }

    /// The token the simulator sends as the platform (valid for five minutes, like the platform's).
    pub fn valid_token(&self) -> &str {
        &self.valid_token
    }

    fn token(&self, kind: TokenKind) -> Option<String> {
        let claims =
            DevIssuer::standard_claims(&self.audience.app_id, &self.audience.tenant, now());
        match kind {
            TokenKind::Valid => Some(self.valid_token.clone()),
            TokenKind::Forged => Some(self.forger.mint(&claims)),
            TokenKind::Expired => {
                let an_hour_ago = UnixTime::from_secs(now().as_secs().saturating_sub(3_600));
                Some(self.issuer.mint(&DevIssuer::standard_claims(
                    &self.audience.app_id,
                    &self.audience.tenant,
                    an_hour_ago,
                )))
            }
            TokenKind::WrongAudience => Some(self.issuer.mint(&DevIssuer::standard_claims(
                "another-bot",
                &self.audience.tenant,
                now(),
            ))),
            TokenKind::None => None,
        }
    }

    fn message_id(&self) -> String {
        let sequence = self.next_message.fetch_add(1, Ordering::Relaxed);
        format!(
            "callhook-sim-{}-{}-{sequence}",
            std::process::id(),
            now().as_secs()
        )
    }

    /// Runs every step of `scenario`.
    pub async fn run(&self, set: &ScenarioSet, scenario: &Scenario) -> ScenarioReport {
        let mut steps = Vec::with_capacity(scenario.steps.len());
        // The callbackUri of the bot's answer, once it answered.
        let mut callback = None;
        for step in &scenario.steps {
            steps.push(self.run_step(set, step, &mut callback).await);
        }
        ScenarioReport {
            name: scenario.name.clone(),
            description: scenario.description.clone(),
            steps,
        }
    }

    async fn run_step(
        &self,
        set: &ScenarioSet,
        step: &Step,
        callback: &mut Option<String>,
    ) -> StepReport {
        let note = step.note.clone().unwrap_or_else(|| step.payload.clone());
        let fail = |reason: String| StepReport {
            note: note.clone(),
            exchanges: Vec::new(),
            graph: None,
            verdict: Verdict::Fail(reason),
        };
        let graph = match (&self.graph, step.needs_graph()) {
            (Some(graph), true) => Some(graph),
            (None, true) => {
                return fail(
                    "this step needs the local Graph (callhook simulate --graph-listen ADDR)"
                        .into(),
                );
            }
            (_, false) => None,
        };
        let url = match step.to {
            StepTarget::Target => format!("{}{}", self.target, step.path.as_deref().unwrap_or("")),
            StepTarget::Callback => match callback.as_deref() {
                Some(uri) => uri.to_owned(),
                None => {
                    return fail("no callbackUri: the bot never answered the call with one".into());
                }
            },
        };
        let body = set.payload(&step.payload);
        let sent = Instant::now();
        let mut report = self.post_step(body, step, url, note.clone()).await;
        let (Some(graph), Some(action), Verdict::Pass) = (graph, &step.graph, &report.verdict)
        else {
            return report;
        };
        let Some(call_id) = payload_call_id(body) else {
            report.verdict = Verdict::Fail(format!(
                "payload `{}` names no call for the Graph check",
                step.payload
            ));
            return report;
        };
        let arrived = graph
            .wait_for(&call_id, action, sent, sent + self.answer_window)
            .await;
        let window = self.answer_window.as_secs_f64();
        report.graph = Some(GraphCheck {
            action: action.clone(),
            call_id: call_id.clone(),
            after: arrived
                .as_ref()
                .map(|request| request.received.saturating_duration_since(sent)),
            callback_uri: arrived
                .as_ref()
                .and_then(|request| request.callback_uri().map(str::to_owned)),
        });
        report.verdict = match arrived {
            None => Verdict::Fail(format!(
                "the bot sent no {action} through Graph within {window:.1} s"
            )),
            Some(request) if action == "answer" => match request.callback_uri() {
                None => Verdict::Fail("the answer names no callbackUri".into()),
                Some(uri) => match callhook_http::parse_https_or_loopback(uri) {
                    Ok(_) => {
                        *callback = Some(uri.to_owned());
                        Verdict::Pass
                    }
                    Err(problem) => Verdict::Fail(format!("the answer's callbackUri: {problem}")),
                },
            },
            Some(_) => Verdict::Pass,
        };
        report
    }

    /// POSTs one payload to `url`, following a redirect when the step says so.
    async fn post_step(
        &self,
        body: &[u8],
        step: &Step,
        mut url: String,
        note: String,
    ) -> StepReport {
        let body = body.to_vec();
        let token = self.token(step.token);
        let message_id = self.message_id();
        let mut exchanges = Vec::new();
        let mut expected = step.expect;
        for hop in 0..=MAXIMUM_REDIRECTS {
            let mut request = self
                .client
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("User-Agent", "Microsoft-Skype/3.0,(Calling/1.0)")
                .header(headers::MESSAGE_ID, &message_id)
                .header(headers::SCENARIO_ID, "callhook-simulate");
            if let Some(token) = &token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            if let Some(region) = &step.caller_region {
                request = request.header(headers::CALLER_REGION, region);
            }
            let started = Instant::now();
            let answer = request.body(body.clone()).send().await;
            let elapsed = started.elapsed();
            let response = match answer {
                Ok(response) => response,
                Err(error) => {
                    exchanges.push(Exchange {
                        url,
                        status: None,
                        elapsed,
                        error: Some(error.to_string()),
                    });
                    return StepReport {
                        note,
                        exchanges,
                        graph: None,
                        verdict: Verdict::Fail(format!("no answer (expected {expected})")),
                    };
                }
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            exchanges.push(Exchange {
                url: url.clone(),
                status: Some(status),
                elapsed,
                error: None,
            });
            if status != expected {
                return StepReport {
                    note,
                    exchanges,
                    graph: None,
                    verdict: Verdict::Fail(format!("expected {expected}, got {status}")),
                };
            }
            let (Some(follow), true) = (step.follow, matches!(status, 301 | 302 | 307 | 308))
            else {
                return StepReport {
                    note,
                    exchanges,
                    graph: None,
                    verdict: Verdict::Pass,
                };
            };
            if hop > 0 {
                return StepReport {
                    note,
                    exchanges,
                    graph: None,
                    verdict: Verdict::Fail(
                        "redirected again: the deployments bounce the call between them".into(),
                    ),
                };
            }
            match location.filter(|location| {
                location.starts_with("http://") || location.starts_with("https://")
            }) {
                Some(location) => {
                    url = location;
                    expected = follow;
                }
                None => {
                    return StepReport {
                        note,
                        exchanges,
                        graph: None,
                        verdict: Verdict::Fail(format!(
                            "{status} without an absolute http(s) Location"
                        )),
                    };
                }
            }
        }
        StepReport {
            note,
            exchanges,
            graph: None,
            verdict: Verdict::Fail("too many redirects".into()),
        }
    }
}

/// The scenario's report as aligned lines for a person.
pub fn render(report: &ScenarioReport, printer: Printer) -> String {
    let mut text = format!(
        "{} {}\n",
        printer.heading(&report.name),
        printer.dim(&format!("— {}", report.description))
    );
    let first_origin = report
        .steps
        .first()
        .and_then(|step| step.exchanges.first())
        .map(|exchange| origin(&exchange.url).to_owned())
        .unwrap_or_default();
    for step in &report.steps {
        for (index, exchange) in step.exchanges.iter().enumerate() {
            // The target's own URLs are shown as paths; a redirect elsewhere in full.
            let shown = match exchange.url.strip_prefix(&first_origin) {
                Some(path) if !first_origin.is_empty() => path,
                _ => exchange.url.as_str(),
            };
            let arrow = if index == 0 { "POST" } else { "  ↪ POST" };
            let status = exchange
                .status
                .map_or_else(|| "---".to_owned(), |status| status.to_string());
            let last = index + 1 == step.exchanges.len() && step.graph.is_none();
            let verdict = if last {
                verdict_text(&step.verdict, &step.note, printer)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  {arrow:<9} {:<44} {status:>4} {:>9}  {verdict}\n",
                shorten(shown, 44),
                format!("{:.1} ms", exchange.elapsed.as_secs_f64() * 1_000.0),
            ));
            if let Some(error) = &exchange.error {
                text.push_str(&format!("            {}\n", printer.bad(error)));
            }
        }
        if let Some(graph) = &step.graph {
            text.push_str(&render_graph_check(
                graph,
                &step.verdict,
                &step.note,
                printer,
            ));
        }
        if step.exchanges.is_empty() && step.graph.is_none() {
            // Refused before anything was sent.
            let verdict = verdict_text(&step.verdict, &step.note, printer);
            text.push_str(&format!(
                "  {:<9} {:<44} {:>4} {:>9}  {verdict}\n",
                "—", "not sent", "", ""
            ));
        }
    }
    text
}

/// `ok` or `FAIL` with the step's note (and the reason of a failure).
fn verdict_text(verdict: &Verdict, note: &str, printer: Printer) -> String {
    match verdict {
        Verdict::Pass => format!("{}  {note}", printer.good("ok  ")),
        Verdict::Fail(reason) => format!("{}  {note} ({reason})", printer.bad("FAIL")),
    }
}

/// The line of a step's Graph check: the bot's action, how soon after the POST, its callbackUri.
fn render_graph_check(
    graph: &GraphCheck,
    verdict: &Verdict,
    note: &str,
    printer: Printer,
) -> String {
    let call: String = graph.call_id.chars().take(8).collect();
    let shown = if graph.action == super::graph::HANG_UP {
        format!("DELETE (hang up)  call {call}…")
    } else {
        format!("POST {}  call {call}…", graph.action)
    };
    let after = graph.after.map_or_else(
        || "---".to_owned(),
        |after| format!("+{:.1} ms", after.as_secs_f64() * 1_000.0),
    );
    let verdict = verdict_text(verdict, note, printer);
    let mut line = format!(
        "  {:<9} {:<44} {:>4} {after:>9}  {verdict}\n",
        "⇢ Graph",
        shorten(&shown, 44),
        ""
    );
    if let Some(uri) = &graph.callback_uri {
        line.push_str(&format!(
            "            {}\n",
            printer.dim(&format!("callbackUri {uri}"))
        ));
    }
    line
}

/// `scheme://host:port` of a URL, or the empty string.
fn origin(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return "";
    };
    let rest_start = scheme_end + 3;
    match url.get(rest_start..).and_then(|rest| rest.find('/')) {
        Some(path_start) => url.get(..rest_start + path_start).unwrap_or(""),
        None => url,
    }
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(width.saturating_sub(1))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// The call id of a payload's first notification.
fn payload_call_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let notification = value.get("value")?.get(0)?;
    let path = notification
        .get("resourceUrl")
        .or_else(|| notification.get("resource"))?
        .as_str()?;
    callhook_model::graph::call_id_from_path(path).map(str::to_owned)
}

/// The current time, for tokens.
pub fn now() -> UnixTime {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    UnixTime::from_secs(seconds)
}
