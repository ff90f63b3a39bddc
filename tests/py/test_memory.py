"""Out of memory at the CLI: an error with exit status 1, never an abort.

A valid model whose weights (a 16000 x 16000 dense layer, 1 GiB of
floats) cannot fit under an address-space limit of 800 MB must end in
"cnnc: error: out of memory" and no output file, as every user error does
(before: an internal error and SIGABRT, exit 134). The same model fits
when there is no limit; that is not run here (1 GiB, seconds).

A build with AddressSanitizer reserves terabytes of address space, so a
limit cannot be set there: the test then exits 77, which ctest reports as
skipped (tests/jit's jit_api sweeps memory limits through the API under
the sanitizers instead).
"""
import os
import resource
import subprocess
import sys

from cnnctest import arg_parser, fresh_dir, require_tools

LIMIT_BYTES = 800 * 1000 * 1000
SKIP = 77

MODEL = """model big {
    input x[16000];
    weights random(seed=1);
    d = dense(units=16000);
}
"""


def sanitized(path):
    with open(path, "rb") as f:
        return b"AddressSanitizer" in f.read()


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def main():
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    require_tools(args, need_c=False)
    if sanitized(args.cnnc):
        print("SKIP: cnnc is built with AddressSanitizer; no address-space limit possible")
        return SKIP
    work = fresh_dir(args.workdir)
    with open(os.path.join(work, "big.cnn"), "w") as f:
        f.write(MODEL)
    p = subprocess.run([args.cnnc, "big.cnn", "-o", "big.c"], cwd=work, capture_output=True,
                       text=True, timeout=120, preexec_fn=limit_memory)
    problems = []
    if p.returncode != 1:
        problems.append("exit status %d, expected 1" % p.returncode)
    if "cnnc: error: out of memory" not in p.stderr:
        problems.append("no 'cnnc: error: out of memory' in stderr")
    if "internal error" in p.stderr:
        problems.append("an internal error")
    for name in ("big.c", "big.h"):
        if os.path.exists(os.path.join(work, name)):
            problems.append(name + " was written")
    for problem in problems:
        print("FAIL:", problem)
    print("--- stderr ---\n" + p.stderr[-2000:])
    print("memory: %d passed, %d failed" % (0 if problems else 1, 1 if problems else 0))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
