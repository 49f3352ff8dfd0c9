"""The specs wing: a run or sweep file in, a checked plan out.

- load.py: read a file (YAML with its lines), load its plugins, check it, return the spec;
- plugins.py: the plugin loader (a file's `plugins:`, GANBENCH_PLUGINS, entry points);
- run.py: a run's settings against the registries (names, trick parameters, conflicts);
- sweep.py: a sweep file before its grid exists (every problem at once, with file:line);
- tune.py: the `tune:` block of a tuned sweep;
- rules.py: the rules of the grid (axes, trick levels, base), written once for sweep.py
  and plan.py;
- designs.py (with fractional.py): the design registry, which combinations are cells;
- plan.py: the expansion into cells and runs (what `--dry-run` prints).

The rest of the package receives a checked RunConfig, SweepSpec or Plan.
"""
