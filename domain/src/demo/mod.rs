//! Deterministic demo data (see issue 2). Being built.
