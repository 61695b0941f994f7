"""Install the wavebabble package: `pip install -e .[test]` (CPU) or `pip install -e .[gpu,test]`."""
from setuptools import find_packages, setup

setup(
    name="wavebabble",
    version="0.1.0",
    description="A GAN that babbles two-party dialogue as stereo raw audio with realistic turn-taking.",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["wavebabble", "wavebabble.*", "train", "eval"]),
    # the shipped pretrained model (a SavedModel folder) and its record, written by `python -m eval.ship_model`
    package_data={"wavebabble.pretrained": ["*.json", "*/*.pb", "*/.wavebabble-outputs.json", "*/variables/*",
                                            "*/assets/*"]},
    install_requires=[
        "tensorflow>=2.16,<3",  # 2.16+ ships Keras 3
        "keras>=3.0",
        "librosa>=0.10",
        "scipy>=1.8",           # the renderer's high-pass (also a librosa dependency)
        "numpy>=1.24",
        "soundfile>=0.12",
        "absl-py>=1.4",
        "matplotlib>=3.7",
        "tensorboard>=2.16",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout>=2.1", "pytest-xdist>=3"],
        "gpu": ["tensorflow[and-cuda]>=2.16,<3"],
    },
    entry_points={
        "console_scripts": [
            "wavebabble-corpus=wavebabble.corpus.__main__:run",
            "wavebabble-train=train.train:run",
            "wavebabble-export=wavebabble.export:run",
            "wavebabble-generate=wavebabble.generate:run",
            "wavebabble-respond=wavebabble.respond:run",
            "wavebabble-continuation=wavebabble.continuation:run",
            "wavebabble-timing=eval.timing:run",
            "wavebabble-report=eval.report:run",
        ],
    },
)
