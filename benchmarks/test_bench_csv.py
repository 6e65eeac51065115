"""pytest-benchmark: the command line's CSV reader (``gradfit fit`` up to the solve), with
pandas, with NumPy's reader and with the csv module, against ``pandas.read_csv``, on a
seeded 20000 x 10 file.
Each test checks the matrix read against pandas' bit for bit; none asserts a speed (rows per
second on a 1,000,000 x 10 file are in benchmarks/README.md, from compare_csv.py)."""
import numpy as np
import pytest

from compare_csv import (
    gradfit_reader,
    gradfit_reader_csv_module,
    gradfit_reader_numpy,
    pandas_read,
    write_file,
)

READERS = {"gradfit_pandas": gradfit_reader, "gradfit_numpy": gradfit_reader_numpy,
           "gradfit_csv_module": gradfit_reader_csv_module, "pandas_read_csv": pandas_read}


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    write_file(path, 20000, 10)
    return path


@pytest.mark.parametrize("reader", list(READERS))
def test_read_csv(benchmark, csv_file, reader):
    benchmark.group = "20000x10 CSV read"
    data = benchmark(READERS[reader], csv_file)
    assert data.shape == (20000, 10)
    np.testing.assert_array_equal(data, pandas_read(csv_file))
