"""Every notebook in notebooks/ executes top to bottom without an error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _kernel_manager():
    """A kernel manager running ipykernel on this interpreter (the venv's), whatever
    kernelspecs are installed."""
    from jupyter_client.manager import KernelManager

    class ThisPythonKernel(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]

    return ThisPythonKernel


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch):
    from delta_readers import spark_delta_jars

    # the Spark notebook's Delta jars: the ones ./dev setup fetched (not Maven at test time)
    monkeypatch.setenv("CDC_RS_DELTA_JARS", spark_delta_jars())
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager(),
        resources={"metadata": {"path": str(tmp_path)}},  # run in a scratch directory
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors


def test_notebooks_are_saved_with_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.get("execution_count") for c in code), path.name
        assert any(c.get("outputs") for c in code), path.name


def test_notebooks_show_the_run_as_plots():
    # the plot_reports cell of each notebook was saved with its figure
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        images = [out for cell in nb.cells if cell.cell_type == "code" and "plot_reports" in cell.source
                  for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
        assert images, f"{path.name}: no plot_reports figure saved"


def test_jupyter_nbconvert_executes_a_notebook_from_the_venv(tmp_path):
    import shutil
    import subprocess

    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    assert jupyter, "jupyter is not installed beside this interpreter (requirements-dev.txt)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import cdc_rs; print(cdc_rs.__version__)")])
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    proc = subprocess.run([jupyter, "nbconvert", "--to", "notebook", "--execute", "--inplace",
                           str(tmp_path / "tiny.ipynb")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    done = nbformat.read(tmp_path / "tiny.ipynb", as_version=4)
    import cdc_rs
    assert done.cells[0].outputs[0]["text"].strip() == cdc_rs.__version__
