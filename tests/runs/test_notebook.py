"""The example notebook in docs/ runs top to bottom (a real kernel, no network)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "office-shift.ipynb"
CELL_TIMEOUT_S = 240
"""One cell runs an hour of the shift (sandboxes included): tens of seconds on a loaded host."""
KERNEL_START_TIMEOUT_S = 240
"""nbclient waits 60 s for the kernel by default: a Python kernel importing the notebook's
libraries can take longer than that while stress-ng holds every core."""


@pytest.mark.timeout(900)
def test_the_example_notebook_plots_energy_temperature_and_co2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_NOTEBOOK_HOURS", "1")
    monkeypatch.delenv("SENTINEL_NOTEBOOK_STORE", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's store: removed with tmp_path
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=KERNEL_START_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 2  # energy; temperature and CO2
    html_views = [out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("<strong>Run</strong>" in view for view in html_views)
    assert any("Run summary" in view for view in html_views)
    assert outputs[-1]["data"]["text/plain"] == "True"  # the store verifies
