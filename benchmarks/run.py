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
from typing import List, Sequence, Tuple

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


def timed(cmd: Sequence[str], cwd: Path) -> Tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one child run."""
    t = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, _status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss // 1024


def stacklint(*args: str) -> List[str]:
    return [sys.executable, "-m", "stacklint", "scan", *args, "--format", "json", "--exit-zero", "-o", os.devnull]


def median_wall(cmd: Sequence[str], cwd: Path, n: int) -> float:
    timed(cmd, cwd)  # warm the page cache
    return statistics.median(timed(cmd, cwd)[0] for _ in range(n))


def copies(corpus: Path, dest: Path, n: int) -> Path:
    root = dest / f"x{n}"
    for i in range(n):
        shutil.copytree(corpus, root / f"copy{i}", copy_function=os.link, symlinks=True)
    (root / ".git").mkdir()
    return root


def count_files(root: Path) -> int:
    from stacklint.discover import walk

    return len(walk([str(root)], cwd=str(root)).files)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--quick", action="store_true", help="1x and 4x only, fewer repetitions")
    args = ap.parse_args()
    reps = 3 if args.quick else 7
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="stacklint-bench-") as tmp:
        tmpd = Path(tmp)
        one = tmpd / "one"
        one.mkdir()
        (one / ".git").mkdir()
        (one / "requirements.txt").write_text("transformers==4.36.2\ntorch==2.1.0\npeft>=0.7\n")
        (one / "train.py").write_text(
            "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments\n"
            "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B', torch_dtype=torch.bfloat16)\n"
            "args = TrainingArguments(output_dir='out', bf16=True, per_device_train_batch_size=4)\n")
        print(f"cold start, requirements.txt : {median_wall(stacklint('requirements.txt'), one, reps) * 1000:7.0f} ms median")
        print(f"cold start, train.py         : {median_wall(stacklint('train.py'), one, reps) * 1000:7.0f} ms median")
        print(f"interpreter alone            : {median_wall([sys.executable, '-c', 'pass'], one, reps) * 1000:7.0f} ms median")
        if not args.corpus.is_dir():
            print(f"corpus {args.corpus} not found: skipping repository figures")
            return 0
        x1 = copies(args.corpus, tmpd, 1)
        changed = sorted(x1.glob("copy0/*/config.json"))[0].relative_to(x1)
        n1 = count_files(x1)
        print(f"pre-commit, 1 file ({changed}) in a repo of {n1} stack files: "
              f"{median_wall(stacklint(str(changed)), x1, reps) * 1000:.0f} ms median")
        base_rate = None
        for n in ((1, 4) if args.quick else (1, 4, 16)):
            root = x1 if n == 1 else copies(args.corpus, tmpd, n)
            files = n1 * n
            wall, cpu, rss = timed(stacklint("."), root)
            fwall, fcpu, frss = timed([sys.executable, "-c", _FLOOR, str(root)], root)
            rate = files / wall
            base_rate = base_rate or rate
            print(f"full scan {n:2d}x: {files:6d} files {wall:6.2f} s {rate:7.0f} files/s "
                  f"(x{rate / base_rate:.2f} of 1x rate) CPU {cpu:6.2f} s ({cpu / wall:.2f} cores) "
                  f"peak {rss:4d} MiB | floor {fwall:6.2f} s peak {frss} MiB | ratio {wall / fwall:.2f}x floor")
            if n > 1:
                shutil.rmtree(root)
        for tool, pattern in (("yamllint", ("*.yaml", "*.yml")), ("hadolint", ("Dockerfile*",))):
            exe = shutil.which(tool)
            if exe is None:
                print(f"{tool}: not installed, skipped")
                continue
            targets = sorted(str(p) for pat in pattern for p in x1.rglob(pat) if p.is_file())
            t = time.perf_counter()
            for i in range(0, len(targets), 500):
                subprocess.run([exe, *targets[i:i + 500]], cwd=str(x1), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            print(f"{tool}: {len(targets)} files in {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
