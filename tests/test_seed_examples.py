"""The user's seed documents are the public API contract: every seed example (../shared/
seed_examples, run by ../shared/tools/run_seed_examples) must pass against the installed package."""
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
RUNNER = REPO.parent / "shared" / "tools" / "run_seed_examples"


@pytest.mark.skipif(not RUNNER.exists(), reason="../shared/tools/run_seed_examples is not beside this checkout")
def test_every_seed_example_passes():
    r = subprocess.run([sys.executable, str(RUNNER)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 failed" in r.stdout
