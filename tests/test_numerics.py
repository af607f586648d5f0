"""The pinned CPU code path (undo.numerics): what is pinned, when, and what is recorded."""

from __future__ import annotations

import subprocess
import sys

from undo import numerics


def test_cpu_vendor_reads_the_vendor_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2\n")
    assert numerics.cpu_vendor(str(info)) == "AuthenticAMD"
    info.write_text("processor\t: 0\n")
    assert numerics.cpu_vendor(str(info)) == "unknown"
    assert numerics.cpu_vendor(str(tmp_path / "absent")) == "unknown"


def test_describe_records_the_vendor_and_the_pinned_paths():
    d = numerics.describe()
    assert d["cpu_vendor"] == numerics.cpu_vendor()
    if numerics.applicable():
        assert d["pinned"] and d["aten_cpu_capability"] == "AVX2" and d["MKL_CBWR"] == "AVX2,STRICT"


def _child(env: dict) -> str:
    code = "import os, undo; print(os.environ.get('ATEN_CPU_CAPABILITY'), os.environ.get('MKL_CBWR'))"
    clean = {k: v for k, v in __import__("os").environ.items() if k not in numerics.PINNED_ENV and k != "UNDO_NUMERICS"}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_pins_unless_the_user_opted_out_or_set_a_value():
    if not numerics.applicable():
        return
    assert _child({}) == "avx2 AVX2,STRICT"
    assert _child({"UNDO_NUMERICS": "native"}) == "None None"
    assert _child({"MKL_CBWR": "COMPATIBLE"}) == "avx2 COMPATIBLE"
