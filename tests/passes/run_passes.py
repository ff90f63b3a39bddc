"""run_passes: the optimizer's passes, pass by pass, on every example and
on random models from tests/py/genmodels.py, through test_passes (C).

Writes each random model (seeds FIRST..FIRST+COUNT-1, a weights file
placeholder replaced by `weights random(seed=S)`) into WORKDIR and runs
`test_passes models` on them and on examples/*.cnn: after each of fold_bn,
fuse, pack, pad and inplace, the interpreter on the optimized graph must
match the interpreter on the -O0 graph within 1e-5 (max-rel).

    run_passes.py TEST_PASSES EXAMPLES_DIR WORKDIR [--seeds FIRST:COUNT] [--big]
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
import genmodels  # noqa: E402


def write_models(workdir, first, count, big):
    opts = genmodels.big_options() if big else genmodels.Options()
    paths = []
    for seed in range(first, first + count):
        text = genmodels.generate(seed, opts)
        text = text.replace('weights "%s";' % genmodels.WEIGHTS_PLACEHOLDER,
                            "weights random(seed=%d);" % seed)
        path = os.path.join(workdir, "m%05d.cnn" % seed)
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test_passes")
    ap.add_argument("examples")
    ap.add_argument("workdir")
    ap.add_argument("--seeds", default="20000:200")
    ap.add_argument("--big", action="store_true")
    a = ap.parse_args()
    first, count = (int(v) for v in a.seeds.split(":"))
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    models = sorted(glob.glob(os.path.join(a.examples, "*.cnn")))
    models += write_models(a.workdir, first, count, a.big)
    proc = subprocess.run([a.test_passes, "models"] + models, timeout=1200)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
