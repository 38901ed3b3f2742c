// Which gorl build is running, so that a result names the build that made it.
#ifndef GORL_COMMON_BUILD_INFO_H_
#define GORL_COMMON_BUILD_INFO_H_

namespace gorl {

// `git describe --always --dirty` of the checkout this binary was built
// from (a commit, "-dirty" when it had uncommitted changes), the
// -DGORL_VERSION=... given to CMake (images built without .git), or
// "unknown". Runs record it in metrics.jsonl (start and resume rows);
// `gorl --version` prints it. Generated at build time (cmake/build_info.cmake).
const char* BuildVersion();

}  // namespace gorl

#endif  // GORL_COMMON_BUILD_INFO_H_
