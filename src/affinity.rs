//! Keeping the two threads of a diff on CPUs of their own.
//!
//! Some VMs, and schedulers that pack threads onto few CPUs, leave a new or
//! woken thread queued behind the running one for a millisecond or two while
//! another CPU idles. On a 2-vCPU VM a thread started 1.1 ms (median) after
//! it was spawned, and 0.13 ms when its affinity named the idle CPU
//! (BENCHMARKS.md, "diff"). [`split`] gives the calling thread the CPU it is
//! on and the other thread the rest, until the returned guard is dropped.
//! Anywhere else it does nothing.

/// Restores the calling thread's CPU affinity when dropped; the other
/// thread keeps its narrower one until it ends.
pub struct Pinned {
    #[cfg(target_os = "linux")]
    allowed: libc::cpu_set_t,
}

/// Pin the calling thread to its current CPU and `other` to the other
/// allowed CPUs. `None` (and nothing changed) with fewer than two allowed
/// CPUs or when the system refuses.
#[cfg(target_os = "linux")]
pub fn split<T>(other: &std::thread::JoinHandle<T>) -> Option<Pinned> {
    use std::os::unix::thread::JoinHandleExt;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: plain libc calls on stack-allocated `cpu_set_t`s of the size
    // passed; `other` is a live, not yet joined thread (it is borrowed).
    unsafe {
        let allowed = own_mask()?;
        if libc::CPU_COUNT(&allowed) < 2 {
            return None;
        }
        let cpu = usize::try_from(libc::sched_getcpu()).ok()?;
        if !libc::CPU_ISSET(cpu, &allowed) {
            return None;
        }
        let mut here: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut here);
        let mut rest = allowed;
        libc::CPU_CLR(cpu, &mut rest);
        if libc::pthread_setaffinity_np(other.as_pthread_t(), size, &rest) != 0 {
            return None;
        }
        if libc::sched_setaffinity(0, size, &here) != 0 {
            return None;
        }
        Some(Pinned { allowed })
    }
}

#[cfg(not(target_os = "linux"))]
pub fn split<T>(_other: &std::thread::JoinHandle<T>) -> Option<Pinned> {
    None
}

/// The calling thread's CPU affinity mask.
#[cfg(target_os = "linux")]
fn own_mask() -> Option<libc::cpu_set_t> {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set, filled in place
    // for the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        (libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0).then_some(set)
    }
}

/// The CPUs the calling thread may run on (`None` off Linux or on error).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn allowed_cpus() -> Option<Vec<usize>> {
    let set = own_mask()?;
    // SAFETY: `c` stays below CPU_SETSIZE.
    Some(
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect(),
    )
}

#[cfg(all(test, not(target_os = "linux")))]
pub(crate) fn allowed_cpus() -> Option<Vec<usize>> {
    None
}

#[cfg(target_os = "linux")]
impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: as in `split`.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.allowed);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn cpus() -> Vec<usize> {
        allowed_cpus().expect("sched_getaffinity")
    }

    #[test]
    fn the_two_threads_get_disjoint_cpus_and_the_caller_gets_its_own_back() {
        // Run on a thread of its own: the test harness's threads keep theirs.
        std::thread::spawn(|| {
            let before = cpus();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                rx.recv().unwrap();
                cpus()
            });
            let pinned = split(&other);
            let mine = cpus();
            tx.send(()).unwrap();
            let theirs = other.join().unwrap();
            match pinned {
                None => assert!(before.len() < 2, "two or more CPUs allowed ({before:?}) but not split"),
                Some(p) => {
                    assert_eq!(mine.len(), 1, "{mine:?}");
                    assert!(!theirs.contains(&mine[0]), "{mine:?} and {theirs:?} overlap");
                    let mut all = mine.clone();
                    all.extend(&theirs);
                    all.sort();
                    assert_eq!(all, before);
                    drop(p);
                    assert_eq!(cpus(), before, "the caller's CPUs are restored");
                }
            }
        })
        .join()
        .unwrap();
    }
}
