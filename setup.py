"""Packaging for jazzlstm."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    """Read __version__ from the package without importing it (importing needs the deps)."""
    for line in (HERE / "jazzlstm" / "_version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("no __version__ in jazzlstm/_version.py")


BEAM = ["apache-beam==2.77.0", "google-crc32c>=1.5"]

setup(
    name="jazzlstm",
    version=read_version(),
    description="Learn and generate music sequences (jazz solos, tunes, text) with recurrent networks",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # The repo's midi_samples/ folder is installed as jazzlstm/samples, so that
    # `jazzlstm train` has its bundled corpus after a plain `pip install`.
    packages=find_packages(include=["jazzlstm", "jazzlstm.*"]) + ["jazzlstm.samples"],
    package_dir={"jazzlstm.samples": "midi_samples"},
    package_data={
        "jazzlstm": ["pretrained/*/*", "music/*.json"],
        "jazzlstm.samples": ["*.mid", "*.mxl", "README.md"],
    },
    python_requires=">=3.10",
    install_requires=[
        line.strip()
        for line in (HERE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ],
    # The notebook test runs notebooks/jazzlstm_colab.ipynb in a Jupyter kernel.
    # `jazzlstm prepare` runs on Apache Beam (2.77.0 resolves beside TensorFlow 2.21); google-crc32c
    # checksums the TFRecord shards it writes without importing TensorFlow.
    extras_require={"test": ["pytest>=7", "nbclient>=0.7", "nbformat>=5.7", "ipykernel>=6", "hypothesis>=6.100",
                             *BEAM],
                    "beam": BEAM,
                    # benchmarks/bench_grid.py's PyTorch contender; the package never imports torch.
                    # CPU-only wheels: pip install torch --index-url https://download.pytorch.org/whl/cpu
                    "bench": ["torch>=2.1"]},
    entry_points={"console_scripts": ["jazzlstm=jazzlstm.cli:main"]},
)
