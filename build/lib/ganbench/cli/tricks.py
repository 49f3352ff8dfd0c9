"""`ganbench tricks list|show`: what can be ablated, with paper defaults and conflicts."""

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
    from ganbench.validate import trick_conditions

    return "\n".join(f"{f.kind} ({cond}): {f.message}" for cond, f in trick_conditions(name)) or "-"


@app.command("list")
def list_tricks() -> None:
    """Every registered trick: paper, parameters with defaults, conflicts and caveats."""
    from ganbench.tricks import TRICKS

    table = Table(title=f"{len(TRICKS)} tricks", show_lines=True)
    for col in ("trick", "paper", "params (defaults)", "conflicts / caveats"):
        table.add_column(col, overflow="fold")
    for name, cls in TRICKS.items():
        table.add_row(name, cls.paper, _params(cls), _findings(name))
    console.print(table)


@app.command("show")
@user_errors
def show(name: str = typer.Argument(..., help="Trick name, e.g. spectral_norm.")) -> None:
    """One trick in full: docstring, parameters with types and defaults, conflicts."""
    from ganbench.tricks import TRICKS

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
    console.print(f"conflicts / caveats:\n{_findings(name)}", highlight=False)


@app.command("matrix")
@user_errors
def matrix(
    dataset: str = typer.Option("ring8", "--dataset", help="Data the pairs are checked on."),
    model: str = typer.Option(None, "--model", help="Default: mlp for 2-D, dcgan28 for images."),
    loss: str = typer.Option("ns", "--loss"),
) -> None:
    """Pairwise compatibility of all tricks: ok (.), caveat (~), conflict (X).

    The same declarations drop cells from sweeps, so a pair marked X never runs.
    """
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.tricks import TRICKS
    from ganbench.validate import pair_matrix

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
