"""`ganbench plugins [FILE]`: every registered name per family and where it comes from."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganbench.cli.errors import user_errors

console = Console()


@user_errors
def plugins(
    file: Path = typer.Argument(None, help="A run or sweep file: its `plugins:` load too."),
    plugin: list[str] = typer.Option(  # noqa: B008
        None, "--plugin", "-p", help="A plugin module or .py file to load (repeatable)."),
) -> None:
    """Every registered trick, model, dataset, loss and metric, and where it comes from.

    Origins: built-in, or the plugin (entry point, GANBENCH_PLUGINS, a file's `plugins:`)
    that registered it."""
    from ganbench.config import ConfigError, line_of, read_yaml
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.metrics import METRICS
    from ganbench.models import MODELS
    from ganbench.specs import plugins as loader
    from ganbench.tricks import TRICKS

    loader.load_startup()
    if file is not None:
        if not file.is_file():
            raise ValueError(f"{file}: no such file")
        raw, node = read_yaml(file)
        entries = raw.get("plugins", []) if isinstance(raw, dict) else []
        if not isinstance(entries, list):
            raise ConfigError(f"{file}:{line_of(node, 'plugins')}: plugins: expected a list "
                              "of modules or .py files")
        loader.load([str(e) for e in entries], file.parent,
                    lambda i: f"{file}:{line_of(node, 'plugins', i)}: plugins[{i}]")
    loader.load(list(plugin or []), Path.cwd(), lambda i: f"--plugin {plugin[i]}")
    table = Table("family", "name", "origin", title="registered names")
    for reg in (TRICKS, MODELS, DATASETS, LOSSES):
        for name, _ in reg.items():
            table.add_row(reg.kind, escape(name), escape(reg.origin_of(name)))
    for name, spec in METRICS.items():
        table.add_row("metric", f"{escape(name)} ({spec.data_kind}, {spec.goal})",
                      escape(METRICS.origin_of(name)))
    console.print(table)
    found = loader.loaded()
    if not found:
        console.print("no plugins loaded (see `plugins:`, GANBENCH_PLUGINS and the "
                      f"`{loader.GROUP}` entry points)", highlight=False)
    for p in found:
        where = f" ({p.path})" if p.path else ""
        console.print(f"plugin [bold]{escape(p.name)}[/]: module {escape(p.module)}{escape(where)}"
                      f", hash {p.hash}", highlight=False, soft_wrap=True)
