//! The memory a password check fills: argon2's 19 MiB block, mapped apart from the heap,
//! advised onto transparent huge pages, and kept for the next check while sign-ins come.
//!
//! Why apart and on huge pages: the hash walks its block in an order that depends on the
//! data, over 4,864 pages of 4 KiB, more than the TLB holds; on 2 MiB pages the block is
//! ten. The same hash was 3–7% faster so in a standalone program, and about 4% in the
//! server's own binary (`bench/HISTORY.md`, the twenty-fourth and twenty-fifth machines).
//! The server turns huge pages off for the rest of its memory
//! (`switchboard::transparent_huge_pages_only_where_advised`): mimalloc's arenas on huge
//! pages made its RSS grow with the kernel's background work, not with use.
//!
//! Why kept: a new mapping is 19 MiB the kernel must fault in and zero before the hash
//! starts. One task per pool returns the blocks idle for `KEEP_IDLE` to the system, and
//! ends when none is left, so a server at rest holds none and runs no timer.

use std::future::Future;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::{
    self, Output, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// How long an unused block is kept for the next password check.
pub const KEEP_IDLE: Duration = Duration::from_secs(10);

/// The kernel's transparent huge page on x86-64 and aarch64 with 4 KiB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// One argon2 block of `blocks` 1 KiB blocks.
pub struct HashMemory {
    region: Region,
}

enum Region {
    /// Our own anonymous mapping, aligned to `HUGE_PAGE` and `len` bytes long.
    #[cfg(target_os = "linux")]
    Mapped {
        ptr: NonNull<Block>,
        blocks: usize,
        len: usize,
    },
    /// From the allocator, where the system has no such mapping or refused it.
    Heap(Vec<Block>),
}

// SAFETY: the mapping is owned by this value alone (no other pointer to it escapes), so
// moving it to another thread is as safe as moving the `Vec` it stands for.
unsafe impl Send for HashMemory {}

impl HashMemory {
    pub fn new(blocks: usize) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(region) = map_huge(blocks) {
            return Self { region };
        }
        Self {
            region: Region::Heap(vec![Block::default(); blocks]),
        }
    }

    pub fn blocks(&mut self) -> &mut [Block] {
        match &mut self.region {
            #[cfg(target_os = "linux")]
            Region::Mapped { ptr, blocks, .. } => {
                // SAFETY: the mapping holds `blocks` blocks, is aligned for them (2 MiB
                // against 64 bytes), starts zero-filled (an all-zero `Block` is valid: it
                // is plain `u64`s), lives as long as `self`, and `&mut self` makes this the
                // only reference to it.
                unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), *blocks) }
            }
            Region::Heap(blocks) => blocks,
        }
    }

    /// How many 1 KiB blocks it holds.
    pub fn block_count(&self) -> usize {
        match &self.region {
            #[cfg(target_os = "linux")]
            Region::Mapped { blocks, .. } => *blocks,
            Region::Heap(blocks) => blocks.len(),
        }
    }

    /// Whether the block is a mapping of its own (what the huge pages need).
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        match self.region {
            #[cfg(target_os = "linux")]
            Region::Mapped { .. } => true,
            Region::Heap(_) => false,
        }
    }

    /// The block's first address, to find it in `/proc/self/smaps`.
    #[cfg(test)]
    fn address(&self) -> usize {
        match &self.region {
            #[cfg(target_os = "linux")]
            Region::Mapped { ptr, .. } => ptr.as_ptr() as usize,
            Region::Heap(blocks) => blocks.as_ptr() as usize,
        }
    }
}

impl Drop for HashMemory {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Region::Mapped { ptr, len, .. } = self.region {
            // SAFETY: `ptr..ptr+len` is the mapping `map_huge` made for this value alone;
            // nothing refers to it once the value is dropped.
            unsafe {
                libc::munmap(ptr.as_ptr().cast(), len);
            }
        }
    }
}

/// An anonymous mapping of `blocks` blocks, rounded up to whole huge pages and aligned to
/// one, advised `MADV_HUGEPAGE`. None when the system refuses the mapping. The advice may
/// be refused too (a kernel without transparent huge pages, or the process's setting):
/// the block then sits on small pages, as a heap block would.
#[cfg(target_os = "linux")]
fn map_huge(blocks: usize) -> Option<Region> {
    let len = blocks
        .checked_mul(size_of::<Block>())?
        .checked_next_multiple_of(HUGE_PAGE)?;
    let reserve = len.checked_add(HUGE_PAGE)?;
    // SAFETY: a new private anonymous mapping at an address the kernel picks; it touches
    // no existing memory.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            reserve,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    let head = (raw as usize).next_multiple_of(HUGE_PAGE) - raw as usize;
    let tail = reserve - head - len;
    // SAFETY: `head + len + tail == reserve`, so both offsets stay inside the mapping.
    let (start, end) = unsafe { (raw.cast::<u8>().add(head), raw.cast::<u8>().add(head + len)) };
    // SAFETY: the unmapped parts are the unaligned ends of the mapping just made, outside
    // `start..end`; the advice only concerns `start..end`, which this function owns.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if tail > 0 {
            libc::munmap(end.cast(), tail);
        }
        libc::madvise(start.cast(), len, libc::MADV_HUGEPAGE);
    }
    Some(Region::Mapped {
        ptr: NonNull::new(start.cast())?,
        blocks,
        len,
    })
}

/// The blocks not in use, each with when it was last used. At most one per hashing permit
/// is ever made, since a block is taken only by a hash that holds a permit. Dropping the
/// last clone unmaps them at once: the releasing task does not keep the pool.
#[derive(Clone, Default)]
pub struct HashMemoryPool {
    inner: Arc<Kept>,
}

#[derive(Default)]
struct Kept {
    idle: Mutex<Vec<(HashMemory, Instant)>>,
    /// Whether the task that releases idle blocks ([`HashMemoryPool::release_while_kept`])
    /// runs.
    releasing: AtomicBool,
}

impl HashMemoryPool {
    fn idle(&self) -> MutexGuard<'_, Vec<(HashMemory, Instant)>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A kept block of at least `blocks` blocks, or a new one.
    pub fn take(&self, blocks: usize) -> HashMemory {
        let kept = self.idle().pop();
        match kept {
            Some((memory, _)) if memory.block_count() >= blocks => memory,
            _ => HashMemory::new(blocks),
        }
    }

    pub fn put(&self, memory: HashMemory) {
        self.idle().push((memory, Instant::now()));
    }

    /// Runs `work` on a kept block of at least `blocks` blocks (or a new one), then keeps
    /// the block for the next hash.
    pub fn with_block<T>(&self, blocks: usize, work: impl FnOnce(&mut HashMemory) -> T) -> T {
        let mut memory = self.take(blocks);
        let result = work(&mut memory);
        self.put(memory);
        result
    }

    /// How many blocks are kept.
    pub fn kept(&self) -> usize {
        self.idle().len()
    }

    /// Returns the blocks unused for `keep` or longer to the system; how many are left.
    pub fn release_idle(&self, keep: Duration) -> usize {
        let released: Vec<_> = {
            let mut idle = self.idle();
            let (old, recent) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, used)| used.elapsed() >= keep);
            *idle = recent;
            old
        };
        // Unmapped here, outside the lock.
        drop(released);
        self.kept()
    }

    /// Claims the pool's one releasing task: true when none runs, and the caller is to
    /// spawn [`Self::release_while_kept`] (after it has put its block back).
    pub fn claim_release_task(&self) -> bool {
        !self.inner.releasing.swap(true, Ordering::AcqRel)
    }

    /// The releasing task: every `keep`, returns the blocks idle that long to the system,
    /// so a block goes between `keep` and twice `keep` after its last use. Ends when none
    /// is kept, or when the pool is gone; a block put back meanwhile is seen by the next
    /// claim or by the check after the flag is cleared, so there is never a kept block
    /// without a task, nor two tasks. It holds the pool only while it looks at it.
    pub fn release_while_kept(&self, keep: Duration) -> impl Future<Output = ()> + Send + 'static {
        let pool = Arc::downgrade(&self.inner);
        async move {
            loop {
                tokio::time::sleep(keep).await;
                let Some(inner) = pool.upgrade() else {
                    return;
                };
                let pool = HashMemoryPool { inner };
                if pool.release_idle(keep) > 0 {
                    continue;
                }
                pool.inner.releasing.store(false, Ordering::Release);
                // A block put back after the count above, whose check found the flag
                // still set, would have no task: take the task back for it, unless its own
                // check already has.
                if pool.kept() == 0 || !pool.claim_release_task() {
                    return;
                }
            }
        }
    }
}

/// Hashes `password` with `salt` into a PHC string, as `argon2`'s `hash_password` does with
/// the same algorithm, version and parameters, filling `memory`. A `memory` smaller than
/// the parameters need is left alone, and `hash_password` allocates its own.
pub fn hash_argon2(
    memory: &mut HashMemory,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &SaltString,
) -> Result<String, password_hash::Error> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if memory.block_count() < params.block_count() {
        return argon2
            .hash_password(password, salt)
            .map(|hash| hash.to_string());
    }
    let salt = salt.as_salt();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, raw_salt, out, memory.blocks())
            .map_err(password_hash::Error::from)
    })?;
    let hash = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: params.try_into()?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Checks `password` against an argon2 PHC `hash` as `argon2`'s `verify_password` does
/// (the hash's own algorithm, version and parameters; a constant-time comparison of the
/// output), filling `memory` instead of a new allocation. A hash whose parameters need more
/// memory than `memory` holds is checked by `verify_password` itself.
pub fn verify_argon2(memory: &mut HashMemory, password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let Ok(version) = hash.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    if memory.block_count() < blocks {
        return argon2.verify_password(password, hash).is_ok();
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password, salt, out, memory.blocks())
            .map_err(password_hash::Error::from)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_with(argon2: &Argon2<'_>, password: &str, salt: &str) -> String {
        let salt = SaltString::from_b64(salt).expect("test salt");
        argon2
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }

    /// The app's parameters, older argon2 variants and versions, a longer output, and a
    /// hash that needs more memory than the block: the answer is `verify_password`'s.
    #[test]
    fn agrees_with_argon2s_own_verify() {
        let app = Params::new(19_456, 2, 1, None).expect("params");
        let cases = [
            Argon2::new(Algorithm::Argon2id, Version::V0x13, app.clone()),
            Argon2::new(Algorithm::Argon2i, Version::V0x13, app.clone()),
            Argon2::new(Algorithm::Argon2d, Version::V0x10, app),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(4_096, 3, 2, Some(64)).expect("params"),
            ),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(24_576, 1, 1, None).expect("params"),
            ),
        ];
        let mut memory = HashMemory::new(19_456);
        for argon2 in &cases {
            let stored = hash_with(argon2, "correct horse battery", "c2FsdHNhbHRzYWx0");
            let parsed = PasswordHash::new(&stored).expect("parse");
            for (password, right) in [
                ("correct horse battery", true),
                ("correct horse batterY", false),
                ("", false),
            ] {
                let ours = verify_argon2(&mut memory, password.as_bytes(), &parsed);
                let theirs = argon2.verify_password(password.as_bytes(), &parsed).is_ok();
                assert_eq!(ours, right, "{stored} with {password:?}");
                assert_eq!(ours, theirs, "{stored} with {password:?}");
            }
        }
    }

    /// A changed output, a cut salt or an unknown parameter fails the check, never panics.
    #[test]
    fn altered_hashes_fail() {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).expect("params"),
        );
        let stored = hash_with(&argon2, "a long enough password", "c2FsdHNhbHRzYWx0");
        let mut memory = HashMemory::new(19_456);
        let parsed = PasswordHash::new(&stored).expect("parse");
        assert!(verify_argon2(
            &mut memory,
            b"a long enough password",
            &parsed
        ));

        let last = stored.chars().last().expect("non-empty");
        let flipped = format!(
            "{}{}",
            &stored[..stored.len() - 1],
            if last == 'A' { 'B' } else { 'A' }
        );
        let unknown_param = stored.replace("p=1", "p=1,x=2");
        let no_hash = stored.rsplit_once('$').map(|(head, _)| head.to_owned());
        for altered in [Some(flipped), Some(unknown_param), no_hash]
            .into_iter()
            .flatten()
        {
            if let Ok(parsed) = PasswordHash::new(&altered) {
                assert!(
                    !verify_argon2(&mut memory, b"a long enough password", &parsed),
                    "{altered}"
                );
            }
        }
    }

    #[test]
    fn the_pool_keeps_a_block_until_it_has_been_idle() {
        let pool = HashMemoryPool::default();
        let first = pool.take(64);
        let address = first.address();
        pool.put(first);
        let again = pool.take(64);
        assert_eq!(again.address(), address, "the kept block is reused");
        pool.put(again);
        assert_eq!(
            pool.release_idle(Duration::from_secs(60)),
            1,
            "recently used: kept"
        );
        assert_eq!(
            pool.release_idle(Duration::ZERO),
            0,
            "idle long enough: released"
        );
        // A kept block too small for the parameters is replaced, not used.
        pool.put(HashMemory::new(8));
        let bigger = pool.take(64);
        assert!(bigger.block_count() >= 64);
    }

    /// The hash is `hash_password`'s own, byte for byte, for the app's parameters, another
    /// algorithm and version, a longer output, and a block too small for the parameters.
    #[test]
    fn hashes_as_argon2s_own_hash() {
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("test salt");
        let app = Params::new(19_456, 2, 1, None).expect("params");
        let longer = Params::new(4_096, 3, 2, Some(64)).expect("params");
        let mut memory = HashMemory::new(19_456);
        let mut small = HashMemory::new(8);
        for (algorithm, version, params) in [
            (Algorithm::Argon2id, Version::V0x13, app.clone()),
            (Algorithm::Argon2d, Version::V0x10, app),
            (Algorithm::Argon2id, Version::V0x13, longer),
        ] {
            let argon2 = Argon2::new(algorithm, version, params.clone());
            let theirs = argon2
                .hash_password(b"correct horse battery", &salt)
                .expect("hash")
                .to_string();
            for memory in [&mut memory, &mut small] {
                let ours = hash_argon2(
                    memory,
                    algorithm,
                    version,
                    params.clone(),
                    b"correct horse battery",
                    &salt,
                )
                .expect("hash");
                assert_eq!(ours, theirs);
            }
            let parsed = PasswordHash::new(&theirs).expect("parse");
            assert!(verify_argon2(
                &mut memory,
                b"correct horse battery",
                &parsed
            ));
        }
    }

    /// One releasing task at a time; it returns the blocks once idle, then ends, and a
    /// block put back after that gets a task again.
    #[tokio::test]
    async fn one_task_releases_idle_blocks_and_ends() {
        let keep = Duration::from_millis(20);
        let pool = HashMemoryPool::default();
        for _ in 0..2 {
            pool.put(HashMemory::new(8));
            assert!(
                pool.claim_release_task(),
                "no task runs: this one starts it"
            );
            assert!(!pool.claim_release_task(), "a task runs: no second one");
            let task = tokio::spawn(pool.release_while_kept(keep));
            assert_eq!(Arc::strong_count(&pool.inner), 1, "the task keeps no pool");
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the task ends once no block is kept")
                .expect("the task does not panic");
            assert_eq!(pool.kept(), 0, "the idle block was released");
        }
    }

    /// Where the kernel offers transparent huge pages on advice, the filled block sits on
    /// them. `/proc/self/smaps` has the mapping's `AnonHugePages`.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_block_sits_on_huge_pages_where_the_kernel_offers_them() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!("this kernel offers no transparent huge pages on advice ({mode:?})");
            return;
        }
        let mut memory = HashMemory::new(19_456);
        assert!(memory.is_mapped());
        let start = memory.address();
        assert_eq!(start % HUGE_PAGE, 0, "aligned to a huge page");
        let stored = hash_with(&argon2_app(), "a long enough password", "c2FsdHNhbHRzYWx0");
        let parsed = PasswordHash::new(&stored).expect("parse");
        assert!(verify_argon2(
            &mut memory,
            b"a long enough password",
            &parsed
        ));

        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read smaps");
        let header = format!("{start:x}-");
        let huge_kib: u64 = smaps
            .split_inclusive('\n')
            .skip_while(|line| !line.starts_with(&header))
            .skip(1)
            .take_while(|line| !line.starts_with("VmFlags:"))
            .find_map(|line| line.strip_prefix("AnonHugePages:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("the block's mapping in smaps");
        assert!(
            huge_kib >= 2048,
            "AnonHugePages of the block: {huge_kib} kB"
        );
    }

    fn argon2_app() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).expect("params"),
        )
    }
}
