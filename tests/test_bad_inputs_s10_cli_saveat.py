"""Session-10 probes of the command line and `SaveAt`: a `--out` that is a file or cannot
be created (a traceback after the imports), contradicting `SaveAt` options (one silently
ignored). Nothing is simulated."""

import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax.__main__ import main


@pytest.mark.parametrize("kind", ["file", "below_a_file"])
def test_demo_out_that_cannot_be_a_folder_is_a_usage_error(tmp_path, capsys, kind):
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = afile if kind == "file" else afile / "sub"
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(out), "--fast"])
    assert info.value.code == 2  # argparse's usage error, before anything runs
    err = capsys.readouterr().err
    assert "--out" in err and ("not a folder" in err or "cannot create" in err), err


def test_saveat_spike_dtype_without_spikes_is_refused():
    with pytest.raises(ValueError, match=r"spikes=False, spike_dtype=.*drop one"):
        nj.SaveAt(spikes=False, spike_dtype=jnp.uint8)
    assert nj.SaveAt(spikes=False).spike_dtype is None
