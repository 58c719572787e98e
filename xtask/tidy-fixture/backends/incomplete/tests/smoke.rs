//! A test that runs nothing of the suite.
