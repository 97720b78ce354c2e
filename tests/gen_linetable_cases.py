"""Emit line-table test cases, with CPython itself as the oracle.

Run by each interpreter under test (3.8 to 3.15). For every code object of a
set of stdlib sources plus crafted sources, it prints one record:

    <minor> <firstlineno> <nunits> <table-hex or -> <runs> <name>

`table` is co_lnotab on 3.8/3.9 and co_linetable on 3.10+. `runs` are the
expected lines for code-unit positions u = -1 .. nunits + 1, run-length
encoded as comma-separated `line` or `line*count`. Position -1 is the
"frame not started" case, for which the reader contract (not CPython) says
firstlineno. Every other position comes from PyCode_Addr2Line(code, u * 2),
including the two positions past the end of the code.

Sources are compiled, never executed or imported, so the run has no side
effects and does not depend on optional modules being importable.
"""

import ctypes
import os
import sys
import sysconfig
import warnings

MINOR = sys.version_info[1]

addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int

# Directories left out: the whole test suite would triple the run time, and
# site-packages is not the stdlib.
SKIP_DIRS = ("test", "tests", "idle_test", "site-packages", "dist-packages",
             "__pycache__", "config-")

TEST_MODULES = ("test_sys_settrace", "test_compile", "test_grammar",
                "test_patma", "test_exceptions", "test_exception_group",
                "test_except_star", "test_coroutines", "test_generators",
                "test_with", "test_contextlib", "test_scope", "test_dis",
                "test_peepholer", "test_syntax", "test_ast", "test_lineno",
                "test_traceback", "test_frame", "test_code", "test_typing",
                "test_dataclasses", "test_asyncgen", "test_listcomps",
                "test_setcomps", "test_unpack_ex", "test_fstring",
                "test_keywordonlyarg", "test_positional_only_arg",
                "test_builtin", "test_descr", "test_inspect", "test_enum",
                "test_functools", "test_itertools", "test_decimal",
                "test_datetime", "test_statistics", "test_argparse")


def stdlib_sources():
    """Every .py file of the stdlib outside the test suites (about 20k code
    objects) plus selected test modules (about 10k more), in a stable
    order."""
    root = sysconfig.get_paths()["stdlib"]
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(SKIP_DIRS))
        for name in sorted(filenames):
            if name.endswith(".py"):
                paths.append(os.path.join(dirpath, name))
    # Test modules written to stress the compiler's line numbering: tracing,
    # odd control flow, pattern matching, exception groups. Missing ones
    # (older versions) are skipped.
    for name in TEST_MODULES:
        full = os.path.join(root, "test", name + ".py")
        if os.path.isfile(full):
            paths.append(full)
    return paths


def crafted_sources():
    """Shapes that exercise the unusual corners of each table format."""
    out = []

    out.append(("crafted_sleep", "import time\n"
                "def f():\n"
                "    x = 1\n"
                "    time.sleep(\n"
                "        0)\n"
                "    return x\n"))

    out.append(("crafted_multiline_call",
                "def g(a, b, c):\n"
                "    return h(\n"
                "        a,\n"
                "        b +\n"
                "            c,\n"
                "        key=[\n"
                "            1, 2,\n"
                "        ],\n"
                "    ).attr(\n"
                "        a)[\n"
                "        b]\n"))

    # Forward jumps beyond one lnotab/linetable byte (127, 255) and beyond
    # a single 3.11+ one-line entry, then backward jumps of the same size
    # from loop back-edges and multi-line expressions.
    for gap in (100, 127, 128, 200, 255, 256, 300, 1000, 70000):
        blank = "\n" * gap
        out.append(("crafted_gap%d" % gap,
                    "def f(a):\n"
                    "    x = 1\n" + blank +
                    "    y = 2\n"
                    "    for i in a:\n"
                    "        x += i\n" + blank +
                    "        y -= i\n"
                    "    z = foo(x,\n" + blank +
                    "            y)\n"
                    "    while x:\n"
                    "        x -= 1\n" + blank +
                    "    return [k for k in (\n" + blank +
                    "        a)]\n"))

    # No-line ranges: 3.10 emits -128 entries and 3.11+ code-15 entries for
    # artificial instructions (with/try cleanups, generator and
    # comprehension setup, implicit returns after loops).
    out.append(("crafted_noline",
                "def f(m, xs):\n"
                "    with m:\n"
                "        pass\n"
                "    try:\n"
                "        g()\n"
                "    except ValueError as e:\n"
                "        h(e)\n"
                "    finally:\n"
                "        m.close()\n"
                "    for x in xs:\n"
                "        if x:\n"
                "            break\n"
                "    else:\n"
                "        return 1\n"
                "    async def a():\n"
                "        async with m:\n"
                "            await m\n"
                "        async for y in m:\n"
                "            yield y\n"
                "    return (y for y in xs if y), {k: v for k, v in xs}\n"))

    # Columns past 127 and long multi-line expressions force 3.11+'s long
    # form and no-column entries.
    wide = " + ".join("v%d" % i for i in range(60))
    out.append(("crafted_wide",
                "def f(%s):\n" % ", ".join("v%d" % i for i in range(60)) +
                "    return (" + wide + ")\n"
                "def g(a):\n"
                "    return (a +\n"
                "            a.b(\n"
                "                a\n"
                "            ) -\n"
                "            a)\n"))

    # A very long function: thousands of code units, large tables.
    body = []
    for i in range(1200):
        if i % 7 == 0:
            body.append("    if x%d:\n        x%d = f(x%d,\n            %d)\n"
                        % (i % 50, i % 50, i % 50, i))
        elif i % 11 == 0:
            body.append("\n" * 130 + "    x%d = x%d * 2\n" % (i % 50, i % 50))
        else:
            body.append("    x%d = x%d + %d\n" % (i % 50, (i + 1) % 50, i))
    out.append(("crafted_long",
                "def long_function(%s):\n" % ", ".join(
                    "x%d" % i for i in range(50)) + "".join(body) +
                "    return x0\n"))

    # Code that starts far down a file, as in a big generated module.
    out.append(("crafted_deep", "\n" * 250000 +
                "def f(a):\n"
                "    return (a,\n"
                "            a)\n"))
    return out


def walk(code, seen):
    stack = [code]
    while stack:
        co = stack.pop()
        if id(co) in seen:
            continue
        seen[id(co)] = co
        yield co
        for c in reversed(co.co_consts):
            if hasattr(c, "co_code"):
                stack.append(c)


def encode_runs(values):
    parts = []
    prev = None
    count = 0
    for v in values:
        if v == prev:
            count += 1
            continue
        if count:
            parts.append(str(prev) if count == 1 else "%d*%d" % (prev, count))
        prev = v
        count = 1
    if count:
        parts.append(str(prev) if count == 1 else "%d*%d" % (prev, count))
    return ",".join(parts)


def record(co, label, out):
    nunits = len(co.co_code) // 2
    table = co.co_lnotab if MINOR < 10 else co.co_linetable
    values = [co.co_firstlineno]
    for u in range(nunits + 2):
        values.append(addr2line(co, u * 2))
    name = getattr(co, "co_qualname", co.co_name)
    name = "%s:%s" % (label, name)
    name = "".join(ch if ch.isprintable() and not ch.isspace() else "_"
                   for ch in name)
    out.write("%d %d %d %s %s %s\n" % (
        MINOR, co.co_firstlineno, nunits, table.hex() if table else "-",
        encode_runs(values), name))


def compile_all():
    # Test modules contain deliberately dubious escapes and the like.
    warnings.simplefilter("ignore")
    for path in stdlib_sources():
        try:
            with open(path, "rb") as f:
                src = f.read()
            yield os.path.basename(path), compile(src, path, "exec",
                                                  dont_inherit=True)
        except (SyntaxError, ValueError, OSError, UnicodeDecodeError):
            continue
    for label, src in crafted_sources():
        code = compile(src, label, "exec", dont_inherit=True)
        yield label, code
        # Same shapes, moved: firstlineno far away must not matter.
        if hasattr(code, "replace"):
            yield label + "_moved", code.replace(co_firstlineno=1000000)


def main():
    out = sys.stdout
    seen = {}
    for label, top in compile_all():
        for co in walk(top, seen):
            record(co, label, out)
    out.flush()


if __name__ == "__main__":
    main()
