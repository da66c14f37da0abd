"""ProblemCounter: the first occurrence of each kind is logged, the rest only counted."""

from seatrack_ros.streams.problems import ProblemCounter


def test_logs_each_kind_once_and_counts_all():
    lines = []
    counter = ProblemCounter(lines.append)
    for _ in range(3):
        counter.report("encoding", "bad encoding 'foo'")
    counter.report("empty", "empty image")
    assert len(lines) == 2
    assert "[encoding] bad encoding 'foo'" in lines[0] and "[empty]" in lines[1]
    assert counter.totals() == {"encoding": 3, "empty": 1}
    assert counter.take_summary() == {"encoding": 3, "empty": 1}
    assert counter.take_summary() == {}
    counter.report("encoding", "again")
    assert len(lines) == 2
    assert counter.take_summary() == {"encoding": 1}
    assert counter.totals()["encoding"] == 4
