"""ament_python package `dream_engine_ros` (also a plain pip package: `pip install -e .`).

torch is deliberately NOT in install_requires: it is installed first, pinned, by
scripts/bootstrap.sh (or by the user for their CUDA), and nothing here may pull another one.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dream_engine_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Action-conditioned video world models on a robot (ROS 2 node + engine).",
    license="Apache-2.0",
    python_requires=">=3.10",
    # weights/ has no __init__.py (data only) but Python can import it as a namespace
    # package, so setuptools wants it listed explicitly; its files are that package's data.
    packages=[*find_packages(include=[PACKAGE, f"{PACKAGE}.*"]), f"{PACKAGE}.weights"],
    # py.typed: the package ships its annotations (PEP 561).
    package_data={PACKAGE: ["py.typed"], f"{PACKAGE}.weights": ["*.safetensors", "*.json"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["numpy", "pyyaml", "safetensors", "av", "pillow"],
    extras_require={"pusht": ["gym-pusht"], "test": ["pytest", "pytest-timeout"],
                    # `dream-engine serve` + the SDK (dream_engine_ros.http.client); the ROS install stays lean
                    "http": ["starlette", "uvicorn", "python-multipart", "httpx"],
                    # `dream-engine augment`: rosbag2 MCAP/sqlite3 without ROS, Ray for more than one worker,
                    # pyarrow for LeRobotDataset v3 folders (augment and training data)
                    "augment": ["rosbags>=0.11.9,<0.12", "ray>=2.60", "pyarrow>=15"],
                    # the Panda pushing scene (envs/panda_push): PyBullet and panda-gym's robot, pinned
                    "panda": ["pybullet==3.2.7", "panda-gym==3.0.7"]},
    zip_safe=False,
    entry_points={
        # Plug-ins (engine/registry.py): a callable run once that registers families, frame decoders,
        # goal costs and specs. This package's own are also found without being installed.
        "dream_engine_ros.plugins": [
            "model-folder = dream_engine_ros.engine.model_dir:register",
            "rectified-flow = dream_engine_ros.engine.families.rectified_flow.plugin:register",
            "causal-video = dream_engine_ros.engine.families.causal_video.plugin:register",
            "block-diffusion = dream_engine_ros.engine.families.block_diffusion.plugin:register",
            "builtin-envs = dream_engine_ros.envs.builtin:register",
        ],
        "console_scripts": [
            "dream-engine = dream_engine_ros.cli:main",
            "dream_engine_node = dream_engine_ros.ros.node_main:main",
            "planner_example = dream_engine_ros.ros.planner_example:main",
            "pusht_sim = dream_engine_ros.envs.pusht.ros.sim_node:main",
            "mpc_planner = dream_engine_ros.ros.mpc_planner:main",
            "pusht_mpc_planner = dream_engine_ros.envs.pusht.ros.mpc_planner_node:main",
        ],
    },
)
