"""Real storage servers and network fault tools used by the test suite."""
