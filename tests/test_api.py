"""The API's catalog verbs, which the CLI's data, models, methods and doctor print: the same answers, typed."""
import re

import pytest

from mnistlab import api
from mnistlab.cli.main import main
from mnistlab.data.mnist import IDX_MD5
from mnistlab.errors import DataError


def test_fetch_data_verifies_the_cached_files(mnist):
    data = api.fetch_data("mnist")
    assert data.label == "MNIST" and data.folder == mnist.folder
    assert dict(data.md5s) == IDX_MD5 and data.found == frozenset(IDX_MD5)


def test_fetch_data_refuses_an_unknown_dataset_or_source_in_one_line():
    with pytest.raises(DataError, match="'kmnist'"):
        api.fetch_data("kmnist")
    with pytest.raises(DataError, match="'torrent'.*auto"):
        api.fetch_data("mnist", source="torrent")


def test_model_catalog_counts_the_notebooks_parameters(capsys):
    entries = {m.name: m for m in api.model_catalog()}
    assert (entries["mlp"].label, entries["mlp"].params) == ("MLP", 269_322)
    assert (entries["cnn"].label, entries["cnn"].params) == ("CNN", 206_922)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == list(entries)  # the CLI prints the catalog, in its order
    assert re.match(r"mlp\s+MLP\s+269,322 params", lines[0])


def test_method_catalog_is_what_mnistlab_methods_prints(capsys):
    specs = api.method_catalog()
    assert [s.name for s in specs][:2] == ["fixmatch", "pseudolabel"]
    assert main(["methods"]) == 0
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[:-1]]
    assert printed == [s.name for s in specs]


def test_machine_report_rows_are_what_doctor_prints(capsys):
    rows = dict(api.machine_report())
    assert main(["doctor"]) == 0
    printed = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert printed.keys() == {name.strip() for name in rows}
    assert printed["torch"] == rows["torch"] and printed["mnistlab"] == rows["mnistlab"]
