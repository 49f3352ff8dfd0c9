"""Malformed sweep and run files (issue 13): each gives one short line with file (and line),
never a traceback, in under 2 s. In-process through CliRunner; see helpers/fuzz.py."""

from __future__ import annotations

import pytest
from helpers.fuzz import assert_short_error, timed, warm  # noqa: F401

SWEEP = "name: fz\nbase: {dataset: ring8, steps: 4, batch_size: 8}\ntricks:\n  ttur: [off, on]\n"
RUN = "dataset: ring8\nsteps: 4\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def deep(n: int) -> str:
    return "[" * n + "1" + "]" * n


# (name, content, needles, line): the same content is tried as a sweep and as a run file.
COMMON = [
    ("binary", b"name: x\n\x00\x01\x02\xff", ["binary"], None),
    ("latin1", "name: caf\xe9\nsteps: 3\n".encode("latin-1"), ["UTF-8"], 1),
    ("latin1-line3", "steps: 3\nlr: 0.1\nname: caf\xe9\n".encode("latin-1"), ["UTF-8"], 3),
    ("list", "- a\n- b\n", ["expected a mapping"], 1),
    ("scalar", "just words\n", ["expected a mapping"], 1),
    ("unclosed", "name: [unclosed\nsteps: 3\n", ["YAML syntax error"], None),
    ("tab", "name: x\n\tsteps: 3\n", ["YAML syntax error"], None),
    ("bad-indent", "steps: 10\n  batch_size: 4\n", ["YAML syntax error"], 2),
    ("dup-top", "steps: 3\nlr: 0.1\nsteps: 5\n", ["duplicate key 'steps'", "first at line 1"], 3),
    ("bomb", BOMB, ["expands to more than"], None),
    ("deep60", "seeds: " + deep(60) + "\n", ["nested more than"], None),
    ("deep1000", "seeds: " + deep(1000) + "\n", ["YAML syntax error"], None),
    ("self-alias", "a: &a [1, *a]\n", [], None),
    ("big", "steps: 3\n" + "# padding\n" * 120_000, ["too large"], None),
    ("tag", "steps: !!python/object:os.system [ls]\n", ["YAML syntax error"], None),
    ("keys-110k", "".join(f"k{i}: {i}\n" for i in range(110_000)), ["too large"], None),
]

SWEEP_ONLY = [
    ("empty", "", ["the file is empty"], None),
    ("comments", "# nothing here\n", ["the file is empty"], None),
    ("run-file", RUN, ["this is a run file", "ganbench run"], 1),
    ("no-name", "tricks:\n  ttur: [off, on]\nseeds: 2\n", ["name", "Field required"], None),
    ("bad-name", SWEEP.replace("name: fz", "name: 'bad name!'"), ["name"], 1),
    ("name-list", SWEEP.replace("name: fz", "name: [a]"), ["name"], 1),
    ("tricks-typo", SWEEP.replace("tricks:", "tricsk:"), ["did you mean 'tricks'"], 3),
    ("design", SWEEP + "design: ful\n", ["design"], 5),
    ("resolution", SWEEP + "design: fractional\nresolution: 9\n", ["resolution"], 6),
    ("resolution-bool", SWEEP + "resolution: true\n", ["resolution", "number"], 5),
    ("seeds-0", SWEEP + "seeds: 0\n", ["seeds"], 5),
    ("seeds-neg", SWEEP + "seeds: -2\n", ["seeds"], 5),
    ("seeds-true", SWEEP + "seeds: true\n", ["seeds", "number"], 5),
    ("seeds-rep", SWEEP + "seeds: [1, 1]\n", ["without repeats"], 5),
    ("seeds-empty", SWEEP + "seeds: []\n", ["seeds"], 5),
    ("seeds-str", SWEEP + "seeds: many\n", ["seeds"], 5),
    ("seeds-boollist", SWEEP + "seeds: [0, true]\n", ["seeds"], 5),
    ("seeds-negl", SWEEP + "seeds: [0, -1]\n", ["seeds"], 5),
    ("seeds-huge", SWEEP + "seeds: 100000000\n", ["200,000,000 runs", "--max-runs"], 5),
    ("grid-huge", "name: big\ntricks:\n" + "".join(
        f"  {t}: [off, on, {{}}]\n" for t in ("ttur", "spectral_norm", "gradient_penalty", "r1",
                                             "lecam", "ema", "dragan", "instance_noise",
                                             "label_noise", "diffaugment", "minibatch_std",
                                             "consistency")), ["531,441 cells", "--max-runs"], 2),
    ("metric-typo", SWEEP + "metric: {name: mode}\n", ["did you mean 'modes'"], 5),
    ("metric-goal", SWEEP + "metric: {name: modes, goal: up}\n", ["metric.goal"], 5),
    ("metric-key", SWEEP + "metric: {nam: modes}\n", ["unknown field"], 5),
    ("metric-scalar", SWEEP + "metric: 5\n", ["metric"], 5),
    ("metric-images", SWEEP + "metric: {name: fid10k, goal: min}\n", ["fid10k"], 5),
    ("base-seed", SWEEP.replace("steps: 4", "steps: 4, seed: 5"), ["seeds come from"], 2),
    ("base-list", "name: fz\nbase: [1, 2]\ntricks:\n  ttur: [off, on]\n", ["base"], 2),
    ("base-conflict", "name: fz\nbase: {loss: hinge, tricks: [label_smoothing]}\n"
     "tricks:\n  ttur: [off, on]\n", ["conflict", "label_smoothing"], 2),
    ("base-trick-typo", "name: fz\nbase:\n  tricks:\n    gradient_penalty: {wieght: 1}\n"
     "tricks:\n  ttur: [off, on]\n", ["did you mean 'weight'"], 4),
    ("base-trick-unknown", "name: fz\nbase:\n  tricks: {nope: {}}\ntricks:\n  ttur: [off, on]\n",
     ["unknown trick 'nope'"], 3),
    ("trick-unknown", SWEEP.replace("ttur:", "turr:"), ["unknown trick 'turr'", "ttur"], 4),
    ("trick-notlist", SWEEP.replace("[off, on]", "on"), ["tricks.ttur"], 4),
    ("trick-nolevels", SWEEP.replace("[off, on]", "[]"), ["at least one level"], 4),
    ("trick-level", SWEEP.replace("[off, on]", "[off, 5]"), ["a trick level"], 4),
    ("trick-param-typo", SWEEP.replace("ttur: [off, on]", "gradient_penalty: [off, {wieght: 10}]"),
     ["did you mean 'weight'"], 4),
    ("trick-param-type", SWEEP.replace("ttur: [off, on]", "gradient_penalty: [off, {weight: x}]"),
     ["weight"], 4),
    ("both", SWEEP.replace("steps: 4", "steps: 4, tricks: [ttur]"), ["also listed in base"], 4),
    ("two-level", SWEEP.replace("[off, on]", "[off, on, {}]") + "design: leave-one-out\n",
     ["needs two levels"], 4),
    ("all-dropped", "name: fz\nbase: {loss: hinge}\ntricks:\n  label_smoothing: [on]\n",
     ["the grid is empty"], None),
    ("axis-typo", SWEEP + "axes:\n  lss: [ns, hinge]\n", ["not a run setting", "'loss'"], 6),
    ("axis-seed", SWEEP + "axes:\n  seed: [1, 2]\n", ["cannot be an axis"], 6),
    ("axis-tricks", SWEEP + "axes:\n  tricks: [a]\n", ["cannot be an axis"], 6),
    ("axis-empty", SWEEP + "axes:\n  steps: []\n", ["at least one value"], 6),
    ("axis-notlist", SWEEP + "axes:\n  steps: 5\n", ["axes.steps"], 6),
    ("axis-bool", SWEEP + "axes:\n  steps:\n    - 10\n    - true\n", ["number"], 8),
    ("axis-neg", SWEEP + "axes:\n  steps:\n    - 10\n    - -1\n", ["greater than"], 8),
    ("axis-loss", SWEEP + "axes:\n  loss:\n    - ns\n    - hnge\n", ["did you mean 'hinge'"], 8),
    ("axis-data", SWEEP + "axes:\n  dataset:\n    - ring8\n    - rign8\n", ["'ring8'"], 8),
    ("axis-model", SWEEP + "axes:\n  model:\n    - mlp\n    - mpl\n", ["'mlp'"], 8),
    ("axis-device", SWEEP + "axes:\n  device:\n    - tpu\n", ["not a device"], 7),
    ("name-300", SWEEP.replace("name: fz", "name: " + "a" * 300), ["too long for a folder"], 1),
    ("name-dotdot", SWEEP.replace("name: fz", "name: '..'"), ["cannot be a folder name"], 1),
    ("name-slash", SWEEP.replace("name: fz", "name: a/b"), ["cannot be a folder name"], 1),
    ("tune-budget-huge", SWEEP + "tune:\n  budget: 1000000000\n  space:\n    lr: [0.001, 0.01]\n",
     ["tune.budget", "1,000,000,000 trials", "--max-runs"], 6),
    ("tune-range-inf", SWEEP + "tune:\n  budget: 2\n  space:\n    lr: {low: 0.001, high: .inf}\n",
     ["finite"], 8),
    ("seed-list-huge", SWEEP + "seeds: [1, 99999999999999999999]\n", ["too large"], 5),
    ("sweep-dup-base", "name: fz\nbase:\n  steps: 4\n  steps: 5\ntricks:\n  ttur: [off, on]\n",
     ["duplicate key 'steps'", "first at line 3"], 4),
    ("sweep-dup-trick", "name: fz\ntricks:\n  ttur: [off, on]\n  ttur: [on]\n",
     ["duplicate key 'ttur'"], 4),
    ("trick-bomb", "name: fz\ntricks:\n  ttur:\n    - off\n    - {x: &a [1, 1, 1, 1, 1, 1, 1, 1]}\n"
     + "".join(f"    - {{x: &{c} [{', '.join([f'*{p}'] * 8)}]}}\n"
               for p, c in zip("abcdefg", "bcdefgh", strict=True)),
     ["expands to more than"], None),
]

RUN_ONLY = [
    ("sweep-file", SWEEP, ["this is a sweep file", "ganbench sweep"], 2),
    ("conflict", RUN + "loss: hinge\ntricks: [label_smoothing]\n", ["conflict"], 4),
    ("model-data", RUN + "model: dcgan28\n", ["conflict", "model"], None),
    ("trick-unknown", RUN + "tricks: {nope: {}}\n", ["unknown trick 'nope'"], 3),
    ("trick-typo", RUN + "tricks:\n  gradient_penalty: {wieght: 1}\n", ["did you mean 'weight'"],
     4),
    ("trick-scalar", RUN + "tricks:\n  gradient_penalty: 5\n", ["gradient_penalty"], 4),
    ("tricks-int", RUN + "tricks: 5\n", ["tricks"], 3),
    ("seeds-in-run", RUN + "seeds: 3\n", ["did you mean 'seed'"], 3),
    ("no-such-gpu", RUN + "device: cuda:99\n", ["not available", "this machine"], 3),
    ("trick-inf", RUN + "tricks:\n  gradient_penalty: {weight: .inf}\n", ["finite"], 4),
    ("eval-work", RUN.replace("steps: 4", "steps: 10000000") + "eval_every: 1\n",
     ["10,000,000 evaluations", "over the limit"], 3),
    ("trick-huge", RUN + "tricks:\n  gradient_penalty: {weight: 100000000000000000000}\n",
     ["too large"], 4),
]

# Settings wrong in themselves: tried at a run file's top level and in a sweep's base.
BAD = [
    ("steps", "true", "number"), ("steps", "0", "greater than"), ("steps", "lots", "integer"),
    ("steps", "1.5", "integer"), ("batch_size", "false", "number"), ("batch_size", "-4", "greater"),
    ("lr", "true", "number"), ("lr", "-0.1", "greater than"), ("lr", "fast", "number"),
    ("betas", "[0.5, 1.0]", "[0, 1)"), ("betas", "[0.5]", "betas"), ("betas", "[true, 0.9]",
                                                                      "number"),
    ("seed", "-1", "greater than"), ("dataset", "rign8", "did you mean 'ring8'"),
    ("dataset", "7", "dataset"), ("model", "mpl", "did you mean 'mlp'"),
    ("loss", "hnge", "did you mean 'hinge'"), ("d_norm", "group", "d_norm"),
    ("device", "tpu", "not a device"), ("device", "gpu", "not a device"),
    ("device", "cuda:x", "not a device"), ("z_dim", "0", "greater than"),
    ("log_every", "0", "greater than"), ("eval_every", "-1", "greater than"),
    ("eval_samples", "true", "number"), ("image_metrics", "[fid]", "need images"),
    ("image_metrics", "[fidd]", "image_metrics"), ("fid_samples", "1", "greater than"),
    ("fid_batch_size", "0", "greater than"), ("stpes", "4", "did you mean 'steps'"),
    ("data_root", "[1, 2]", "data_root"), ("name", "[1]", "name"),
    # issue 27: valid numbers that cannot be run (limits.py)
    ("lr", ".inf", "finite"), ("lr", "-.inf", "finite"), ("lr", ".nan", "finite"),
    ("lr", "1.0e7", "less than or equal to 1000000"), ("betas", "[0.5, .nan]", "finite"),
    ("steps", "100000000000000000000000", "less than or equal to 10000000"),
    ("steps", "9223372036854775808", "less than or equal"),
    ("batch_size", "1000000000", "less than or equal to 65536"),
    ("eval_samples", "10000000000", "less than or equal"),
    ("fid_batch_size", "100000000", "less than or equal"),
    ("seed", "18446744073709551616", "less than or equal"), ("z_dim", "1e400", "z_dim"),
]


def _write(tmp_path, content, name="f.yaml"):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


def _sweep(tmp_path, content):
    p = _write(tmp_path, content)
    return p, timed("sweep", p, "--dry-run")


def _run(tmp_path, content):
    p = _write(tmp_path, content)
    return p, timed("run", p, "--out", tmp_path / "out")


@pytest.mark.parametrize("name,content,needles,line", COMMON + SWEEP_ONLY,
                         ids=[c[0] for c in COMMON + SWEEP_ONLY])
def test_bad_sweep_file(tmp_path, name, content, needles, line):
    p, (r, s) = _sweep(tmp_path, content)
    assert_short_error(r, s, *needles, path=p, line=line)


@pytest.mark.parametrize("name,content,needles,line", COMMON + RUN_ONLY,
                         ids=[c[0] for c in COMMON + RUN_ONLY])
def test_bad_run_file(tmp_path, name, content, needles, line):
    p, (r, s) = _run(tmp_path, content)
    assert_short_error(r, s, *needles, path=p, line=line)


@pytest.mark.parametrize("field,value,needle", BAD, ids=[f"{f}={v}" for f, v, _ in BAD])
def test_bad_setting_in_a_run_file(tmp_path, field, value, needle):
    p, (r, s) = _run(tmp_path, f"# a run file\n# (defaults otherwise)\n{field}: {value}\n")
    assert_short_error(r, s, needle, path=p, line=3)


@pytest.mark.parametrize("field,value,needle", BAD, ids=[f"{f}={v}" for f, v, _ in BAD])
def test_bad_setting_in_a_sweep_base(tmp_path, field, value, needle):
    if field == "seed":
        needle = "seeds come from"
    text = (f"name: fz\nbase:\n  # shared by all cells\n  # (defaults otherwise)\n"
            f"  {field}: {value}\ntricks:\n  ttur: [off, on]\nseeds: 2\n")
    p, (r, s) = _sweep(tmp_path, text)
    assert_short_error(r, s, needle, path=p, line=5)


def test_the_case_count():
    n_files = 2 * len(COMMON) + len(SWEEP_ONLY) + len(RUN_ONLY) + 2 * len(BAD)
    assert n_files >= 150, n_files
