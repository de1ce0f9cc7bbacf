"""The middleware's whole suite also passes on Django 4.2 LTS (the main run uses the current release)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def test_the_middleware_suite_passes_on_django_4_2(tmp_path: Path) -> None:
    # A venv of its own, built from nothing (the interpreter running this may itself be a venv, whose
    # packages a --system-site-packages venv would not see): the project's pins, but Django 4.2.
    venv = tmp_path / "django42"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines()
            if not line.lower().startswith("django==")]
    (tmp_path / "constraints.txt").write_text("\n".join(pins) + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", str(tmp_path / "constraints.txt"), "-e", f"{ROOT}[test]", "Django>=4.2,<4.3"],
                   check=True, timeout=900)
    version = subprocess.run([python, "-c", "import django; print(django.get_version())"], capture_output=True,
                             text=True, check=True).stdout
    assert version.startswith("4.2."), version
    result = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "test_middleware.py")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
