//! Client tests (filled below).
