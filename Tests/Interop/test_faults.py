"""The fault harness (fault_harness.py): its checker, and the short form of its kill -9 rounds
against the real broker (the long form: scripts/faults.sh)."""

from __future__ import annotations

import pytest

from fault_harness import History, Summary, run, verify
from strom_server import STROM_BINARY, requires_strom_binary


def history_of(records: dict) -> History:
    history = History()
    for (topic, partition), entries in records.items():
        for offset, key, value, headers in entries:
            history.sent[value] = (key, headers)
            history.acked.setdefault((topic, partition), {})[offset] = value
    return history


def test_the_checker_finds_lost_duplicated_unknown_and_reordered_records():
    def record(seq, producer=b"0-0"):
        return (seq, f"k{seq}".encode(), f"v{seq}".encode(), [("producer", producer), ("seq", str(seq).encode())])

    written = {("log", 0): [record(0), record(1), record(2)]}
    history = history_of(written)
    intact = Summary()
    verify(history, written, {("log", 0): 0}, intact)
    assert intact.ok and intact.verified == 3

    lost = Summary()
    verify(history, {("log", 0): [record(0), record(2)]}, {("log", 0): 0}, lost)
    assert lost.lost == 1 and not lost.ok

    stranger = Summary()
    verify(history, {("log", 0): written[("log", 0)] + [(3, b"k", b"never sent", [])]}, {("log", 0): 0}, stranger)
    assert stranger.corrupted == 1 and not stranger.ok

    twice = Summary()
    verify(history, {("log", 0): written[("log", 0)] + [(3,) + record(2)[1:]]}, {("log", 0): 0}, twice)
    assert twice.duplicated == 1 and not twice.ok

    reordered = Summary()
    swapped = [record(0), (1,) + record(2)[1:], (2,) + record(1)[1:]]
    verify(history_of({("log", 0): swapped}), {("log", 0): swapped}, {("log", 0): 0}, reordered)
    assert reordered.unordered == 1 and not reordered.ok


@requires_strom_binary
def test_kill_9_rounds_lose_nothing_acknowledged(data_dir, capsys):
    summary = run(STROM_BINARY, rounds=5, seed=7, seconds_per_round=1.5, data_dir=data_dir)
    with capsys.disabled():
        print("\n" + summary.line())
    assert summary.rounds == 5 and summary.acknowledged > 10_000
    assert summary.ok, summary.problems[:10]
