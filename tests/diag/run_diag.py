"""Diagnostics tests: every NAME.cnn here is a malformed model whose exact
stderr is NAME.expect. Each must make `cnnc NAME.cnn -o NAME.c` exit 1,
print exactly the expected diagnostics, print nothing on stdout, and write
no output file.

usage: run_diag.py CNNC WORKDIR [--update]
--update rewrites the .expect files from cnnc's output: review the diff
before committing it, line and column included.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_case(cnnc, work, name):
    out_c = os.path.join(work, name + ".c")
    proc = subprocess.run([cnnc, name + ".cnn", "-o", name + ".c"], cwd=work,
                          capture_output=True, text=True, timeout=60)
    problems = []
    if proc.returncode != 1:
        problems.append(f"exit status {proc.returncode}, expected 1")
    if proc.stdout:
        problems.append(f"unexpected stdout: {proc.stdout!r}")
    for path in (out_c, out_c[:-2] + ".h"):
        if os.path.exists(path):
            problems.append(f"output file written: {path}")
    return proc.stderr, problems


def main():
    cnnc, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    update = "--update" in sys.argv
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run([sys.executable, os.path.join(HERE, "fixtures.py"), work], check=True)
    names = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".cnn"))
    for name in names:
        shutil.copy(os.path.join(HERE, name + ".cnn"), work)
    passed = failed = 0
    for name in names:
        stderr, problems = run_case(cnnc, work, name)
        expect_path = os.path.join(HERE, name + ".expect")
        if update:
            with open(expect_path, "w") as f:
                f.write(stderr)
        with open(expect_path) as f:
            expected = f.read()
        if stderr != expected:
            problems.append("stderr differs:\n--- expected\n" + expected + "--- got\n" + stderr)
        if problems:
            failed += 1
            print(f"FAIL {name}:\n  " + "\n  ".join(problems))
        else:
            passed += 1
    print(f"diag: {passed} passed, {failed} failed")
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main())
