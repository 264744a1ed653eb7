#!/usr/bin/env python3
"""The layering check: every #include of a project header runs down the
layers (docs/architecture.md), no layer above the engine includes a backend
library's header, and the lab and workbench binaries link no oneDNN, CUDA
or MPI.  Prints each wrong-way arrow as FILE:LINE: and exits 1 if any.

usage: check_layers.py SOURCE_ROOT [BINARY...]
The binaries (test_tui_draw, ...) are built from the lab and workbench
layers only; their ELF NEEDED entries are checked with readelf."""
import os
import re
import subprocess
import sys

# Layer -> the layers its files may include (besides its own).
MAY_INCLUDE = {
    'core': set(),
    'spec': {'core'},
    'datasets': {'core'},
    'rundir': {'core', 'spec'},
    'engine': {'core', 'spec', 'datasets', 'rundir'},
    'lab': {'core', 'spec', 'rundir'},
    'slurm': {'core', 'spec', 'rundir', 'lab'},
    'tui': {'core', 'spec', 'rundir', 'lab', 'slurm'},  # slurm: the Jobs screen's squeue/scancel
    'app': {'core', 'spec', 'datasets', 'rundir', 'engine', 'lab', 'slurm', 'tui'},
}
# Folders that sit on top (tests, benchmarks, fuzz targets) may include any layer.
TOP = {'tests', 'fuzz', 'bench'}
# Headers of the backends' libraries: the engine's business alone.
# (NVTX, used by core/profile.c, is header-only and links nothing.)
BACKEND_SYSTEM = re.compile(r'^(cuda|cudnn|cublas|nccl|mpi|oneapi/dnnl|dnnl|curand|cufft)')
# The backends' public faces (the CPU backend's is engine/backend.h itself);
# everything else under engine/cpu and engine/cuda is private to its folder.
BACKEND_PUBLIC = {'engine/cpu/cpu_backend.h', 'engine/cuda/cuda_backend.h', 'engine/cuda/cuda_nccl.h'}
FORBIDDEN_LIBS = re.compile(r'^lib(dnnl|cuda|cudart|cudnn|cublas|cublasLt|nccl|mpi|open-pal|open-rte)\b')

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    return path.split('/', 1)[0]


def backend_of(path):
    """'engine/cpu' or 'engine/cuda' for files inside a backend, else None."""
    parts = path.split('/')
    return '/'.join(parts[:2]) if len(parts) > 2 and parts[0] == 'engine' and parts[1] in ('cpu', 'cuda') else None


def check_file(path, text):
    errors = []
    src = layer_of(path)
    for n, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        where = f'{path}:{n}: #include {kind}{name}{">" if kind == "<" else kind}'
        if kind == '<':
            if BACKEND_SYSTEM.match(name) and src != 'engine' and src not in TOP:
                errors.append(f'{where}: only engine/ may use a backend library')
            continue
        if name == 'tb_config.h' or src in TOP:
            continue
        dst = layer_of(name)
        if dst not in MAY_INCLUDE:
            errors.append(f'{where}: project headers are included by path from the source root ("core/error.h")')
        elif dst != src and dst not in MAY_INCLUDE[src]:
            allowed = ', '.join(sorted(MAY_INCLUDE[src])) or 'no other layer'
            errors.append(f'{where}: {src}/ may include {allowed}, not {dst}/')
        elif backend_of(name) and backend_of(name) != backend_of(path) and name not in BACKEND_PUBLIC:
            errors.append(f'{where}: {backend_of(name)}/ is private to that backend; include its *_backend.h')
    return errors


def check_binary(path):
    try:
        out = subprocess.run(['readelf', '-d', path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return [f'{path}: cannot read its dynamic section ({e})']
    needed = re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', out)
    return [f'{path}: links {lib}: the lab and workbench layers must not link oneDNN, CUDA or MPI'
            for lib in needed if FORBIDDEN_LIBS.match(lib)]


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = argv[1]
    files = subprocess.run(['git', '-C', root, 'ls-files', '*.c', '*.h', '*.cu', '*.cuh'], capture_output=True,
                           text=True)
    paths = files.stdout.split() if files.returncode == 0 else None
    if paths is None:  # not a git checkout (a release tarball): walk the folders
        paths = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
                 if f.endswith(('.c', '.h', '.cu', '.cuh')) and not os.path.relpath(d, root).startswith('build')]
    errors, checked = [], 0
    for p in sorted(paths):
        if layer_of(p) not in MAY_INCLUDE and layer_of(p) not in TOP:
            continue
        try:
            with open(os.path.join(root, p), encoding='utf-8', errors='replace') as f:
                errors += check_file(p, f.read())
            checked += 1
        except OSError:
            pass  # deleted in the working tree but still in the index
    for b in argv[2:]:
        errors += check_binary(b)
    for e in errors:
        print(e)
    print(f'check_layers: {checked} files, {len(argv) - 2} binaries, {len(errors)} wrong-way arrows')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
