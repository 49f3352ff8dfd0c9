"""Reports: pure functions that turn runs into tables and figures."""
