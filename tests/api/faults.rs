//! Faults: the real `civitas` binary killed with SIGKILL in the middle of a burst of keyed
//! writes. Once it is back and the client has retried every request it heard no answer
//! to, with the same `Idempotency-Key`, every acknowledged write is there exactly once,
//! nothing is duplicated, and the SQLite file passes `PRAGMA integrity_check`.

use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::helpers::{Node, NodeDatabase, PASSWORD};

/// Keyed reports in the burst.
const BURST: usize = 200;
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;
/// The server is killed once this many reports are acknowledged…
const KILL_AFTER_ACKS: usize = 40;
/// …or this long after the burst started, whichever comes first.
const KILL_AFTER: Duration = Duration::from_secs(5);
/// How long one request may take before the client gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

fn key(i: usize) -> String {
    format!("faults-burst-{i:03}")
}

fn title(i: usize) -> String {
    format!("Fly-tipping, burst report {i:03}")
}

/// The body sent, and re-sent unchanged, under `key(i)`.
fn report(i: usize) -> Value {
    let step = i as f64 * 0.0004;
    json!({
        "category": "litter",
        "title": title(i),
        "description": "Bags left by the bins.",
        "lat": 51.49 + step,
        "lon": -0.12 + step / 2.0,
    })
}

/// What one keyed `POST /issues` came back with.
#[derive(Debug)]
enum Outcome {
    /// `201`: the issue id, and whether the answer was a replay.
    Created { id: String, replayed: bool },
    /// An answer that settles nothing (`409` key busy, `5xx`): send it again.
    Retry(u16),
    /// No answer at all: connection refused, reset, or cut off mid-answer.
    NoAnswer(String),
    /// Anything else: the test fails (in the test's own task, not a worker's).
    Unexpected(u16, String),
}

async fn post_report(client: &reqwest::Client, server_api: &str, token: &str, i: usize) -> Outcome {
    let sent = client
        .post(server_api)
        .bearer_auth(token)
        .header("idempotency-key", key(i))
        .json(&report(i))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Outcome::NoAnswer(error.to_string()),
    };
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    // The body may be cut off by the kill too: that is no answer either.
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => return Outcome::NoAnswer(error.to_string()),
    };
    match status {
        201 => match serde_json::from_str::<Value>(&text) {
            Ok(body) if body["title"] == title(i) && body["id"].is_string() => Outcome::Created {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                replayed,
            },
            _ => Outcome::Unexpected(status, text),
        },
        409 | 500..=599 => Outcome::Retry(status),
        _ => Outcome::Unexpected(status, text),
    }
}

/// Sends the reports `todo` with `IN_FLIGHT` at a time and passes each outcome to
/// `seen` as it arrives; once `stop` is set, no further request is started.
async fn fire(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    todo: Vec<usize>,
    stop: Rc<Cell<bool>>,
    mut seen: impl FnMut(usize, Outcome),
) {
    let todo = Rc::new(RefCell::new(todo.into_iter()));
    let (done, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..IN_FLIGHT {
        let (client, api, token) = (client.clone(), api.to_owned(), token.to_owned());
        let (todo, stop, done) = (todo.clone(), stop.clone(), done.clone());
        actix_web::rt::spawn(async move {
            loop {
                if stop.get() {
                    break;
                }
                let Some(i) = todo.borrow_mut().next() else {
                    break;
                };
                let outcome = post_report(&client, &api, &token, i).await;
                if done.send((i, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    drop(done);
    while let Some((i, outcome)) = outcomes.recv().await {
        seen(i, outcome);
    }
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[actix_web::test]
async fn a_server_killed_mid_burst_loses_no_acknowledged_write_and_duplicates_none() {
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let database = NodeDatabase::fresh(data_dir.path());
    let email = "burst@example.org";
    let mut server = Node::new(&database.url, data_dir.path()).start().await;
    server.create_user(email, PASSWORD, "citizen");
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let login: Value = client
        .post(server.api("/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    // The burst: kill -9 once enough reports are acknowledged, with more in flight.
    let mut acknowledged: BTreeMap<usize, String> = BTreeMap::new();
    let mut unanswered: BTreeMap<usize, Outcome> = BTreeMap::new();
    let stop = Rc::new(Cell::new(false));
    let burst_started = Instant::now();
    {
        let stop_inside = stop.clone();
        let server = &mut server;
        fire(
            &client,
            &server.api("/issues"),
            &token,
            (0..BURST).collect(),
            stop.clone(),
            |i, outcome| {
                match outcome {
                    Outcome::Created { id, replayed } => {
                        assert!(!replayed, "report {i}: a fresh key was replayed");
                        acknowledged.insert(i, id);
                    }
                    Outcome::Unexpected(status, text) => {
                        panic!("report {i}: unexpected {status}: {text}")
                    }
                    other => {
                        unanswered.insert(i, other);
                    }
                }
                if !stop_inside.get()
                    && (acknowledged.len() >= KILL_AFTER_ACKS
                        || burst_started.elapsed() >= KILL_AFTER)
                {
                    server.kill();
                    stop_inside.set(true);
                }
            },
        )
        .await;
    }
    if !stop.get() {
        // Every report was answered before the kill: the test proves less, but still holds.
        server.kill();
    }
    let unsent: Vec<usize> = (0..BURST)
        .filter(|i| !acknowledged.contains_key(i) && !unanswered.contains_key(i))
        .collect();
    let cut_off = unanswered
        .values()
        .filter(|outcome| matches!(outcome, Outcome::NoAnswer(_)))
        .count();
    eprintln!(
        "faults: killed after {:?}: {} acknowledged, {} unanswered ({} cut off, {} told to \
         retry), {} never sent",
        burst_started.elapsed(),
        acknowledged.len(),
        unanswered.len(),
        cut_off,
        unanswered.len() - cut_off,
        unsent.len(),
    );
    assert_eq!(acknowledged.len() + unanswered.len() + unsent.len(), BURST);

    // Back up on the same database and data directory; the same token still works.
    server.restart().await;
    let api = server.api("/issues");

    // The client retries everything it has no answer for, with the same key and body,
    // until each is created (or replayed, where the first try had committed unheard).
    let mut todo: Vec<usize> = unanswered.keys().copied().chain(unsent.clone()).collect();
    let mut settled: BTreeMap<usize, (String, bool)> = BTreeMap::new();
    let mut attempts = 0;
    while !todo.is_empty() {
        attempts += 1;
        assert!(attempts <= 20, "still unsettled after 20 rounds: {todo:?}");
        let mut again = Vec::new();
        fire(
            &client,
            &api,
            &token,
            todo,
            Rc::new(Cell::new(false)),
            |i, outcome| match outcome {
                Outcome::Created { id, replayed } => {
                    settled.insert(i, (id, replayed));
                }
                Outcome::Retry(status) => {
                    eprintln!("faults: report {i}, round {attempts}: {status}, sent again");
                    again.push(i);
                }
                Outcome::NoAnswer(error) => {
                    eprintln!("faults: report {i}, round {attempts}: {error}, sent again");
                    again.push(i);
                }
                Outcome::Unexpected(status, text) => {
                    panic!("report {i}: unexpected {status}: {text}")
                }
            },
        )
        .await;
        todo = again;
        if !todo.is_empty() {
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }
    if attempts > 1 {
        // Why some retries were refused (a 500 or 503 is retried like no answer).
        eprintln!("faults: the server's log: {}", server.log());
    }
    let replayed: Vec<usize> = settled
        .iter()
        .filter(|(_, (_, replayed))| *replayed)
        .map(|(i, _)| *i)
        .collect();
    eprintln!(
        "faults: retried {} after the restart ({} round(s)): {} had committed unheard \
         (replayed), {} created now",
        settled.len(),
        attempts,
        replayed.len(),
        settled.len() - replayed.len(),
    );
    for i in &unsent {
        assert!(
            !replayed.contains(i),
            "report {i} was never sent, yet its key has an answer"
        );
    }

    // Acknowledged reports sent again replay the same issue.
    for (&i, id) in acknowledged.iter().step_by(8) {
        match post_report(&client, &api, &token, i).await {
            Outcome::Created {
                id: again,
                replayed,
            } => {
                assert!(replayed, "report {i}: an acknowledged key acted again");
                assert_eq!(&again, id, "report {i}");
            }
            other => panic!("report {i}: resending an acknowledged report gave {other:?}"),
        }
    }

    // Every key has one issue, every acknowledged id is there, and nothing else is.
    let mut expected: HashMap<String, usize> = HashMap::new();
    for (&i, id) in acknowledged
        .iter()
        .chain(settled.iter().map(|(i, (id, _))| (i, id)))
    {
        assert!(
            expected.insert(id.clone(), i).is_none(),
            "two keys answered with issue {id}"
        );
    }
    assert_eq!(expected.len(), BURST);
    let mut listed: HashMap<String, String> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(server.api("/issues"))
            .bearer_auth(&token)
            .query(&[("reported_by", "me"), ("limit", "100")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap().to_owned();
            let title = item["title"].as_str().unwrap().to_owned();
            assert!(
                listed.insert(id.clone(), title).is_none(),
                "{id} listed twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(listed.len() <= 2 * BURST, "the listing does not end");
    }
    let titles: HashSet<&String> = listed.values().collect();
    assert_eq!(titles.len(), listed.len(), "a report was stored twice");
    assert_eq!(listed.len(), BURST, "one issue per key, no more, no less");
    for (id, &i) in &expected {
        assert_eq!(listed.get(id), Some(&title(i)), "issue {id} of report {i}");
    }

    // Stopped for good (kill -9 again): the SQLite file is sound.
    server.kill();
    if let Some(path) = &database.sqlite_path {
        let mut conn = SqliteConnection::establish(&path.display().to_string()).unwrap();
        let check: Vec<IntegrityCheck> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut conn)
            .unwrap();
        let check: Vec<&str> = check
            .iter()
            .map(|row| row.integrity_check.as_str())
            .collect();
        assert_eq!(check, ["ok"]);
    }
    eprintln!("faults: done in {:?}", started.elapsed());
}
