"""flash-attn with no prebuilt wheel for the pinned torch, compiled in an image without nvcc
(SL132), from the wheel matrix of each flash-attn release in ``knowledge/data/breakages.json``.
Imported by the environment family."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from stacklint.findings import Finding, Related
from stacklint.model import Constraint, InstallSet, Stack
from stacklint.registry import check

_EVIDENCE = (
    "https://github.com/Dao-AILab/flash-attention/blob/v2.8.3/setup.py",  # wheel lookup, then CUDAExtension without CUDA_HOME
    "https://github.com/Dao-AILab/flash-attention/blob/v2.8.3/.github/workflows/publish.yml",  # the wheel matrix
    "https://github.com/Dao-AILab/flash-attention/issues/1229",  # python:3.10-slim image: pip install flash-attn fails
    "https://github.com/Dao-AILab/flash-attention/issues/509",  # 2.1.2: nvcc not found, then no wheel -> build fails
)
# Base images with no CUDA toolkit directory: torch's CUDA_HOME lookup finds nothing, so flash-attn
# can only install from its prebuilt wheel. CUDA images (nvidia/cuda, pytorch/pytorch, nvcr.io)
# are SL108's concern or ship nvcc.
_NO_CUDA_IMAGE = re.compile(
    r"^(?:docker\.io/)?(?:library/)?(?:python|debian|ubuntu|alpine|rockylinux|almalinux|centos|fedora|amazonlinux)"
    r"(?::|@|$)", re.I)


def _wheel_facts(release: str) -> Optional[Dict[str, Any]]:
    """The build record of flash-attn ``release`` (its ``wheels``: torch minor -> CUDA majors it
    ships prebuilt wheels for, and ``needs_cuda_home``), None when stacklint has none."""
    from stacklint.checks import _envlib as E
    from stacklint.knowledge import breakages

    for rec in breakages.all_breakages():
        if rec.get("kind") != "build" or not isinstance(rec.get("wheels"), dict):
            continue
        fa = next((c for c in rec.get("when", ()) if c.get("package") == "flash-attn"), None)
        spec = E.spec_of(fa.get("specifier", "")) if fa else None
        if spec is not None and E.admits(spec, release):
            return rec
    return None


def _admitted(cs: Sequence[Constraint]) -> List[str]:
    from stacklint.checks import _envlib as E

    for c in cs:
        v = c.exact()
        if v is not None:
            return [v.public]
    return E.candidates(cs)


def _minor(release: str) -> str:
    return ".".join(release.split(".")[:2])


@check(code="SL132", name="flash-attn-needs-cuda-toolkit-it-lacks", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="A Docker image with no CUDA toolkit installs flash-attn, and no prebuilt wheel matches the pinned torch, so its build fails.",
       evidence=_EVIDENCE)
def flash_attn_needs_cuda_toolkit(stack: Stack) -> Iterator[Finding]:
    """## What it does
    In a Dockerfile stage built on an image with no CUDA toolkit (`python:*`, `ubuntu:*`,
    `debian:*`, ...), looks up the flash-attn release the stage installs next to an exact torch pin
    in the wheel matrix of that release (its `publish.yml` at the release tag, in stacklint's
    knowledge base): which torch minors and CUDA majors it ships prebuilt wheels for. Reports when
    no admitted flash-attn release has a wheel for that torch (and, when known, that torch's CUDA
    build: the `+cu118` label, the PyTorch index, or the CUDA build of that torch on PyPI), and
    flash-attn releases whose `setup.py` needs a CUDA toolkit even to use a wheel (before 2.1.2).

    ## Why is this bad?
    flash-attn is published on PyPI as a source distribution. Its `setup.py` downloads the
    prebuilt wheel named after the installed torch and CUDA major and, when there is none,
    compiles the CUDA kernels, which needs nvcc and `CUDA_HOME`: in an image without a CUDA
    toolkit the image build fails with `OSError: CUDA_HOME environment variable is not set`
    (before 2.1.2: "flash_attn was requested, but nvcc was not found" at once).

    ## Example
    ```
    FROM python:3.10-slim
    RUN pip install torch==2.4.0 && pip install flash-attn==2.5.8 --no-build-isolation
    ```

    ## Use instead
    ```
    FROM python:3.10-slim
    RUN pip install torch==2.4.0 && pip install flash-attn==2.6.3 --no-build-isolation
    ```
    (2.6.3 ships torch 2.4 wheels; or build on an `nvidia/cuda:*-devel` image)

    ## Known false alarms
    Stages that install flash-attn from a wheel URL or another index, set `CUDA_HOME` or
    `FLASH_ATTENTION_SKIP_CUDA_BUILD`, or install a CUDA toolkit (`cuda-nvcc`, `cuda-toolkit`,
    `nvidia-cuda-toolkit`) are not reported; nor are torch or flash-attn constraints that admit a
    release with a wheel. Wheels exist per Python minor too; a Python flash-attn has no wheel for
    is not judged.
    """
    for s, image, fa, t, cuda_major, reasons in _flash_builds(stack, _NO_CUDA_IMAGE, home_matters=True):
        msg = (f"{E_describe(fa)} ({fa.location.path}:{fa.location.line}) is compiled from source next to "
               f"{E_describe(t)} ({t.location.path}:{t.location.line}) in {image} "
               f"({s.base_image.location.path}:{s.base_image.location.line}), which has no CUDA toolkit: the "
               f"image build fails with \"CUDA_HOME environment variable is not set\" — {reasons[-1]}")
        yield Finding("SL132", fa.location, msg,
                      hint="pin a flash-attn release with a wheel for this torch, or build on an nvidia/cuda -devel image",
                      related=(Related(t.location, E_describe(t)),
                               Related(s.base_image.location, f"{image}: no CUDA toolkit")),
                      key=f"{E_describe(fa)}|{t.raw}|{cuda_major}|{image}")


def E_describe(c: Constraint) -> str:
    from stacklint.checks import _envlib as E

    return E.describe(c)


def _flash_builds(stack: Stack, images: "re.Pattern[str]", home_matters: bool
                  ) -> Iterator[Tuple[InstallSet, str, Constraint, Constraint, Optional[str], List[str]]]:
    """Dockerfile stages on an image matching ``images`` where pip compiles flash-attn: every
    admitted flash-attn release lacks a prebuilt wheel for the exactly pinned torch (its minor and
    CUDA major), or never looks one up, or (``home_matters``) stops without a CUDA toolkit.
    Yields (set, image, flash-attn constraint, torch pin, torch CUDA major or None, reasons)."""
    if not stack.install_sets:
        return
    from stacklint.checks import env as ENV
    from stacklint.checks import _envlib as E

    for s in stack.install_sets:
        if s.kind != "dockerfile" or s.base_image is None:
            continue
        image = str(s.base_image.value).strip()
        if not images.search(image):
            continue
        tf = stack.texts.get(s.location.path)
        if re.search(r"CUDA_HOME|FLASH_ATTENTION_SKIP_CUDA_BUILD|cuda-nvcc|cuda-toolkit|cuda-compiler",
                     tf.text if tf else ""):
            continue
        if any(not ENV._VLLM_STOCK_INDEX.match(str(st.value).strip()) for st in s.index_urls
               if "download.pytorch.org" not in str(st.value)):
            continue  # a private index or find-links page may serve flash-attn wheels
        py = E.python_of(s)
        fa_cs = [c for c in s.get("flash-attn") if not c.url and E.constraint_applies(c, py)]
        torch_cs = [c for c in s.get("torch") if not c.url and E.constraint_applies(c, py)]
        exact = [c for c in torch_cs if c.exact() is not None]
        if not fa_cs or not exact:
            continue
        t = exact[0]
        base = str(t.exact()).split("+", 1)[0]
        got = ENV._torch_wheel_variant(stack, s, t, base)
        cuda_major: Optional[str] = None
        if got is not None:
            m = re.match(r"cu(\d+)\d$", got[0])
            if m is None:
                continue  # a CPU or ROCm torch: not a CUDA build of flash-attn
            cuda_major = m.group(1)
        fa_rel = _admitted(fa_cs)
        if not fa_rel:
            continue
        reasons: List[str] = []
        for r in fa_rel:
            facts = _wheel_facts(r)
            if facts is None:
                break  # a release stacklint has no wheel matrix for: not judged
            if home_matters and facts.get("needs_cuda_home"):
                reasons.append(f"flash-attn {r} stops without a CUDA toolkit even where a prebuilt wheel exists")
                continue
            wheels = facts["wheels"]
            if not wheels:
                reasons.append(f"flash-attn {r} never downloads a prebuilt wheel")
                continue
            majors = wheels.get(_minor(base))
            if majors and (cuda_major is None or cuda_major in majors):
                break  # this release has a wheel
            have = ", ".join(f"{k} (CUDA {'/'.join(v)})" for k, v in wheels.items())
            build = f"torch {_minor(base)}" + (f" with CUDA {cuda_major}" if cuda_major else "")
            reasons.append(f"flash-attn {r} has no prebuilt wheel for {build} (it ships wheels for torch {have})")
        else:
            yield s, image, fa_cs[0], t, cuda_major, reasons


_DEVEL_IMAGE = re.compile(r"(?:^|/)cuda:[^\s]*-devel(?:-|$)", re.I)


@check(code="SL133", name="cuda-toolkit-major-differs-from-torch-build", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="A CUDA extension (flash-attn without a matching wheel) is compiled in an nvidia/cuda -devel image whose CUDA major differs from the pinned torch's CUDA build.",
       evidence=("https://github.com/pytorch/pytorch/blob/v2.4.0/torch/utils/cpp_extension.py",  # _check_cuda_version
                 "https://github.com/Dao-AILab/flash-attention/issues/509",
                 "https://github.com/Dao-AILab/flash-attention/blob/v2.8.3/.github/workflows/publish.yml"))
def cuda_toolkit_major_differs_from_torch(stack: Stack) -> Iterator[Finding]:
    """## What it does
    In a Dockerfile stage built on an `nvidia/cuda:X-devel` image, compares the image's CUDA
    toolkit with the CUDA build of the exactly pinned torch (its `+cu121` label, the PyTorch index,
    or the CUDA build of that torch on PyPI), when the stage has pip compile flash-attn: no admitted
    flash-attn release ships a prebuilt wheel for that torch and CUDA major (the wheel matrix of
    each release, from its `publish.yml` and `setup.py` at the release tag).

    ## Why is this bad?
    torch refuses to compile a CUDA extension with an nvcc of another major version than the one
    torch was built with (`torch.utils.cpp_extension._check_cuda_version`): the image build stops
    with `RuntimeError: The detected CUDA version (11.8) mismatches the version that was used to
    compile PyTorch (12.1). Please make sure to use the same CUDA versions.` A different minor
    version only warns.

    ## Example
    ```
    FROM nvidia/cuda:11.8.0-devel-ubuntu22.04
    RUN pip install torch==2.4.0 && pip install flash-attn==2.5.8 --no-build-isolation
    ```

    ## Use instead
    ```
    FROM nvidia/cuda:12.1.1-devel-ubuntu22.04
    RUN pip install torch==2.4.0 && pip install flash-attn==2.5.8 --no-build-isolation
    ```
    (or `torch==2.4.0+cu118` from the PyTorch cu118 index, or a flash-attn with a torch 2.4 wheel)

    ## Known false alarms
    Only flash-attn is judged as an extension that compiles, and only where stacklint knows its
    wheel matrix. Stages that set `CUDA_HOME` elsewhere or install another CUDA toolkit are not
    reported.
    """
    for s, image, fa, t, cuda_major, reasons in _flash_builds(stack, _DEVEL_IMAGE, home_matters=False):
        img_cuda = str(s.cuda[0].value) if s.cuda else ""
        img_major = img_cuda.split(".", 1)[0]
        if not img_major.isdigit() or cuda_major is None or img_major == cuda_major:
            continue
        msg = (f"{E_describe(fa)} ({fa.location.path}:{fa.location.line}) is compiled with the CUDA {img_cuda} "
               f"nvcc of {image} ({s.base_image.location.path}:{s.base_image.location.line}), but "
               f"{E_describe(t)} ({t.location.path}:{t.location.line}) is a CUDA {cuda_major} build: torch stops the "
               f"build with \"The detected CUDA version ({img_cuda}) mismatches the version that was used to "
               f"compile PyTorch\" — {reasons[-1]}")
        yield Finding("SL133", fa.location, msg,
                      hint=f"use an nvidia/cuda {cuda_major}.x -devel image, or a torch build for CUDA {img_major}",
                      related=(Related(t.location, f"{E_describe(t)}: CUDA {cuda_major} build"),
                               Related(s.base_image.location, f"{image}: nvcc {img_cuda}")),
                      key=f"{E_describe(fa)}|{t.raw}|{cuda_major}|{image}")
