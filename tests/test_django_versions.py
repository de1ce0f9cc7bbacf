"""The middleware's whole suite also passes on Django 4.2 LTS (the main run uses the current release)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_the_middleware_suite_passes_on_django_4_2(tmp_path: Path) -> None:
    venv = tmp_path / "django42"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "Django>=4.2,<4.3"],
                   check=True, timeout=300)
    version = subprocess.run([python, "-c", "import django; print(django.get_version())"], capture_output=True,
                             text=True, check=True).stdout
    assert version.startswith("4.2."), version
    result = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "test_middleware.py")],
                            cwd=TESTS.parent, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
