"""Output files at the CLI: never onto an input, through symlinks, `-`.

Every case works in its own temporary directory and never names a path
of the machine's /dev: "stdout is a file" runs cnnc with its stdout
redirected to a file here, descriptors are reached through a symlink here
to /proc/self/fd/1, devices are played by FIFOs.

  onto-input      -o MODEL, -o LINK -> MODEL, --emit ir -o MODEL,
                  --emit-test MODEL, run --output INPUT, -o - with stdout
                  appending to the model, import X.onnx -o X.onnx and
                  -o LINK.cnn -> X.onnx: exit 1, both paths named, the
                  input unchanged, nothing left beside it
  outputs-clash   -o a.c --emit-test a.h: exit 1, nothing written
  symlinks        -o LINK -> sub/real.c (existing, and dangling), --emit ir
                  and --emit-test through links: the links stay links, their
                  targets get the content, no temporary is left
  stdout          -o - (header, then the C without its #include: gcc
                  compiles it), --emit ir -o -, and a symlink to
                  /proc/self/fd/1, each with stdout a file here
  stdin           `cnnc - -o x.c < model`: the same C as from the file;
                  diagnostics name <stdin>; import - is a usage error
  onto-weights    -o, a link, run --output onto the model's weights file: refused
  fifo            -o FIFO and -o LINK -> FIFO: header then C, the FIFO stays
  failure-keeps   a failing write (missing directory) leaves the old file
  cli-conventions "did you mean" for options and commands, --opt=value, an
                  input .npy with extra size-1 dimensions (and the error
                  naming the expected shape otherwise)
"""
import os
import stat
import subprocess
import sys
import threading

from cnnctest import ToolError, fresh_dir, run, run_cases

TIMEOUT = 60


def cnnc(args, cmd, **kw):
    return run([args.cnnc] + cmd, timeout=TIMEOUT, cwd=args.work, **kw)


def cnnc_to_file(args, cmd, out_path, mode="wb", stdin_path=None):
    """Runs cnnc with stdout redirected to out_path (opened with mode)."""
    with open(out_path, mode) as out:
        fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            return subprocess.run([args.cnnc] + cmd, stdout=out, stderr=subprocess.PIPE,
                                  stdin=fin, cwd=args.work, timeout=TIMEOUT,
                                  universal_newlines=True)
        finally:
            if stdin_path:
                fin.close()


def expect(cond, what, p=None):
    if not cond:
        raise ToolError(what + ("" if p is None else "\n--- stderr ---\n" + p.stderr[-2000:]))


def path(args, name):
    return os.path.join(args.work, name)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def listing(args):
    return sorted(os.listdir(args.work))


def setup(args, name):
    """A fresh directory holding tiny.cnn; returns the model's bytes."""
    args.work = fresh_dir(os.path.join(args.root, name))
    text = read(os.path.join(args.examples, "tiny.cnn"))
    write(path(args, "tiny.cnn"), text)
    return text


def refused(args, cmd, out, inp, model, stdin_path=None):
    before = listing(args)
    p = cnnc(args, cmd)
    want = "%s: error: output file is the input '%s'; nothing written\n" % (out, inp)
    expect(p.returncode == 1 and p.stderr == want, "%s: expected exit 1 and %r, got %d"
           % (" ".join(cmd), want, p.returncode), p)
    expect(read(path(args, "tiny.cnn")) == model, "%s changed the model" % " ".join(cmd))
    expect(listing(args) == before, "%s left %s" % (" ".join(cmd), listing(args)))


def onnx_relu(p):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p)


def case_onto_input(args):
    model = setup(args, "onto")
    refused(args, ["tiny.cnn", "-o", "tiny.cnn"], "tiny.cnn", "tiny.cnn", model)
    os.symlink("tiny.cnn", path(args, "evil.c"))
    refused(args, ["tiny.cnn", "-o", "evil.c"], "evil.c", "tiny.cnn", model)
    refused(args, ["tiny.cnn", "--emit", "ir", "-o", "evil.c"], "evil.c", "tiny.cnn", model)
    refused(args, ["tiny.cnn", "-o", "ok.c", "--emit-test", "tiny.cnn"], "tiny.cnn", "tiny.cnn",
            model)
    write(path(args, "x.f32"), bytes(3 * 8 * 8 * 4))
    before = read(path(args, "x.f32"))
    p = cnnc(args, ["run", "tiny.cnn", "--interp", "--input", "x.f32", "--output", "x.f32"])
    expect(p.returncode == 1 and p.stderr == "x.f32: error: output file is the input 'x.f32'; "
           "nothing written\n" and read(path(args, "x.f32")) == before,
           "run --output onto its --input", p)
    p = cnnc_to_file(args, ["tiny.cnn", "-o", "-"], path(args, "tiny.cnn"), mode="ab")
    expect(p.returncode == 1 and p.stderr == "-: error: output file is the input 'tiny.cnn'; "
           "nothing written\n" and read(path(args, "tiny.cnn")) == model,
           "-o - with stdout appending to the model", p)
    onnx_relu(path(args, "x.onnx"))
    onnx_bytes = read(path(args, "x.onnx"))
    for out in ("x.onnx", "link.cnn"):
        if out == "link.cnn":
            os.symlink("x.onnx", path(args, "link.cnn"))
        p = cnnc(args, ["import", "x.onnx", "-o", out])
        want = "%s: error: output file is the input 'x.onnx'; nothing written\n" % out
        expect(p.returncode == 1 and p.stderr == want and read(path(args, "x.onnx")) == onnx_bytes,
               "import -o %s: expected %r" % (out, want), p)
    p = cnnc(args, ["import", "x.onnx", "-o", "fine.cnn"])
    expect(p.returncode == 0 and b"relu" in read(path(args, "fine.cnn")), "import -o fine.cnn", p)


def case_onto_weights(args):
    """The model's weights file is an input too: -o, a link to it, and
    run --output onto it are refused, and it stays as it was."""
    model = setup(args, "weights")
    st = read(os.path.join(args.examples, "fashion", "fashion.safetensors"))
    os.makedirs(path(args, "fashion"))
    write(path(args, "fashion/fashion.safetensors"), st)
    write(path(args, "fashion.cnn"), read(os.path.join(args.examples, "fashion.cnn")))
    w = "fashion/fashion.safetensors"
    os.symlink(w, path(args, "w.c"))
    for cmd, out in ((["fashion.cnn", "-o", w], w), (["fashion.cnn", "-o", "w.c"], "w.c"),
                     (["run", "fashion.cnn", "--interp", "--input", "random", "--output", w], w)):
        p = cnnc(args, cmd)
        want = "%s: error: output file is the input '%s'; nothing written\n" % (out, w)
        expect(p.returncode == 1 and p.stderr == want and read(path(args, w)) == st,
               "%s: expected %r, the weights kept" % (" ".join(cmd), want), p)
    expect(read(path(args, "tiny.cnn")) == model, "the model changed")


def case_outputs_clash(args):
    setup(args, "clash")
    before = listing(args)
    p = cnnc(args, ["tiny.cnn", "-o", "a.c", "--emit-test", "a.h"])
    want = "a.h: error: output file is also the output 'a.h'; nothing written\n"
    expect(p.returncode == 1 and p.stderr == want, "-o a.c --emit-test a.h: expected %r" % want, p)
    expect(listing(args) == before, "-o a.c --emit-test a.h left %s" % listing(args))


def case_symlinks(args):
    setup(args, "links")
    os.mkdir(path(args, "sub"))
    write(path(args, "sub/real.c"), "old\n")
    os.symlink("sub/real.c", path(args, "link.c"))
    os.symlink("sub/new.c", path(args, "dangling.c"))
    p = cnnc(args, ["tiny.cnn", "-o", "link.c", "--emit-test", "dangling.c"])
    expect(p.returncode == 0, "-o link.c --emit-test dangling.c: exit %d" % p.returncode, p)
    for link, target in (("link.c", "sub/real.c"), ("dangling.c", "sub/new.c")):
        expect(os.path.islink(path(args, link)) and os.readlink(path(args, link)) == target,
               "%s is no longer a symlink to %s" % (link, target))
    expect(b"void tiny_run(" in read(path(args, "sub/real.c")), "sub/real.c did not get the C")
    expect(b"int main(" in read(path(args, "sub/new.c")), "sub/new.c did not get the test")
    expect(b"#define TINY_INPUT_SIZE" in read(path(args, "link.h")), "link.h not written")
    expect(listing(args) == ["dangling.c", "link.c", "link.h", "sub", "tiny.cnn"]
           and sorted(os.listdir(path(args, "sub"))) == ["new.c", "real.c"],
           "files left: %s, sub: %s" % (listing(args), os.listdir(path(args, "sub"))))
    os.symlink("sub/ir.txt", path(args, "ir-link"))
    p = cnnc(args, ["tiny.cnn", "--emit", "ir", "-o", "ir-link"])
    expect(p.returncode == 0 and os.path.islink(path(args, "ir-link")) and
           read(path(args, "sub/ir.txt")).startswith(b"graph tiny"), "--emit ir -o ir-link", p)


def case_stdout(args):
    setup(args, "stdout")
    p = cnnc_to_file(args, ["tiny.cnn", "-o", "-"], path(args, "piped.c"))
    text = read(path(args, "piped.c")).decode()
    expect(p.returncode == 0 and p.stderr == "", "-o -: exit %d" % p.returncode, p)
    expect(0 < text.find("#define TINY_INPUT_SIZE") < text.find("void tiny_run_ws(")
           and '#include "-.h"' not in text, "-o -: expected the header, then the C")
    expect(listing(args) == ["piped.c", "tiny.cnn"], "-o - wrote files: %s" % listing(args))
    g = subprocess.run([args.gcc, "-std=c99", "-c", "-o", path(args, "piped.o"),
                        path(args, "piped.c")], stderr=subprocess.PIPE, universal_newlines=True)
    expect(g.returncode == 0, "gcc does not compile the stream of -o -:\n" + g.stderr)
    ir = cnnc(args, ["tiny.cnn", "--emit", "ir"]).stdout
    p = cnnc_to_file(args, ["tiny.cnn", "--emit", "ir", "-o", "-"], path(args, "ir.txt"))
    expect(p.returncode == 0 and read(path(args, "ir.txt")).decode() == ir and ir.startswith("graph"),
           "--emit ir -o -: not the IR", p)
    os.symlink("/proc/self/fd/1", path(args, "fd1.c"))
    p = cnnc_to_file(args, ["tiny.cnn", "-o", "fd1.c"], path(args, "via-fd.c"))
    expect(p.returncode == 0 and os.path.islink(path(args, "fd1.c")) and
           read(path(args, "via-fd.c")).decode() == text, "-o LINK -> /proc/self/fd/1", p)
    expect(not os.path.exists(path(args, "fd1.h")), "-o LINK -> /proc/self/fd/1 wrote fd1.h")


def case_stdin(args):
    setup(args, "stdin")
    p = cnnc(args, ["tiny.cnn", "-o", "file.c"])
    q = cnnc_to_file(args, ["-", "-o", "in.c"], path(args, "out.txt"),
                     stdin_path=path(args, "tiny.cnn"))
    expect(p.returncode == 0 and q.returncode == 0, "cnnc - -o in.c < tiny.cnn", q)
    a = read(path(args, "file.c")).replace(b"file.h", b"X").replace(b"tiny.cnn", b"S")
    b = read(path(args, "in.c")).replace(b"in.h", b"X").replace(b"<stdin>", b"S")
    expect(a == b, "the C from stdin differs from the C from the file")
    write(path(args, "bad.cnn"), "model m {\n    input x[4];\n    dense(units=0);\n}\n")
    q = cnnc_to_file(args, ["-", "-o", "bad.c"], path(args, "out.txt"),
                     stdin_path=path(args, "bad.cnn"))
    expect(q.returncode == 1 and q.stderr.startswith("<stdin>:3:17: error: dense "),
           "a bad model on stdin: diagnostics should name <stdin>", q)
    p = cnnc(args, ["import", "-", "-o", "x.cnn"])
    expect(p.returncode == 2 and p.stderr.startswith(
        "cnnc: 'cnnc import' reads an ONNX file, not standard input\n"), "import -", p)


def read_fifo(p, into):
    with open(p, "rb") as f:
        into.append(f.read())


def case_fifo(args):
    setup(args, "fifo")
    os.mkfifo(path(args, "out.fifo"))
    os.symlink("out.fifo", path(args, "fifo-link.c"))
    for out in ("out.fifo", "fifo-link.c"):
        got = []
        reader = threading.Thread(target=read_fifo, args=(path(args, "out.fifo"), got))
        reader.start()
        p = cnnc(args, ["tiny.cnn", "-o", out])
        reader.join(TIMEOUT)
        text = got[0].decode() if got else ""
        expect(p.returncode == 0, "-o %s: exit %d" % (out, p.returncode), p)
        expect(stat.S_ISFIFO(os.stat(path(args, "out.fifo")).st_mode), "-o %s replaced the FIFO" % out)
        expect(0 < text.find("#define TINY_INPUT_SIZE") < text.find("void tiny_run_ws("),
               "-o %s: expected the header, then the C" % out)
    expect(listing(args) == ["fifo-link.c", "out.fifo", "tiny.cnn"], "left: %s" % listing(args))


def case_failure_keeps(args):
    setup(args, "keeps")
    write(path(args, "keep.c"), "old\n")
    p = cnnc(args, ["tiny.cnn", "-o", "keep.c", "--emit-test", "nodir/t.c"])
    expect(p.returncode == 1 and p.stderr == "nodir/t.c: error: cannot create: "
           "No such file or directory\n", "--emit-test into a missing directory", p)
    expect(read(path(args, "keep.c")) == b"old\n" and listing(args) == ["keep.c", "tiny.cnn"],
           "a failed compile changed keep.c or left %s" % listing(args))


def case_cli_conventions(args):
    setup(args, "cli")
    usage = "\n(run 'cnnc --help' for usage)\n"
    for cmd, want in (
            (["tiny.cnn", "--otuput", "y.npy"], "cnnc: unknown option '--otuput'; did you mean '--output'?"),
            (["tiny.cnn", "--sumary"], "cnnc: unknown option '--sumary'; did you mean '--summary'?"),
            (["tiny.cnn", "--frobnicate"], "cnnc: unknown option '--frobnicate'"),
            (["rnu", "tiny.cnn"], "cnnc: unknown command 'rnu'; did you mean 'run'?"),
            (["improt", "x.onnx", "-o", "x.cnn"], "cnnc: unknown command 'improt'; did you mean 'import'?"),
            (["tiny.cnn", "--summary=yes"], "cnnc: option '--summary' takes no value"),
            (["tiny.cnn", "--emti=ir"], "cnnc: unknown option '--emti'; did you mean '--emit'?"),
            (["tiny.cnn", "--emit=xml"], "cnnc: --emit takes c, ir or dot, not 'xml'"),
            (["tiny.cnn", "-o", "t.c", "--target", "x86-64-v5"],
             "cnnc: unknown target 'x86-64-v5'; did you mean 'x86-64-v3'?"),
            (["run", "tiny.cnn", "--input", "random", "--target=sparc"],
             "cnnc: unknown target 'sparc' (cnnc --print-targets lists them)")):
        p = cnnc(args, cmd)
        expect(p.returncode == 2 and p.stderr == want + usage and p.stdout == "",
               "%s: expected exit 2 and %r" % (" ".join(cmd), want), p)
    expect(listing(args) == ["tiny.cnn"], "a usage error wrote %s" % listing(args))
    p = cnnc(args, ["--print-targets"])
    names = [line.split()[0] for line in p.stdout.splitlines()]
    expect(p.returncode == 0 and names == ["auto", "generic", "x86-64-v3", "x86-64-v4", "aarch64",
                                           "cortex-m"], "--print-targets listed %s" % names, p)
    ir = cnnc(args, ["tiny.cnn", "--emit", "ir"]).stdout
    p = cnnc(args, ["tiny.cnn", "--emit=ir", "--ram-budget=1M"])
    expect(p.returncode == 0 and p.stdout == ir and ir, "--emit=ir --ram-budget=1M", p)
    p = cnnc(args, ["tiny.cnn", "--emit=ir", "--ram-budget=1K"])
    expect(p.returncode == 1 and "over the RAM budget of 1024 bytes" in p.stderr,
           "--ram-budget=1K: the value was not taken", p)
    import numpy as np
    x = np.arange(3 * 8 * 8, dtype="<f4").reshape(3, 8, 8) / 100
    ys = []
    for name, shape in (("x.npy", (3, 8, 8)), ("x1.npy", (1, 3, 8, 1, 8, 1)),
                        ("bad.npy", (3, 64))):
        np.save(path(args, name), x.reshape(shape))
        p = cnnc(args, ["run", "tiny.cnn", "--interp", "--input=" + name, "--output=y_" + name])
        ys.append((p, name))
    for p, name in ys[:2]:
        expect(p.returncode == 0 and p.stderr.startswith("interp: "), "--input %s" % name, p)
    expect(np.array_equal(np.load(path(args, "y_x.npy")), np.load(path(args, "y_x1.npy"))),
           "the input with extra size-1 dimensions gave other values")
    p = ys[2][0]
    want = ("bad.npy: error: array shape [3, 64] does not match the input 'x' [3, 8, 8] "
            "(or flat [192])\n")
    expect(p.returncode == 1 and p.stderr == want, "bad.npy: expected %r" % want, p)


CASES = [case_cli_conventions, case_onto_input, case_onto_weights, case_outputs_clash, case_symlinks, case_stdout, case_stdin, case_fifo,
         case_failure_keeps]


def main():
    return run_cases(__doc__, "outputs", CASES, "root")


if __name__ == "__main__":
    sys.exit(main())
