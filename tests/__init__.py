"""Inkling's tests (a package, so that `tests.browser_pages` is ours whatever else is installed)."""
