//! SQLite's statement budget: a statement on a pooled connection that runs past
//! `statement_timeout` is interrupted, as PostgreSQL's `statement_timeout` cancels one.
//!
//! diesel gives no access to SQLite's connection handle, so SQLite's own hooks are used: an
//! auto-extension (run by SQLite for every connection this process opens) installs a progress
//! handler, which SQLite calls every [`CHECK_EVERY_OPS`] virtual-machine instructions of a
//! running statement. The handler compares the clock with the deadline of the statement running
//! on the calling thread ([`start`], [`finish`]; a statement runs on one thread from its start to
//! its end); a non-zero answer makes SQLite stop the statement with `SQLITE_INTERRUPT`
//! ("interrupted"), which [`crate::StorageError`] turns into its `Timeout`. Without a deadline on
//! the thread (the SQLite writer, migrations, other tools' connections) the handler lets
//! everything run. This is the crate's only unsafe code: two registrations through the FFI, no
//! pointer is kept or read.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Once;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;

/// Instructions between two looks at the clock: a few microseconds of work, so a statement stops
/// within a millisecond of its deadline while the look costs nothing measurable.
const CHECK_EVERY_OPS: c_int = 4096;

thread_local! {
    /// When the statement running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Called by SQLite during a statement: non-zero stops it.
unsafe extern "C" fn over_budget(_: *mut c_void) -> c_int {
    let over = DEADLINE.try_with(|d| d.get().is_some_and(|t| Instant::now() >= t)).unwrap_or(false);
    c_int::from(over)
}

/// SQLite's entry point for every new connection: puts the progress handler on it.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite calls this with the connection it is opening, valid for the call; the
    // handler takes no argument (null) and lives as long as the program.
    unsafe { ffi::sqlite3_progress_handler(db, CHECK_EVERY_OPS, Some(over_budget), std::ptr::null_mut()) };
    ffi::SQLITE_OK
}

/// Registers the auto-extension once per process; connections opened afterwards carry the
/// handler.
pub(crate) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `on_open` has the signature SQLite's auto-extensions take, and it is a plain
        // function, valid for the life of the process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(rc, "SQLite statements run without a time budget: the auto-extension was refused");
        }
    });
}

/// A statement starts on this thread: it may run for `budget`.
pub(crate) fn start(budget: Duration) {
    DEADLINE.with(|d| d.set(Instant::now().checked_add(budget)));
}

/// The statement on this thread has ended.
pub(crate) fn finish() {
    DEADLINE.with(|d| d.set(None));
}
