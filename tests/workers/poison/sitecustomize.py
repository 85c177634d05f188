"""Loaded by a test's worker process only (PYTHONPATH): the engine crashes whenever account
ACC-0007 is in its input, as a malformed record would make it."""

import stepwise.engine.run as engine_run

_real = engine_run.build_signals


def _poisoned(data, as_of, *args, **kwargs):
    if "ACC-0007" in set(data.table("accounts")["account_id"]):
        raise ValueError("cannot compute signals for ACC-0007")
    return _real(data, as_of, *args, **kwargs)


engine_run.build_signals = _poisoned
