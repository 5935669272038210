//! On SQLite, the one connection that writes, on a thread of its own, committing the
//! writes that queued while it worked together (group commit).
//!
//! SQLite has one writer at a time, so what limits writes is how long each turn lasts.
//! Handed from request to request, a turn also held each writer's trip to the blocking
//! pool, its checkout of a connection, and a commit of its own. Here one thread keeps one
//! connection and takes the writes in the order they came. The writes waiting when it is
//! free go into one transaction, each in a savepoint of its own, so a write that fails
//! undoes only its own changes; one commit then makes them durable together. No write
//! is answered before the commit that holds it, and a commit that fails fails every
//! write in it.
//!
//! Left to itself, SQLite checkpoints (copies the write-ahead log back into the database
//! file, and syncs it) inside the commit that takes the log past 1,000 pages: a fifth of
//! the writer's time under load. Here a second thread checkpoints on a connection of its
//! own, at most every [`CHECKPOINT_EVERY`] while writes come, so most of the copying runs
//! beside the writes. That alone is not enough: the log only starts again from its
//! beginning after a checkpoint has caught up with it, which one running beside a
//! steady stream of writes never does, and the log then grows without end (2 GB in 30
//! seconds of supports). So the writer still checkpoints in its own commit, but only
//! once the log reaches [`WRITER_CHECKPOINT_PAGES`], and by then it finds most of it
//! copied: the log stays under 70 MB.
//!
//! Each write's savepoint keeps the pages it changes as they were, in SQLite's
//! sub-journal, so that a write that fails can be undone alone. SQLite keeps a
//! sub-journal in memory only up to 64 KiB and then moves it to a temporary file for the
//! rest of the transaction; a commit's worth of reports passes that, and writing the
//! file was 30% of the writer's samples under `POST /issues`. The writer's connection
//! keeps its temporary storage in memory (see [`WRITER_PRAGMAS`]); a write's own pages
//! are all it holds, since the journal empties when each savepoint is released.

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::connection::TransactionManager;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

use super::{
    ConnectionManager, DbConnection, LONGEST_WRITE_WAIT, begin_outer, mark_broken, run_prepared,
    waited_too_long,
};
use crate::error::{ApiError, is_transient};
use diesel::r2d2::ManageConnection;

/// The most writes one commit carries: enough to share a commit among a burst of
/// writers, few enough that the first of them is not kept long.
const MOST_PER_COMMIT: usize = 32;

/// How often, at most, the log is checkpointed while writes come: often enough to keep it
/// short, seldom enough to share each sync among many commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The log's length, in pages, at which the writer checkpoints in its own commit (its
/// `wal_autocheckpoint`; SQLite's default is 1,000), catching up with the checkpointing
/// thread so that the log can start again from its beginning. Each of those checkpoints
/// holds up every write queued behind it, so the fewer the better, and the log's file
/// (16,000 pages of 4 KiB: about 66 MB) costs disk, not memory. At 4,000 pages they
/// were 12% of the server's samples under supports at 1M issues, and support answered
/// 6,751-7,376 rps there against 8,424-8,954 at 16,000 (alternated runs).
const WRITER_CHECKPOINT_PAGES: u32 = 16000;

/// The writer's connection settings beyond the pool's and its checkpoints: its
/// sub-journal (see the module's notes) in memory rather than in a temporary file.
const WRITER_PRAGMAS: &str = "PRAGMA temp_store = MEMORY";

/// The queue of the writer thread, which stops when the last handle is dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the thread. It connects at its first write, and again after a write or a
    /// commit failed (closing the connection rolls back whatever was left open).
    /// `turns` is the pool's queue of writers: the thread takes a turn in it for each
    /// transaction, so a request holding a transaction of its own (see
    /// [`super::RequestTransaction`]) and the thread take turns.
    pub(super) fn start(
        manager: ConnectionManager,
        turns: Arc<Semaphore>,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("civitas-writer".to_owned())
            .spawn(move || work(&manager, &turns, &queue))?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the next transaction, answering once that transaction has ended.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let write = Write {
            f: Some(f),
            outcome: None,
            answer,
            queued: Instant::now(),
        };
        self.jobs.send(Box::new(write)).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> ApiError {
    ApiError::internal(anyhow::anyhow!("the database writer has stopped"))
}

/// A write waiting in the queue, its closure's types erased.
trait Job: Send {
    /// Runs the write inside the open transaction, in a savepoint; unless its caller has
    /// gone (the client hung up) or it waited longer than [`LONGEST_WRITE_WAIT`].
    fn run(&mut self, conn: &mut DbConnection);

    /// Answers the caller once the transaction has ended; `Err` when it did not commit.
    fn answer(self: Box<Self>, committed: Result<(), &Failure>);
}

struct Write<T, F> {
    f: Option<F>,
    outcome: Option<Result<T, ApiError>>,
    answer: oneshot::Sender<Result<T, ApiError>>,
    queued: Instant,
}

impl<T, F> Job for Write<T, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection) {
        let Some(f) = self.f.take() else { return };
        if self.answer.is_closed() {
            return;
        }
        self.outcome = Some(if self.queued.elapsed() > LONGEST_WRITE_WAIT {
            Err(waited_too_long())
        } else {
            in_savepoint(conn, f)
        });
    }

    fn answer(self: Box<Self>, committed: Result<(), &Failure>) {
        let outcome = match (self.outcome, committed) {
            (Some(Err(error)), _) => Err(error),
            (_, Err(failure)) => Err(failure.error()),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => return,
        };
        // A caller that went away meanwhile has no use for the answer.
        let _ = self.answer.send(outcome);
    }
}

/// Runs `f` in a savepoint of the open transaction, so that its failure undoes only its
/// own changes. The savepoint's statements are kept prepared ([`run_prepared`]): through
/// diesel's transaction manager each write had two more statements parsed. Should the
/// savepoint not end as it should, the connection is marked broken ([`mark_broken`]), so
/// the transaction fails to commit, and every write in it with it, rather than commit a
/// write that was to be undone.
fn in_savepoint<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    run_prepared(conn, "SAVEPOINT civitas_write")?;
    let outcome = f(conn);
    let ended = match outcome {
        Ok(_) => run_prepared(conn, "RELEASE civitas_write"),
        Err(_) => run_prepared(conn, "ROLLBACK TO civitas_write")
            .and_then(|()| run_prepared(conn, "RELEASE civitas_write")),
    };
    if let Err(error) = ended {
        mark_broken(conn);
        return Err(error.into());
    }
    outcome
}

/// Why a transaction did not commit, told to each write it held.
struct Failure {
    transient: bool,
    cause: String,
}

impl Failure {
    fn error(&self) -> ApiError {
        if self.transient {
            ApiError::database_busy()
        } else {
            ApiError::internal(anyhow::anyhow!("the write did not commit: {}", self.cause))
        }
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Self {
            transient: is_transient(&error),
            cause: error.to_string(),
        }
    }
}

/// The writer thread: takes what is waiting (at most [`MOST_PER_COMMIT`]), writes it in
/// one transaction in a turn of its own, answers, and again, until every handle is gone.
fn work(manager: &ConnectionManager, turns: &Arc<Semaphore>, queue: &mpsc::Receiver<Box<dyn Job>>) {
    // Only to wait for a turn, with a timeout: a thread outside the async runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "the database writer could not start");
            return;
        }
    };
    let checkpoints = match start_checkpointer(manager) {
        Ok(checkpoints) => checkpoints,
        Err(error) => {
            tracing::error!(%error, "the database checkpointer could not start");
            return;
        }
    };
    let mut conn = None;
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(MOST_PER_COMMIT - 1));
        let turn = runtime.block_on(async {
            tokio::time::timeout(LONGEST_WRITE_WAIT, Arc::clone(turns).acquire_owned()).await
        });
        let committed = match turn {
            Ok(Ok(_turn)) => commit(manager, &mut conn, &mut jobs),
            Ok(Err(_closed)) => return,
            Err(_) => Err(Failure {
                transient: true,
                cause: "no turn to write within the busy timeout".to_owned(),
            }),
        };
        match &committed {
            // A checkpoint already asked for will see this commit too.
            Ok(()) => {
                let _ = checkpoints.try_send(());
            }
            Err(failure) => {
                tracing::warn!(cause = %failure.cause, writes = jobs.len(), "a transaction of writes did not commit");
            }
        }
        for job in jobs {
            job.answer(committed.as_ref().map(|_| ()));
        }
    }
}

/// Runs `jobs` in one transaction on `conn` (connecting first if need be) and commits.
/// After any failure the connection is closed, which rolls back what was left open.
fn commit(
    manager: &ConnectionManager,
    conn: &mut Option<DbConnection>,
    jobs: &mut [Box<dyn Job>],
) -> Result<(), Failure> {
    let connection = match conn {
        Some(connection) => connection,
        None => conn.insert(connect(
            manager,
            &format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}; {WRITER_PRAGMAS}"),
        )?),
    };
    let outcome = begin_outer(connection)
        .map_err(Failure::from)
        .and_then(|()| {
            for job in jobs.iter_mut() {
                catch_unwind(AssertUnwindSafe(|| job.run(connection))).map_err(|_| Failure {
                    transient: false,
                    cause: "a write panicked".to_owned(),
                })?;
            }
            <DbConnection as Connection>::TransactionManager::commit_transaction(connection)
                .map_err(Failure::from)
        });
    if outcome.is_err() {
        *conn = None;
    }
    outcome
}

/// A connection of the writer's own, prepared by `pragma`.
fn connect(manager: &ConnectionManager, pragma: &str) -> Result<DbConnection, Failure> {
    let unreachable = |cause: String| Failure {
        transient: true,
        cause,
    };
    let mut conn = manager
        .connect()
        .map_err(|error| unreachable(error.to_string()))?;
    conn.batch_execute(pragma)
        .map_err(|error| unreachable(error.to_string()))?;
    Ok(conn)
}

/// Starts the checkpointing thread; it stops when the returned sender is dropped. Each
/// message asks for a checkpoint; one waiting already stands for any more.
fn start_checkpointer(manager: &ConnectionManager) -> std::io::Result<mpsc::SyncSender<()>> {
    let (wanted, requests) = mpsc::sync_channel(1);
    let manager = manager.clone();
    std::thread::Builder::new()
        .name("civitas-checkpoint".to_owned())
        .spawn(move || checkpoint(&manager, &requests))?;
    Ok(wanted)
}

/// Checkpoints when asked, at most every [`CHECKPOINT_EVERY`]. `PASSIVE` neither waits
/// for readers nor stops the writer; frames it cannot copy yet are copied next time.
fn checkpoint(manager: &ConnectionManager, requests: &mpsc::Receiver<()>) {
    let mut conn = None;
    while requests.recv().is_ok() {
        let done = match &mut conn {
            Some(conn) => Ok(conn),
            None => connect(manager, "PRAGMA busy_timeout = 0").map(|new| conn.insert(new)),
        }
        .and_then(|conn| {
            conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                .map_err(Failure::from)
        });
        if let Err(failure) = done {
            tracing::warn!(cause = %failure.cause, "a checkpoint failed; the next one retries");
            conn = None;
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}
