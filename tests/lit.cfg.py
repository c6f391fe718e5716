# lit configuration: every .mlir, .dfs and .test file under tests/ with RUN lines.
import os
import lit.formats

config.name = "Diffuse"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".dfs", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.diffuse_bin_dir, "..", "tests-out")
config.excludes = ["unit", "cuda", "fuzz", "plugins", "Inputs", "lib", "CMakeLists.txt", "lit.cfg.py", "check-closed-forms.py", "measure-order.py", "check-grids.py", "golden-order.py", "check-sde.py", "npy-rms.py"]
config.environment["PATH"] = os.pathsep.join(
    [config.diffuse_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%stdlib", os.path.join(config.diffuse_src_dir, "stdlib")))
config.substitutions.append(("%examples", os.path.join(config.diffuse_src_dir, "examples")))
config.substitutions.append(("%golden", config.golden_dir))
config.substitutions.append(("%plugins", config.plugin_dir))
if os.path.isfile(os.path.join(config.golden_dir, "README.md")):
    config.available_features.add("golden")
# The CUDA toolkit was there when diffuse was built; a GPU is here.
if config.have_cuda in ("ON", "TRUE", "1"):
    config.available_features.add("cuda-toolkit")
import shutil, subprocess
if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("gpu")
import sys
config.substitutions.append(("%python", sys.executable))
config.excludes.append("extract-blocks.py")
