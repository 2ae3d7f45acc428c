//! One caller at a time per handle, enforced.
//!
//! A handle (resampler, VAD) holds mutable stream state. The bindings
//! release the GIL around every call, so two Python threads can enter the
//! same handle at once; without a check that is a data race (undefined
//! behaviour: corrupted history, flags read from uninitialised memory).
//! [`Exclusive`] makes it an error instead: every entry point claims the
//! handle with an atomic flag, and a call that finds it claimed returns
//! `RM_ERR_STATE` ("used from two threads at once") without touching the
//! state. Uncontended, the claim is one atomic compare-and-swap.

use crate::error::{Error, Result};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// A value behind a busy flag: [`Exclusive::with`] runs one caller at a
/// time and refuses a second concurrent one with a state error.
pub(crate) struct Exclusive<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, which hands out the
// `&mut T` to the single caller that won the busy flag; every other caller
// gets an error. Moving the value between threads needs `T: Send`.
unsafe impl<T: Send> Sync for Exclusive<T> {}

/// Clears the busy flag when the call ends, a panic included.
struct Claim<'a>(&'a AtomicBool);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Exclusive {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value if no other call is inside; otherwise fails
    /// with `Error::State` naming `what` (e.g. "resampler").
    pub(crate) fn with<R>(&self, what: &str, f: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Error::State(format!(
                "{what} used from two threads at once; use one object per thread or serialise the calls"
            )));
        }
        let _claim = Claim(&self.busy);
        // SAFETY: the flag was false and is now ours until `_claim` drops,
        // so no other `&mut T` exists while `f` runs.
        f(unsafe { &mut *self.value.get() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Status;

    #[test]
    fn a_nested_entry_is_refused_and_the_flag_is_released() {
        let e = Exclusive::new(1u32);
        let inner = e.with("thing", |_| Ok(e.with("thing", |v| Ok(*v))));
        let err = inner.unwrap().unwrap_err();
        assert_eq!(err.status(), Status::State);
        assert!(err.to_string().contains("thing used from two threads at once"), "{err}");
        assert_eq!(e.with("thing", |v| Ok(*v)).unwrap(), 1);
    }

    #[test]
    fn a_panic_inside_releases_the_flag() {
        let e = Exclusive::new(0u32);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            e.with("thing", |_| -> Result<()> { panic!("boom") })
        }));
        assert!(r.is_err());
        assert_eq!(e.with("thing", |v| Ok(*v)).unwrap(), 0);
    }
}
