"""`ganbench sweep FILE --plan-seeds`: how many seeds each primary comparison needs, before
anything is trained (the computation is report/planning.py; this parses, loads and prints)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()

PLAN_SEEDS = typer.Option(
    False, "--plan-seeds",
    help="Print how many seeds each comparison of the primary analysis (each trick level "
    "against the baseline cell) needs to find a difference of --effect at --power with the "
    "report's own test (exact paired sign-flip, two-sided, α 0.05, Holm over the rows; "
    "power simulated, ties counted), and exit: nothing is trained. Needs --effect and "
    "either --sd or --pilot.")
EFFECT = typer.Option(
    None, "--effect", show_default=False,
    help="With --plan-seeds: the smallest difference worth finding, in the metric's units "
    "(e.g. 0.5 modes), among pairs of seeds that differ.")
POWER = typer.Option(
    0.8, "--power", help="With --plan-seeds: the chance wanted of finding --effect.")
SD = typer.Option(
    None, "--sd", show_default=False,
    help="With --plan-seeds: the standard deviation of a comparison's paired differences "
    "(treated − baseline, same seed) among pairs that differ, as stated; or use --pilot.")
TIES = typer.Option(
    None, "--ties", show_default=False,
    help="With --plan-seeds and --sd: the share of pairs expected to differ by exactly 0 "
    "(both seeds at the metric's floor or ceiling; such a pair adds no evidence). "
    "Default 0.")
PILOT = typer.Option(
    None, "--pilot", show_default=False,
    help="With --plan-seeds: a finished sweep (name or file) in this --results/--tracking-uri "
    "store whose runs give each comparison's sd of paired differences and its observed "
    "share of ties (matched by cell; a comparison the pilot lacks takes its largest).")


def _given(effect, sd, ties, pilot, power) -> list[str]:
    return [o for o, v in (("--effect", effect), ("--sd", sd), ("--ties", ties),
                           ("--pilot", pilot)) if v is not None] + (
        ["--power"] if power != 0.8 else [])


def refuse_without_flag(effect, sd, ties, pilot, power) -> None:
    given = _given(effect, sd, ties, pilot, power)
    if given:
        raise ValueError(f"{', '.join(given)}: used only with --plan-seeds")


def _check_options(effect, sd, ties, pilot) -> None:
    if effect is None:
        raise ValueError("--plan-seeds needs --effect: the smallest difference worth finding, "
                         "in the metric's units")
    if sd is None and pilot is None:
        raise ValueError("--plan-seeds needs --sd (the spread of paired differences, stated) "
                         "or --pilot NAME (a sweep whose runs give it)")
    if sd is not None and pilot is not None:
        raise ValueError("--sd and --pilot: give one (a stated spread, or a pilot's)")
    if ties is not None and pilot is not None:
        raise ValueError("--ties goes with --sd; with --pilot the pilot's observed tie share "
                         "is used")


def _pilot_rows(rows, pilot: str, metric: str, results: Path, tracking_uri: str | None):
    from ganbench.cli import checks
    from ganbench.cli.report import sweep_name
    from ganbench.report.build import read_runs
    from ganbench.report.frame import tidy_runs
    from ganbench.report.planning import pilot_spread
    from ganbench.report.stats import split_by_protocol
    from ganbench.store.mlflow import MLflowStore, default_tracking_uri

    try:
        name = sweep_name(pilot)
        checks.tracking_uri(tracking_uri)
        uri = tracking_uri or default_tracking_uri(results)
        checks.store_exists(uri)
        with tempfile.TemporaryDirectory(prefix="ganbench-plan-") as tmp:
            runs, *_, order, _notes, _tuning = read_runs(MLflowStore(uri), name, Path(tmp))
        groups = split_by_protocol(tidy_runs(runs, metric, order))
        return pilot_spread(groups[0][1], rows)  # one protocol: a sweep file's metric has one
    except ValueError as e:
        raise ValueError(f"--pilot {pilot}: {e}") from None


def plan_seeds(spec_file: Path, results: Path, tracking_uri: str | None, effect, power, sd,
               ties, pilot) -> None:
    from ganbench.report import planning
    from ganbench.report.frame import tidy_runs
    from ganbench.sweep.runner import load_plan

    _check_options(effect, sd, ties, pilot)
    p = load_plan(spec_file, data="skip")  # the data matters to training, not to a plan
    spec = p.spec
    t = tidy_runs(planning.planned_runs(p.cells), spec.metric.name, [c.label for c in p.cells])
    table_name, rows = planning.primary_comparisons(t)
    if pilot is None:
        rows = rows.assign(sd=sd, ties=0.0 if ties is None else ties, source="stated")
    else:
        rows = _pilot_rows(rows, pilot, spec.metric.name, results, tracking_uri)
        rows["source"] = rows["source"] + ", " + rows["pilot_pairs"].astype(str) + " pairs"
    n_now = len(spec.seed_list)
    with console.status("simulating the test"):
        plan = planning.plan_seeds(rows, effect, power, seeds_now=n_now)
    out = Table("comparison", "sd (source)", "ties", "seeds needed", f"power at {n_now} seeds",
                title=f"sweep {spec.name}: the `{table_name}` ablation, {spec.metric.name}")
    for _, r in plan.iterrows():
        label = r["term"] + (f" · {r['context']}" if r["context"] else "")
        try:
            need = str(int(r["seeds"]))
        except (TypeError, ValueError):  # missing (NA): beyond the cap
            need = f"> {plan.attrs['cap']}"
        out.add_row(escape(label), f"{r['sd']:.3g} ({r['source']})", f"{r['ties']:.0%}", need,
                    f"{r['power_now']:.2f}")
    console.print(out)
    console.print(planning.summary(plan), highlight=False, soft_wrap=True)
