"""Run a reproduction preset and report its results, from one command.

Usage::

    python scripts/reproduce.py PRESET OUT_DIR [--jobs N] [--report-only] [--list] [override ...]

PRESET is ``smoke`` (a minute: every step on tiny jobs), ``small`` (the
reduced-scale Table 1 on MNIST-1D, SparsyFed's ablations and FedSparsify's
comparison on digits; under an hour on 2 cores) or ``paper`` (the paper's
Table 1 cells and FedSparsify's environments from local data files, e.g.
``data_dir=/data``: a GPU machine's work). Extra ``key=value`` overrides go
to every job (they change the jobs' configs, so use a new OUT_DIR with them).

Every job runs as its own ``python -m sparsyfed`` process in a fixed directory
below OUT_DIR; ``--jobs`` of them at once (default: one per two CPUs, at
least two). The same command again skips complete jobs, resumes interrupted
ones from their checkpoints and only redraws; a failed job is reported and
the others go on. Then ``OUT_DIR/REPORT.md`` (final accuracy, mean ± std
over seeds) and ``OUT_DIR/tables/runs.csv`` are written (docs/reproduce.md).

Exit codes: 0 all jobs complete, 1 some job failed (the report shows the
rest), 2 bad arguments or config (nothing started), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sparsyfed.reproduce.presets import presets  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    known = presets()
    parser = _Parser(
        description=__doc__.split("\n")[0], usage=__doc__.split("::")[1].split("\n\n")[0].strip()
    )
    parser.add_argument("preset", choices=sorted(known), metavar="PRESET")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("overrides", nargs="*", metavar="override")
    parser.add_argument("--jobs", type=int, default=None, help="jobs at once")
    parser.add_argument("--report-only", action="store_true", help="run nothing; redraw")
    parser.add_argument("--list", action="store_true", help="print the jobs and what to do")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs={args.jobs}: at least 1")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        parser.error(f"override {bad[0]!r} is not key=value")
    preset = known[args.preset]
    start = time.monotonic()
    from sparsyfed.reproduce.runner import plan_jobs, run_jobs
    from sparsyfed.validation import ConfigError

    failed: list[str] = []
    if not args.report_only:
        try:
            if args.overrides:
                from sparsyfed.config.compose import check_override_keys

                check_override_keys(args.overrides)
            plans = plan_jobs(preset.jobs(args.overrides), args.out_dir)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.list:
            for plan in plans:
                print(f"{plan.action:7s} {plan.job.name}  {' '.join(plan.job.overrides)}")
            return 0
        print(f"preset {preset.name}: {preset.description} -> {args.out_dir}", flush=True)
        try:
            sweep = run_jobs(plans, args.jobs, echo=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            print("interrupted: the same command resumes", file=sys.stderr)
            return 130
        failed = sweep.failed
        print(
            f"jobs: {len(sweep.completed)} completed, {len(sweep.skipped)} skipped, "
            f"{len(sweep.failed)} failed in {sweep.seconds:.0f} s"
        )
    from sparsyfed.reproduce.report import write_report

    report = write_report(args.out_dir, f"Reproduction: preset {preset.name}")
    print(
        f"report: {report.runs} runs -> {len(report.tables)} table files, "
        f"{len(report.figures)} figures, {report.index} ({time.monotonic() - start:.0f} s in all)"
    )
    for name in failed:
        print(f"failed: {name} (see {args.out_dir / name / 'error.txt'})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
