#!/usr/bin/env python3
"""Turn GoRL run directories into figures and a summary (`gorl report`).

    gorl_report.py --out DIR [--gorl GORL] [--assets DIR] [--densities N] [--samples K] PATH...

Each PATH is a run directory (it holds config.textproto) or a sweep directory whose
subdirectories are run directories. See README.md next to this file for the inputs and outputs.
Standard library + numpy + matplotlib only, so that it runs with Debian's python3 packages.
The outputs depend only on the inputs: no timestamps, no unseeded randomness, sorted orders.
"""

import argparse
import functools
import glob
import gzip
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import zlib
from dataclasses import dataclass, field

import numpy as np
import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

PROG = "gorl report"
PNG_LIMIT_BYTES = 300_000
FIDELITY_GOAL = 0.95  # refined / collecting stochastic return the project aims for

ALGO_ENUM = {"ALGO_PPO": "ppo", "ALGO_GORL_FM": "gorl-fm", "ALGO_GORL_DIFF": "gorl-diff",
             "ALGO_FPO": "fpo", "ALGO_DPPO": "dppo"}
ALGO_NUMBER = {"1": "ppo", "2": "gorl-fm", "3": "gorl-diff", "4": "fpo", "5": "dppo"}
ALGO_ORDER = ["ppo", "fpo", "dppo", "gorl-diff", "gorl-fm"]  # the paper's column order
ALGO_COLOUR = {"ppo": "tab:blue", "fpo": "tab:green", "dppo": "tab:orange",
               "gorl-diff": "tab:purple", "gorl-fm": "tab:red"}
EXTRA_COLOURS = ["tab:brown", "tab:pink", "tab:olive", "tab:cyan", "black", "tab:gray"]

# GoRL paper (ICML 2026), Table 1: final return at 180M env steps, 5 seeds (humanoid: 3).
PAPER_STEPS = 180_000_000
PAPER = {
    "cheetah-run": (725, 599, 560, 902, 883),
    "finger-spin": (539, 56, 694, 845, 904),
    "finger-turn-hard": (739, 752, 634, 885, 861),
    "fish-swim": (434, 205, 144, 609, 641),
    "hopper-stand": (286, 4, 2, 875, 734),
    "walker-walk": (826, 29, 346, 909, 920),
    "humanoid-stand": (75, 0, 27, 976, 950),
    "humanoid-run": (17, 0, 6, 326, 338),
}
PAPER_SEEDS = {"humanoid-stand": 3, "humanoid-run": 3}

# Settings that change how a run was executed or measured, not what it learned: runs that
# differ only in these are the same experiment. (The hand-over's evaluations run on envs and a
# random stream of their own, so their episode count leaves training untouched.)
OPERATIONAL_FIELDS = {"seed", "learner_threads", "checkpoint_every_iterations", "device",
                      "rollout.num_threads", "refine.fidelity_episodes"}


def warn(message):
    print(f"{PROG}: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# config.textproto

_TOKEN = re.compile(r"""\s+|\#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{}<>:;,\[\]]"""
                    r"""|[^\s{}<>:;,\[\]"'\#]+""")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokenize_textproto(text):
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"unexpected character {text[pos]!r} at offset {pos}")
        token = match.group(0)
        if not token.isspace() and not token.startswith("#"):
            tokens.append(token)
        pos = match.end()
    return tokens


def normalise_scalar(token):
    """Strings unquoted; numbers in one spelling, so that 10 == 10.0 and 0.33333333333333331 ==
    0.3333333333333333 (the C++ side and a hand edit spell them differently)."""
    if token[0] in "\"'":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    try:
        number = float(token)
    except ValueError:
        return token  # an enum name or a boolean
    if number.is_integer() and abs(number) < 2 ** 53:
        return str(int(number))
    return repr(number)


def flatten_textproto(text):
    """Every scalar field of a protobuf text-format message as {"a.b.c": (values...)}.
    Nested messages become dotted paths, so that `stages { ... }` cannot be mistaken for a
    top-level field; repeated fields keep their values in order."""
    tokens, fields, path, i = tokenize_textproto(text), {}, [], 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("}", ">"):
            if not path:
                raise ValueError(f"unbalanced {token!r}")
            path.pop()
            i += 1
            continue
        if token in (",", ";"):
            i += 1
            continue
        if not _NAME.fullmatch(token):
            raise ValueError(f"expected a field name, got {token!r}")
        i += 1
        if i < len(tokens) and tokens[i] == ":":
            i += 1
        if i >= len(tokens):
            raise ValueError(f"field {token!r} has no value")
        if tokens[i] in ("{", "<"):
            path.append(token)
            i += 1
            continue
        values = fields.setdefault(".".join(path + [token]), [])
        if tokens[i] == "[":  # short form of a repeated scalar: [1, 2, 3]
            i += 1
            while i < len(tokens) and tokens[i] != "]":
                if tokens[i] != ",":
                    values.append(normalise_scalar(tokens[i]))
                i += 1
            i += 1
        else:
            values.append(normalise_scalar(tokens[i]))
            i += 1
    if path:
        raise ValueError(f"message {'.'.join(path)!r} is not closed")
    return {key: tuple(values) for key, values in fields.items()}


def algo_name(value):
    """`algo: ALGO_GORL_FM`, `algo: "gorl-fm"` or `algo: 2` -> "gorl-fm"."""
    if value in ALGO_ENUM:
        return ALGO_ENUM[value]
    if value in ALGO_NUMBER:
        return ALGO_NUMBER[value]
    return value.lower()


# ---------------------------------------------------------------------------------------------
# metrics.jsonl and final_eval.json

METRICS_NAMES = ("metrics.jsonl", "metrics.jsonl.gz")  # a run directory, an archived run


def metrics_path(run_dir):
    """The run's metrics.jsonl, or the gzipped copy an archived run keeps (archive_runs.py)."""
    for name in METRICS_NAMES:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            return path
    return None


def read_jsonl(path):
    """Rows of a metrics.jsonl (or .jsonl.gz) and the number of lines that did not parse (a
    run killed mid-write leaves a truncated last line)."""
    rows, bad, last_bad = [], 0, False
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                last_bad = not (isinstance(row, dict) and isinstance(row.get("event"), str))
            except ValueError:
                last_bad = True
            if last_bad:
                bad += 1
            else:
                rows.append(row)
    return rows, bad, last_bad


def rewind_and_deduplicate(rows):
    """A resumed run starts again from its checkpoint: rows logged past the checkpoint before
    the crash belong to an abandoned timeline, and the resumed run writes that range again.
    Drop rows past each `resume` row's env_steps, then keep the last row per (event, env_steps)."""
    kept = []
    for row in rows:
        if row["event"] == "resume" and isinstance(row.get("env_steps"), (int, float)):
            kept = [r for r in kept if r.get("env_steps", 0) <= row["env_steps"]]
        kept.append(row)
    last = {(r["event"], r.get("env_steps")): i for i, r in enumerate(kept)}
    return [r for i, r in enumerate(kept) if last[(r["event"], r.get("env_steps"))] == i]


def count_resumes(raw):
    """Resume rows, but not the one that starts a fork (it follows the fork row)."""
    return sum(1 for i, r in enumerate(raw)
               if r["event"] == "resume" and not (i > 0 and raw[i - 1]["event"] == "fork"))


def build_versions(raw):
    """The gorl builds that ran the run's sessions (the start and resume rows' `gorl_version`), in
    order of first use; empty for a run from before builds were recorded (2026-12-03)."""
    seen = []
    for r in raw:
        version = r.get("gorl_version") if r["event"] in ("start", "resume") else None
        if isinstance(version, str) and version and version not in seen:
            seen.append(version)
    return seen


def fork_origin(raw):
    """(source dir, env steps) of the last fork row (a fork of a fork has two), else None."""
    forks = [r for r in raw if r["event"] == "fork" and isinstance(r.get("source"), str)]
    return (forks[-1]["source"], forks[-1].get("env_steps")) if forks else None


def finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)


def number_or_nan(value):
    """For plotting: a missing or null field is a gap, not an error."""
    return float(value) if finite(value) else np.nan


@dataclass
class Run:
    dir: str
    task: str
    algo: str
    seed: int
    preset: str
    total_env_steps: int
    num_stages: int
    fields: dict            # flattened config.textproto
    evals: list             # eval rows, by env_steps
    refines: list           # refine rows, by stage
    stage_ends: list        # stage_end rows, by stage
    resumes: int
    forked_from: object     # (source dir, env steps) of a `gorl train --fork` run, else None
    bad_lines: int
    progress_env_steps: int  # the furthest env_steps any row reached
    progress_wall_seconds: float  # and its active wall time
    final_eval: dict = None  # final_eval.json, only when the run finished
    policies: list = field(default_factory=list)  # [(stage, path)], by stage
    builds: list = field(default_factory=list)    # gorl versions that ran it (build_versions)
    variant: str = ""        # which config fields tell this run apart from its (task, algo) peers

    @property
    def finished(self):
        return self.final_eval is not None

    @property
    def label(self):
        return f"{self.algo} ({self.variant})" if self.variant else self.algo

    @property
    def final(self):
        """(return, std, stochastic return, env_steps): final_eval.json when the run finished
        (deterministic, eval.episodes episodes), else its last eval row."""
        if self.finished:
            e = self.final_eval
            return (e.get("return_mean"), e.get("return_std"), e.get("stochastic_return_mean"),
                    e.get("env_steps"))
        e = self.evals[-1]
        return (e.get("eval_return_mean"), e.get("eval_return_std"),
                e.get("eval_stochastic_return_mean"), e.get("env_steps"))

    @property
    def wall_seconds(self):
        if self.finished and finite(self.final_eval.get("wall_seconds")):
            return self.final_eval["wall_seconds"]
        return self.progress_wall_seconds

    def boundaries(self):
        """Stage ends that start another stage (the last stage's end is the end of training)."""
        ends = self.stage_ends
        if self.num_stages:
            return [r for r in ends if r.get("stage", 0) < self.num_stages - 1]
        later = max((r.get("stage", 0) for r in self.evals), default=0)
        return [r for r in ends if r.get("stage", 0) < later]


class Unusable(Exception):
    """A run directory the report cannot use; the message says why."""


def load_config(run_dir):
    path = os.path.join(run_dir, "config.textproto")
    if not os.path.isfile(path):
        raise Unusable("no config.textproto")
    try:
        with open(path, encoding="utf-8") as f:
            fields = flatten_textproto(f.read())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise Unusable(f"config.textproto does not parse: {e}")
    for required in ("task", "algo"):
        if not fields.get(required):
            raise Unusable(f"config.textproto names no {required}")
    return fields


def top_int(fields, name):
    """A top-level integer field; proto3 text format omits zeros, so absent means 0."""
    value = fields.get(name, ("0",))[-1]
    try:
        return int(float(value))
    except ValueError:
        raise Unusable(f"config.textproto: {name} is not a number: {value!r}")


def load_final_eval(run_dir):
    path = os.path.join(run_dir, "final_eval.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            final = json.load(f)
        if not finite(final.get("return_mean")):
            raise ValueError("no return_mean")
        return final
    except (OSError, ValueError) as e:
        warn(f"{run_dir}: final_eval.json unreadable ({e}); treating the run as unfinished")
        return None


def policy_files(run_dir):
    found = []
    for path in glob.glob(os.path.join(run_dir, "policy_stage*.pb")):
        match = re.fullmatch(r"policy_stage(\d+)\.pb", os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def load_run(run_dir):
    fields = load_config(run_dir)
    metrics = metrics_path(run_dir)
    if metrics is None:
        raise Unusable("no metrics.jsonl")
    try:
        raw, bad, last_bad = read_jsonl(metrics)
    except (OSError, EOFError, zlib.error) as e:  # zlib, EOF: a damaged .gz
        raise Unusable(f"metrics.jsonl unreadable: {e}")
    if bad:
        where = "the last line is truncated" if last_bad and bad == 1 else f"{bad} bad line(s)"
        warn(f"{run_dir}: skipped {bad} unparsable line(s) of metrics.jsonl ({where})")
    if not raw:
        raise Unusable("metrics.jsonl has no rows")
    rows = rewind_and_deduplicate(raw)

    def by(event, key):
        return sorted((r for r in rows if r["event"] == event and finite(r.get(key))),
                      key=lambda r: r[key])

    evals = [r for r in by("eval", "env_steps")
             if finite(r.get("eval_return_mean")) and finite(r.get("wall_seconds"))]
    if not evals:
        raise Unusable(f"no eval rows yet ({len(raw)} rows in metrics.jsonl)")
    return Run(
        dir=run_dir, task=fields["task"][-1], algo=algo_name(fields["algo"][-1]),
        seed=top_int(fields, "seed"), preset=fields.get("preset", ("",))[-1],
        total_env_steps=top_int(fields, "total_env_steps"),
        num_stages=len(fields.get("stages.fractions", ())),
        fields=fields, evals=evals, refines=by("refine", "stage"),
        stage_ends=by("stage_end", "stage"),
        resumes=count_resumes(raw), forked_from=fork_origin(raw), bad_lines=bad,
        progress_env_steps=int(max(r["env_steps"] for r in rows if finite(r.get("env_steps")))),
        progress_wall_seconds=max(r["wall_seconds"] for r in rows
                                  if finite(r.get("wall_seconds"))),
        final_eval=load_final_eval(run_dir), policies=policy_files(run_dir),
        builds=build_versions(raw))


# ---------------------------------------------------------------------------------------------
# Finding and grouping runs

def candidate_dirs(paths):
    """Run directories named directly, and the subdirectories of sweep directories."""
    dirs = []
    for path in paths:
        path = os.path.normpath(path)
        # metrics.jsonl or checkpoint.pb without a config: a broken run, not a sweep
        if any(os.path.isfile(os.path.join(path, name))
               for name in ("config.textproto", "checkpoint.pb") + METRICS_NAMES):
            dirs.append(path)
            continue
        subdirs = sorted(e.path for e in os.scandir(path)
                         if e.is_dir() and not e.name.startswith("."))
        dirs.extend(subdirs if subdirs else [path])  # an empty dir is reported, not ignored
    return sorted(set(dirs), key=dirs.index)


def load_runs(paths):
    runs, skipped = [], []
    for run_dir in candidate_dirs(paths):
        try:
            runs.append(load_run(run_dir))
        except Unusable as e:
            warn(f"skipping {run_dir}: {e}")
            skipped.append({"dir": run_dir, "reason": str(e)})
    return runs, skipped


def describe(values):
    return "default" if values is None else ",".join(values)


# Config sections (or fields) an algorithm never reads: a difference there (a preset that gained
# `decoder.diffusion_prediction` between two PPO seeds) does not make another experiment.
UNREAD_FIELDS = {
    "ppo": ("decoder", "refine", "fpo", "dppo"),
    "gorl-fm": ("decoder.diffusion_prediction", "fpo", "dppo"),
    "gorl-diff": ("fpo", "dppo"),
    "fpo": ("decoder", "refine", "dppo"),
    "dppo": ("decoder", "refine", "fpo"),
}


def read_by(algo, key):
    return not any(key == f or key.startswith(f + ".") for f in UNREAD_FIELDS.get(algo, ()))


def assign_variants(runs):
    """Runs of one task and algorithm whose configs differ (beyond seed, operational settings
    and fields the algorithm does not read) are different experiments: name each by the fields
    that differ, so that curves and tables never average, say, a clipped and an unclipped run
    as two seeds."""
    groups = {}
    for run in runs:
        groups.setdefault((run.task, run.algo), []).append(run)
    for (_, algo), group in groups.items():
        keys = sorted(k for k in set().union(*(r.fields for r in group)) - OPERATIONAL_FIELDS
                      if read_by(algo, k))
        differing = [k for k in keys if len({r.fields.get(k) for r in group}) > 1]
        for run in group:
            text = ", ".join(f"{k}={describe(run.fields.get(k))}" for k in differing)
            run.variant = text if len(text) <= 60 else text[:59] + "…"


def drop_duplicates(runs, skipped):
    """Two runs with the same experiment and seed (e.g. backup copies of a run) would count as
    two seeds: keep the one that got furthest."""
    best = {}
    for run in sorted(runs, key=lambda r: (not r.finished, -r.progress_env_steps, r.dir)):
        key = (run.task, run.label, run.seed)
        if key in best:
            reason = (f"duplicate of {best[key].dir} (same task, algo, config and seed; "
                      f"that one got further)")
            warn(f"skipping {run.dir}: {reason}")
            skipped.append({"dir": run.dir, "reason": reason})
        else:
            best[key] = run
    return sorted(best.values(), key=lambda r: (r.task, algo_rank(r.algo), r.label, r.seed))


def algo_rank(algo):
    return ALGO_ORDER.index(algo) if algo in ALGO_ORDER else len(ALGO_ORDER)


def group_by_task(runs):
    """{task: {label: [runs by seed]}}, ordered by task, then the paper's algorithm order."""
    tasks = {}
    for run in runs:
        tasks.setdefault(run.task, {}).setdefault(run.label, []).append(run)
    return tasks


def label_colours(runs):
    """The algorithm's colour for its first label (in sort order), spare colours for the
    other variants, so that colours stay the same from figure to figure."""
    colours, spare = {}, iter(EXTRA_COLOURS * 10)
    for label, algo in sorted({(r.label, r.algo) for r in runs}):
        if algo in ALGO_COLOUR and ALGO_COLOUR[algo] not in colours.values():
            colours[label] = ALGO_COLOUR[algo]
        else:
            colours[label] = next(spare)
    return colours


# ---------------------------------------------------------------------------------------------
# Figures

def save_png(fig, path, dpi=100):
    """Save, lowering the resolution until the file is under PNG_LIMIT_BYTES."""
    while True:
        fig.savefig(path, dpi=dpi)
        if os.path.getsize(path) <= PNG_LIMIT_BYTES or dpi <= 50:
            break
        dpi = int(dpi * 0.8)
    if os.path.getsize(path) > PNG_LIMIT_BYTES:
        warn(f"{path} is {os.path.getsize(path)} bytes even at dpi {dpi}")
    plt.close(fig)


def panel_grid(count, width=5.2, height=3.8, max_cols=3):
    cols = min(count, max_cols)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def seed_curve(run, x_of):
    xs = np.array([x_of(r) for r in run.evals], dtype=float)
    ys = np.array([r["eval_return_mean"] for r in run.evals], dtype=float)
    order = np.argsort(xs, kind="stable")  # np.interp needs increasing x
    return xs[order], ys[order]


def plot_group(ax, group, x_of, colour, label):
    """Mean over seeds with a ±std band (population std) where every seed has data, i.e. up to
    the shortest seed; past it only the single seeds (faint), since a mean over whichever
    seeds remain jumps wherever one ends."""
    curves = [seed_curve(run, x_of) for run in group]
    unfinished = sum(not r.finished for r in group)
    text = f"{label} (n={len(group)} seed{'s' if len(group) > 1 else ''}"
    text += f", {unfinished} unfinished)" if unfinished else ")"
    if len(curves) == 1:
        xs, ys = curves[0]
        ax.plot(xs, ys, color=colour, marker="o", markersize=2.5, lw=1.4, label=text)
        return
    for xs, ys in curves:  # each seed, faint, so that the reader sees what is averaged
        ax.plot(xs, ys, color=colour, lw=0.7, alpha=0.45)
    grid = np.linspace(min(c[0][0] for c in curves), max(c[0][-1] for c in curves), 300)
    values = np.array([np.interp(grid, xs, ys, left=np.nan, right=np.nan) for xs, ys in curves])
    valid = ~np.isnan(values)
    everyone = valid.all(axis=0)
    mean, std = np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    mean[everyone] = values[:, everyone].mean(axis=0)
    std[everyone] = values[:, everyone].std(axis=0)  # population std, as in the tables
    ax.plot(grid, mean, color=colour, lw=1.6, label=text,
            marker="o" if everyone.sum() < 2 else None)  # a single common point stays visible
    ax.fill_between(grid, mean - std, mean + std, color=colour, alpha=0.2, lw=0)


def plot_curves(tasks, colours, path, x_of, boundary_x, xlabel):
    fig, axes = panel_grid(len(tasks))
    for ax, (task, groups) in zip(axes, tasks.items()):
        for label, group in groups.items():
            plot_group(ax, group, x_of, colours[label], label)
            for row in group[0].boundaries():  # stage ends of the lowest seed
                ax.axvline(boundary_x(row), color=colours[label], ls=":", lw=1, alpha=0.7)
        ax.set_title(task)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("eval return (deterministic)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.text(0.995, 0.005, "dotted: stage boundaries (lowest seed); band: ±1 std over seeds; "
             "mean and band up to the shortest seed; faint: single seeds",
             ha="right", va="bottom", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    save_png(fig, path)


def plot_fidelity(tasks, colours, path):
    """Row 1: refined / collecting stochastic return per boundary; row 2: sliced W2 of the
    refined decoder (fed the prior) to the collecting policy, against the sampling floor."""
    with_refines = {t: g for t, g in tasks.items() if any(r.refines for rs in g.values()
                                                          for r in rs)}
    cols = min(len(with_refines), 4)
    pairs = math.ceil(len(with_refines) / cols)  # a pair of rows per line of tasks
    fig, axes = plt.subplots(2 * pairs, cols, figsize=(5.2 * cols, 7.2 * pairs), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    markers = "osD^v<>pP*X"
    for index, (task, groups) in enumerate(with_refines.items()):
        pair, col = divmod(index, cols)
        ratio_ax, w2_ax = axes[2 * pair][col], axes[2 * pair + 1][col]
        ratio_ax.set_visible(True)
        w2_ax.set_visible(True)
        series = [(label, run) for label, rs in groups.items() for run in rs if run.refines]
        max_stage = 0
        for number, (label, run) in enumerate(series):
            offset = (number - (len(series) - 1) / 2) * 0.05  # keep markers of seeds apart
            colour, marker = colours[label], markers[run.seed % len(markers)]
            stages = np.array([r["stage"] for r in run.refines], dtype=float)
            max_stage = max(max_stage, int(stages.max()))
            ratios = [boundary_ratio(r) for r in run.refines]
            ratio_ax.plot(stages + offset, [number_or_nan(v) for v in ratios],
                          color=colour, marker=marker, lw=0.8, label=f"{label} s{run.seed}")
            prior = [number_or_nan(r.get("fidelity_sw_prior")) for r in run.refines]
            floor = [number_or_nan(r.get("fidelity_sw_floor")) for r in run.refines]
            w2_ax.plot(stages + offset, prior, color=colour, marker=marker, lw=0.8)
            w2_ax.plot(stages + offset, floor, color=colour, marker=marker, lw=0.8, ls=":",
                       markerfacecolor="white")
        ratio_ax.axhline(FIDELITY_GOAL, color="0.3", ls="--", lw=1, label=f"goal {FIDELITY_GOAL}")
        ticks = list(range(max_stage + 1))
        for ax in (ratio_ax, w2_ax):
            ax.set_xticks(ticks, [f"{k}→{k + 1}" for k in ticks])
            ax.set_xlim(-0.5, max_stage + 0.5)
            ax.set_xlabel("boundary (stage k → k+1)")
            ax.grid(alpha=0.3)
        ratio_ax.set_title(task)
        ratio_ax.set_ylabel("refined / collecting\nstochastic return")
        ratio_ax.legend(fontsize=7, loc="best")
        w2_ax.set_ylabel("sliced W2 to collecting policy")
        w2_ax.set_ylim(0, w2_ax.get_ylim()[1] * 1.15)  # room for the markers at the top
        w2_ax.legend(loc="lower left", handles=[
            Line2D([], [], color="0.3", marker="o", label="refined decoder, prior z"),
            Line2D([], [], color="0.3", marker="o", ls=":", markerfacecolor="white",
                   label="floor (two samples of the collecting policy)")], fontsize=7)
    fig.tight_layout()
    save_png(fig, path)


def boundary_ratio(row):
    collecting, refined = row.get("collecting_stochastic_return"), row.get(
        "refined_stochastic_return")
    if finite(collecting) and finite(refined) and collecting > 0:
        return refined / collecting
    return None  # a ratio of returns at or below zero says nothing


def boundary_ratio_interval(run, row):
    """95% interval of refined / collecting from the two evaluations' means and episode spreads
    (`*_stochastic_return_std`, logged since 2026-12-03) over the hand-over's episodes, by the
    delta method for independent samples. The two share their start states, so the interval is
    if anything too wide. None without the spreads or with a collecting mean at or below zero."""
    c, r = row.get("collecting_stochastic_return"), row.get("refined_stochastic_return")
    sc = row.get("collecting_stochastic_return_std")
    sr = row.get("refined_stochastic_return_std")
    episodes = hand_over_episodes(run, row)
    if not all(finite(v) for v in (c, r, sc, sr)) or c <= 0 or episodes < 2:
        return None
    se = math.sqrt(sr ** 2 / c ** 2 + r ** 2 * sc ** 2 / c ** 4) / math.sqrt(episodes)
    ratio = r / c
    return [ratio - 1.96 * se, ratio + 1.96 * se]


# ---------------------------------------------------------------------------------------------
# Action densities (the GoRL paper's Figure 6)

def sample_actions(gorl, run, policy, states_from, at_steps, samples, assets, tmp):
    """Call `gorl sample` for one stage's policy at the states the last stage's policy visits
    at `at_steps`; returns {state index: (samples, action dims)} or raises RuntimeError."""
    csv_path = os.path.join(tmp, "actions.csv")
    command = [gorl, "sample", "--policy", policy, "--states_from", states_from,
               "--task", run.task, "--at_steps", ",".join(map(str, at_steps)),
               "--samples", str(samples), "--seed", "0", "--csv", csv_path]
    if assets:
        command += ["--assets", assets]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"{' '.join(command[:2])}: {e}")
    if done.returncode != 0:
        message = " | ".join(l.strip() for l in done.stderr.splitlines() if l.strip())
        raise RuntimeError(f"gorl sample exited {done.returncode}: {message[:300]}")
    return read_actions_csv(csv_path)


@functools.lru_cache(maxsize=None)
def episode_length(gorl, task):
    """The task's episode length from `gorl tasks --json` (None when it cannot be had); asked
    once per task, not once per run."""
    try:
        done = subprocess.run([gorl, "tasks", "--json"], capture_output=True, text=True,
                              timeout=120)
        for entry in json.loads(done.stdout):
            if entry.get("name") == task:
                return int(entry["episode_length"])
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        pass
    return None


def states_steps(count, length):
    """`count` episode steps spread evenly inside an episode of `length` steps (250, 500, 750
    for 3 states of a 1000-step episode; 25, 50, 75 on twin-peaks)."""
    length = length or 1000
    return sorted({max(1, round(length * (i + 1) / (count + 1))) for i in range(count)})


def read_actions_csv(path):
    """`obs_index,a0,a1,...` with one row per sampled action."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        if header[0] != "obs_index" or len(header) < 2:
            raise RuntimeError(f"unexpected CSV header {','.join(header)!r}")
        table = np.loadtxt(f, delimiter=",", ndmin=2)
    if table.size == 0 or table.shape[1] != len(header):
        raise RuntimeError("CSV has no rows or ragged rows")
    index = table[:, 0].astype(int)
    return {int(i): table[index == i, 1:] for i in np.unique(index)}


def pca_2d(union):
    """Top two principal axes of the union of every stage's samples at one state, so that all
    stages are drawn in the same coordinates. Signs fixed for reproducible pictures."""
    mean = union.mean(axis=0)
    _, s, vt = np.linalg.svd(union - mean, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    explained = s[:2] ** 2 / max(float((s ** 2).sum()), 1e-300)
    return mean, axes * signs[:, None], explained


def kde_1d(samples, xs):
    n = len(samples)
    bandwidth = max(samples.std(ddof=1) * n ** (-1 / 5), 1e-3)  # Scott's rule
    z = (xs[:, None] - samples[None, :]) / bandwidth
    return np.exp(-0.5 * z * z).sum(axis=1) / (n * bandwidth * math.sqrt(2 * math.pi))


def kde_2d(points, xs, ys, floor):
    """Gaussian KDE on a grid, Scott's bandwidth (covariance * n^(-1/3)), plus a small
    isotropic floor so that samples collapsed onto a line (saturated actions) still work."""
    n = len(points)
    cov = np.cov(points.T) * n ** (-2 / 6) + np.eye(2) * floor ** 2
    whiten = np.linalg.cholesky(np.linalg.inv(cov))  # |(x - p) W|^2 = Mahalanobis distance
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()]) @ whiten
    pts = points @ whiten
    density = np.empty(len(grid))
    for start in range(0, len(grid), 512):  # chunks keep memory at a few MB
        d2 = ((grid[start:start + 512, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
        density[start:start + 512] = np.exp(-0.5 * d2).sum(axis=1)
    density /= n * 2 * math.pi * math.sqrt(np.linalg.det(cov))
    return density.reshape(gx.shape)


def draw_state_row(axes, label, stage_samples, at_step, colour):
    """One state: every stage's action samples, same projection and limits across stages."""
    stages = sorted(stage_samples)
    dims = stage_samples[stages[0]].shape[1]
    for ax, stage in zip(axes, stages):
        ax.set_title(f"{label} · stage {stage} · t={at_step}", fontsize=7)
        ax.tick_params(labelsize=6)
    if dims == 1:
        xs = np.linspace(-1.05, 1.05, 400)
        curves = {s: kde_1d(stage_samples[s][:, 0], xs) for s in stages}
        top = 1.05 * max(float(c.max()) for c in curves.values())  # one y scale per state
        for ax, stage in zip(axes, stages):
            ax.fill_between(xs, curves[stage], color=colour, alpha=0.5)
            ax.set_xlim(-1.05, 1.05)
            ax.set_ylim(0, top)
            ax.set_xlabel("action", fontsize=7)
        axes[0].set_ylabel("density", fontsize=7)
        return
    union = np.concatenate([stage_samples[s] for s in stages])
    mean, components, explained = pca_2d(union)
    projected = {s: (stage_samples[s] - mean) @ components.T for s in stages}
    union_projected = (union - mean) @ components.T
    low = np.percentile(union_projected, 0.5, axis=0)
    high = np.percentile(union_projected, 99.5, axis=0)
    span = np.maximum(high - low, 0.05)
    low, high = low - 0.15 * span, high + 0.15 * span
    xs, ys = np.linspace(low[0], high[0], 80), np.linspace(low[1], high[1], 80)
    for ax, stage in zip(axes, stages):
        density = kde_2d(projected[stage], xs, ys, floor=0.01 * float(span.max()))
        # filled contours only: outlines double the PNG size for little information
        ax.contourf(xs, ys, density, levels=np.linspace(0.05, 1, 7) * density.max(),
                    cmap="Blues")
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_xlabel(f"PC1 ({explained[0]:.0%})", fontsize=7)
    axes[0].set_ylabel(f"PC2 ({explained[1]:.0%})", fontsize=7)


def collect_densities(args, groups, failures):
    """{label: (episode steps, {stage: {state index: samples}})} for the lowest-seed run of
    each algorithm that saved policies; a failing `gorl sample` skips that run with a warning
    (and an entry in `failures`)."""
    result = {}
    for label, group in groups.items():
        run = next((r for r in group if r.policies), None)
        if run is None:
            continue
        states_from, per_stage = run.policies[-1][1], {}
        steps = states_steps(args.densities, episode_length(args.gorl, run.task))
        try:
            with tempfile.TemporaryDirectory(prefix="gorl-report-") as tmp:
                for stage, policy in run.policies:
                    per_stage[stage] = sample_actions(args.gorl, run, policy, states_from, steps,
                                                      args.samples, args.assets, tmp)
            shapes = {(tuple(sorted(s)), s[min(s)].shape[1]) for s in per_stage.values()}
            if len(shapes) != 1 or len(next(iter(shapes))[0]) != len(steps):
                raise RuntimeError("stages disagree on states or action dimensions")
        except (RuntimeError, OSError, ValueError) as e:
            warn(f"{run.dir}: no action densities: {e}")
            failures.append({"dir": run.dir, "reason": str(e)})
            continue
        result[label] = (steps, per_stage)
    return result


def plot_densities(task, label, steps, per_stage, colour, path):
    """One figure per task and algorithm (all algorithms stacked would pass 300 KB): rows are
    states, columns are stages."""
    states = sorted(next(iter(per_stage.values())))
    cols = len(per_stage)
    width = max(2.5 * cols, 5.0)  # wide enough for the title with a single stage
    fig, axes = plt.subplots(len(states), cols, figsize=(width, 2.2 * len(states) + 0.4),
                             squeeze=False)
    for row_axes, state in zip(axes, states):
        samples = {stage: per_stage[stage][state] for stage in per_stage}
        draw_state_row(list(row_axes), label, samples, steps[state], colour)
    title = (f"{task}, {label}: actions sampled from each stage's policy at states the last "
             f"stage's policy reaches at step t" + ("" if next(iter(per_stage.values()))[
                 states[0]].shape[1] == 1 else "; PCA fitted per state on all stages"))
    fig.suptitle(textwrap.fill(title, width=int(14 * width)), fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


# ---------------------------------------------------------------------------------------------
# Summary

def clean(value):
    """JSON has no NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def boundary_summary(run, row):
    entry = {"stage": row.get("stage"), "env_steps": row.get("env_steps"),
             "collecting": row.get("collecting_stochastic_return"),
             "refined": row.get("refined_stochastic_return"), "ratio": boundary_ratio(row),
             "ratio_ci95": boundary_ratio_interval(run, row),
             "refine_seconds": row.get("refine_seconds")}
    for key in sorted(row):
        if key.startswith(("fidelity_", "target_", "collecting_", "refined_", "decoder_")) \
                and key != "decoder_val_curve" and key not in entry:
            entry[key] = row[key]
    return entry


def run_summary(run):
    ret, std, stochastic, steps = run.final
    return {"dir": run.dir, "task": run.task, "algo": run.algo, "variant": run.variant,
            "seed": run.seed, "preset": run.preset, "env_steps": run.progress_env_steps,
            "total_env_steps": run.total_env_steps, "finished": run.finished,
            "final_return": ret, "final_return_std": std, "final_stochastic_return": stochastic,
            "final_env_steps": steps, "wall_seconds": run.wall_seconds,
            "resumes": run.resumes, "unparsable_lines": run.bad_lines, "gorl_builds": run.builds,
            "forked_from": ({"source": run.forked_from[0], "env_steps": run.forked_from[1]}
                            if run.forked_from else None),
            "boundaries": [boundary_summary(run, r) for r in run.refines]}


def paper_number(task, algo):
    if task in PAPER and algo in ALGO_ORDER:
        return PAPER[task][ALGO_ORDER.index(algo)]
    return None


def table_row(task, group):
    finals = np.array([r.final[0] for r in group], dtype=float)
    return {"task": task, "algo": group[0].algo, "variant": group[0].variant,
            "n_seeds": len(group), "seeds": [r.seed for r in group],
            "mean": float(finals.mean()), "std": float(finals.std()),  # population std
            "finals": finals.tolist(), "env_steps": [r.final[3] for r in group],
            "finished": [r.finished for r in group],
            "wall_minutes_mean": float(np.mean([r.wall_seconds / 60 for r in group])),
            "paper_180M": paper_number(task, group[0].algo),
            "paper_seeds": PAPER_SEEDS.get(task, 5) if task in PAPER else None}


def add_wall_vs_ppo(table):
    """Each row's mean wall-clock over PPO's on the same task (PPO without a variant), the
    cost the paper states as GoRL's 1.87x; None where the task has no such PPO row."""
    ppo = {row["task"]: row["wall_minutes_mean"] for row in table
           if row["algo"] == "ppo" and not row["variant"]}
    for row in table:
        base = ppo.get(row["task"])
        row["wall_vs_ppo"] = row["wall_minutes_mean"] / base if base else None


def fidelity_tally(runs):
    """Per task and algorithm (label): boundaries measured and how many met the goal."""
    tally = {}
    for run in runs:
        for r in run.refines:
            ratio = boundary_ratio(r)
            if ratio is None:
                continue
            entry = tally.setdefault((run.task, run.label), {
                "task": run.task, "algo": run.algo, "variant": run.variant, "seeds": [],
                "boundaries": 0, "at_goal": 0, "lowest_ratio": ratio, "with_interval": 0,
                "below_goal_beyond_noise": 0})
            if run.seed not in entry["seeds"]:
                entry["seeds"].append(run.seed)
            entry["boundaries"] += 1
            entry["at_goal"] += ratio >= FIDELITY_GOAL
            entry["lowest_ratio"] = min(entry["lowest_ratio"], ratio)
            interval = boundary_ratio_interval(run, r)
            if interval is not None:
                entry["with_interval"] += 1
                entry["below_goal_beyond_noise"] += interval[1] < FIDELITY_GOAL
    return list(tally.values())


def millions(steps):
    return f"{steps / 1e6:.2f}M"


def final_cell(row, group):
    n = row["n_seeds"]
    text = f"{row['mean']:.1f}" + ("" if n == 1 else f" ± {row['std']:.1f}") + f" (n={n})"
    for run in group:
        if not run.finished:
            text += (f"; seed {run.seed} unfinished at {run.progress_env_steps:,} env steps: "
                     f"its last eval ({run.final[3]:,}), not a final")
    return text


def steps_cell(row):
    low, high = min(row["env_steps"]), max(row["env_steps"])
    return millions(high) if low == high else f"{millions(low)}–{millions(high)}"


def write_markdown(path, tasks, runs, table, tally, skipped, figures, figure_notes):
    most = max(r.final[3] for r in runs)
    least = min(r.final[3] for r in runs)
    lines = ["# GoRL report", "",
             f"These runs were evaluated at {millions(least)}–{millions(most)} env steps; the "
             f"paper's numbers are final returns at {PAPER_STEPS // 1_000_000}M env steps "
             f"(5 seeds; humanoid 3), {PAPER_STEPS / most:.0f}× the longest run here, so the two "
             "columns are not like for like. Final return: `final_eval.json`'s deterministic "
             "`return_mean` for a finished run, else the run's last eval row (flagged). ± is the "
             "population standard deviation (ddof=0) of the per-seed final returns.", "",
             "| task | algo | final return (mean ± std, n seeds) | env steps | wall (min) "
             "| wall / PPO's | paper, 180M steps |", "|---|---|---|---|---|---|---|"]
    for row in table:
        group = tasks[row["task"]][row_label(row)]
        paper = "—" if row["paper_180M"] is None else str(row["paper_180M"])
        if row["paper_seeds"] == 3:
            paper += " (3 seeds)"
        lines.append(f"| {row['task']} | {row_label(row)} | {final_cell(row, group)} | "
                     f"{steps_cell(row)} | {row['wall_minutes_mean']:.1f} | "
                     f"{fmt(row['wall_vs_ppo'], 2)} | {paper} |")
    lines += fidelity_markdown(runs, tally)
    lines += ["", "## Runs", "", "| dir | task | algo | seed | status | final return | wall (min) "
              "| notes |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        status = "finished" if run.finished else \
            f"unfinished at {run.progress_env_steps:,} env steps (of {run.total_env_steps:,})"
        notes = []
        if run.forked_from:
            source, steps = run.forked_from
            at = f" at {steps / 1e6:.2f}M env steps" if finite(steps) else ""
            notes.append(f"forked from `{source}`{at}")
        if run.resumes:
            notes.append(f"resumed {run.resumes}×")
        if run.bad_lines:
            notes.append(f"{run.bad_lines} unparsable line(s) skipped")
        if run.builds:
            notes.append("gorl " + ", then ".join(f"`{b}`" for b in run.builds))
        lines.append(f"| `{run.dir}` | {run.task} | {run.label} | {run.seed} | {status} | "
                     f"{run.final[0]:.1f} | {run.wall_seconds / 60:.1f} | {'; '.join(notes)} |")
    lines += ["", "## Skipped directories", ""]
    lines += [f"- `{s['dir']}`: {s['reason']}" for s in skipped] or ["None."]
    lines += ["", "## Figures", ""]
    lines += [f"- [{name}]({name}): {what}\n\n  ![{what}]({name})" for name, what in figures]
    lines += [f"- {note}" for note in figure_notes]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def row_label(row):
    return f"{row['algo']} ({row['variant']})" if row["variant"] else row["algo"]


def fidelity_markdown(runs, tally):
    rows = [(run, r) for run in runs for r in run.refines]
    if not rows:
        return []
    lines = ["", "## Refinement fidelity", "",
             f"Stochastic return of the refined policy (new decoder, fresh encoder, before any "
             f"update) against the policy that collected its data; the goal is a ratio of at "
             f"least {FIDELITY_GOAL}. Sliced W2 of the actions to the collecting policy's: new "
             "decoder fed the prior / fed the fresh encoder / sampling floor.", "",
             *(f"- {t['task']}, {row_label(t)}: {t['at_goal']} of {t['boundaries']} boundaries "
               f"at or above {FIDELITY_GOAL} (seeds {', '.join(map(str, sorted(t['seeds'])))}; "
               f"lowest ratio {t['lowest_ratio']:.3f}){beyond_noise(t)}" for t in tally), "",
             "The ratio's 95% interval (in brackets, from the episodes' spread; runs from before "
             "2026-12-03 did not log it) tells a loss from evaluation noise.", "",
             "| task | algo | seed | boundary | env steps | collecting → refined (episodes) "
             "| ratio [95% interval] | sliced W2 prior / fresh / floor | refine (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run, r in rows:
        ratio = boundary_ratio(r)
        interval = boundary_ratio_interval(run, r)
        bracket = "" if interval is None else f" [{interval[0]:.2f}, {interval[1]:.2f}]"
        w2 = " / ".join(fmt(r.get(f"fidelity_sw_{k}"), 3) for k in ("prior", "fresh_encoder",
                                                                   "floor"))
        lines.append(
            f"| {run.task} | {run.label} | {run.seed} | {r['stage']} → {r['stage'] + 1} | "
            f"{millions(r.get('env_steps', 0))} | {fmt(r.get('collecting_stochastic_return'), 1)}"
            f" → {fmt(r.get('refined_stochastic_return'), 1)} ({hand_over_episodes(run, r)}) | "
            f"{fmt(ratio, 3)}{bracket}"
            f"{'' if ratio is None or ratio >= FIDELITY_GOAL else ' (below goal)'}"
            f" | {w2} | {fmt(r.get('refine_seconds'), 0)} |")
    return lines


def beyond_noise(entry):
    """The tally's clause on boundaries whose whole 95% interval lies below the goal."""
    if not entry["with_interval"]:
        return ""
    return (f"; {entry['below_goal_beyond_noise']} of the {entry['with_interval']} with an "
            f"interval below {FIDELITY_GOAL} beyond noise")


def hand_over_episodes(run, row):
    """Episodes of the boundary's evaluations: logged since refine.fidelity_episodes existed,
    before that always eval.episodes."""
    logged = row.get("fidelity_eval_episodes")
    return int(logged) if finite(logged) else top_int(run.fields, "eval.episodes")


def fmt(value, digits):
    return f"{value:.{digits}f}" if finite(value) else "—"


# ---------------------------------------------------------------------------------------------

def slug(text):
    """A file-name-safe form of a task or algorithm label."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")[:80]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="gorl_report.py", description="Figures and a summary from GoRL run directories.")
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument("--gorl", help="the gorl binary; needed for action densities")
    parser.add_argument("--assets", help="passed to `gorl sample --assets`")
    parser.add_argument("--densities", type=int, default=3,
                        help="states per density figure (0: none; default 3)")
    parser.add_argument("--samples", type=int, default=2000,
                        help="actions sampled per state and stage (default 2000)")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a run directory or a directory of run directories")
    args = parser.parse_args(argv)  # exits 2 on bad arguments
    if args.densities < 0 or args.samples < 2:
        parser.error("--densities must be >= 0 and --samples >= 2")
    for path in args.paths:
        if not os.path.isdir(path):
            parser.error(f"not a directory: {path}")
    if args.gorl and not os.access(args.gorl, os.X_OK):
        parser.error(f"--gorl {args.gorl} is not an executable file")
    return args


def main(argv):
    args = parse_args(argv)
    runs, skipped = load_runs(args.paths)
    assign_variants(runs)
    runs = drop_duplicates(runs, skipped)
    if not runs:
        warn("no usable run directory; nothing to report")
        return 1
    os.makedirs(args.out, exist_ok=True)
    tasks = group_by_task(runs)
    colours = label_colours(runs)
    figures = [("curves_steps.png", "evaluation return against env steps"),
               ("curves_wall.png", "evaluation return against wall-clock minutes")]
    plot_curves(tasks, colours, os.path.join(args.out, figures[0][0]),
                x_of=lambda r: r["env_steps"] / 1e6, boundary_x=lambda r: r["env_steps"] / 1e6,
                xlabel="env steps (millions)")
    plot_curves(tasks, colours, os.path.join(args.out, figures[1][0]),
                x_of=lambda r: r["wall_seconds"] / 60, boundary_x=lambda r: r["wall_seconds"] / 60,
                xlabel="wall-clock minutes (active time, across resumes)")
    if any(run.refines for run in runs):
        figures.append(("fidelity.png", "refinement fidelity per stage boundary"))
        plot_fidelity(tasks, colours, os.path.join(args.out, "fidelity.png"))
    density_failures = []
    if args.gorl and args.densities > 0:
        for task, groups in tasks.items():
            for label, (steps, per_stage) in collect_densities(args, groups,
                                                               density_failures).items():
                name = f"densities_{slug(task)}_{slug(label)}.png"
                plot_densities(task, label, steps, per_stage, colours[label],
                               os.path.join(args.out, name))
                figures.append((name, f"{task}, {label}: action densities per stage"))
    table = [table_row(task, group) for task, groups in tasks.items()
             for group in groups.values()]
    add_wall_vs_ppo(table)
    tally = fidelity_tally(runs)
    summary = {"runs": [run_summary(r) for r in runs], "table": table,
               "fidelity_goal": tally, "skipped": skipped,
               "densities_failed": density_failures}
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(clean(summary), f, indent=1, ensure_ascii=False)
        f.write("\n")
    notes = [f"No action densities for `{f['dir']}`: {f['reason']}" for f in density_failures]
    if not args.gorl or args.densities == 0:
        notes.append("No action densities: they need --gorl and --densities > 0.")
    write_markdown(os.path.join(args.out, "summary.md"), tasks, runs, table, tally, skipped,
                   figures, notes)
    print(f"{PROG}: {len(runs)} run(s), {len(skipped)} skipped; wrote {args.out}/summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
