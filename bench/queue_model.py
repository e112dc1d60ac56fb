"""What two sync workers make of a mix of requests: the p99 latency of interview answers and of
the floor at a given arrival rate, by simulating first-come-first-served queueing for
``--workers`` servers fed Poisson arrivals, each request holding a worker for a gamma-distributed
time (coefficient of variation ``--cv``) around the mean given for its kind.

    .venv/bin/python bench/queue_model.py            # the mix measured on PostgreSQL, 2026-11-22
    .venv/bin/python bench/queue_model.py --save 7   # if saving a plan took 7 ms

Give the worker times measured under load (gunicorn's own time per request at the rate offered,
not one user alone: the cores are shared with the database and the load generator). With the
mix measured on PostgreSQL at 275/s this model gives the p99s that ``bench/web_load.py``
measures (turns about 24 ms, floor about 10 ms), so it can say which change would move the
ratio: it sweeps the time a save takes. It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import heapq
import random


def p99_ms(mix: list[tuple[float, float, bool]], *, rate: float, workers: int, cv: float,
           requests: int, seed: int) -> float:
    """The p99 latency (ms) of the counted kinds in ``mix``: (share of arrivals, mean worker
    time in seconds, counted)."""
    rng = random.Random(seed)
    shape = 1 / cv**2
    free = [0.0] * workers
    now = 0.0
    latencies = []
    for _ in range(requests):
        now += rng.expovariate(rate)
        draw, kind = rng.random(), mix[-1]
        for option in mix:
            draw -= option[0]
            if draw <= 0:
                kind = option
                break
        _share, mean, counted = kind
        start = max(now, heapq.heappop(free))
        end = start + rng.gammavariate(shape, mean / shape)
        heapq.heappush(free, end)
        if counted:
            latencies.append(end - now)
    latencies.sort()
    return 1000 * latencies[int(0.99 * (len(latencies) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=275.0, help="arrivals per second (default 275)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--floor", type=float, default=3.2, help="ms a floor request holds a worker")
    parser.add_argument("--answer", type=float, default=4.4, help="ms an ordinary answer holds a worker")
    parser.add_argument("--save", type=float, default=12.6, help="ms the answer that saves the plan holds one")
    parser.add_argument("--start", type=float, default=5.0, help="ms starting an interview holds one")
    parser.add_argument("--answers", type=int, default=34, help="answers per interview (the last saves)")
    parser.add_argument("--cv", type=float, default=0.5, help="spread of each kind's worker time")
    parser.add_argument("--requests", type=int, default=300_000)
    args = parser.parse_args(argv)

    def run(mix: list[tuple[float, float, bool]]) -> float:
        return p99_ms(mix, rate=args.rate, workers=args.workers, cv=args.cv, requests=args.requests, seed=20261122)

    def interview(save_ms: float) -> list[tuple[float, float, bool]]:
        per = 1 / (args.answers + 1)  # an interview: its start, then its answers
        return [(per * (args.answers - 1), args.answer / 1000, True), (per, save_ms / 1000, True),
                (per, args.start / 1000, False)]

    floor = run([(1.0, args.floor / 1000, True)])
    print(f"{args.workers} workers at {args.rate:g}/s: floor ({args.floor:g} ms each) p99 {floor:.1f} ms")
    for save in sorted({args.save, *(args.answer * k for k in (1.0, 1.5, 2.0, 2.5))}, reverse=True):
        turns = run(interview(save))
        print(f"  answers {args.answer:g} ms, the save {save:.1f} ms, the start {args.start:g} ms: "
              f"p99 {turns:.1f} ms = {turns / floor:.2f}x the floor's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
