"""Benchmark of the rules core: µs per evaluation per policy, and one ``ptt check`` process.

Targets on a 2-core machine: ≤ 50 µs median per evaluation; ``ptt check`` ≤ 300 ms.
Prints figures; asserts nothing. Run: ``.venv/bin/python bench/rules.py [--cases 10000]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules import Case, evaluate, known_policy_ids, load_pack
from rules.models import BOOLEAN_STEPS, CIRCUMSTANCES, REASONS_FOR_TIMETABLE, ROLES, YEAR_GROUPS


def generated_case(rng: random.Random, policy: str) -> dict[str, Any]:
    start = date(2025, 9, 1) + timedelta(days=rng.randrange(0, 600))
    end = start + timedelta(days=rng.randrange(0, 70)) if rng.random() > 0.1 else None
    pupil: dict[str, Any] = (
        {"year_group": rng.choice(YEAR_GROUPS)}
        if rng.random() < 0.7
        else {"date_of_birth": (date(2009, 1, 1) + timedelta(days=rng.randrange(0, 4700))).isoformat()}
    )
    closures = []
    if rng.random() < 0.4:
        first = start + timedelta(days=rng.randrange(0, 40))
        closures.append({"from": first.isoformat(), "to": (first + timedelta(days=rng.randrange(0, 8))).isoformat()})
    steps: dict[str, Any] = {
        "parent_consent": rng.choice(["given", "given", "refused", "not_yet"]),
        "risk_assessment": rng.choice(["not_done", "no_concerns", "concerns_mitigated", "concerns_unmitigated"]),
    }
    steps.update({step: rng.random() < 0.6 for step in BOOLEAN_STEPS})
    return {
        "policy": policy,
        "pupil": pupil,
        "circumstances": {name: rng.random() < 0.2 for name in CIRCUMSTANCES},
        "reasons": rng.sample(REASONS_FOR_TIMETABLE, rng.randint(1, 2)),
        "plan": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat() if end else None,
            "hours_per_week": round(rng.uniform(5, 20), 1),
        },
        "calendar": {"closures": closures},
        "steps": steps,
        "consultations": {
            role: rng.choice(["not_contacted", "consulted", "agreed", "declined"])
            for role in rng.sample(ROLES, rng.randint(0, 4))
        },
    }


def median_microseconds(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000, help="generated cases per policy")
    parser.add_argument("--processes", type=int, default=10, help="ptt check runs to time")
    args = parser.parse_args()
    rng = random.Random(20261122)
    print(f"rules core: {args.cases} generated varied cases per policy, in process")
    print(f"{'policy':<24}{'median µs (validate+evaluate)':>32}{'median µs (evaluate only)':>28}{'p99 µs':>10}")
    for policy in known_policy_ids():
        pack = load_pack(policy)
        raw_cases = [generated_case(rng, policy) for _ in range(args.cases)]
        validated = [Case.model_validate(raw) for raw in raw_cases]
        for case in validated[:200]:  # warm caches (bank holidays, lazily built schemas)
            evaluate(case, pack)
        with_validation, without_validation = [], []
        clock = time.perf_counter
        for raw in raw_cases:
            started = clock()
            evaluate(Case.model_validate(raw), pack)
            with_validation.append(clock() - started)
        for case in validated:
            started = clock()
            evaluate(case, pack)
            without_validation.append(clock() - started)
        p99 = sorted(without_validation)[int(len(without_validation) * 0.99)] * 1e6
        print(
            f"{policy:<24}{median_microseconds(with_validation):>32.1f}{median_microseconds(without_validation):>28.1f}"
            f"{p99:>10.1f}"
        )

    ptt = shutil.which("ptt") or str(Path(sys.executable).parent / "ptt")
    case_text = json.dumps(generated_case(rng, "derby-city"))
    timings = []
    for _ in range(args.processes):
        started = time.perf_counter()
        subprocess.run([ptt, "check", "-"], input=case_text, capture_output=True, text=True, check=True)
        timings.append(time.perf_counter() - started)
    print(
        f"ptt check process wall time: median {statistics.median(timings) * 1000:.0f} ms, "
        f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {args.processes} runs"
    )


if __name__ == "__main__":
    main()
