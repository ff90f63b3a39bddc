"""The include rule of compiler/ (docs/architecture.md): each layer sees
only the layers before it. IR, passes and backend never see the front end
(ast.h, parse.h) or the driver; runtime/ sees nothing of compiler/.

    base.h <- ir.h <- passes.h <- backend.h <- jit.h
                  \\<- ast.h (front end)
    driver.h, api*.c, main.c and onnx/ see every layer.

Every source and header of compiler/ and runtime/ must be in FILES below
(a new file fails the check until it is given a layer). The check follows
quoted #includes transitively. usage: check_layers.py SOURCE_DIR
With --selftest it also proves, on a copy of the tree in a temporary
directory, that a pass including ast.h and an unlisted file both fail.
"""
import os
import re
import shutil
import sys
import tempfile

# Which headers each layer may reach (transitively); system headers and
# files generated in the build tree (parser.h, lexer.h) are the front end's.
BASE = {"base.h", "cnnc.h"}
IR = BASE | {"ir.h", "ops.def", "acts.def", "interp.h"}   # the op tables are the IR's
PASSES = IR | {"passes.h"}
BACKEND = PASSES | {"backend.h"}
JIT = BACKEND | {"jit.h"}
FRONT = IR | {"ast.h", "parse.h", "parser.h", "lexer.h", "readers.h"}
TOP = None   # anything
RUNTIME = {"readers.h"}

LAYER_OF = {
    "base": BASE, "ir": IR, "passes": PASSES, "backend": BACKEND, "jit": JIT,
    "front": FRONT, "top": TOP, "runtime": RUNTIME,
}

FILES = {
    "compiler/cnnc.h": "base", "compiler/base.h": "base", "compiler/arena.c": "base",
    "compiler/buf.c": "base", "compiler/diag.c": "base",
    "compiler/ir.h": "ir", "compiler/ir.c": "ir", "compiler/ir_print.c": "ir",
    "compiler/ops.def": "ir", "compiler/acts.def": "ir",
    "compiler/interp.c": "ir", "compiler/interp.h": "ir", "compiler/interp_int8.c": "ir",
    "compiler/passes.h": "passes", "compiler/pass.c": "passes", "compiler/fold_bn.c": "passes",
    "compiler/fuse.c": "passes", "compiler/pack.c": "passes", "compiler/pack_int8.c": "passes", "compiler/pad.c": "passes",
    "compiler/concat_view.c": "passes", "compiler/inplace.c": "passes", "compiler/plan.c": "passes", "compiler/target.c": "passes",
    "compiler/calibrate.c": "passes", "compiler/quantize.c": "passes",
    "compiler/backend.h": "backend", "compiler/emit_c.c": "backend",
    "compiler/emit_ops.c": "backend", "compiler/emit_int8.c": "backend", "compiler/emit_kernels.c": "backend", "compiler/emit_winograd.c": "backend",
    "compiler/emit_dot.c": "backend", "compiler/emit_test.c": "backend",
    "compiler/summary.c": "backend", "compiler/budget.c": "backend",
    "compiler/jit.h": "jit", "compiler/jit.c": "jit",
    "compiler/ast.h": "front", "compiler/parse.h": "front", "compiler/lexer.l": "front",
    "compiler/parser.y": "front", "compiler/ast.c": "front", "compiler/sema.c": "front",
    "compiler/lower.c": "front", "compiler/weights.c": "front",
    "compiler/driver.h": "top", "compiler/driver.c": "top", "compiler/api.c": "top",
    "compiler/api_views.c": "top", "compiler/main.c": "top",
    "compiler/onnx/onnx.h": "top", "compiler/onnx/read.c": "top",
    "compiler/onnx/import.c": "top", "compiler/onnx/ops.c": "top",
    "compiler/onnx/fold.c": "top", "compiler/onnx/qdq.c": "top",
    "runtime/readers.h": "runtime", "runtime/files.c": "runtime",
    "runtime/npy.c": "runtime", "runtime/safetensors.c": "runtime",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SEARCH = ["compiler", "runtime"]


def sources(root):
    for top in SEARCH:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".c", ".h", ".l", ".y", ".def")) and n != "CMakeLists.txt":
                    yield os.path.relpath(os.path.join(dirpath, n), root)


def resolve(root, including, name):
    """The tree file a quoted include names: beside the includer, then in
    compiler/ and runtime/ (the build's include path); None if generated."""
    for d in [os.path.dirname(including)] + SEARCH:
        path = os.path.normpath(os.path.join(d, name))
        if os.path.exists(os.path.join(root, path)):
            return path
    return None


def reached(root, rel, seen=None):
    """Every header rel includes, directly or not, as base names."""
    seen = set() if seen is None else seen
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        text = f.read()
    for name in INCLUDE.findall(text):
        path = resolve(root, rel, name)
        key = path or name
        if key in seen:
            continue
        seen.add(key)
        if path:
            reached(root, path, seen)
    return seen


def check(root):
    problems = []
    for rel in sorted(sources(root)):
        layer = FILES.get(rel)
        if layer is None:
            problems.append(f"{rel}: not in tests/layers/check_layers.py's FILES: give it a layer")
            continue
        allowed = LAYER_OF[layer]
        if allowed is None:
            continue
        for inc in sorted(reached(root, rel)):
            if os.path.basename(inc) not in allowed:
                problems.append(f"{rel} ({layer} layer) includes {inc}, which that layer may not see")
    return problems


def selftest(root):
    """The check must fail on a tree that breaks the rule."""
    tmp = tempfile.mkdtemp(prefix="layers-")
    try:
        for top in SEARCH:
            shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        with open(os.path.join(tmp, "compiler", "fuse.c"), "a", encoding="utf-8") as f:
            f.write('\n#include "ast.h"\n')
        with open(os.path.join(tmp, "compiler", "new_pass.c"), "w", encoding="utf-8") as f:
            f.write('#include "passes.h"\n')
        got = check(tmp)
        want = ["compiler/fuse.c (passes layer) includes compiler/ast.h",
                "compiler/new_pass.c: not in"]
        missing = [w for w in want if not any(p.startswith(w) for p in got)]
        return [f"selftest: the check did not report '{w}...'" for w in missing]
    finally:
        shutil.rmtree(tmp)


def main():
    root = os.path.abspath(sys.argv[1])
    problems = check(root)
    if "--selftest" in sys.argv:
        problems += selftest(root)
    for p in problems:
        print(p)
    nfiles = len(list(sources(root)))
    print(f"layers: {nfiles} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
