"""Helpers shared by the tests (no tests here; fixtures stay in conftest.py files).

Imported as `helpers.<module>`: pytest puts tests/ on sys.path (tests/conftest.py, rootdir
insertion), and a site-packages `tests` package would shadow `tests.helpers`.

    broken_tricks tricks that break one part of the contract each (`tricks verify` tests)
    cli          the real CLI app through typer's CliRunner, one-line-error assertions
    fuzz         what every CLI fuzz case asserts, and a warm-up fixture for timed cases
    data         the tiny synthetic image dataset registered for every test session
    procs        the real CLI as a process group: start, wait, signal
    resume       crash/resume helpers for the checkpoint tests
    servers      throw-away PostgreSQL cluster and `mlflow server` (also used by benchmarks/perf)
    stub_tricks  test-only tricks, registered per test through `scoped_test_tricks`
    sweep_faults a small in-process sweep for the fault tests
    tricks       small run configs and stand-in Ds for the trick tests
"""
