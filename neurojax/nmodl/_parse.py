"""A parser for the subset of NMODL that `neurojax.nmodl` imports.

Hand-written (tokenizer + recursive descent): NEURON's own NMODL framework (`neuron.nmodl`)
parses the whole language, but its Python bindings do not expose token positions (a
`ModToken` is an unregistered type), so it cannot name the line of an unsupported
construct, and it would make importing a `.mod` file depend on NEURON. The grammar
followed is NEURON's (`nmodl/src/parser/nmodl.yy`, *The NEURON Book* ch. 9); anything
outside the supported subset is a `ValueError` naming the file, line and construct.

Output: a `Program` of plain Python objects (`Num`, `Name`, `Call`, `Bin`, `Unary`,
statements, blocks), each carrying its line number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

# ----------------------------------------------------------------------------- errors


class NmodlError(ValueError):
    """An unsupported or malformed NMODL construct, naming the file and line."""


def fail(file: str, line: int, what: str) -> NmodlError:
    return NmodlError(f"{file}:{line}: {what}")


def _has_diff(body) -> bool:
    """Whether statements `body` hold a derivative equation `x' = ...` (in IF/FROM too)."""
    for st in body:
        if isinstance(st, Diff):
            return True
        if isinstance(st, If) and (_has_diff(st.body) or _has_diff(st.orelse)):
            return True
        if isinstance(st, For) and _has_diff(st.body):
            return True
    return False


# ----------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f]+)
  | (?P<nl>\n)
  | (?P<comment>[:?][^\n]*)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<string>"[^"\n]*")
  | (?P<op><->|<<|->|==|!=|<=|>=|&&|\|\||[-+*/^<>=(){},'~!\[\]%@&|])
    """,
    re.VERBOSE,
)


@dataclass
class Tok:
    kind: str  # "num", "name", "op", "string", "eof", "verbatim"
    text: str
    line: int
    start: int  # character offset in the source
    end: int
    origin: str = ""  # "inc.inc:12": a token of an INCLUDEd file (its line is the INCLUDE's)


def tokenize(src: str, file: str) -> list[Tok]:
    toks: list[Tok] = []
    pos, line, n = 0, 1, len(src)
    while pos < n:
        # whole-line constructs first: TITLE, COMMENT ... ENDCOMMENT, VERBATIM ... ENDVERBATIM
        m = re.compile(r"(TITLE|COMMENT|VERBATIM)\b").match(src, pos)
        if m and (pos == 0 or not (src[pos - 1].isalnum() or src[pos - 1] == "_")):
            word = m.group(1)
            if word == "TITLE":
                end = src.find("\n", pos)
                end = n if end < 0 else end
                pos = end
                continue
            close = "ENDCOMMENT" if word == "COMMENT" else "ENDVERBATIM"
            end = src.find(close, pos)
            if end < 0:
                raise fail(file, line, f"{word} without {close}")
            if word == "VERBATIM":
                toks.append(Tok("verbatim", word, line, pos, end))
            line += src.count("\n", pos, end)
            pos = end + len(close)
            continue
        m = _TOKEN.match(src, pos)
        if m is None:
            raise fail(file, line, f"unexpected character {src[pos]!r}")
        kind = m.lastgroup
        text = m.group()
        if kind == "nl":
            line += 1
        elif kind not in ("ws", "comment"):
            # nocmodl's keywords `IF`/`ELSE` are also spelled in capitals (accum.mod,
            # Kager et al.'s spreading depression: `IF (method == 0) { … } ELSE { … }`)
            if kind == "name" and text in ("IF", "ELSE"):
                text = text.lower()
            toks.append(Tok(kind, text, line, pos, m.end()))
        pos = m.end()
    toks.append(Tok("eof", "", line, n, n))
    return toks


# The C standard library's headers (C89-C17). A top-level `VERBATIM #include <stdlib.h>
# ENDVERBATIM` (12 of 15 of Bezaire et al. 2016's files: "so that the (innocuous) warning
# ... implicit declaration of built-in function 'free' does not appear") only declares
# functions for the C that nocmodl writes: nothing NEURON computes changes.
_C_STD_HEADERS = frozenset(
    "assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h "
    "locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h "
    "stdint.h stdio.h stdlib.h stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h "
    "wchar.h wctype.h".split()
)
_INCLUDE_STD = re.compile(r"#\s*include\s*<\s*([A-Za-z0-9_./]+)\s*>")


def check_top_verbatim(src: str, tok: Tok, file: str, hint: str = "") -> None:
    """A VERBATIM block at a .mod file's top level (`tok`, its text `src[tok.start:tok.end]`)
    is accepted, as nothing, when it holds only `#include <h>` lines of C standard
    library headers, C comments and whitespace. Anything else (a declaration, a function,
    `#define`, `extern`, another header: code NEURON compiles into the mechanism, which
    neurojax cannot run) is refused, naming the block's line (`file:line:`), the
    construct and its own line."""
    body = src[tok.start + len("VERBATIM") : tok.end]

    def blank(m):  # a comment's characters to spaces, its newlines kept (line numbers)
        return re.sub(r"[^\n]", " ", m.group())

    code = re.sub(r"/\*.*?\*/|//[^\n]*", blank, body, flags=re.S)
    for k, text in enumerate(code.split("\n")):
        text = text.strip()
        if not text:
            continue
        m = _INCLUDE_STD.fullmatch(text)
        if m and m.group(1) in _C_STD_HEADERS:
            continue
        if text.startswith("/*"):
            what = "an unclosed C comment"
        elif m or re.match(r"#\s*include\b", text):
            what = f"{text!r} (not a C standard library header)"
        else:
            what = repr(text)  # the line's code, its comments left out
        raise fail(file, tok.line,
                   f"VERBATIM blocks (C code) are not supported: {what} at line "
                   f"{tok.line + k}, in a top-level VERBATIM block (only `#include <...>` of "
                   "C standard library headers, comments and whitespace are accepted there, "
                   f"as they change nothing NEURON computes){hint}")  # fmt: skip


# ----------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Num:
    value: float
    line: int = 0


@dataclass(frozen=True)
class Name:
    id: str
    line: int = 0


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple
    line: int = 0


@dataclass(frozen=True)
class Bin:
    op: str
    lhs: Any
    rhs: Any
    line: int = 0


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "!"
    x: Any
    line: int = 0


@dataclass(frozen=True)
class Index:
    """`name[index]`: an element of an array variable; resolved to the element's scalar
    name (`name_k`) by `_expand` once the index is a constant."""

    name: str
    index: Any
    line: int = 0


@dataclass(frozen=True)
class Safe:
    """`ratio · z/(exp(z) − 1)` with `z/(exp(z) − 1)` evaluated by a series near 0: a
    rewrite of a removable singularity found in the source (see `_singular.py`)."""

    ratio: Any
    z: Any
    line: int = 0


# statements


@dataclass(frozen=True)
class Assign:
    target: str
    expr: Any
    line: int


@dataclass(frozen=True)
class Diff:  # x' = expr
    state: str
    expr: Any
    line: int


@dataclass(frozen=True)
class CallStmt:
    call: Call
    line: int


@dataclass(frozen=True)
class If:
    cond: Any
    body: tuple
    orelse: tuple
    line: int


@dataclass(frozen=True)
class Verbatim:
    """A VERBATIM block (C code) inside a PROCEDURE/FUNCTION/block: an error when it is
    run (NetStim's `noiseFromRandom`, called only from hoc, is never run here)."""

    line: int
    text: str = ""  # the C code, whitespace collapsed


@dataclass(frozen=True)
class Local:
    names: tuple
    line: int


@dataclass(frozen=True)
class Solve:
    block: str
    method: str  # "cnexp", "derivimplicit", "sparse", "euler", "steadystate:<m>", "" (none)
    line: int


@dataclass(frozen=True)
class Reaction:
    """`~ lhs <-> rhs (kf, kb)` (op "<->"), `~ lhs -> (kf)`? no: `~ A << (flux)` (op "<<")."""

    lhs: tuple  # ((stoich, state), ...)
    op: str
    rhs: tuple
    kf: Any
    kb: Any
    line: int


@dataclass(frozen=True)
class Conserve:
    lhs: tuple  # ((stoich, state), ...)
    rhs: Any
    line: int


@dataclass(frozen=True)
class Compartment:
    volume: Any
    states: tuple
    line: int
    index: str = ""  # `COMPARTMENT i, vol {ca}`: one volume per element of ca, i its index


@dataclass(frozen=True)
class LinEq:
    """`~ lhs = rhs` in a LINEAR block: one equation of a linear system for the STATEs
    it names (solved by `SOLVE name`, e.g. in INITIAL: Allen's NaV.mod's equilibrium)."""

    lhs: Any
    rhs: Any
    line: int


@dataclass(frozen=True)
class For:
    """`FROM var = lo TO hi [BY step] { body }`: unrolled by `_expand` (constant bounds)."""

    var: str
    lo: Any
    hi: Any
    by: Any
    body: tuple
    line: int


# declarations


@dataclass
class Var:
    name: str
    line: int
    value: float | None = None
    unit: str = ""
    limits: tuple | None = None
    size: int | None = None  # an array `x[size]`: expanded to x_0 … x_{size-1}


@dataclass
class Func:
    kind: str  # "FUNCTION" or "PROCEDURE"
    name: str
    args: tuple
    body: tuple
    line: int


@dataclass
class Block:
    kind: str  # INITIAL, BREAKPOINT, DERIVATIVE, KINETIC, NET_RECEIVE
    name: str
    args: tuple
    body: tuple
    line: int


@dataclass
class UseIon:
    ion: str
    read: tuple
    write: tuple
    valence: float | None
    line: int


@dataclass
class Program:
    file: str
    kind: str = ""  # "SUFFIX", "POINT_PROCESS" or "ARTIFICIAL_CELL"
    suffix: str = ""
    suffix_line: int = 0
    ions: list = field(default_factory=list)
    nonspecific: list = field(default_factory=list)  # (name, line)
    electrode: list = field(default_factory=list)  # (name, line): ELECTRODE_CURRENT
    pointers: list = field(default_factory=list)  # (name, line): NEURON { POINTER }
    randoms: dict = field(default_factory=dict)  # NEURON { RANDOM name }: name -> line
    range: set = field(default_factory=set)
    global_: set = field(default_factory=set)
    parameters: list = field(default_factory=list)  # Var
    states: list = field(default_factory=list)
    assigned: list = field(default_factory=list)
    constants: dict = field(default_factory=dict)  # name -> float
    unit_constants: dict = field(default_factory=dict)  # name -> float
    module_locals: list = field(default_factory=list)  # Var
    functions: dict = field(default_factory=dict)  # name -> Func
    # FUNCTION_TABLE name(args): name -> (number of arguments, line); values bound later
    # (`bind_table`, NEURON's hoc `table_<name>_<suffix>(...)`)
    function_tables: dict = field(default_factory=dict)
    blocks: dict = field(default_factory=dict)  # name -> Block (DERIVATIVE/KINETIC by name)
    defines: dict = field(default_factory=dict)  # DEFINE name -> integer value
    arrays: dict = field(default_factory=dict)  # array name -> size (after _expand)
    initial: Block | None = None
    breakpoint: Block | None = None
    net_receive: Block | None = None
    receive_initial: Block | None = None  # NET_RECEIVE's INITIAL: per-connection state
    # WATCH (cond) flag in NET_RECEIVE: the check run at every step before the events
    # are delivered (`watch_on<j>`, `watch_flag<j>` ASSIGNED, carried; see `watch`)
    watch_check: Block | None = None
    # `BEFORE STEP { ... }`: run after each step's state update and after INITIAL
    # (rewritten as a PROCEDURE solved last, `_compile._before_step`)
    before_step: Block | None = None


# ----------------------------------------------------------------------------- parser

_UNSUPPORTED_BLOCKS = {
    "DISCRETE": "DISCRETE blocks",
    "PARTIAL": "PARTIAL blocks",
    "BEFORE": "BEFORE blocks",
    "AFTER": "AFTER blocks",
    "CONSTRUCTOR": "CONSTRUCTOR blocks",
    "DESTRUCTOR": "DESTRUCTOR blocks",
    "MATCH": "MATCH blocks",
    "TERMINAL": "TERMINAL blocks",
    "PLOT": "PLOT",
    "INCLUDE": "INCLUDE inside a block (only at the top level)",
    "LAG": "LAG",
    "PROTECT": "PROTECT",
    "MUTEXLOCK": "MUTEXLOCK",
    "MUTEXUNLOCK": "MUTEXUNLOCK",
    "LONGITUDINAL_DIFFUSION": "LONGITUDINAL_DIFFUSION (axial diffusion of a concentration "
    "between compartments: neurojax's ion pools do not diffuse along the cable)",
    "SENS": "SENS",
    "RESET": "RESET",
    "WHILE": "while loops",
    "while": "while loops",
    "for": "for loops",
    "printf": "printf",
    "EXTERNAL": "EXTERNAL",
    "INDEPENDENT_": "",
}

# UNITS-block named constants, SI values of NEURON 9's `nrnunits.lib` (2019 SI).
_MOLE = 6.02214076e23
_E = 1.602176634e-19
_BOLTZMANN = 1.380649e-23
_CONSTANTS_SI = {
    "faraday": (_E * _MOLE, "coulomb"),
    "k-mole": (_BOLTZMANN * _MOLE, "joule/degC"),
    "gasconstant": (_BOLTZMANN * _MOLE, "joule/degC"),
    "R": (_BOLTZMANN * _MOLE, "joule/degC"),
    "e": (_E, "coulomb"),
    "k": (_BOLTZMANN, "joule/degC"),
    "boltzmann": (_BOLTZMANN, "joule/degC"),
    "pi": (3.14159265358979323846, "1"),
    "mole": (_MOLE, "1"),
    "avogadro": (_MOLE, "1"),
}
_PREFIX = {
    "yotta": 1e24, "zetta": 1e21, "exa": 1e18, "peta": 1e15, "tera": 1e12, "giga": 1e9,
    "mega": 1e6, "kilo": 1e3, "hecto": 1e2, "deka": 1e1, "deci": 1e-1, "centi": 1e-2,
    "milli": 1e-3, "micro": 1e-6, "nano": 1e-9, "pico": 1e-12, "femto": 1e-15,
    "atto": 1e-18, "": 1.0,
}  # fmt: skip
_BASE = {  # unit name -> (SI factor, dimension tag)
    "coulomb": (1.0, "C"), "coulombs": (1.0, "C"), "coul": (1.0, "C"),
    "joule": (1.0, "J"), "joules": (1.0, "J"), "degC": (1.0, "K"), "K": (1.0, "K"),
    "kelvin": (1.0, "K"), "1": (1.0, ""),
}  # fmt: skip


def _unit_scale(unit: str):
    """SI factor and dimension of a unit like `kilocoulombs` or `joule/degC`; None if the
    unit is outside the small table used for UNITS-block constants."""
    factor, dims = 1.0, []
    # a leading number scales the unit: `FARADAY = (faraday) (10000 coulomb)` is the
    # constant in units of 10⁴ C (Migliore's cad.mod: 9.6485…)
    m = re.match(r"\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s+(?=\S)", unit)
    if m:
        factor = float(m.group(1))
        unit = unit[m.end() :]
    num, _, den = unit.replace(" ", "").partition("/")
    for part, sign in ((num, 1), (den, -1)):
        if not part:
            continue
        for word in part.split("-"):
            for pre, f in sorted(_PREFIX.items(), key=lambda kv: -len(kv[0])):
                if word.startswith(pre) and word[len(pre) :] in _BASE:
                    base, dim = _BASE[word[len(pre) :]]
                    factor *= (f * base) ** sign
                    if dim:
                        dims.append((dim, sign))
                    break
            else:
                return None
    return factor, tuple(sorted(dims))


class Parser:
    def __init__(self, src: str, file: str, base_dir=None):
        self.file = file
        self.src = src
        self.base_dir = base_dir  # where INCLUDE "x" is looked up first (nocmodl: the file's)
        self.includes: list = []  # the files INCLUDEd, outermost first
        self.toks = tokenize(src, file)
        self.i = 0
        self.prog = Program(file=file)
        self.in_receive = False  # parsing NET_RECEIVE
        self.receive_args: tuple = ()  # NET_RECEIVE's arguments (FOR_NETCONS aliases them)
        self.in_linear = False  # parsing a LINEAR block: `~ lhs = rhs` equations
        self.block_depth = 0  # nesting of statement blocks
        self.declared: dict = {}  # name -> (block, line) over PARAMETER/STATE/ASSIGNED/CONSTANT

    # -- token helpers
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k=1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def err(self, what: str, tok: Tok | None = None) -> NmodlError:
        t = tok or self.tok
        inc = f" (in the INCLUDEd {t.origin})" if t.origin else ""
        return fail(self.file, t.line, what + inc)

    def include(self, t: Tok):
        """`INCLUDE "name"` at the top level: the file's tokens in its place, as nocmodl
        does. Looked up as nocmodl: relative to the including .mod file's directory (the
        working directory for text input), then the current directory, then each
        directory of `MODL_INCLUDE` (':'-separated). Its tokens carry the INCLUDE
        statement's line (errors name it, and the included file's own line)."""
        import os
        from pathlib import Path

        if self.tok.kind != "string":
            raise self.err("INCLUDE takes a quoted file name", t)
        s = self.next()
        name = s.text[1:-1]
        dirs = [self.base_dir or Path.cwd(), Path.cwd()]
        dirs += [Path(d) for d in os.environ.get("MODL_INCLUDE", "").split(":") if d]
        path = next((Path(d) / name for d in dirs if (Path(d) / name).is_file()), None)
        if path is None:
            raise self.err(f"INCLUDE {name!r}: no such file in {', '.join(map(str, dirs))}", t)
        if len(self.includes) > 16 or path.resolve() in self.includes:
            raise self.err(f"INCLUDE {name!r}: recursive or deeper than 16 files", t)
        self.includes.append(path.resolve())
        text = path.read_text()
        inner, depth = [], 0
        for x in tokenize(text, name):
            if x.kind == "verbatim":
                if depth:
                    raise self.err("VERBATIM blocks (C code) are not supported (in the "
                                   f"INCLUDEd {name}:{x.line})", t)  # fmt: skip
                try:  # at the included file's top level: `#include <stdlib.h>` accepted
                    check_top_verbatim(text, x, name)
                except NmodlError as e:
                    raise self.err(f"{e} (INCLUDEd)", t) from None
                continue
            if x.kind == "op":
                depth += {"{": 1, "}": -1}.get(x.text, 0)
            inner.append(x)
        spliced = [Tok(x.kind, x.text, t.line, s.start, s.start, f"{name}:{x.line}")
                   for x in inner if x.kind != "eof"]  # fmt: skip
        self.toks[self.i : self.i] = spliced

    def at(self, text: str) -> bool:
        return self.tok.text == text and self.tok.kind in ("op", "name")

    def expect(self, text: str) -> Tok:
        if not self.at(text):
            raise self.err(f"expected {text!r}, found {self.tok.text or 'end of file'!r}")
        return self.next()

    def name(self) -> Tok:
        if self.tok.kind != "name":
            raise self.err(f"expected a name, found {self.tok.text or 'end of file'!r}")
        return self.next()

    def skip_units_markers(self):
        while self.tok.kind == "name" and self.tok.text in ("UNITSON", "UNITSOFF"):
            self.next()

    def unit(self) -> str:
        """A parenthesised unit `( ... )`, returned as its source text."""
        open_ = self.expect("(")
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "eof":
                raise self.err("unclosed unit parenthesis", open_)
            depth += {"(": 1, ")": -1}.get(t.text if t.kind == "op" else "", 0)
            close = t
        return self.src[open_.end : close.start].strip()

    def new_name(self, kw: str, t: Tok) -> str:
        """The name of a FUNCTION, PROCEDURE or named block (DERIVATIVE, KINETIC, LINEAR,
        NONLINEAR), refused if one of these already has it: the last definition won
        silently, where nocmodl refuses the file ("DERIVATIVE merging not implemented",
        or aborts on a FUNCTION defined twice)."""
        name = self.name().text
        first = self.prog.functions.get(name) or self.prog.blocks.get(name)
        if first is not None or name in self.prog.function_tables:
            where = f"{first.kind} at line {first.line}" if first else "a FUNCTION_TABLE"
            raise self.err(f"{kw} {name}: the name is already defined ({where}); NEURON's "
                           "nocmodl refuses a second definition too: keep one", t)  # fmt: skip
        return name

    def number(self) -> float:
        sign = 1.0
        while self.at("-") or self.at("+"):
            sign *= -1.0 if self.next().text == "-" else 1.0
        if self.tok.kind == "name" and self.tok.text in self.prog.defines:
            return sign * float(self.prog.defines[self.next().text])
        if self.tok.kind != "num":
            raise self.err(f"expected a number, found {self.tok.text!r}")
        t = self.next()
        if not math.isfinite(float(t.text)):  # 1e999: inf, refused later as "must be >= 0"
            raise self.err(f"{t.text} is not a finite number (beyond a float's range)", t)
        return sign * float(t.text)

    # -- program
    def parse(self) -> Program:
        while self.tok.kind != "eof":
            self.skip_units_markers()
            t = self.tok
            if t.kind == "eof":
                break
            if t.kind == "verbatim":
                hint = ""
                if self.prog.kind == "ARTIFICIAL_CELL" and self.prog.suffix == "VecStim":
                    hint = (" (VecStim plays a hoc Vector of spike times: give the times to "
                            "Cell.event_input directly)")  # fmt: skip
                if t.origin:  # checked where INCLUDE spliced it (`include`)
                    raise self.err(f"VERBATIM blocks (C code) are not supported{hint}")
                check_top_verbatim(self.src, t, self.file, hint)  # `#include <stdlib.h>`
                self.next()
                continue
            if t.kind != "name":
                raise self.err(f"unexpected {t.text!r} at the top level")
            kw = t.text
            self.next()
            if kw == "INCLUDE":
                self.include(t)
            elif kw == "NEURON":
                self.neuron_block()
            elif kw == "UNITS":
                self.units_block()
            elif kw == "PARAMETER":
                self.prog.parameters += self.decl_block(kw)
            elif kw == "STATE":
                self.prog.states += self.decl_block(kw)
            elif kw == "ASSIGNED":
                self.prog.assigned += self.decl_block(kw)
            elif kw == "CONSTANT":
                for var in self.decl_block(kw):
                    if var.value is None:
                        raise fail(self.file, var.line, f"CONSTANT {var.name} has no value")
                    self.prog.constants[var.name] = var.value
            elif kw == "INDEPENDENT":
                self.skip_braces()
            elif kw == "LOCAL":
                while True:
                    var = Var(self.name().text, t.line)
                    var.size = self.array_size(var.name)
                    self.prog.module_locals.append(var)
                    if not self.at(","):
                        break
                    self.next()
            elif kw == "DEFINE":
                name = self.name()
                value = self.number()
                if value != int(value):
                    raise self.err(f"DEFINE {name.text} {value}: NMODL's DEFINE is an integer", t)
                self.prog.defines[name.text] = int(value)
            elif kw in ("INITIAL", "BREAKPOINT"):
                body = self.statement_block()
                blk = Block(kw, kw, (), body, t.line)
                first = self.prog.initial if kw == "INITIAL" else self.prog.breakpoint
                if first is not None:  # NEURON runs both, in order (nocmodl joins them)
                    blk = Block(kw, kw, (), first.body + body, first.line)
                solved = {}
                for st in blk.body if kw == "BREAKPOINT" else ():
                    if isinstance(st, Solve) and st.block in solved:  # it was stepped twice
                        at = solved[st.block]
                        raise fail(self.file, st.line, f"SOLVE {st.block} a second time in "
                                   f"BREAKPOINT (first at line {at}); nocmodl refuses it "
                                   "too ('Illegal block'): keep one")  # fmt: skip
                    if isinstance(st, Solve):
                        solved[st.block] = st.line
                if kw == "INITIAL":
                    self.prog.initial = blk
                else:
                    self.prog.breakpoint = blk
            elif kw in ("DERIVATIVE", "KINETIC"):
                name = self.new_name(kw, t)
                body = self.statement_block()
                if kw == "DERIVATIVE" and not _has_diff(body):
                    raise self.err(f"DERIVATIVE {name} has no derivative equation (x' = ...); "
                                   "NEURON's nocmodl refuses it too", t)  # fmt: skip
                self.prog.blocks[name] = Block(kw, name, (), body, t.line)
            elif kw in ("LINEAR", "NONLINEAR"):  # `~ lhs = rhs` equations, SOLVEd in INITIAL
                name = self.new_name(kw, t)
                self.in_linear = True
                try:
                    body = self.statement_block()
                finally:
                    self.in_linear = False
                self.prog.blocks[name] = Block(kw, name, (), body, t.line)
            elif kw == "FUNCTION_TABLE":
                # `FUNCTION_TABLE tau1(v (mV)) (ms)`: a function whose values hoc gives
                # before the run (`table_tau1_<suffix>(yvec, xvec)`); no body
                name = self.name().text
                args = self.formal_args()
                if self.at("("):
                    self.unit()
                if len(args) != 1:
                    raise self.err(f"FUNCTION_TABLE {name} with {len(args)} arguments: only "
                                   "tables of one argument are supported (NEURON's "
                                   "bilinear 2-d tables are not)", t)  # fmt: skip
                if name in self.prog.functions or name in self.prog.function_tables:
                    raise self.err(f"FUNCTION_TABLE {name}: the name is already a FUNCTION, "
                                   "PROCEDURE or FUNCTION_TABLE", t)  # fmt: skip
                self.prog.function_tables[name] = (len(args), t.line)
            elif kw in ("FUNCTION", "PROCEDURE"):
                name = self.new_name(kw, t)
                args = self.formal_args()
                if self.at("("):
                    self.unit()
                body = self.statement_block()
                if (
                    kw == "PROCEDURE"
                    and body
                    and isinstance(body[-1], Verbatim)
                    and (body[-1].text == "return 0;")
                ):
                    # `VERBATIM return 0; ENDVERBATIM` as a procedure's last statement
                    # (Migliore's channels, Destexhe's synapses): returning at the end anyway
                    body = body[:-1]
                self.prog.functions[name] = Func(kw, name, args, body, t.line)
            elif kw == "NET_RECEIVE":
                if self.prog.net_receive is not None:  # nocmodl: "Only one NET_RECEIVE"
                    first = self.prog.net_receive.line
                    raise self.err("a second NET_RECEIVE block (NEURON allows only one; the "
                                   f"first is at line {first})", t)  # fmt: skip
                args = self.formal_args()
                self.receive_args = args
                self.in_receive = True
                try:
                    body = self.statement_block()
                finally:
                    self.in_receive = False
                self.prog.net_receive = Block(kw, kw, args, body, t.line)
            elif kw == "BEFORE" and self.at("STEP"):
                # NEURON runs BEFORE STEP blocks at the end of each fixed step, after
                # every mechanism's state update (`nrn_ba(nt, BEFORE_STEP)` before the
                # step's recording), and once at the end of finitialize, after INITIAL.
                # Other BEFORE/AFTER kinds (INITIAL, BREAKPOINT, SOLVE) stay refused
                self.next()
                if self.prog.before_step is not None:
                    raise self.err("a second BEFORE STEP block (only one is supported)", t)
                self.prog.before_step = Block("BEFORE", "STEP", (), self.statement_block(),
                                              t.line)  # fmt: skip
            elif kw in _UNSUPPORTED_BLOCKS:
                what = _UNSUPPORTED_BLOCKS[kw] or kw
                if kw in ("BEFORE", "AFTER"):
                    what = f"{kw} {self.tok.text} blocks (only BEFORE STEP is supported)"
                raise self.err(f"{what} is not supported", t)
            else:
                raise self.err(f"unknown or unsupported top-level construct {kw!r}", t)
        return self.prog

    def skip_braces(self):
        self.expect("{")
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "eof":
                raise self.err("unclosed '{'")
            if t.kind == "op":
                depth += {"{": 1, "}": -1}.get(t.text, 0)

    def name_list(self) -> list[str]:
        names = [self.name().text]
        while self.at(","):
            self.next()
            names.append(self.name().text)
        return names

    def formal_args(self) -> tuple:
        self.expect("(")
        args = []
        while not self.at(")"):
            args.append(self.name().text)
            if self.at("("):
                self.unit()
            if self.at(","):
                self.next()
            elif not self.at(")"):
                raise self.err(f"expected ',' or ')' in an argument list, found {self.tok.text!r}")
        self.next()
        return tuple(args)

    def neuron_block(self):
        self.expect("{")
        p = self.prog
        while not self.at("}"):
            t = self.name()
            kw = t.text
            if kw in ("SUFFIX", "POINT_PROCESS", "ARTIFICIAL_CELL"):
                p.kind, p.suffix, p.suffix_line = kw, self.name().text, t.line
            elif kw == "RANDOM":  # a random stream: refused where a value is drawn
                for n in self.name_list():
                    p.randoms[n] = t.line
            elif kw == "USEION":
                ion = self.name().text
                read, write, valence = [], [], None
                # `CHARGE n` is nocmodl's other spelling of `VALENCE n` (Mergenthal et
                # al.'s kmb_inh.mod: `USEION kcnq READ kcnqi CHARGE 0`)
                while self.tok.kind == "name" and self.tok.text in ("READ", "WRITE", "VALENCE",
                                                                    "CHARGE"):  # fmt: skip
                    what = self.next().text
                    if what in ("VALENCE", "CHARGE"):
                        valence = self.number()
                    else:
                        (read if what == "READ" else write).extend(self.name_list())
                p.ions.append(UseIon(ion, tuple(read), tuple(write), valence, t.line))
            elif kw == "NONSPECIFIC_CURRENT":
                p.nonspecific += [(n, t.line) for n in self.name_list()]
            elif kw == "ELECTRODE_CURRENT":
                p.electrode += [(n, t.line) for n in self.name_list()]
            elif kw == "RANGE":
                p.range |= set(self.name_list())
            elif kw == "GLOBAL":
                p.global_ |= set(self.name_list())
            elif kw in ("THREADSAFE",):
                pass
            elif kw == "POINTER":  # bound by the user (`bind_pointer`): read, never written
                p.pointers += [(n, t.line) for n in self.name_list()]
            elif kw == "EXTERNAL":  # Nicoletti et al.'s kcnl.mod: `calcium_caintra1`
                names = ", ".join(self.name_list())
                raise self.err(f"NEURON {{ EXTERNAL {names} }} is not supported (reading "
                               "another mechanism's GLOBAL variable: give the value as a "
                               "PARAMETER of this file, or read the quantity through an ion "
                               "the other mechanism WRITEs)", t)  # fmt: skip
            elif kw == "BBCOREPOINTER":
                raise self.err(f"NEURON {{ {kw} }} is not supported", t)
            else:
                raise self.err(f"unknown or unsupported NEURON-block statement {kw!r}", t)
        self.next()

    def units_block(self):
        self.expect("{")
        while not self.at("}"):
            self.skip_units_markers()
            if self.at("}"):
                break
            if self.at("("):  # (mV) = (millivolt): an alias, no value
                self.unit()
                self.expect("=")
                self.unit()
                continue
            t = self.name()
            self.expect("=")
            if self.at("("):
                what = self.unit()
                target = self.unit()
                const = _CONSTANTS_SI.get(what)
                src_scale = _unit_scale(const[1]) if const else None
                dst_scale = _unit_scale(target)
                if const is None or dst_scale is None or src_scale[1] != dst_scale[1]:
                    raise self.err(
                        f"UNITS constant {t.text} = ({what}) ({target}) is not supported (known: "
                        f"{', '.join(sorted(_CONSTANTS_SI))} in coulomb/joule/degC with SI "
                        "prefixes)",
                        t,
                    )
                self.prog.unit_constants[t.text] = const[0] * src_scale[0] / dst_scale[0]
            else:
                value = self.number()
                if self.at("("):
                    self.unit()
                self.prog.unit_constants[t.text] = value
        self.next()

    def decl_block(self, kind: str) -> list[Var]:
        self.expect("{")
        out = []
        while not self.at("}"):
            self.skip_units_markers()
            if self.at("}"):
                break
            t = self.name()
            if t.text in self.declared:
                # nocmodl: "Multiple declaration of gbar at line 6" (NEURON 9 refuses the
                # file; a silent last-wins would run a value the author did not mean)
                first, line = self.declared[t.text]
                raise self.err(f"{kind} {t.text}: declared twice (first in {first} at line "
                               f"{line}); NEURON's nocmodl refuses a multiple declaration "
                               "too: keep one", t)  # fmt: skip
            self.declared[t.text] = (kind, t.line)
            var = Var(t.text, t.line)
            var.size = self.array_size(t.text)
            if self.at("="):
                self.next()
                var.value = self.number()
            if self.at("("):
                var.unit = self.unit()
            if self.at("<"):
                lt = self.next()
                lo = self.number()
                if self.at(","):
                    self.next()
                    hi = self.number()
                    if lo > hi:
                        # NEURON ignores limits (GUI hints) and compiles this; neurojax
                        # takes them as the parameter's domain (values passed, fitting),
                        # where reversed ones would refuse every value or be guessed at
                        raise self.err(f"{kind} {t.text}: the limits <{lo:g}, {hi:g}> are "
                                       f"reversed (low > high); neurojax uses them as the "
                                       f"parameter's domain: write <{hi:g}, {lo:g}> or "
                                       "remove them", lt)  # fmt: skip
                    var.limits = (lo, hi)
                self.expect(">")
            if self.tok.kind == "name" and self.tok.text == "FROM" and kind == "STATE":
                self.next()
                self.number()
                self.expect("TO")
                self.number()
            out.append(var)
        self.next()
        return out

    def array_size(self, name: str) -> int | None:
        """`[N]` after a declared name (N a number or a DEFINE), or None."""
        if not self.at("["):
            return None
        t = self.next()
        size = self.number()
        self.expect("]")
        if size != int(size) or size < 1:
            raise self.err(f"array {name}[{size:g}]: the size must be a positive integer", t)
        return int(size)

    # -- statements
    def statement_block(self) -> tuple:
        self.expect("{")
        out = []
        self.block_depth += 1
        try:
            while not self.at("}"):
                if self.tok.kind == "eof":
                    raise self.err("unclosed '{'")
                s = self.statement()
                if s is not None:
                    out.append(s)
        finally:
            self.block_depth -= 1
        self.next()
        return tuple(out)

    def statement(self):
        t = self.tok
        if t.kind == "verbatim":
            self.next()
            return Verbatim(t.line, " ".join(self.src[t.start + 8 : t.end].split()))
        if t.kind == "op" and t.text == "{":
            return If(Num(1.0), self.statement_block(), (), t.line)
        if t.kind == "op" and t.text == "~":
            self.next()
            if self.in_linear:  # `~ lhs = rhs`: an equation of the linear system
                lhs = self.expr()
                self.expect("=")
                return LinEq(lhs, self.expr(), t.line)
            return self.reaction(t)
        if t.kind != "name":
            raise self.err(f"unexpected {t.text!r} at the start of a statement")
        kw = t.text
        if kw in ("UNITSON", "UNITSOFF"):
            self.next()
            return None
        if kw == "LOCAL":
            self.next()
            names = []
            while True:
                name = self.name().text
                size = self.array_size(name)
                names += [name] if size is None else [f"{name}_{k}" for k in range(size)]
                if not self.at(","):
                    break
                self.next()
            return Local(tuple(names), t.line)
        if kw == "FROM":
            self.next()
            var = self.name().text
            self.expect("=")
            lo = self.expr()
            self.expect("TO")
            hi = self.expr()
            by = Num(1.0, t.line)
            if self.tok.kind == "name" and self.tok.text == "BY":
                self.next()
                by = self.expr()
            return For(var, lo, hi, by, self.statement_block(), t.line)
        if kw == "TABLE":  # exact rates here: NEURON's interpolation tables are not needed
            self.next()
            while not (self.tok.kind == "name" and self.tok.text == "WITH"):
                if self.tok.kind == "eof":
                    raise self.err("TABLE without WITH", t)
                self.next()
            self.next()
            self.number()
            return None
        if kw == "SOLVE":
            self.next()
            block = self.name().text
            method = ""
            if self.tok.kind == "name" and self.tok.text == "METHOD":
                self.next()
                method = self.name().text
            elif self.tok.kind == "name" and self.tok.text == "STEADYSTATE":
                self.next()
                method = "steadystate:" + self.name().text
            if self.tok.kind == "name" and self.tok.text == "IFERROR":
                raise self.err("SOLVE ... IFERROR is not supported")
            return Solve(block, method, t.line)
        if kw == "if":
            return self.if_statement()
        if kw == "CONSERVE":
            self.next()
            lhs = self.react_side()
            self.expect("=")
            return Conserve(lhs, self.expr(), t.line)
        if kw == "COMPARTMENT":
            self.next()
            index = ""
            if self.tok.kind == "name" and self.peek().kind == "op" and self.peek().text == ",":
                index = self.next().text
                self.next()
            vol = self.expr()
            self.expect("{")
            states = []
            while not self.at("}"):
                states.append(self.name().text)
            self.next()
            return Compartment(vol, tuple(states), t.line, index)
        if kw == "WATCH":
            return self.watch(t)
        if kw == "FOR_NETCONS":
            return self.for_netcons(t)
        if kw in _UNSUPPORTED_BLOCKS:
            raise self.err(f"{_UNSUPPORTED_BLOCKS[kw] or kw} is not supported")
        if kw == "else":
            raise self.err("'else' without 'if'")
        # NET_RECEIVE's INITIAL (tmgsyn.mod): the connection's state
        if kw == "INITIAL" and self.in_receive and self.block_depth == 1:
            self.next()
            if self.prog.receive_initial is not None:
                raise self.err("a second INITIAL block in NET_RECEIVE")
            self.prog.receive_initial = Block("INITIAL", "NET_RECEIVE INITIAL", (),
                                              self.statement_block(), t.line)  # fmt: skip
            return None
        if kw in ("INITIAL", "BREAKPOINT", "NET_RECEIVE"):
            raise self.err(f"{kw} inside a block is not supported (only NET_RECEIVE's "
                           "per-connection INITIAL, at its top level)")  # fmt: skip
        # assignment, derivative, or call
        self.next()
        target = kw
        if self.at("["):
            self.next()
            target = Index(kw, self.expr(), t.line)
            self.expect("]")
        if self.at("'"):
            self.next()
            if self.at("'"):
                raise self.err(f"higher-order derivative {kw}'' is not supported")
            self.expect("=")
            return Diff(target, self.expr(), t.line)
        if self.at("="):
            self.next()
            return Assign(target, self.expr(), t.line)
        if self.at("(") and target == kw:
            c = self.call_rest(t)
            if kw == "state_discontinuity":  # tmgsyn.mod: an assignment (fixed step)
                if len(c.args) != 2 or not isinstance(c.args[0], (Name, Index)):
                    raise self.err("state_discontinuity(x, value) takes a variable and a value", t)
                a = c.args[0]
                return Assign(a.id if isinstance(a, Name) else a, c.args[1], t.line)
            return CallStmt(c, t.line)
        raise self.err(f"expected '=', \"'\" or '(' after {kw!r}, found {self.tok.text!r}")

    def watch(self, t: Tok):
        """`WATCH (cond) flag, (cond2) flag2 …` in NET_RECEIVE (STDP synapses watching the
        postsynaptic voltage): NEURON's WatchCondition. Executing the statement activates
        its conditions (and records whether each holds now); at every step, before that
        step's events are delivered (NEURON checks at the end of the previous step, before
        its event delivery), an active condition that has turned from false to true sends
        a self-event `net_send(0, flag)` at the step's time. Lowered here to assignments of
        the ASSIGNED `watch_on<j>`, `watch_flag<j>` (carried with the gates) and the check
        block `Program.watch_check`. One WATCH statement per file (NEURON deactivates the
        instance's other watches when a NET_RECEIVE call runs its first WATCH statement;
        with one statement that is exact)."""
        if not self.in_receive:
            raise self.err("WATCH outside NET_RECEIVE is not supported", t)
        self.next()
        items = []
        while True:
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            flag = self.expr()
            items.append((cond, flag))
            if not self.at(","):
                break
            self.next()
        declared = {v.name for v in (*self.prog.parameters, *self.prog.states,
                                     *self.prog.assigned)}  # fmt: skip
        # several WATCH statements (Izhikevich's izh2007b.mod): NEURON's nocmodl passes
        # each a counter that is 0 for the first one a NET_RECEIVE call executes, which
        # first deactivates all of the instance's watches (`_nrn_watch_activate`); a call
        # executing none leaves them as they are. Lowered to a reset (`__watch_reset`,
        # the call's flag `_watch_rm`) before the statement's activations.
        prev = self.prog.watch_check.body if self.prog.watch_check is not None else ()
        first = sum(1 for v in self.prog.assigned if v.name.startswith("watch_on"))
        act = [CallStmt(Call("__watch_reset", (), t.line), t.line)]
        check = list(prev)
        for j, (cond, flag) in enumerate(items, start=first):
            on, was = f"watch_on{j}", f"watch_flag{j}"
            if {on, was} & declared:
                raise self.err(f"WATCH needs the names {on}, {was}, which the file declares", t)
            self.prog.assigned += [Var(on, t.line), Var(was, t.line)]
            act += [Assign(on, Num(1.0, t.line), t.line), Assign(was, cond, t.line)]
            fire = Bin("&&", cond, Unary("!", Name(was, t.line), t.line), t.line)
            send = CallStmt(Call("net_send", (Num(0.0, t.line), flag), t.line), t.line)
            check.append(If(Name(on, t.line), (If(fire, (send,), (), t.line),
                                               Assign(was, cond, t.line)), (), t.line))  # fmt: skip
        self.prog.watch_check = Block("WATCH", "WATCH", (), tuple(check), t.line)
        return If(Num(1.0, t.line), tuple(act), (), t.line)

    def for_netcons(self, t: Tok):
        """`FOR_NETCONS(w1, A1, tp) { … }` in NET_RECEIVE: the body for every connection
        to this point process, its arguments aliasing each connection's NET_RECEIVE
        arguments. A neurojax point process has one connection per events column (one
        instance per source: see docs/nmodl.md), so the loop runs once, on this call's
        arguments: `w1` is the connection's weight (its last external event's; 0 before
        the first), `A1`, `tp` its state. Lowered here by renaming."""
        if not self.in_receive:
            raise self.err("FOR_NETCONS outside NET_RECEIVE is not supported", t)
        self.next()
        args = self.formal_args()
        if len(args) != len(self.receive_args):
            raise self.err(f"FOR_NETCONS takes NET_RECEIVE's {len(self.receive_args)} "
                           f"arguments, given {len(args)}", t)  # fmt: skip
        body = self.statement_block()
        renamed = _rename(body, dict(zip(args, self.receive_args, strict=True)))
        return If(Num(1.0, t.line), renamed, (), t.line)

    def if_statement(self):
        t = self.next()  # 'if'
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        body = self.statement_block()
        orelse: tuple = ()
        if self.tok.kind == "name" and self.tok.text == "else":
            self.next()
            if self.tok.kind == "name" and self.tok.text == "if":
                orelse = (self.if_statement(),)
            else:
                orelse = self.statement_block()
        return If(cond, body, orelse, t.line)

    def react_side(self) -> tuple:
        terms = []
        while True:
            stoich = 1
            if self.tok.kind == "num":
                stoich = int(float(self.next().text))
            name = self.name()
            state = name.text
            if self.at("["):
                self.next()
                state = Index(name.text, self.expr(), name.line)
                self.expect("]")
            terms.append((stoich, state))
            if not self.at("+"):
                return tuple(terms)
            self.next()

    def reaction(self, t: Tok):
        lhs = self.react_side()
        if self.at("<->"):
            self.next()
            rhs = self.react_side()
            self.expect("(")
            kf = self.expr()
            self.expect(",")
            kb = self.expr()
            self.expect(")")
            return Reaction(lhs, "<->", rhs, kf, kb, t.line)
        if self.at("<<"):
            self.next()
            self.expect("(")
            flux = self.expr()
            self.expect(")")
            if len(lhs) != 1 or lhs[0][0] != 1:
                raise self.err("'~ A << (flux)' takes one state with stoichiometry 1", t)
            return Reaction(lhs, "<<", (), flux, None, t.line)
        if self.at("->"):
            self.next()
            self.expect("(")
            k = self.expr()
            self.expect(")")
            return Reaction(lhs, "->", (), k, None, t.line)
        raise self.err(f"expected '<->', '<<' or '->' in a reaction, found {self.tok.text!r}")

    # -- expressions (precedence from NEURON's grammar, low to high)
    def expr(self):
        return self.or_()

    def or_(self):
        x = self.and_()
        while self.at("||"):
            t = self.next()
            x = Bin("||", x, self.and_(), t.line)
        return x

    def and_(self):
        x = self.cmp()
        while self.at("&&"):
            t = self.next()
            x = Bin("&&", x, self.cmp(), t.line)
        return x

    def cmp(self):
        x = self.add()
        while self.tok.kind == "op" and self.tok.text in ("<", ">", "<=", ">=", "==", "!="):
            t = self.next()
            x = Bin(t.text, x, self.add(), t.line)
        return x

    def add(self):
        x = self.mul()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            t = self.next()
            x = Bin(t.text, x, self.mul(), t.line)
        return x

    def mul(self):
        x = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            t = self.next()
            if t.text == "%":
                raise self.err("the % operator is not supported", t)
            x = Bin(t.text, x, self.unary(), t.line)
        return x

    def unary(self):
        if self.tok.kind == "op" and self.tok.text in ("-", "!", "+"):
            t = self.next()
            x = self.unary()
            return x if t.text == "+" else Unary(t.text, x, t.line)
        return self.power()

    def power(self):
        x = self.primary()
        if self.at("^"):
            t = self.next()
            return Bin("^", x, self.unary(), t.line)  # right-associative, -x allowed
        return x

    def primary(self):
        t = self.tok
        if t.kind == "num":
            self.next()
            if self.at("("):  # a number with units: 1(/ms)
                self.unit()
            return Num(float(t.text), t.line)
        if t.kind == "name":
            if t.text in _UNSUPPORTED_BLOCKS and _UNSUPPORTED_BLOCKS[t.text]:
                raise self.err(f"{_UNSUPPORTED_BLOCKS[t.text]} is not supported")
            self.next()
            if self.at("("):
                return self.call_rest(t)
            if self.at("["):
                self.next()
                x = Index(t.text, self.expr(), t.line)
                self.expect("]")
                return x
            if t.text in self.prog.defines:
                return Num(float(self.prog.defines[t.text]), t.line)
            return Name(t.text, t.line)
        if t.kind == "op" and t.text == "(":
            self.next()
            x = self.expr()
            self.expect(")")
            return x
        if t.kind == "string":
            raise self.err("strings are not supported in expressions")
        raise self.err(f"unexpected {t.text or 'end of file'!r} in an expression")

    def call_rest(self, t: Tok) -> Call:
        self.expect("(")
        args = []
        while not self.at(")"):
            args.append(self.expr())
            if self.at(","):
                self.next()
            elif not self.at(")"):
                raise self.err(
                    f"expected ',' or ')' in the call of {t.text}, found {self.tok.text!r}"
                )
        self.next()
        return Call(t.text, tuple(args), t.line)


def _rename(node, mapping: dict):
    """`node` with the variables of `mapping` renamed (reads and assignment targets)."""
    if isinstance(node, tuple):
        return tuple(_rename(x, mapping) for x in node)
    if isinstance(node, list):
        return [_rename(x, mapping) for x in node]
    if isinstance(node, Name):
        return Name(mapping.get(node.id, node.id), node.line)
    if isinstance(node, Assign) and isinstance(node.target, str):
        return Assign(mapping.get(node.target, node.target), _rename(node.expr, mapping),
                      node.line)  # fmt: skip
    if isinstance(node, Local):
        return node
    if hasattr(node, "__dataclass_fields__"):
        kw = {f: _rename(getattr(node, f), mapping) for f in node.__dataclass_fields__
              if f not in ("line",)}  # fmt: skip
        return type(node)(**kw, **({"line": node.line} if "line" in node.__dataclass_fields__
                                   else {}))  # fmt: skip
    return node


def parse(src: str, file: str = "<string>", base_dir=None) -> Program:
    """`base_dir`: where `INCLUDE "x"` is looked up first (the .mod file's directory;
    default the working directory)."""
    return _expand(Parser(src, file, base_dir).parse())


# ----------------------------------------------------------------------------- arrays


def _expand(prog: Program) -> Program:
    """Arrays and FROM loops to scalars: every array `x[N]` (STATE, ASSIGNED, PARAMETER,
    module LOCAL) becomes the scalars `x_0 … x_{N-1}`; every `FROM i = a TO b` loop, whose
    bounds must be constants (numbers, DEFINEs), is unrolled, so that every index is a
    constant and `x[i+1]` names one scalar. NEURON runs the same loop at every call; the
    unrolled statements compute the same values (the interpreter traces them once)."""
    file = prog.file
    sizes = {}
    for lst in (prog.parameters, prog.states, prog.assigned, prog.module_locals):
        out = []
        for var in lst:
            if var.size is None:
                out.append(var)
                continue
            sizes[var.name] = var.size
            for k in range(var.size):
                el = Var(f"{var.name}_{k}", var.line, var.value, var.unit, var.limits)
                out.append(el)
        lst[:] = out
    declared = {v.name for lst in (prog.parameters, prog.states, prog.assigned,
                                   prog.module_locals) for v in lst}  # fmt: skip
    for name, size in sizes.items():
        for k in range(size):
            if f"{name}_{k}" in declared - {f"{name}_{j}" for j in range(size)}:
                raise fail(file, 1, f"array {name}[{size}] clashes with the variable "
                           f"{name}_{k} (its element {k} is named so)")  # fmt: skip
    prog.arrays = sizes

    def const(e, env, what, line):
        x = _fold(e, env, prog.defines)
        if x is None:
            raise fail(file, line, f"{what} must be a constant (numbers, DEFINEs, FROM loop "
                       "indices): an index or bound that changes at run time is not supported")  # fmt: skip  # noqa: E501
        return x

    def element(name, index, env, line):
        if name not in sizes:
            raise fail(file, line, f"{name}[...]: {name} is not declared as an array")
        k = const(index, env, f"the index of {name}[...]", line)
        if k != int(k) or not 0 <= k < sizes[name]:
            raise fail(file, line, f"{name}[{k:g}] is outside the array {name}[{sizes[name]}]")
        return f"{name}_{int(k)}"

    def ex(e, env):
        if isinstance(e, Index):
            return Name(element(e.name, e.index, env, e.line), e.line)
        if isinstance(e, Name):
            if e.id in env:
                return Num(float(env[e.id]), e.line)
            if e.id in sizes:
                raise fail(file, e.line, f"the array {e.id} used without an index")
            return e
        if isinstance(e, Bin):
            return Bin(e.op, ex(e.lhs, env), ex(e.rhs, env), e.line)
        if isinstance(e, Unary):
            return Unary(e.op, ex(e.x, env), e.line)
        if isinstance(e, Call):
            return Call(e.fn, tuple(ex(a, env) for a in e.args), e.line)
        return e

    def target(t, env, line):
        if isinstance(t, Index):
            return element(t.name, t.index, env, line)
        if t in env:
            raise fail(file, line, f"assignment to the FROM loop index {t}")
        if t in sizes:
            raise fail(file, line, f"assignment to the array {t} without an index")
        return t

    def side(terms, env, line):
        return tuple((k, target(st, env, line)) for k, st in terms)

    def stmts(body, env):
        out = []
        for s in body:
            if isinstance(s, For):
                lo = const(s.lo, env, "a FROM loop's lower bound", s.line)
                hi = const(s.hi, env, "a FROM loop's upper bound", s.line)
                by = const(s.by, env, "a FROM loop's step", s.line)
                if by == 0 or (hi - lo) / by > 100_000:
                    raise fail(file, s.line, f"FROM {s.var} = {lo:g} TO {hi:g} BY {by:g}: "
                               "not a finite loop of at most 100000 steps")  # fmt: skip
                k = lo
                while (k <= hi) if by > 0 else (k >= hi):
                    out += stmts(s.body, {**env, s.var: k})
                    k += by
            elif isinstance(s, Assign):
                out.append(Assign(target(s.target, env, s.line), ex(s.expr, env), s.line))
            elif isinstance(s, Diff):
                out.append(Diff(target(s.state, env, s.line), ex(s.expr, env), s.line))
            elif isinstance(s, CallStmt):
                out.append(CallStmt(ex(s.call, env), s.line))
            elif isinstance(s, If):
                out.append(If(ex(s.cond, env), tuple(stmts(s.body, env)),
                              tuple(stmts(s.orelse, env)), s.line))  # fmt: skip
            elif isinstance(s, Reaction):
                out.append(Reaction(side(s.lhs, env, s.line), s.op, side(s.rhs, env, s.line),
                                    ex(s.kf, env), None if s.kb is None else ex(s.kb, env),
                                    s.line))  # fmt: skip
            elif isinstance(s, Conserve):
                out.append(Conserve(side(s.lhs, env, s.line), ex(s.rhs, env), s.line))
            elif isinstance(s, Compartment):
                if s.index:
                    for st in s.states:
                        if st not in sizes:
                            raise fail(file, s.line, f"COMPARTMENT {s.index}, ... {{{st}}}: "
                                       f"{st} is not an array")  # fmt: skip
                        for k in range(sizes[st]):
                            vol = ex(s.volume, {**env, s.index: k})
                            out.append(Compartment(vol, (f"{st}_{k}",), s.line))
                else:
                    names = []
                    for st in s.states:  # a whole array: every element
                        names += ([f"{st}_{k}" for k in range(sizes[st])] if st in sizes
                                  else [st])  # fmt: skip
                    out.append(Compartment(ex(s.volume, env), tuple(names), s.line))
            else:
                out.append(s)
        return out

    for f in prog.functions.values():
        f.body = tuple(stmts(f.body, {}))
    for b in (*prog.blocks.values(), prog.initial, prog.breakpoint, prog.net_receive,
              prog.watch_check):  # fmt: skip
        if b is not None:
            b.body = tuple(stmts(b.body, {}))
    return prog


def _fold(e, env, defines):
    """The value of a constant expression (numbers, DEFINEs, loop indices), or None."""
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Name):
        if e.id in env:
            return env[e.id]
        return defines.get(e.id)
    if isinstance(e, Unary) and e.op == "-":
        x = _fold(e.x, env, defines)
        return None if x is None else -x
    if isinstance(e, Bin) and e.op in ("+", "-", "*", "/"):
        a, b = _fold(e.lhs, env, defines), _fold(e.rhs, env, defines)
        if a is None or b is None or (e.op == "/" and b == 0):
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[e.op]
    return None
