"""`ganbench tricks list|show|matrix|verify`: what can be ablated, with paper defaults and
conflicts, and the trick contract run on any registered trick."""

from __future__ import annotations

import inspect

import typer
from rich.console import Console
from rich.table import Table

from ganbench.cli.errors import user_errors

app = typer.Typer(help="List and describe the registered tricks.", no_args_is_help=True)
console = Console()


def _params(cls) -> str:
    fields = cls.Params.model_fields
    return ", ".join(f"{k}={f.default!r}" for k, f in fields.items()) or "-"


# annotated_types' bounds (what pydantic's Field(gt=...) stores) as a reader writes them.
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "multiple_of": "multiple of",
           "min_length": "length >=", "max_length": "length <="}


def constraint(m) -> str:
    """`Gt(gt=0)` -> `> 0`; metadata that is not an annotated_types bound keeps its spelling."""
    if type(m).__module__ != "annotated_types":
        return str(m)
    parts = [f"{word} {getattr(m, a)!r}" for a, word in _BOUNDS.items()
             if getattr(m, a, None) is not None]
    return ", ".join(parts) or str(m)


def _findings(name: str) -> str:
    from ganbench.specs.run import trick_conditions

    return "\n".join(f"{f.kind} ({cond}): {f.message}" for cond, f in trick_conditions(name)) or "-"


def _context() -> str:
    """Where `_findings` looked: said, so "no conflicts" is not read as "none anywhere"."""
    from ganbench.specs.run import probe_pair

    dataset, model = probe_pair("points")
    return (f"the trick alone on {dataset}/{model}, loss ns, no D norm, 100000 steps, with "
            "one setting changed at a time (in brackets: steps=1000, each loss, each d_norm, "
            "image data); in pairs with other tricks: `ganbench tricks matrix`")


def _plugins(extra: list[str] | None = None) -> None:
    """The plugins of GANBENCH_PLUGINS and the entry points (and any named), so a plugin's
    tricks are listed and verified like the built-ins."""
    from pathlib import Path

    from ganbench.specs import plugins

    plugins.load_startup()
    if extra:
        plugins.load(list(extra), Path.cwd(), lambda i: f"--plugin {extra[i]}")


@app.command("list")
@user_errors
def list_tricks() -> None:
    """Every registered trick: paper, parameters with defaults, conflicts and caveats."""
    from ganbench.tricks import TRICKS

    _plugins()

    table = Table(title=f"{len(TRICKS)} tricks", show_lines=True)
    for col in ("trick", "paper", "params (defaults)", "conflicts / caveats"):
        table.add_column(col, overflow="fold")
    for name, cls in TRICKS.items():
        table.add_row(name, cls.paper, _params(cls), _findings(name))
    table.caption = f"conflicts / caveats: {_context()}"
    console.print(table)


@app.command("show")
@user_errors
def show(name: str = typer.Argument(..., help="Trick name, e.g. spectral_norm.")) -> None:
    """One trick in full: docstring, parameters with types and defaults, conflicts."""
    from ganbench.tricks import TRICKS

    _plugins()

    cls = TRICKS.get(name)
    console.print(f"[bold]{name}[/] — {cls.paper}\n")
    console.print(inspect.cleandoc(cls.__doc__ or ""), highlight=False)
    table = Table(title="parameters")
    for col in ("name", "type", "default", "constraints"):
        table.add_column(col)
    for k, f in cls.Params.model_fields.items():
        ann = getattr(f.annotation, "__name__", str(f.annotation))
        cons = ", ".join(constraint(m) for m in f.metadata) or ""
        table.add_row(k, ann, repr(f.default), cons)
    console.print(table)
    from ganbench.specs.run import pair_findings, probe_pair

    console.print(f"conflicts / caveats ({_context()}):\n{_findings(name)}", highlight=False)
    dataset, model = probe_pair("points")
    pairs = pair_findings(name, dataset, model)
    said = "; ".join(f"{k} with {', '.join(v)}" for k, v in pairs.items() if v) or "none"
    console.print(f"in pairs on {dataset}/{model}, loss ns: {said}", highlight=False)


@app.command("matrix")
@user_errors
def matrix(
    dataset: str = typer.Option("ring8", "--dataset", help="Data the pairs are checked on."),
    model: str = typer.Option(None, "--model",
                              help="Default: a registered model for the dataset's kind."),
    loss: str = typer.Option("ns", "--loss"),
) -> None:
    """Pairwise compatibility of all tricks: ok (.), caveat (~), conflict (X).

    The same declarations drop cells from sweeps, so a pair marked X never runs.
    """
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.specs.run import pair_matrix
    from ganbench.tricks import TRICKS

    DATASETS.get(dataset), LOSSES.get(loss)  # clear errors for unknown names
    names, verdicts = pair_matrix(dataset, model, loss)
    mark = {"ok": "[green].[/]", "caveat": "[yellow]~[/]", "conflict": "[bold red]X[/]"}
    short = {n: TRICKS.get(n).short for n in names}
    table = Table(title=f"trick pairs on {dataset} / loss {loss}  (. ok  ~ caveat  X conflict)")
    table.add_column("")
    for n in names:
        table.add_column(short[n], justify="center")
    for a in names:
        table.add_row(f"{a} ({short[a]})", *(mark[verdicts[(a, b)]] for b in names))
    console.print(table)


_MARK = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]",
         "warn": "[yellow]warn[/]"}


@app.command("verify")
@user_errors
def verify(
    names: list[str] = typer.Argument(None, help="Trick names (a plugin's too)."),
    every: bool = typer.Option(False, "--all", help="Verify every registered trick."),
    plugin: list[str] = typer.Option(  # noqa: B008
        None, "--plugin", "-p", help="A plugin module or .py file to load (repeatable)."),
) -> None:
    """Run the trick contract and print a pass/fail table; exit 1 if any check fails
    (a plugin trick without a cited paper and year is a warning, not a failure).

    Tiny CPU runs, seconds per trick: 2 steps alone and beside every compatible built-in
    trick, parameters (defaults, round-trip, closed), the check hook, pure input hooks,
    declared conflicts against what the sweep planner drops, state through a checkpoint and
    a bit-identical resume, and stacked seeds equal to lone runs if it says it is
    vectorisable.
    """
    from ganbench.contract import verify_trick
    from ganbench.tricks import TRICKS

    _plugins(plugin)
    chosen = list(dict.fromkeys([*(TRICKS.names() if every else []), *(names or [])]))
    if not chosen:
        raise ValueError("name the tricks to verify (e.g. `ganbench tricks verify ema`), "
                         "or give --all")
    for name in chosen:
        TRICKS.get(name)  # every name checked before anything trains
    failed: list[str] = []
    for name in chosen:
        with console.status(f"verifying {name}…") as status:
            results = verify_trick(name, on_result=lambda r, n=name: status.update(
                f"verifying {n}: {r.check} {r.status}"))
        counts = {s: sum(r.status == s for r in results) for s in _MARK}
        table = Table(title=f"{name}: {counts['pass']} passed, {counts['fail']} failed, "
                            f"{counts['skip']} skipped"
                            + (f", {counts['warn']} warned" if counts["warn"] else ""),
                      title_justify="left")
        for col in ("check", "result", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(r.check, _MARK[r.status], r.detail)
        console.print(table)
        if counts["fail"]:
            failed.append(name)
    if len(chosen) > 1:
        console.print(f"{len(chosen) - len(failed)} of {len(chosen)} tricks pass"
                      + (f"; failing: {', '.join(failed)}" if failed else ""), highlight=False)
    raise typer.Exit(1 if failed else 0)
