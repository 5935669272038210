//! Argon2id password hashing on a few threads of its own, one per core, each reusing
//! one block of hashing memory while there is work.
//!
//! Argon2's cost is its memory (19 MiB per hash). Allocated afresh on whichever thread
//! runs the hash, those blocks stay with the allocator's per-thread arenas, and a login
//! storm grows the process by hundreds of megabytes that are never given back. A fixed
//! set of hashers, each with its block, keeps the process at a constant size
//! (one block per core) however many people sign in at once, and queues a storm
//! instead of letting it take every thread. The hashers run at a lower CPU priority
//! (nice 10): when the CPU is free they get all of it, and when it is not, reads come
//! first, so a storm of sign-ins does not slow everyone else's requests.

use argon2::password_hash::{Output, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// OWASP's recommended Argon2id parameters: 19 MiB, two passes, one lane.
fn params() -> Result<Params, argon2::Error> {
    Params::new(19_456, 2, 1, None)
}

/// Hashes `password` with a fresh salt into a PHC string, using `memory` for the blocks.
fn hash_with(memory: &mut Vec<Block>, password: &str) -> anyhow::Result<String> {
    let params = params().map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = compute(
        memory,
        &argon2,
        password,
        salt.as_salt(),
        Params::DEFAULT_OUTPUT_LEN,
    )
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string, with the algorithm, version and parameters
/// stored in it (so stronger future defaults still accept old hashes), comparing the
/// outputs in constant time.
fn verify_with(memory: &mut Vec<Block>, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    // `Output`'s equality is constant-time.
    compute(memory, &argon2, password, salt, expected.len())
        .is_ok_and(|computed| computed == expected)
}

/// Argon2's output of `len` bytes for `password` and `salt`, using `memory` for the blocks.
fn compute(
    memory: &mut Vec<Block>,
    argon2: &Argon2<'_>,
    password: &str,
    salt: Salt<'_>,
    len: usize,
) -> argon2::password_hash::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    Output::init_with(len, |out| {
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt_bytes,
                out,
                blocks(memory, argon2.params()),
            )
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
}

/// How many blocks a hasher's memory reserves at least: 33 MiB, of which a hash writes
/// only the blocks it needs (19 MiB), so only those ever become resident.
///
/// Reserving more than is used keeps glibc's malloc from growing the whole process.
/// glibc serves an allocation this large with a mapping of its own, and when it frees
/// such a mapping of 32 MiB or less, it raises its mmap threshold to that size and its
/// trim threshold to twice that, for good (mallopt(3), `M_MMAP_THRESHOLD`). After a
/// 19 MiB block went back, every allocation below 19 MiB came from the threads' arenas,
/// which kept up to 38 MiB each of what was freed: peak RSS in a login storm was 185 MB
/// against 136 MB with the thresholds pinned. A mapping above 32 MiB leaves them alone.
const RESERVED_BLOCKS: usize = 33 * 1024 * 1024 / size_of::<Block>();

/// The first `params.block_count()` blocks of `memory`, growing it if a stored hash asks
/// for more than any before.
fn blocks<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.reserve_exact(needed.max(RESERVED_BLOCKS) - memory.len());
        memory.resize(needed, Block::default());
    }
    &mut memory[..needed]
}

enum Job {
    Hash(SecretString, oneshot::Sender<anyhow::Result<String>>),
    Verify(SecretString, String, oneshot::Sender<bool>),
}

/// Hashes and verifies passwords without starving the server: one hashing thread per
/// core, fed by a queue, so a login storm waits its turn instead of eating every thread
/// and all memory.
#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = crate::config::cores();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("civitas-argon2-{n}"))
                .spawn(move || hasher(&queue))?;
        }
        // A hash of a random password: verifying against it for unknown emails makes a
        // login for a missing account cost the same as one for a real account.
        let dummy = uuid::Uuid::now_v7().to_string();
        Ok(Self {
            jobs,
            dummy_hash: hash_blocking(&dummy)?.into(),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let (answer, answered) = oneshot::channel();
        self.submit(Job::Hash(password, answer))?;
        answered
            .await
            .map_err(|_| gone())?
            .map_err(ApiError::internal)
    }

    /// Checks a password against a stored hash; with no hash (unknown account) it checks
    /// against a dummy hash and answers `false`, taking the same time.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let (answer, answered) = oneshot::channel();
        self.submit(Job::Verify(password, hash, answer))?;
        Ok(answered.await.map_err(|_| gone())? && known)
    }

    fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.send(job).map_err(|_| gone())
    }
}

fn gone() -> ApiError {
    ApiError::internal(anyhow::anyhow!("the password hashers have stopped"))
}

/// How long a hasher keeps its block of memory with no work to do: through a burst of
/// sign-ins it is reused, and between bursts it goes back to the system.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(5);

/// One hashing thread: takes jobs until every `Passwords` handle is gone. Its block of
/// memory is allocated at its first job, reused for every one after, and released when
/// no job came for [`KEEP_MEMORY_IDLE`].
fn hasher(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    let mut memory = Vec::new();
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv_timeout(KEEP_MEMORY_IDLE),
            Err(_) => return,
        };
        match job {
            Err(mpsc::RecvTimeoutError::Timeout) => memory = Vec::new(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            // A caller that went away meanwhile (the client hung up) has no use for the
            // answer; dropping it is fine.
            Ok(Job::Hash(password, answer)) => {
                let _ = answer.send(hash_with(&mut memory, password.expose_secret()));
            }
            Ok(Job::Verify(password, hash, answer)) => {
                let _ = answer.send(verify_with(&mut memory, password.expose_secret(), &hash));
            }
        }
    }
}

/// How much lower than the rest of the server the hashers run (a nice value, 0–19).
const HASHER_NICENESS: i32 = 10;

/// Lowers this thread's CPU priority (Linux sets niceness per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(error) = rustix::process::setpriority_process(Some(thread), HASHER_NICENESS) {
            tracing::warn!(%error, "could not lower the password hashers' priority");
        }
    }
}

/// Hashes a password on the current thread (command-line tools).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(&mut Vec::new(), password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn verify_now(password: &str, hash: &str) -> bool {
        verify_with(&mut Vec::new(), password, hash)
    }

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_blocking("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now("correct horse battery", &hash));
        assert!(!verify_now("correct horse battery!", &hash));
        assert!(!verify_now("anything", "not a hash"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        let ours = hash_blocking("pässword").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password("pässword".as_bytes(), &parsed)
                .is_ok()
        );

        // A hash with other parameters (as a future default would write) still verifies,
        // with reused memory that is smaller and then larger than it needs.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 3, 1, Some(40)).unwrap(),
        )
        .hash_password(b"other", &salt)
        .unwrap()
        .to_string();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, "other", &theirs));
        assert!(verify_with(&mut memory, "pässword", &ours));
        assert!(!verify_with(&mut memory, "pässword", &theirs));
        assert_eq!(memory.len(), 19_456);
        // Only the blocks a hash needs are written; the reservation stays above the size
        // whose release would raise glibc's mmap threshold (32 MiB).
        assert!(memory.capacity() * size_of::<Block>() > 32 * 1024 * 1024);
    }

    #[tokio::test]
    async fn the_hashers_answer_and_unknown_accounts_never_verify() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        let ok = passwords
            .verify(
                SecretString::from("correct horse battery"),
                Some(hash.clone()),
            )
            .await
            .unwrap();
        let wrong = passwords
            .verify(SecretString::from("wrong"), Some(hash))
            .await
            .unwrap();
        let unknown = passwords
            .verify(SecretString::from("anything"), None)
            .await
            .unwrap();
        assert!(ok);
        assert!(!wrong);
        assert!(!unknown);
    }
}
