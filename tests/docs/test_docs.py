#!/usr/bin/python3
"""The docs say only what is true (label docs). Standard library only.

  links     every relative link of README.md and docs/*.md names an existing
            file of the source tree, and an anchor (#...) one of its headings
  paths     every repository path the docs name (compiler/..., runtime/...,
            tests/..., examples/..., docs/..., ...) exists
  api       each struct listed in docs/api.md is compiler/cnnc.h's, verbatim,
            and every struct of cnnc.h is listed
  steps     README.md's quick start and docs/tutorial.md run as written

The steps convention (stated in both files): commands are the `$ ` lines of
```console blocks (a line ending in `\\` continues); the lines after a
command are what it prints, shown to the reader and not compared, except
that `$ cat FILE` materializes FILE from them when it does not exist yet. A
```python block right after `<!-- docs-test: run -->` runs too. A block
right after `<!-- docs-test: skip (why) -->` is counted and printed, not
run. Any other block that looks like shell commands is an error, so no step
escapes the test by its formatting.

Each file runs in its own fresh directory under one tempfile.mkdtemp()
(HOME and TMPDIR point inside it), the tutorial's with a copy of examples/.
`cnnc` is found on PATH as the build's, and `build/compiler/cnnc` (also
`$PWD/build/compiler/cnnc`) is replaced by its path. Every command must exit
0. Nothing is written outside the temporary directory, which is removed at
the end (--keep keeps it).

  test_docs.py --source DIR --cnnc PATH [--no-jit] [--keep]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip\s*\((.+)\)$")
# First words that make a line of an untagged block look like a command.
COMMAND_WORDS = ("cnnc", "build/compiler/cnnc", "cc", "gcc", "make", "cmake",
                 "python3", "/usr/bin/python3", "./a.out", "ctest")
REPO_PATH = re.compile(r"(?<![\w./~$-])((?:compiler|runtime|tests|examples|docs|cmake|fuzz|bench|scripts)"
                       r"/[\w./-]*[\w/])")
PLACEHOLDERS = {"NAME", "FILE", "PREFIX", "MODEL", "OUT", "PATH", "PASS", "X", "Y", "N", "K"}
STEP_FILES = ("README.md", "docs/tutorial.md")
TIMEOUT = 180


class Failure(Exception):
    pass


class Block:
    def __init__(self, path, line, info, lines, marker):
        self.path, self.line, self.info, self.lines, self.marker = path, line, info, lines, marker

    def where(self):
        return "%s:%d" % (self.path, self.line)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def split_blocks(rel, text):
    """The fenced blocks of a markdown file, and its text outside them."""
    blocks, prose, lines = [], [], text.split("\n")
    i, last = 0, ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            if lines[i].strip():
                last = lines[i].strip()
            i += 1
            continue
        fence, info, start = m.group(1), m.group(2), i + 1
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence[:3]):
            j += 1
        if j == len(lines):
            raise Failure("%s:%d: unterminated code block" % (rel, start))
        mk = MARKER.match(last)
        blocks.append(Block(rel, start, info, lines[i + 1:j], mk.group(1) if mk else None))
        prose.append("")
        last = ""
        i = j + 1
    return blocks, "\n".join(prose)


# ---- links ----

def slug(heading):
    """GitHub's anchor for a heading."""
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(source, rel, cache):
    if rel not in cache:
        _, prose = split_blocks(rel, read(os.path.join(source, rel)))
        seen, out = {}, set()
        for line in prose.split("\n"):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                n = seen.get(s, 0)
                seen[s] = n + 1
                out.add(s if n == 0 else "%s-%d" % (s, n))
        cache[rel] = out
    return cache[rel]


def check_links(source, md_files):
    count, errors, cache = 0, [], {}
    for rel in md_files:
        _, prose = split_blocks(rel, read(os.path.join(source, rel)))
        prose = re.sub(r"`[^`\n]*`", "", prose)           # inline code is not a link
        targets = re.findall(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)
        targets += re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, re.M)
        for t in targets:
            if re.match(r"^[a-zA-Z][\w+.-]*:", t):           # http:, mailto:, ...
                continue
            count += 1
            path, _, frag = t.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(rel), path)) if path else rel
            full = os.path.join(source, dest)
            if dest.startswith("..") or os.path.isabs(path):
                errors.append("%s: link '%s' leaves the source tree" % (rel, t))
            elif not os.path.exists(full):
                errors.append("%s: link '%s': no file %s" % (rel, t, dest))
            elif frag and dest.endswith(".md") and frag not in anchors(source, dest, cache):
                errors.append("%s: link '%s': %s has no heading with anchor #%s" % (rel, t, dest, frag))
    return count, errors


def check_paths(source, files):
    count, errors = 0, []
    for rel in files:
        for p in sorted(set(REPO_PATH.findall(read(os.path.join(source, rel)).replace("\\-", "-")))):
            if any(os.path.splitext(c)[0] in PLACEHOLDERS for c in p.split("/")):
                continue
            count += 1
            if not os.path.exists(os.path.join(source, p)):
                errors.append("%s: names %s, which does not exist" % (rel, p))
    return count, errors


def check_api(source):
    structs = re.compile(r"typedef struct (\w+) \{.*?\} \1;", re.S)
    norm = lambda s: re.sub(r"\s+", " ", s).strip()
    header = {m.group(1): norm(m.group(0)) for m in structs.finditer(read(os.path.join(source, "compiler/cnnc.h")))}
    doc = {m.group(1): norm(m.group(0)) for m in structs.finditer(read(os.path.join(source, "docs/api.md")))}
    errors = ["docs/api.md: struct %s is not cnnc.h's (copy it from compiler/cnnc.h)" % n
              for n in doc if header.get(n) != doc[n]]
    errors += ["docs/api.md: struct %s of compiler/cnnc.h is not listed" % n for n in header if n not in doc]
    return len(header), errors


# ---- steps ----

def commands(block):
    """[(command, [output lines], line number)] of a console block."""
    out, cur = [], None
    for k, line in enumerate(block.lines):
        if cur is not None and cur[0].endswith("\\"):
            cur[0] = cur[0] + "\n" + line
        elif line.startswith("$ "):
            cur = [line[2:], [], block.line + 1 + k]
            out.append(cur)
        elif cur is not None:
            cur[1].append(line)
        elif line.strip():
            raise Failure("%s: console block: output before any `$ ` command: %r" % (block.where(), line))
    if not out:
        raise Failure("%s: console block without a `$ ` command" % block.where())
    return [tuple(c) for c in out]


def looks_like_shell(block):
    return any(ln.startswith("$ ") or ln.split(" ", 1)[0] in COMMAND_WORDS for ln in block.lines)


def plan_steps(source, rel):
    """The steps of one file: ('sh', block, cmd, output), ('py', block, code),
    ('skip', block, why)."""
    blocks, _ = split_blocks(rel, read(os.path.join(source, rel)))
    steps = []
    for b in blocks:
        skip = SKIP.match(b.marker) if b.marker else None
        if b.marker is not None and not skip and b.marker != "run":
            raise Failure("%s: unknown marker '<!-- docs-test: %s -->' (skip (why) or run)" % (b.where(), b.marker))
        if skip:
            steps.append(("skip", b, skip.group(1)))
            if b.info == "console":
                commands(b)                                   # still well-formed
        elif b.info == "console":
            if b.marker == "run":
                raise Failure("%s: console blocks run anyway; drop the run marker" % b.where())
            steps += [("sh", b, c, o, n) for c, o, n in commands(b)]
        elif b.marker == "run":
            if b.info != "python":
                raise Failure("%s: a run marker before a ```%s block (python only)" % (b.where(), b.info))
            steps.append(("py", b, "\n".join(b.lines) + "\n"))
        elif b.info in ("", "sh", "shell", "bash") and looks_like_shell(b):
            raise Failure("%s: shell commands outside a ```console block: write them as `$ ` lines "
                          "of a console block, or mark the block <!-- docs-test: skip (why) -->" % b.where())
    return steps


def run_steps(args, rel, steps, work, env, count):
    cnnc = os.path.abspath(args.cnnc)
    for st in steps:
        kind, b = st[0], st[1]
        if kind == "skip":
            print("  SKIP %s: %s" % (b.where(), st[2]))
            continue
        where = b.where()
        if kind == "py":
            argv, shown = [sys.executable, "-B", "-c", st[2]], "python block"
        else:
            cmd, output, where = st[2], st[3], "%s:%d" % (rel, st[4])
            m = re.match(r"^cat ([\w.-]+)\s*$", cmd)
            if m and not os.path.exists(os.path.join(work, m.group(1))):
                with open(os.path.join(work, m.group(1)), "w") as f:
                    f.write("\n".join(output) + "\n")
            if args.no_jit and re.search(r"\bcnnc run\b", cmd) and "--interp" not in cmd:
                print("  SKIP %s: %s (this cnnc has no JIT)" % (where, cmd))
                continue
            shown = cmd
            cmd = re.sub(r"(\$PWD/)?build/compiler/cnnc\b", cnnc, cmd)
            argv = ["bash", "-e", "-o", "pipefail", "-c", cmd]
        t0 = time.time()
        try:
            p = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("%s: `%s` took over %d s" % (where, shown, TIMEOUT))
        print("  %s %s: %s (%.1f s)" % ("ok  " if p.returncode == 0 else "FAIL", where,
                                        shown.split("\n")[0], time.time() - t0))
        if p.returncode != 0:
            raise Failure("%s: `%s` exited with %d:\n%s" % (where, shown, p.returncode, p.stdout[-3000:]))
        count["ran"] += 1


def check_steps(args, tmp):
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.symlink(os.path.abspath(args.cnnc), os.path.join(bindir, "cnnc"))
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
               HOME=os.path.join(tmp, "home"), TMPDIR=os.path.join(tmp, "tmp"), LC_ALL="C")
    os.makedirs(env["HOME"])
    os.makedirs(env["TMPDIR"])
    count, errors = {"ran": 0, "skipped": 0}, []
    for rel in STEP_FILES:           # a failure stops its file, not the other
        try:
            steps = plan_steps(args.source, rel)
            work = os.path.join(tmp, os.path.basename(rel).replace(".md", ""))
            os.makedirs(work)
            if rel != "README.md":   # the tutorial runs at the top of a repository
                shutil.copytree(os.path.join(args.source, "examples"), os.path.join(work, "examples"),
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
            print("%s (in %s):" % (rel, work))
            count["skipped"] += sum(1 for s in steps if s[0] == "skip")
            run_steps(args, rel, steps, work, env, count)
        except Failure as f:
            errors.append(str(f))
    return count["ran"], count["skipped"], errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--no-jit", action="store_true", help="cnnc was built without libtcc")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    args.source = os.path.abspath(args.source)
    md = ["README.md"] + sorted(os.path.relpath(p, args.source)
                                for p in glob.glob(os.path.join(args.source, "docs", "*.md")))
    errors = []
    for what, fn in (("relative links", lambda: check_links(args.source, md)),
                     ("repository paths", lambda: check_paths(args.source, md + ["docs/cnnc.1"])),
                     ("structs of cnnc.h compared with docs/api.md", lambda: check_api(args.source))):
        try:
            n, e = fn()
            print("%d %s" % (n, what))
            errors += e
        except Failure as f:
            errors.append(str(f))
    tmp = tempfile.mkdtemp(prefix="cnnc-docs-")
    try:
        ran, skipped, e = check_steps(args, tmp)
        print("steps: %d run, %d blocks skipped as marked" % (ran, skipped))
        errors += e
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for e in errors:
        print("FAIL:", e)
    print("docs: %s" % ("FAILED (%d)" % len(errors) if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
