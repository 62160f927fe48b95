//! idtrail integration tests live in `tests/api/`, one test binary for one link step.
