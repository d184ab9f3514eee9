"""The notebook front end runs end to end (tiny budget) through nbclient and shows its numbers."""
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "mnist_nn_vs_cnn.ipynb"

TINY = """samples_per_class = 20
seed = 1
val_split = 0.2
epochs = 2
patience = 5
budgets = [10]
seeds = [0]
tsne_points = 300
lang = "en"
OUT = {out!r}
"""


def test_notebook_executes_with_tiny_parameters(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    params[0].source = TINY.format(out=str(tmp_path / "nb"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Parâmetros MLP: 269322" in text and "Parâmetros CNN: 206922" in text
    assert "modelo,best_val_loss,final_val_acc,test_acc,params" in text
    assert "10-NN" in text and "LaTeX:" in text
    assert "run 2 of 2 (this call): CNN spc=10 seed=0: test_acc=" in text  # the sweep cell shows its progress
    assert "IProgress not found" not in text  # Captum's tqdm import stays quiet in a kernel without ipywidgets
    images = sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images >= 6
    assert (tmp_path / "nb" / "sweep" / "report" / "index.html").is_file()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
