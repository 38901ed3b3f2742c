#!/usr/bin/env bash
# Builds and runs the learner/refiner device tests on a GPU machine that has a
# CUDA LibTorch (python3's torch) but none of the project's other
# dependencies. Debian's protobuf/Abseil/glog/gflags/GoogleTest/libunwind
# .debs, fetched beforehand on a Debian 12 machine with
#   (cd .devdeps && apt-get download libprotobuf-dev libprotobuf32 \
#     protobuf-compiler libprotoc32 libabsl-dev libabsl20220623 \
#     libgoogle-glog-dev libgoogle-glog0v6 libgflags-dev libgflags2.2 \
#     libgtest-dev libgmock-dev libunwind-dev libunwind8)
# are unpacked into a private prefix (never /).
#   tools/cuda_check/run.sh [debs folder, default .devdeps] [build dir] [gtest filter]
set -euo pipefail
DEBS=${1:-.devdeps}
BUILD=${2:-/tmp/gorl_cuda_check}
FILTER=${3:-'*Device*:*Cuda*'}
DEPS=${GORL_DEPS_PREFIX:-/tmp/gorl_deps}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$DEPS"
for f in "$DEBS"/*.deb; do dpkg -x "$f" "$DEPS"; done
export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY=${PYTHON:-python3}
TORCH_CMAKE=$($PY -c 'import torch;print(torch.utils.cmake_prefix_path)')
TORCH_ROOT=$($PY -c 'import torch,os;print(os.path.dirname(torch.__file__))')
ABI=$($PY -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
$PY -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
COMMON=(-S "$ROOT/tools/cuda_check" "${GEN[@]}" -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$DEPS/usr"
        -DGORL_DEPS="$DEPS/usr" -DCMAKE_CXX_STANDARD="${GORL_CXX_STD:-17}")
t0=$(date +%s)
# Torch's own CMake config first; LibTorch linked by hand if that fails.
if ! cmake -B "$BUILD" "${COMMON[@]}" > "$BUILD.cmake.log" 2>&1; then
  tail -20 "$BUILD.cmake.log"
  echo "find_package(Torch) failed: linking LibTorch from $TORCH_ROOT by hand"
  rm -rf "$BUILD"
  cmake -B "$BUILD" "${COMMON[@]}" -DGORL_TORCH_ROOT="$TORCH_ROOT" -DGORL_TORCH_CXX11_ABI="$ABI"
fi
if ! cmake --build "$BUILD" -j "$(nproc)" > "$BUILD.build.log" 2>&1; then
  grep -m 20 -E "error|Error" "$BUILD.build.log" || tail -20 "$BUILD.build.log"
  echo "build failed with C++${GORL_CXX_STD:-17}: retrying with C++20 (newer LibTorch needs it)"
  cmake -B "$BUILD" "${COMMON[@]}" -DCMAKE_CXX_STANDARD=20 > /dev/null
  cmake --build "$BUILD" -j "$(nproc)"
fi
t1=$(date +%s)
echo "build: $((t1 - t0)) s"
"$BUILD/gorl_device_test" --gtest_filter="$FILTER"
echo "tests: $(( $(date +%s) - t1 )) s"
