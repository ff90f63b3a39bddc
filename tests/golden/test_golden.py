"""Golden files of the emitted C: compiling tiny.cnn, residual.cnn and mobile.cnn must
give exactly the committed .c and .h, and compiling any model twice must
give byte-identical files (no dates, paths of the build, pointer values).

usage: test_golden.py CNNC WORKDIR [--update]
--update rewrites the goldens: read the diff before committing it.
"""
import filecmp
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples")


def compile_model(cnnc, model, out_c, cwd):
    subprocess.run([cnnc, model, "-o", out_c], cwd=cwd, check=True, timeout=120)


def check_golden(cnnc, work, name, update):
    out_c = os.path.join(work, name + ".c")
    compile_model(cnnc, name + ".cnn", out_c, HERE)
    failures = []
    for ext in (".c", ".h"):
        got, want = os.path.join(work, name + ext), os.path.join(HERE, name + ext + ".golden")
        if update:
            shutil.copy(got, want)
        if not filecmp.cmp(got, want, shallow=False):
            diff = subprocess.run(["diff", "-u", want, got], capture_output=True, text=True).stdout
            failures.append(f"{name}{ext} differs from its golden file:\n{diff[:4000]}")
    return failures


def check_deterministic(cnnc, work, model):
    outs = []
    for i in range(2):
        d = os.path.join(work, f"det{i}")
        os.makedirs(d, exist_ok=True)
        out_c = os.path.join(d, "model.c")
        compile_model(cnnc, os.path.abspath(model), out_c, work)
        outs.append(out_c)
    same = all(filecmp.cmp(outs[0][:-1] + e, outs[1][:-1] + e, shallow=False) for e in "ch")
    return [] if same else [f"{model}: two compilations differ"]


def main():
    cnnc, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    update = "--update" in sys.argv
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = []
    for name in ("tiny", "residual", "mobile"):
        failures += check_golden(cnnc, work, name, update)
    models = sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith(".cnn"))
    for model in models:
        failures += check_deterministic(cnnc, work, model)
    for f in failures:
        print("FAIL", f)
    total = 2 + len(models)
    print(f"golden: {total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
