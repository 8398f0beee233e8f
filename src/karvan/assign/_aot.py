"""The assignment kernels compiled ahead of time into one extension module, built once.

A process that loads numba pays about 0.4 s of CPU and 110 MB of memory before its first kernel
runs (numba's import, its target refresh, loading each cached kernel into LLVM's JIT), more than
a solve of a network of a few thousand links takes. The kernels of Algorithm B and the
volume-delay functions (:data:`KERNELS`, with the exact argument types the solver passes) are
therefore also compiled, by numba's ahead-of-time compiler (``numba.pycc``), into one extension
module that releases the GIL like the ``nogil`` kernels; it loads in a few milliseconds, without
numba. :func:`prepare` builds it on the first solve that needs it (in a child process, about
15 s of CPU, once per version of the kernels, numba, numpy, Python and CPU) and attaches it to
the kernels (:func:`karvan.kernels._jit.attach_aot`): a call whose arguments have exactly the
compiled types runs it, any other takes the numba path as before. The code is the same numba
code, compiled with the same options, so the answers are the same.

It sits beside numba's own cache (``NUMBA_CACHE_DIR``, else ``karvan/kernels/__pycache__``, else
``~/.cache/karvan``). ``KARVAN_AOT=0`` turns it off, as does ``NUMBA_DISABLE_JIT=1``. When the
build fails (no C compiler or Python headers), a ``.failed`` file beside it says why and the
kernels run through numba, as they did before.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import platform
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

#: (module, kernel) -> "return: arguments", in the codes of karvan.kernels._jit.AOT_CODES (and
#: "v" for no return value): the types the solvers pass, all arrays C-contiguous
KERNELS = {
    ("karvan.kernels.vdf", "link_time"): "F: F F F F F I F",
    ("karvan.kernels.vdf", "link_time_derivative"): "F: F F F F F I F",
    ("karvan.kernels.vdf", "link_time_integral"): "f: F F F F F I",
    ("karvan.kernels.bush", "sweep_passes"):
        "i: i I I I I i f I I I B F F F F I F2 F I I F2 I I I I J F I B F2 F F F I I2 F2 I2 F I",
    ("karvan.kernels.bush", "gap_chunk"): "v: i i I I I B F F2 I I F2 I I I J F I2 F2",
    ("karvan.kernels.bush", "reach_counts"): "v: I I B I I",
    ("karvan.kernels.bush", "init_chunk"): "v: i i I I I B F2 I I F2 I I I J F F I2 F2",
    ("karvan.kernels.bush", "class_flows"): "F2: I I J F I i i",
    # when a bush outgrows its room (some runs only), and for warm starts
    ("karvan.kernels.bush", "regroup"): "v: I I J F I J F",
}
#: numba type of each code
NUMBA_TYPES = {"i": "int64", "f": "float64", "I": "int64[::1]", "J": "int32[::1]",
               "F": "float64[::1]", "B": "boolean[::1]", "I2": "int64[:, ::1]",
               "F2": "float64[:, ::1]", "v": "void"}
#: the sources the compiled code comes from (a change to any of them means a new module)
SOURCES = ("karvan.kernels._jit", "karvan.kernels._atomic", "karvan.kernels.bush",
           "karvan.kernels.paths", "karvan.kernels.vdf", "karvan.assign._aot")

#: attribute of the log record that says the kernels are being compiled (about 15 s, once)
COMPILING = "karvan_compiling_kernels"

_state: dict = {"done": False, "attached": False}


def enabled() -> bool:
    """Whether ahead-of-time kernels may be used in this process (see the module's notes)."""
    return (os.environ.get("KARVAN_AOT", "1").strip() not in ("0", "false", "no")
            and os.environ.get("NUMBA_DISABLE_JIT", "0").strip() in ("", "0"))


def prepare(*, build: bool = True) -> bool:
    """Attach the ahead-of-time kernels, building them first when ``build`` and they are not
    built; True when they are attached. Once per process; does nothing when numba is loaded
    (the kernels are compiled already)."""
    from karvan.kernels import _jit

    if _state["done"]:
        return _state["attached"]
    if _jit.numba_loaded() or not enabled():
        _state["done"] = True
        return False
    try:
        path = module_path()
        if not path.exists():
            if not build or path.with_suffix(".failed").exists():
                return False
            if not _build_in_child(path):
                _state["done"] = True
                return False
    except OSError as e:  # a cache folder that cannot be written: the numba path still works
        logger.warning("no ahead-of-time kernels (%s); using numba", e)
        _state["done"] = True
        return False
    try:
        _state["attached"] = _attach(path)
    except Exception as e:  # a damaged file: the numba path still works
        logger.warning("could not load the ahead-of-time kernels %s (%s); using numba", path, e)
    _state["done"] = True
    return _state["attached"]


def module_name() -> str:
    """The extension module's name: ``karvan_aot_`` and a digest of everything it depends on."""
    h = hashlib.sha256()
    for mod in SOURCES:
        spec = importlib.util.find_spec(mod)
        h.update(Path(spec.origin).read_bytes())
    numba_spec = importlib.util.find_spec("numba")
    if numba_spec is not None and numba_spec.origin:
        vfile = Path(numba_spec.origin).with_name("_version.py")
        h.update(vfile.read_bytes() if vfile.exists() else b"?")
    import numpy as np

    h.update(f"{np.__version__} {sys.version} {platform.machine()} {_cpu()}".encode())
    h.update(repr(sorted(KERNELS.items())).encode())
    return "karvan_aot_" + h.hexdigest()[:16]


def module_path() -> Path:
    """Where the extension module is (or will be) for these kernels on this machine."""
    return cache_dir() / (module_name() + importlib.machinery.EXTENSION_SUFFIXES[0])


def cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR/karvan_aot``, else ``karvan/kernels/__pycache__`` when writable, else
    ``~/.cache/karvan``."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env) / "karvan_aot"
    spec = importlib.util.find_spec("karvan.kernels")
    here = Path(spec.origin).parent
    if os.access(here, os.W_OK):
        return here / "__pycache__"
    return Path.home() / ".cache" / "karvan"


def _cpu() -> str:
    """The CPU's model and features (the code is compiled for this CPU)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    keep = [line for line in text.split("\n\n")[0].splitlines()
            if line.split(":")[0].strip() in ("vendor_id", "model name", "flags")]
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()[:16]


def _attach(path: Path) -> bool:
    import karvan.kernels.bush  # noqa: F401  (their kernels must be declared before attaching)
    import karvan.kernels.vdf  # noqa: F401
    from karvan.kernels import _jit

    name = path.name.split(".")[0]
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    funcs = {}
    for (m, k), sig in KERNELS.items():
        funcs[(m, k)] = (getattr(mod, _symbol(m, k)), sig.split(":")[1])
    n = _jit.attach_aot(funcs)
    return n == len(KERNELS)


def _symbol(module: str, kernel: str) -> str:
    return module.rsplit(".", 1)[-1] + "__" + kernel


def _build_in_child(path: Path) -> bool:
    """Build the module in a child process (this one stays without numba); False when it could
    not be built here and now (another process is building it, or the build failed)."""
    import fcntl
    import subprocess

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # another process builds it: use numba meanwhile
        if path.exists():
            return True
        # marked, so that the command line can say why this run takes longer
        logger.info("compiling the assignment kernels ahead of time into %s (once)", path,
                    extra={COMPILING: True})
        p = subprocess.run([sys.executable, "-m", "karvan.assign._aot", str(path)],
                           capture_output=True, text=True, check=False)
        if p.returncode != 0 or not path.exists():
            why = (p.stderr or p.stdout)[-4000:]
            path.with_suffix(".failed").write_text(why)
            logger.warning("could not compile the assignment kernels ahead of time (see %s); "
                           "they run through numba", path.with_suffix(".failed"))
            return False
    return True


def build(path: Path) -> None:
    """Compile :data:`KERNELS` into the extension module ``path`` (this process loads numba).

    Raises
    ------
    RuntimeError
        When the compiler did not write exactly one module.
    """
    import shutil
    import tempfile
    import warnings

    from karvan.kernels._jit import load_numba

    warnings.simplefilter("ignore")  # pycc's and distutils' deprecation notices
    import karvan.kernels.bush  # noqa: F401
    import karvan.kernels.vdf  # noqa: F401

    load_numba()
    import numba.core.codegen as numba_codegen
    import numba.pycc.compiler as pycc_compiler
    from numba.core.compiler import Flags
    from numba.pycc import CC

    class _NoGilFlags(Flags):
        # the exported wrappers release the GIL around the call, as nogil dispatchers do
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.release_gil = True

    pycc_compiler.Flags = _NoGilFlags

    class _HostFeaturesCodegen(numba_codegen.AOTCPUCodegen):
        # pycc compiles for the host's CPU model and the features LLVM implies for it; a virtual
        # machine can hide some of them (AVX-512 on an AMD EPYC that LLVM names znver4), and
        # code that uses them dies of an illegal instruction. Name the features the CPU reports,
        # as numba's JIT does.
        def _customize_tm_features(self) -> str:
            return numba_codegen.get_host_cpu_features()

    numba_codegen.AOTCPUCodegen = _HostFeaturesCodegen
    name = path.name.split(".")[0]
    work = Path(tempfile.mkdtemp(prefix="karvan_aot_", dir=path.parent))
    try:
        cc = CC(name)
        cc.output_dir = str(work)
        cc.target_cpu = "host"
        cc.verbose = False
        for (m, k), sig in KERNELS.items():
            ret, args = sig.split(":")
            fn = getattr(importlib.import_module(m), k)
            numba_sig = (f"{NUMBA_TYPES[ret.strip()]}("
                         f"{', '.join(NUMBA_TYPES[c] for c in args.split())})")
            cc.export(_symbol(m, k), numba_sig)(fn.py_func)
        cc.compile()
        built = [f for f in work.iterdir() if f.name.startswith(name + ".")]
        if len(built) != 1:
            raise RuntimeError(f"pycc wrote {[f.name for f in work.iterdir()]}")
        os.replace(built[0], path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
