"""What `research/nab-loco` and `research/nab-segments` share: build the shipped plugin, replay it
over a NAB-layout corpus (through `am-runner replay --nab`) and score the result with NAB's
scorer (standard profile). Standard library only."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

DETECTOR = "novelty"


def work_dir(given, prefix):
    """`given`, or a new temporary directory that is removed when the script exits (the
    replays of a run take tens to hundreds of MB)."""
    if given:
        return given
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def build():
    """Builds the runner and the plugin (release) and returns the folder holding them."""
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "am-runner", "-p",
                    "am-plugin-novelty"], cwd=root, check=True)
    return os.path.join(root, os.environ.get("CARGO_TARGET_DIR", "target"), "release")


def replay(bin_dir, options, data, results):
    """Replays `Novelty` with `options` (a dict) over `data` into `results`."""
    subprocess.run([os.path.join(bin_dir, "am-runner"), "replay", "--plugin",
                    os.path.join(bin_dir, "libam_plugin_novelty.so"), "--options",
                    json.dumps(options), "--nab", data, "--out", results, "--detector",
                    DETECTOR], check=True, stdout=subprocess.DEVNULL)


def score(scorer, data, windows_file, results, threshold=None):
    """The scorer's standard-profile result (a dict), at `threshold` or optimised."""
    cmd = [sys.executable, scorer, "--data", data, "--windows", windows_file, "--results",
           results, "--detector", DETECTOR, "--profile", "standard", "--json"]
    if threshold is not None:
        cmd += ["--threshold", repr(threshold)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["profiles"]["standard"]
