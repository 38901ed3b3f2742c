#!/usr/bin/env python3
"""Keep the record of GoRL runs where it outlives the machine that ran them.

    archive_runs.py [--policies] DEST PATH...

A run directory holds checkpoints of several MB that only matter while the run can still be
resumed; what `gorl report` reads is small. This copies, for each run directory PATH names (or
each run in a sweep directory), what the report needs into DEST/<run name>/:

    config.textproto, metrics.jsonl.gz (gzip, byte-for-byte reproducible), final_eval.json and
    sweep_cell.json when present, and with --policies the policy_stage<k>.pb files (the
    report's action densities).

`gorl report DEST --out ...` then reads the archive as it reads run directories. A run already
in DEST is replaced only by the same run (same config.textproto) that got at least as far; an
archived run of another configuration under the same name is never overwritten.
Exit status: 0 when every usable run is archived (or DEST already holds it further), 1 when a
run was refused or none was usable, 2 on bad arguments.
"""

import argparse
import gzip
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gorl_report  # noqa: E402  (the report's own reader decides what a usable run is)

PROG = "archive_runs.py"
gorl_report.PROG = PROG  # the reader's warnings (a truncated line, ...) name this tool
KEPT_AS_IS = ("config.textproto", "final_eval.json", "sweep_cell.json")


def warn(message):
    print(f"{PROG}: {message}", file=sys.stderr)


def progress(run):
    """How far a run got: finished runs past unfinished ones, then by env steps."""
    return (run.finished, run.progress_env_steps)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_record(run, with_policies, into):
    os.makedirs(into)
    for name in KEPT_AS_IS:
        source = os.path.join(run.dir, name)
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(into, name))
    # mtime=0 and no file name in the header: the same metrics give the same bytes, so an
    # unchanged run archived again is no change to the repository holding it.
    metrics = gorl_report.metrics_path(run.dir)
    with open(metrics, "rb") as f, open(os.path.join(into, "metrics.jsonl.gz"), "wb") as out:
        data = f.read()
        if metrics.endswith(".gz"):
            out.write(data)
        else:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as z:
                z.write(data)
    if with_policies:
        for _, path in run.policies:
            shutil.copyfile(path, os.path.join(into, os.path.basename(path)))


def archive_one(run, dest, with_policies):
    """Returns True when DEST holds the run (now or already, further)."""
    name = os.path.basename(os.path.normpath(run.dir))
    target = os.path.join(dest, name)
    if os.path.exists(target):
        archived_config = os.path.join(target, "config.textproto")
        if (not os.path.isfile(archived_config) or
                read_bytes(archived_config) != read_bytes(os.path.join(run.dir, "config.textproto"))):
            warn(f"refusing {run.dir}: {target} holds a run of another configuration "
                 f"(archive it under another name, or remove {target} first)")
            return False
        try:
            archived = gorl_report.load_run(target)
        except gorl_report.Unusable:
            archived = None
        if archived is not None and progress(archived) > progress(run):
            warn(f"keeping {target}: it got further ({archived.progress_env_steps} env steps) "
                 f"than {run.dir} ({run.progress_env_steps})")
            return True
    # Written beside, then swapped in: an interrupted archive leaves the old record whole.
    staging, old = os.path.join(dest, f".{name}.new"), os.path.join(dest, f".{name}.old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    write_record(run, with_policies, staging)
    if os.path.exists(target):
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    state = "finished" if run.finished else f"unfinished at {run.progress_env_steps} env steps"
    print(f"archived {run.dir} -> {target} ({state})")
    return True


def main(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Copy what `gorl report` reads of each run into DEST/<run name>/.")
    parser.add_argument("--policies", action="store_true",
                        help="also keep policy_stage<k>.pb (the report's action densities)")
    parser.add_argument("dest", metavar="DEST", help="the archive directory (created)")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="run directories or sweep directories")
    args = parser.parse_args(argv)
    for path in args.paths:
        if not os.path.isdir(path):
            parser.error(f"{path} is not a directory")
    dest = os.path.normpath(args.dest)
    if any(os.path.normpath(p) == dest for p in args.paths):
        parser.error(f"{dest} is both the archive and a run to archive")
    runs, _ = gorl_report.load_runs(args.paths)  # names each directory it skips
    if not runs:
        warn("no usable run to archive")
        return 1
    try:
        os.makedirs(dest, exist_ok=True)
        kept = [archive_one(run, dest, args.policies) for run in runs]
    except OSError as e:  # a full disk, a read-only archive: say which and stop
        warn(f"archiving into {dest} failed: {e}")
        return 1
    return 0 if all(kept) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
