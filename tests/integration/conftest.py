import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def sweep_file(tmp_path):
    def make(text: str) -> Path:
        p = tmp_path / "sweep.yaml"
        p.write_text(textwrap.dedent(text))
        return p

    return make
