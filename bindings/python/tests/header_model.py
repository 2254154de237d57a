"""What include/muflow.h and include/muflow_binding.h declare, read with the C
preprocessor and pycparser, and compared with the ctypes declarations of _ffi.py: the
function signatures, the struct layouts and every integer constant (enum or #define).

Types are compared by their ABI shape: `int` (int and every enum), `uint32`, `size_t`,
`void`, a pointer to one of those, to `char`, to a named struct (opaque or not), to a
pointer, or to a function of a given signature.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field

from pycparser import c_ast, c_parser

HEADERS = ("muflow.h", "muflow_binding.h")
# The only system headers muflow.h includes, reduced to the types it uses.
_FAKE_SYSTEM_HEADERS = {
    "stddef.h": "typedef unsigned long size_t;\n",
    "stdint.h": "typedef unsigned int uint32_t;\n",
}
_INTEGER_NAMES = {"int": "int", "uint32_t": "uint32", "size_t": "size_t", "char": "char", "void": "void"}


@dataclass
class HeaderModel:
    functions: dict = field(default_factory=dict)  # name -> (return shape, [argument shapes])
    constants: dict = field(default_factory=dict)  # MF_* name -> int
    structs: dict = field(default_factory=dict)  # struct name -> [(field name, shape)]


def read_headers(include_dir: str) -> HeaderModel:
    with tempfile.TemporaryDirectory() as system:
        for name, text in _FAKE_SYSTEM_HEADERS.items():
            with open(os.path.join(system, name), "w") as f:
                f.write(text)
        source = "".join(f'#include "{name}"\n' for name in HEADERS)
        command = ["cc", "-E", "-nostdinc", "-I", system, "-I", include_dir, "-x", "c", "-"]
        text = subprocess.run(command, input=source, capture_output=True, text=True, check=True).stdout
        macros = subprocess.run(command[:2] + ["-dM"] + command[2:], input=source, capture_output=True,
                                text=True, check=True).stdout
    ast = c_parser.CParser().parse(text, filename="<muflow headers>")
    model = HeaderModel()
    typedefs = {node.name: node.type for node in ast.ext if isinstance(node, c_ast.Typedef)}
    reader = _Reader(typedefs)
    for node in ast.ext:
        declared = node.type if isinstance(node, c_ast.Typedef) else getattr(node, "type", None)
        for enum in _enums(declared):
            model.constants.update(_enum_values(enum))
        if isinstance(node, c_ast.Decl) and isinstance(node.type, c_ast.FuncDecl) and node.name.startswith("mf_"):
            model.functions[node.name] = reader.function(node.type)
        struct = declared.type if isinstance(declared, c_ast.TypeDecl) else declared
        if isinstance(struct, c_ast.Struct) and struct.decls:
            model.structs[struct.name] = [(d.name, reader.shape(d.type)) for d in struct.decls]
    model.constants.update(_macro_values(macros, model.constants))
    return model


def _enums(node):
    if isinstance(node, c_ast.Enum):
        yield node
    elif isinstance(node, c_ast.TypeDecl) and isinstance(node.type, c_ast.Enum):
        yield node.type


def _enum_values(enum: c_ast.Enum) -> dict:
    values, next_value = {}, 0
    for item in enum.values.enumerators if enum.values else []:
        if item.value is not None:
            next_value = _evaluate(item.value, values)
        values[item.name] = next_value
        next_value += 1
    return values


def _evaluate(node, known: dict) -> int:
    if isinstance(node, c_ast.Constant):
        return int(node.value.rstrip("uUlL"), 0)
    if isinstance(node, c_ast.ID):
        return known[node.name]
    if isinstance(node, c_ast.UnaryOp) and node.op == "-":
        return -_evaluate(node.expr, known)
    if isinstance(node, c_ast.BinaryOp):
        a, b = _evaluate(node.left, known), _evaluate(node.right, known)
        return {"<<": a << b, "|": a | b, "+": a + b, "*": a * b, "-": a - b}[node.op]
    raise ValueError(f"cannot evaluate {node!r}")


def _macro_values(macros: str, known: dict) -> dict:
    """The #define MF_* that are integer constant expressions."""
    values = {}
    definitions = dict(re.findall(r"^#define (MF_[A-Z0-9_]+) (.+)$", macros, re.M))
    parser = c_parser.CParser()
    for name, body in sorted(definitions.items()):
        if body.lstrip().startswith("{"):
            continue  # an initializer (MF_RUN_PROGRESS_INIT), not a number
        # Expand the other macros textually, as the preprocessor would.
        for _ in range(8):
            body = re.sub(r"\bMF_[A-Z0-9_]+\b", lambda m: f"({definitions[m.group(0)]})"
                          if m.group(0) in definitions else m.group(0), body)
        expression = parser.parse(f"int x = {body};").ext[0].init
        values[name] = _evaluate(expression, {**known, **values})
    return values


class _Reader:
    def __init__(self, typedefs):
        self.typedefs = typedefs

    def function(self, node: c_ast.FuncDecl):
        arguments = node.args.params if node.args else []
        shapes = [self.shape(a.type) for a in arguments]
        if shapes == ["void"]:
            shapes = []
        return self.shape(node.type), shapes

    def shape(self, node) -> str:
        if isinstance(node, c_ast.PtrDecl):
            inner = node.type
            if isinstance(inner, c_ast.FuncDecl):
                returns, arguments = self.function(inner)
                return f"fn({returns};{','.join(arguments)})"
            return f"ptr({self.shape(inner)})"
        if isinstance(node, c_ast.FuncDecl):
            returns, arguments = self.function(node)
            return f"fn({returns};{','.join(arguments)})"
        if isinstance(node, c_ast.TypeDecl):
            return self.shape(node.type)
        if isinstance(node, c_ast.Enum):
            return "int"
        if isinstance(node, c_ast.Struct):
            return f"struct {node.name}"
        if isinstance(node, c_ast.IdentifierType):
            name = " ".join(node.names)
            if name in _INTEGER_NAMES:
                return _INTEGER_NAMES[name]
            if name in self.typedefs:
                return self.shape(self.typedefs[name])
            raise ValueError(f"unknown type {name}")
        raise ValueError(f"unknown declarator {node!r}")


# -- ctypes --------------------------------------------------------------------------

_CTYPES_NAMES = {ctypes.c_int: "int", ctypes.c_uint32: "uint32", ctypes.c_size_t: "size_t"}


def ctypes_accepts(ctype, shape: str, structs: dict) -> list[str]:
    """Why `ctype` cannot stand for the C type of `shape` (empty when it can)."""
    if ctype is None:
        return [] if shape == "void" else [f"None (void) for {shape}"]
    if ctype in _CTYPES_NAMES:
        return [] if _CTYPES_NAMES[ctype] == shape else [f"{ctype.__name__} for {shape}"]
    if ctype is ctypes.c_char_p:
        return [] if shape in ("ptr(char)", "ptr(void)") else [f"c_char_p for {shape}"]
    if ctype is ctypes.c_void_p:
        # An untyped address: for void *, char * read by hand, and opaque handles; never
        # for a pointer to a number or a struct the binding fills.
        if shape in ("ptr(void)", "ptr(char)") or (shape.startswith("ptr(struct ") and
                                                    shape[len("ptr(struct "):-1] not in structs):
            return []
        return [f"c_void_p for {shape}"]
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        if not shape.startswith("ptr("):
            return [f"a pointer for {shape}"]
        return ctypes_accepts(ctype._type_, shape[4:-1], structs)
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Structure):
        name = shape[len("struct "):] if shape.startswith("struct ") else None
        if name not in structs:
            return [f"structure {ctype.__name__} for {shape}"]
        return struct_mismatches(ctype, name, structs)
    if isinstance(ctype, type) and issubclass(ctype, ctypes._CFuncPtr):
        if not shape.startswith("fn("):
            return [f"a function pointer for {shape}"]
        returns, arguments = shape[3:-1].split(";")
        return signature_mismatches(ctype._restype_, list(ctype._argtypes_), returns,
                                    arguments.split(",") if arguments else [], structs)
    return [f"{ctype!r} for {shape}"]


def struct_mismatches(ctype, name: str, structs: dict) -> list[str]:
    fields = structs[name]
    declared = [(n, t) for n, t in ctype._fields_]
    problems = []
    if [n for n, _ in declared] != [n for n, _ in fields]:
        problems.append(f"struct {name} fields {[n for n, _ in fields]}, ctypes has {[n for n, _ in declared]}")
    for (n, t), (_, shape) in zip(declared, fields):
        problems += [f"struct {name}.{n}: {p}" for p in ctypes_accepts(t, shape, structs)]
    return problems


def signature_mismatches(restype, argtypes, returns: str, arguments: list, structs: dict) -> list[str]:
    problems = [f"returns {p}" for p in ctypes_accepts(restype, returns, structs)]
    if len(argtypes) != len(arguments):
        return problems + [f"{len(argtypes)} arguments, the header has {len(arguments)}"]
    for i, (ctype, shape) in enumerate(zip(argtypes, arguments)):
        problems += [f"argument {i}: {p}" for p in ctypes_accepts(ctype, shape, structs)]
    return problems


def ffi_functions(module) -> dict:
    """The mf_* functions a module declares with restype and argtypes."""
    return {name: value for name, value in vars(module).items()
            if name.startswith("mf_") and hasattr(value, "argtypes") and hasattr(value, "restype")}


def function_mismatches(module, model: HeaderModel) -> list[str]:
    problems = []
    for name, function in sorted(ffi_functions(module).items()):
        if name not in model.functions:
            problems.append(f"{name}: declared in Python, not in the headers")
            continue
        returns, arguments = model.functions[name]
        argtypes = getattr(module, "UNCONVERTED_ARGTYPES", {}).get(name, function.argtypes)
        problems += [f"{name}: {p}" for p in signature_mismatches(
            function.restype, list(argtypes or []), returns, arguments, model.structs)]
    return problems


def constant_mismatches(module, model: HeaderModel, own: frozenset = frozenset()) -> list[str]:
    """Every public upper-case integer of `module` (except the names in `own`, which are
    the module's own) is the header's MF_<name>, with the same value."""
    problems = []
    for name, value in sorted(vars(module).items()):
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or type(value) is not int or name in own:
            continue
        c_name = f"MF_{name}"
        if c_name not in model.constants:
            problems.append(f"{module.__name__}.{name}: no {c_name} in the headers")
        elif model.constants[c_name] != value:
            problems.append(f"{module.__name__}.{name} = {value}, but {c_name} = {model.constants[c_name]}")
    return problems
