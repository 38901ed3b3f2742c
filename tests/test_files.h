// Files for tests: fresh run directories and whole-file reads.
#ifndef GORL_TESTS_TEST_FILES_H_
#define GORL_TESTS_TEST_FILES_H_

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace gorl::test_files {

// A new, empty directory under the test temp dir, unique per call (mkdtemp),
// so no test ever sees files a previous run left behind.
inline std::string MakeTempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/gorl_" + name + "_XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << dir;
  return dir;
}

// The file's bytes ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace gorl::test_files

#endif  // GORL_TESTS_TEST_FILES_H_
