"""Assemble a sweep's report from the MLflow store alone: read, analyse, write, attach.

Everything comes from the tracking store (the runs, their metric histories and sample
pictures, the spec and plan on the sweep's parent run), so anyone with the store can rebuild
the same report. Files go to `<folder>/` and onto the parent run under `report/`.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from ganbench.config import SequentialSeeds
from ganbench.report import latex, markdown, plots, published, tuning
from ganbench.report.across import across_tasks
from ganbench.report.evalnoise import cell_noise
from ganbench.report.factorial import disagreements, effect_sentences, factorial
from ganbench.report.frame import factors_of, tidy_runs
from ganbench.report.notes import seed_warnings
from ganbench.report.records import Group, Report, StoreData
from ganbench.report.sequential import Rule, annotate
from ganbench.report.stats import ablations, ranked_table, split_by_protocol
from ganbench.report.verdict import PRIMARY, headline
from ganbench.specs.designs import DESIGNS
from ganbench.store.mlflow import MLflowStore


def factorial_design(design: str) -> bool:
    """Whether the report fits main effects and interactions to a design's cells: the
    design says (Design.factorial). An old store without a design ("?") gets the fit
    wherever the cells have factors, as before designs were recorded; a name this process
    cannot look up (a plugin's design, its plugin not loaded) only the ablation tables,
    which assume nothing about how the cells cross."""
    if design == "?":
        return True
    return design in DESIGNS and DESIGNS.get(design).factorial


class NoRunsYet(ValueError):
    """A sweep with a record but no run in it yet (enqueued, no worker has started)."""


def _spec_fields(spec: dict | None, tags: dict[str, str]) -> tuple[str, str, str, list[int]]:
    """metric, goal, design, seeds from the stored spec, else from the parent run's tags."""
    if spec:
        m = spec.get("metric") or {}
        seeds = spec.get("seeds", 3)
        seeds = (list(range(seeds["max"])) if isinstance(seeds, dict)  # sequential
                 else list(range(seeds)) if isinstance(seeds, int) else list(seeds))
        tagged = tags.get("metric", "").partition(" (")[0]  # what the sweep ranked by
        return (m.get("name", tagged or "modes_hq"), m.get("goal", "max"),
                spec.get("design", "?"), seeds)
    name, _, goal = tags.get("metric", "").partition(" (")
    if not name:
        raise ValueError("the sweep's parent run has neither spec.yaml nor a metric tag: "
                         "was it made by `ganbench sweep`?")
    return name, goal.rstrip(")") or "max", tags.get("design", "?"), []


def read_runs(store: MLflowStore, name: str, workdir: Path, keys: set[str] | None = None,
              order: list[str] | None = None
              ) -> tuple[pd.DataFrame, str, str, str, list[int], list[str], list[str],
                         dict | None]:
    """One sweep's runs of the plan on its parent run (keys/order default to it): runs,
    metric, goal, design, seeds, cell order, notes, and a tuned sweep's search record (its
    runs are the final phase's)."""
    exp = store.find_experiment(name)
    parent = store.find_parent(exp) if exp is not None else None
    if parent is None:
        known = ", ".join(store.sweep_names()) or "none"
        raise ValueError(f"no sweep named {name!r} in the MLflow store {store.uri} "
                         f"(sweeps there: {known}); pass the sweep's name or its file, and "
                         "--results/--tracking-uri if the store lives elsewhere")
    runs = store.runs_frame(exp)
    if runs.empty:
        raise NoRunsYet(f"sweep {name!r} has no runs in {store.uri} yet: start its workers "
                        f"(`ganbench worker {name}`) or run `ganbench sweep FILE`")
    text = store.read_text_artifact(parent, "spec.yaml", workdir / "parent")
    tags = store.client.get_run(parent).data.tags
    metric, goal, design, seeds = _spec_fields(yaml.safe_load(text) if text else None, tags)
    # ---- tuning: a tuned sweep ranks its final phase; the search is in tuning.json
    tuning_text = store.read_text_artifact(parent, "tuning.json", workdir / "parent")
    tuning_rec = json.loads(tuning_text) if tuning_text else None
    if tuning_rec is not None:
        runs = runs[~tuning.search_runs(runs)]
        order = order or [c["label"] for c in tuning_rec["cells"]]
        if runs.empty:
            raise ValueError(f"sweep {name!r} has no final-phase runs yet (its search is still "
                             "running); rerun `ganbench sweep FILE` to finish it")
    # ---- end of tuning
    plan_text = store.read_text_artifact(parent, "plan.json", workdir / "parent")
    if plan_text and (keys is None or order is None):
        planned = [r for r in json.loads(plan_text) if "run_key" in r]
        keys = keys if keys is not None else {r["run_key"] for r in planned}
        order = order if order is not None else list(dict.fromkeys(r["cell"] for r in planned))
    notes = []
    if not runs.empty and keys:  # an edited sweep file may have left other cells' runs behind
        mine = runs["tags.ganbench.run_key"].isin(keys)
        if mine.any():
            if (~mine).any():
                notes.append(f"{int((~mine).sum())} run(s) of cells no longer in the sweep "
                             "file are left out.")
            runs = runs[mine]
    return (runs.reset_index(drop=True), metric, goal, design, seeds, order or [], notes,
            tuning_rec)


def read_store(store: MLflowStore, name: str, workdir: Path,
               keys: set[str] | None = None, order: list[str] | None = None) -> StoreData:
    """Read one sweep; keys/order default to the plan stored on the parent run."""
    runs, metric, goal, design, seeds, order, notes, tuning_rec = read_runs(
        store, name, workdir, keys, order)
    used = tidy_runs(runs, metric, order)
    history, key = _histories(store, used, runs, metric)
    if key != f"eval/{metric}":
        notes.append(f"`{metric}` was evaluated only at the end of each run (eval_every: 0), "
                     f"so the training curves show `{key}` instead; set eval_every in the "
                     f"sweep's base to plot `{metric}` over training.")
    samples = {}
    for _, g in used[used["status"].isin(["finished", "diverged"])].groupby("cell"):
        g = g.assign(_d=g["status"] != "finished")  # a finished run's samples first
        first = g.sort_values(["_d", "seed"]).iloc[0]
        got = store.download_artifact(first["run_id"], "samples.png",
                                      workdir / "samples" / first["run_id"])
        if got:
            samples[first["run_id"]] = got
    strips = {rid: _strip(store, rid, workdir / "samples" / rid, STRIP) for rid in samples}
    return StoreData(name, metric, goal, design, seeds, runs, order, history, key,
                     samples, notes, tuning_rec, strips={k: v for k, v in strips.items() if v},
                     sequential=_sequential(store, name, workdir))


def _sequential(store: MLflowStore, name: str, workdir: Path) -> dict | None:
    """A sequential sweep's seeds mapping (min, max, step, spending) from its stored spec."""
    parent = store.find_parent(store.find_experiment(name))
    text = store.read_text_artifact(parent, "spec.yaml", workdir / "parent")
    seeds = (yaml.safe_load(text) or {}).get("seeds") if text else None
    return seeds if isinstance(seeds, dict) else None


STRIP = 6  # pictures over training per cell in the report


def _strip(store: MLflowStore, run_id: str, dst: Path, keep: int) -> list[tuple[int, Path]]:
    """Up to `keep` of a run's samples/step_N.png, evenly over training, downloaded."""
    from ganbench.report.samples import evenly

    names = [n for n in store.artifact_names(run_id, "samples")
             if re.fullmatch(r"samples/step_\d+\.png", n)]
    out = []
    for n in evenly(names, keep):
        got = store.download_artifact(run_id, n, dst)
        if got:
            out.append((int(n[len("samples/step_"):-len(".png")]), got))
    return out


def _histories(store: MLflowStore, used: pd.DataFrame, runs: pd.DataFrame,
               metric: str) -> tuple[pd.DataFrame, str]:
    """Metric over steps per run; a training loss when the metric has only a final value."""
    ids = list(used.loc[used["status"].isin(["finished", "diverged"]), "run_id"])
    candidates = [f"eval/{metric}"] + sorted(
        (c[len("metrics."):] for c in runs.columns if c.startswith("metrics.train/g/")),
        key=lambda k: (k != "train/g/adv", k))
    for key in candidates:
        rows = [(rid, s, v) for rid in ids for s, v in store.metric_history(rid, key)]
        h = pd.DataFrame(rows, columns=["run_id", "step", "value"])
        if not h.empty and h.groupby("run_id")["step"].nunique().max() > 1:
            return h, key
    return pd.DataFrame(columns=["run_id", "step", "value"]), f"eval/{metric}"


def store_label(uri: str, folder: Path) -> str:
    """How a report names its store: a SQLite file by its path relative to the results folder
    (the report's folder's parent), so a committed report names no path of the machine that
    made it; any other URI as it is."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return uri
    path = Path(uri[len(prefix):])
    try:
        rel = path.resolve().relative_to(folder.resolve().parent)
    except ValueError:
        return uri
    return f"{rel.as_posix()} in the results folder (SQLite)"


def analyse(data: StoreData, command: str, store_uri: str) -> Report:
    """Pure: the statistics of every protocol group."""
    runs = data.runs if data.tuning is None else tuning.mask_searched(data.runs, data.tuning)
    t = tidy_runs(runs, data.metric, data.order)
    groups = []
    for proto, g in split_by_protocol(t):
        fx = factorial(g) if factorial_design(data.design) and factors_of(g) else None
        abl = ablations(g)
        if data.sequential is not None:  # the primary table's decisions are the looks'
            rule = Rule.of(SequentialSeeds.model_validate(data.sequential))
            for name in PRIMARY:
                if name in abl:
                    abl[name] = annotate(abl[name], g, rule)
                    break
        ref = " ".join(f"{f.name}={f.reference}" for f in factors_of(g) if f.kind == "axis")
        grp = Group(proto, g, ranked_table(g, data.goal), abl, fx,
                    effect_sentences(fx, data.metric) if fx else [],
                    disagreements(fx, abl.get("baseline + X"), ref))
        grp.noise = cell_noise(g)
        grp.headline = headline(grp, data.metric, data.goal)
        # supporting detail, after the verdict: it never feeds the headline
        grp.across = across_tasks(g, data.goal, abl.get("baseline + X"))
        grp.published = published.sentences(proto, g, runs, data.metric)
        groups.append(grp)
    rep = Report(data.name, data.metric, data.goal, data.design, data.seeds,
                 t["cell"].nunique(), len(t), store_uri, t.attrs.get("protocol_column"),
                 groups, command, list(data.notes), seed_warnings(t, data.seeds),
                 int(t.attrs.get("stacked", 1)))
    if data.tuning is not None and groups:  # tuning
        rep.tuning = tuning.analyse(data.tuning, groups[0].ranked)
    return rep


def write(rep: Report, data: StoreData, folder: Path) -> list[Path]:
    """Plots, report.md, report.tex and runs.csv into folder; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, g in enumerate(rep.groups):
        sfx = f"-{i + 1}" if len(rep.groups) > 1 else ""
        files += _group_plots(rep, data, g, folder, sfx)
    from ganbench.atomic import write_atomic  # whole files or none (a full disk, a kill)

    text = markdown.document(rep)
    if rep.tuning is not None:  # tuning: its section before the closing notes
        files.append(tuning.plot(rep.tuning, folder / "tuning.png", rep.metric))
        at = text.rfind("\nProduced by: ")
        text = text[:at] + "\n" + tuning.section(rep.tuning, rep.metric) + "\n" + text[at:]
    write_atomic(folder / "report.md", text)
    write_atomic(folder / "report.tex", latex.document(rep))
    write_atomic(folder / "runs.csv", runs_csv(data.runs, rep).to_csv(index=False))
    # summary.csv: the ranked table(s) in one file with a protocol column, from `sweep` and
    # `report` alike (a rebuilt report never leaves a stale one beside it)
    # attrs dropped first: they hold the pairwise tests (DataFrames), which pandas'
    # concat compares with `==` and cannot turn into one truth value
    ranked = pd.concat([_bare(g.ranked).assign(protocol=g.protocol or "") for g in rep.groups],
                       ignore_index=True) if rep.groups else pd.DataFrame()
    write_atomic(folder / "summary.csv", ranked.to_csv(index=False))
    rep.files = [folder / "report.md", folder / "report.tex", folder / "runs.csv",
                 folder / "summary.csv", *files]
    return rep.files


def _bare(t: pd.DataFrame) -> pd.DataFrame:
    out = t.copy()
    out.attrs = {}
    return out


def _group_plots(rep: Report, data: StoreData, g: Group, folder: Path, sfx: str) -> list[Path]:
    files = []
    hist = data.history.merge(g.tidy[["run_id", "cell", "seed"]], on="run_id")
    if not hist.empty:
        files.append(plots.curves(hist, folder / f"curves{sfx}.png", data.history_key,
                                  order=list(g.ranked["cell"])))
        g.plots.append((f"Training curves ({data.history_key}; mean over seeds, band: "
                        "lowest to highest seed)", files[-1].name))
    effects = []
    if g.factorial is not None and not g.factorial.table.empty:
        effects.append(("factorial effects", g.factorial.table, "term", "estimate"))
    effects += [(f"ablation: {n}", t.assign(term=t["term"] + (" · " + t["context"]).where(
        t["context"].astype(bool), "")), "term", "delta") for n, t in g.ablations.items()]
    for title, t, label, value in effects:
        t = t.dropna(subset=[value])
        if t.empty:
            continue
        kind = "effects" if title.startswith("factorial") else \
            "ablation-" + ("plus" if "baseline" in title else "minus")
        path = plots.effects([(title, t)], folder / f"{kind}{sfx}.png",
                             f"effect on {rep.metric} (95% CI; colour: significant after Holm)",
                             label_col=label, value_col=value)
        files.append(path)
        g.plots.append((title[0].upper() + title[1:], path.name))
    if g.across is not None:
        files.append(plots.across_tasks(g.across, folder / f"across-tasks{sfx}.png"))
        g.plots.append((f"Across tasks: Δ normalised score vs baseline per "
                        f"{g.across.axis} (95% CI) and the summary over them", files[-1].name))
    order = {c: i for i, c in enumerate(g.ranked["cell"])}
    shown = g.tidy[g.tidy["run_id"].isin(set(data.samples))]
    shown = shown.assign(_o=shown["cell"].map(order)).sort_values("_o", kind="stable")
    if not shown.empty:
        pics = [(f"{r['cell']} · s{r['seed']}: {rep.metric} "
                 + ("diverged" if r["status"] == "diverged" else markdown.num(r["value"])),
                 data.samples[r["run_id"]]) for _, r in shown.iterrows()]
        files.append(plots.sample_panel(pics, folder / f"samples{sfx}.png"))
        g.plots.append(("Final samples (one seed per cell, ranked order)", files[-1].name))
    rows = [(f"{r['cell']} · s{r['seed']}", data.strips[r["run_id"]])
            for _, r in shown.iterrows() if r["run_id"] in data.strips]
    if rows:
        files.append(plots.sample_strips(rows, folder / f"samples-over-training{sfx}.png"))
        g.plots.append(("Samples over training (the same seed per cell, one row each; every "
                        "panel scaled to its own points, samples outside the data's range "
                        "in orange)", files[-1].name))
    return files


def runs_csv(runs: pd.DataFrame, rep: Report) -> pd.DataFrame:
    """Every run (every attempt), the analysed ones marked `used`, tidy columns first."""
    tidy = pd.concat([g.tidy for g in rep.groups])
    front = tidy.rename(columns={"value": rep.metric, "eval_sd": f"{rep.metric}_eval_sd"}
                        ).drop(columns=["run_name"])
    out = runs.merge(front, on="run_id", how="left")
    out["used"] = out["run_id"].isin(set(tidy["run_id"]))
    # Attempts the analysis does not use (killed, superseded, lost) keep their own status:
    # their tag, else MLflow's (a killed attempt may never have been tagged).
    own = pd.Series(runs.get("tags.status", pd.Series(index=runs.index, dtype=object)).values)
    mlflow = pd.Series(runs.get("mlflow_status", pd.Series(index=runs.index, dtype=object)
                            ).values).str.lower()
    out["status"] = out["status"].fillna(own).fillna(mlflow).fillna("unknown")
    lead = ["run_id", "run_name", "cell", "seed", "status", "used", rep.metric, "protocol"]
    lead += [c for c in front.columns if c not in lead]
    return out[lead + [c for c in out.columns if c not in lead]]


def report_sweep(store: MLflowStore, name: str, folder: Path, command: str,
                 keys: set[str] | None = None, order: list[str] | None = None,
                 attach: bool = True) -> Report:
    """Read, analyse, write to folder, and attach the files to the sweep's parent run."""
    with tempfile.TemporaryDirectory(prefix="ganbench-report-") as tmp:
        data = read_store(store, name, Path(tmp), keys, order)
        rep = analyse(data, command, store_label(store.uri, folder))
        write(rep, data, folder)
    if attach:
        store.attach(store.find_parent(store.find_experiment(name)), rep.files, "report")
    return rep
